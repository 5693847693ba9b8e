"""The CDK construct (constructs/) synthesized for the parity and lab tests, by the CDK's own venv.

aws-cdk-lib lives in .venv-cdk (make cdk-test), not in the dev venv the lab runs in: the templates are
synthesized there in one subprocess (`python -m nginx_eip_failover_cdk.synth`) and read here as plain
JSON. NGINX_EIP_FAILOVER_CDK_PYTHON names that interpreter; without it the tests that need a synth
are skipped (make test), and make cdk-test sets it, so CI runs them.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from nginx_eip_failover_lab.iac_surface import VARIANTS, variant_parameters

ROOT = Path(__file__).resolve().parents[2]
# The construct's props and their checks are plain Python (no aws_cdk): read from the checkout.
sys.path.insert(0, str(ROOT / "constructs"))
from nginx_eip_failover_cdk import parameters as cdk_parameters  # noqa: E402
from nginx_eip_failover_cdk import props as cdk_props  # noqa: E402

__all__ = ["LAB_STACK", "cdk_parameters", "cdk_props", "parity_cases", "synthesized"]

CDK_PYTHON_ENV = "NGINX_EIP_FAILOVER_CDK_PYTHON"
SYNTH_DIR = ROOT / "build" / "cdk-synth"
LAB_STACK = "nginx-eip-failover-lab"
# Every optional resource at once: observers, VPC placement and endpoints, e-mail, tracing, reserved
# concurrency, in the full profile by ENI with active/active's second address set and a route table
# role in another account (its grant and STS endpoint).
EVERYTHING: dict[str, str] = {
    "ObservabilityProfile": "full",
    "Node1NetworkInterfaceId": "eni-0123456789abcdef1",
    "Node1PrivateIpAddress": "10.0.1.20",
    "Node2NetworkInterfaceId": "eni-0123456789abcdef2",
    "Node2PrivateIpAddress": "10.0.2.21",
    "SecondElasticIpAllocationId": "eipalloc-0123456789abcdef9",
    "Node1SecondPrivateIpAddress": "10.0.1.30",
    "Node2SecondPrivateIpAddress": "10.0.2.31",
    "SubnetIds": "subnet-0123456789abcdef1,subnet-0123456789abcdef2",
    "SecurityGroupIds": "sg-0123456789abcdef0",
    "CreateVpcEndpoints": "true",
    "VpcId": "vpc-0123456789abcdef0",
    "RouteTableIds": "rtb-0123456789abcdef1",
    "RouteTableRoleArn": "arn:aws:iam::111122223333:role/route-mover",
    "RouteTableRoleExternalId": "nginx-eip-failover-example",
    "Observer2SubnetId": "subnet-0123456789abcdef3",
    "Observer3SubnetId": "subnet-0123456789abcdef4",
    "NotificationEmail": "ops@example.com",
    "EnableTracing": "true",
    "MonitorReservedConcurrency": "5",
    "FallThreshold": "4",
    "HealthCheckIntervalSeconds": "0.5",
    "HealthCheckTimeoutSeconds": "0.5",
    "Preempt": "false",
    "LogRetentionInDays": "14",
    # Authenticated health checks: a token in SSM, a client certificate in Secrets Manager, fleet secrets by tag.
    "HealthCheckAuthKind": "header",
    "HealthCheckAuthSecretArn": "arn:aws:ssm:us-east-1:123456789012:parameter/nginx/probe-token",
    "HealthCheckClientCertSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:probe-cert-AbCdEf",
    "FleetHealthCheckSecrets": "tagged",
}


# Found nodes (docs/found-nodes.md): both nodes in their own Auto Scaling groups (two hooks), with what
# changes the lifecycle function's role and placement: the full profile's key, the VPC and its
# endpoints, a health check secret, tracing. FOUND_NODE2: node 1 fixed, node 2 found (one hook; the
# fixed node's instance stays in the grants). FOUND_IN_ONE_GROUP: one group of two nodes across AZs
# (one hook for both).
FOUND_NODES: dict[str, str] = {
    "Node1InstanceId": "",
    "Node2InstanceId": "",
    "Node1AutoScalingGroupName": "nginx-plus-a",
    "Node2AutoScalingGroupName": "nginx-plus-b",
    "LifecycleHookTimeoutSeconds": "300",
    "ObservabilityProfile": "full",
    "SubnetIds": "subnet-0123456789abcdef1,subnet-0123456789abcdef2",
    "SecurityGroupIds": "sg-0123456789abcdef0",
    "CreateVpcEndpoints": "true",
    "VpcId": "vpc-0123456789abcdef0",
    "RouteTableIds": "rtb-0123456789abcdef1",
    "HealthCheckAuthKind": "basic",
    "HealthCheckAuthSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:probe-basic-AbCdEf",
    "EnableTracing": "true",
}
FOUND_NODE2: dict[str, str] = {"Node2InstanceId": "", "Node2AutoScalingGroupName": "nginx-plus"}
FOUND_IN_ONE_GROUP: dict[str, str] = {
    "Node1InstanceId": "",
    "Node2InstanceId": "",
    "Node1AutoScalingGroupName": "nginx-plus",
    "Node1AvailabilityZone": "us-east-1a",
    "Node2AutoScalingGroupName": "nginx-plus",
    "Node2AvailabilityZone": "us-east-1b",
}

# Found by tags: node 2 by tags beside node 1 by group (one hook, node 2's alarm gone), and both by
# tags in the full profile (no alarm, hook or Auto Scaling at all; the dashboard's list without them).
TAGS_BESIDE_GROUP: dict[str, str] = {
    "Node1InstanceId": "",
    "Node1AutoScalingGroupName": "nginx-plus-a",
    "Node2InstanceId": "",
    "Node2InstanceTags": "role=nginx-plus,pair=edge",
}
BOTH_BY_TAGS: dict[str, str] = {
    "Node1InstanceId": "",
    "Node2InstanceId": "",
    "Node1InstanceTags": "role=nginx-plus,pair=edge-1",
    "Node2InstanceTags": "role=nginx-plus,pair=edge-2",
    "ObservabilityProfile": "full",
}
# Fleet groups' nodes found by group: the lookup grant and the Auto Scaling endpoint without a found pair.
FLEET_FOUND_BY_GROUP: dict[str, str] = {
    "FleetFoundNodes": "tags-and-auto-scaling-groups",
    "SubnetIds": "subnet-0123456789abcdef1",
    "SecurityGroupIds": "sg-0123456789abcdef0",
    "CreateVpcEndpoints": "true",
    "VpcId": "vpc-0123456789abcdef0",
    "RouteTableIds": "rtb-0123456789abcdef1",
}


def parity_cases() -> dict[str, dict[str, str]]:
    """Stack name -> the template.yaml parameter values both sides get."""
    cases = {variant: variant_parameters(variant) for variant in VARIANTS}
    cases["everything"] = {**variant_parameters("instance-lean"), **EVERYTHING}
    cases["found-nodes"] = {**variant_parameters("instance-lean"), **FOUND_NODES}
    cases["found-node2"] = {**variant_parameters("instance-lean"), **FOUND_NODE2}
    cases["found-in-one-group"] = {**variant_parameters("eni-lean"), **FOUND_IN_ONE_GROUP}
    cases["tags-beside-group"] = {**variant_parameters("instance-lean"), **TAGS_BESIDE_GROUP}
    cases["both-by-tags"] = {**variant_parameters("instance-full"), **BOTH_BY_TAGS}
    cases["fleet-found-by-group"] = {**variant_parameters("instance-lean"), **FLEET_FOUND_BY_GROUP}
    return cases


def cdk_python() -> str:
    python = os.environ.get(CDK_PYTHON_ENV)
    if not python:
        pytest.skip(f"{CDK_PYTHON_ENV} is not set: make cdk-test synthesizes the construct and runs this")
    return python


@functools.cache
def synthesized() -> dict[str, Path]:
    """Stack name -> its synthesized template, for every parity case and the lab's stack (one synth)."""
    python = cdk_python()
    SYNTH_DIR.mkdir(parents=True, exist_ok=True)
    specs: list[dict[str, Any]] = [{"name": name, "values": values} for name, values in parity_cases().items()]
    specs.append({"name": LAB_STACK, "values": {}, "parameters": list(cdk_parameters.LAB_PARAMETERS)})
    spec_file = SYNTH_DIR / "spec.json"
    spec_file.write_text(json.dumps(specs, indent=1))
    done = subprocess.run(
        [python, "-m", "nginx_eip_failover_cdk.synth", str(spec_file), str(SYNTH_DIR)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-4000:])
        raise AssertionError(f"cdk synth failed (exit {done.returncode}): {done.stderr.strip().splitlines()[-1:]}")
    return {spec["name"]: SYNTH_DIR / f"{spec['name']}.template.json" for spec in specs}
