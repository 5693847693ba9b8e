"""Found nodes in the lab: one Auto Scaling group per node in the moto server, each of one instance
tagged nginx-eip-failover=<stack name> (PropagateAtLaunch, as docs/found-nodes.md asks), and the
template's termination lifecycle hooks created on them (moto_lifecycle_gaps models what they do).

A node's nginx stays the lab's real process at a fixed 127.0.0.1 URL: an instance replacement is
the old instance terminated through its group (Terminating:Wait while the hook waits), the
LifecycleFunction invoked with the event EventBridge would deliver, the replacement launched by
the group, and the node's nginx restarted as the new instance's.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nginx_eip_failover_lab.aws.moto_lifecycle_gaps import lifecycle_token
from nginx_eip_failover_lab.stack.fixtures import LAB_AMI
from nginx_eip_failover_lab.stack.intrinsics import Resolver
from nginx_eip_failover_lab.stack.provisioner import LabStack

STACK_TAG = "nginx-eip-failover"
DETAIL_TYPE = "EC2 Instance-terminate Lifecycle Action"


@dataclass(frozen=True)
class NodeGroups:
    groups: Mapping[str, str]  # node -> its Auto Scaling group's name

    def parameters(self) -> dict[str, str]:
        """The template parameters that name each node by its group instead of an InstanceId."""
        params: dict[str, str] = {}
        for index, node in enumerate(sorted(self.groups), start=1):
            params[f"Node{index}InstanceId"] = ""
            params[f"Node{index}AutoScalingGroupName"] = self.groups[node]
        return params


def create_node_groups(ec2: Any, autoscaling: Any, nodes: tuple[str, ...], stack_name: str) -> NodeGroups:
    suffix = uuid.uuid4().hex[:8]
    template = f"lab-nginx-{suffix}"
    ec2.create_launch_template(
        LaunchTemplateName=template, LaunchTemplateData={"ImageId": LAB_AMI, "InstanceType": "t4g.small"}
    )
    zones = [subnet["AvailabilityZone"] for subnet in ec2.describe_subnets()["Subnets"]]
    groups = {}
    for index, node in enumerate(nodes):
        name = f"lab-{node}-{suffix}"
        autoscaling.create_auto_scaling_group(
            AutoScalingGroupName=name,
            LaunchTemplate={"LaunchTemplateName": template},
            MinSize=1,
            MaxSize=1,
            DesiredCapacity=1,
            AvailabilityZones=[sorted(set(zones))[index % len(set(zones))]],
            Tags=[{"Key": STACK_TAG, "Value": stack_name, "PropagateAtLaunch": True}],
        )
        groups[node] = name
    return NodeGroups(groups)


def create_lifecycle_hooks(autoscaling: Any, stack: LabStack) -> list[tuple[str, str]]:
    """The template's AWS::AutoScaling::LifecycleHook resources, created in moto: (group, hook name)."""
    resolver = Resolver(stack.template, stack.parameters, stack.name)
    created = []
    for logical_id, resource in stack.template.of_type("AWS::AutoScaling::LifecycleHook").items():
        if not resolver.included(resource):
            continue
        properties = resolver.resolve(resource.get("Properties") or {})
        name = f"{stack.name}-{logical_id}"
        autoscaling.put_lifecycle_hook(
            LifecycleHookName=name,
            AutoScalingGroupName=properties["AutoScalingGroupName"],
            LifecycleTransition=properties["LifecycleTransition"],
            HeartbeatTimeout=int(properties["HeartbeatTimeout"]),
            DefaultResult=properties["DefaultResult"],
        )
        created.append((str(properties["AutoScalingGroupName"]), name))
    return created


def group_instances(autoscaling: Any, group: str) -> dict[str, str]:
    """instance -> lifecycle state, of the group's instances now."""
    answer = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"]
    return {item["InstanceId"]: item["LifecycleState"] for item in (answer[0]["Instances"] if answer else [])}


def termination_event(group: str, hook: str, instance_id: str) -> dict[str, Any]:
    """The EventBridge event Auto Scaling sends when `instance_id` waits on `hook` to terminate."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": DETAIL_TYPE,
        "source": "aws.autoscaling",
        "detail": {
            "LifecycleActionToken": lifecycle_token(instance_id, hook),
            "AutoScalingGroupName": group,
            "LifecycleHookName": hook,
            "EC2InstanceId": instance_id,
            "LifecycleTransition": "autoscaling:EC2_INSTANCE_TERMINATING",
        },
    }
