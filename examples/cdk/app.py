"""Example CDK app: the failover of one NGINX Plus pair with docs/deploy.md's example values.

    cd examples/cdk && cdk synth                          # offline; needs `make build` (sam build) first
    cdk deploy -c elastic_ip_allocation_id=eipalloc-... -c node1_instance_id=i-... -c node2_instance_id=i-...

Every value can be given as CDK context (-c name=value); the defaults are docs/deploy.md's examples,
which (as with template.yaml) the stack refuses at deploy time until they are replaced.
"""

from __future__ import annotations

import aws_cdk as cdk
from nginx_eip_failover_cdk import FailoverPolicy, HealthChecks, NginxEipFailover, Node

EXAMPLES = {
    "elastic_ip_allocation_id": "eipalloc-0123456789abcdef0",
    "node1_instance_id": "i-0123456789abcdef1",
    "node2_instance_id": "i-0123456789abcdef2",
    "node1_health_check_url": "http://10.0.1.10:8080/api/9/http/upstreams/backend",
    "node2_health_check_url": "http://10.0.2.10:8080/api/9/http/upstreams/backend",
    "profile": "lean",
}


def setting(app: cdk.App, name: str) -> str:
    value = app.node.try_get_context(name)
    return str(value) if value is not None else EXAMPLES[name]


app = cdk.App()
stack = cdk.Stack(app, "NginxEipFailover", stack_name="nginx-eip-failover")
NginxEipFailover(
    stack,
    "Failover",
    elastic_ip_allocation_id=setting(app, "elastic_ip_allocation_id"),
    nodes=(
        Node(setting(app, "node1_instance_id"), setting(app, "node1_health_check_url"), priority=101),
        Node(setting(app, "node2_instance_id"), setting(app, "node2_health_check_url"), priority=100),
    ),
    health=HealthChecks(interval_seconds=1, timeout_seconds=1, fall_threshold=3, rise_threshold=2),
    failover=FailoverPolicy(preempt=True, preempt_delay_seconds=60),
    profile=setting(app, "profile"),
)
app.synth()
