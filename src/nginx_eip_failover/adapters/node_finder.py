"""The Auto Scaling adapter (with the EC2 reads it needs): the instances a found node may be, and
completing a lifecycle action.

EC2 and Auto Scaling calls per `candidates()`: one DescribeAutoScalingGroups for every group the
nodes name (its instances in LifecycleState InService and HealthStatus Healthy, in the node's AZ
when it names one; terminating ones as `leaving`), one DescribeInstances of those (running only:
their private IP and launch time), and one DescribeInstances with tag filters per tag-found node.
Describe actions cannot be scoped to resources in IAM (AWS's design); CompleteLifecycleAction is
scoped to the groups' ARNs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from nginx_eip_failover.adapters.aws_errors import aws_error
from nginx_eip_failover.core.config import NodeConfig
from nginx_eip_failover.core.errors import NodeFinderError
from nginx_eip_failover.core.found_nodes import Candidate

# DescribeAutoScalingGroups takes at most 100 names; a pair names two.
_MAX_GROUPS = 100


def _call(operation: str, subject: str, method: Callable[..., Any], **kwargs: Any) -> Any:
    try:
        return method(**kwargs)
    except ClientError as exc:
        raise NodeFinderError(f"{operation} {subject}: {aws_error(exc)[1]}") from exc
    except BotoCoreError as exc:
        raise NodeFinderError(f"{operation} {subject}: {exc}") from exc


class NodeFinder:
    def __init__(self, autoscaling: Callable[[], Any], ec2: Callable[[], Any]) -> None:
        """Clients are built at the first call (off the cold path until a cycle needs them)."""
        self._autoscaling_factory = autoscaling
        self._ec2_factory = ec2
        self._autoscaling: Any = None
        self._ec2: Any = None

    def _asg(self) -> Any:
        if self._autoscaling is None:
            self._autoscaling = self._autoscaling_factory()
        return self._autoscaling

    def _ec2_client(self) -> Any:
        if self._ec2 is None:
            self._ec2 = self._ec2_factory()
        return self._ec2

    def candidates(self, nodes: Sequence[NodeConfig]) -> dict[str, list[Candidate]]:
        found = [node for node in nodes if node.finder is not None]
        groups = sorted(
            {node.finder.auto_scaling_group for node in found if node.finder and node.finder.auto_scaling_group}
        )
        in_service = self._in_service(groups[:_MAX_GROUPS]) if groups else {}
        wanted = sorted({instance for members in in_service.values() for instance, _zone, _leaving in members})
        running = self._running(InstanceIds=wanted) if wanted else {}
        result: dict[str, list[Candidate]] = {}
        for node in found:
            finder = node.finder
            assert finder is not None
            if finder.auto_scaling_group:
                result[node.name] = [
                    replace(running[instance], leaving=leaving)
                    for instance, zone, leaving in in_service.get(finder.auto_scaling_group, [])
                    if instance in running and finder.availability_zone in (None, zone)
                ]
            else:
                filters = [{"Name": f"tag:{key}", "Values": [value]} for key, value in finder.tags]
                result[node.name] = list(self._running(Filters=filters).values())
        return result

    def _in_service(self, groups: Sequence[str]) -> dict[str, list[tuple[str, str, bool]]]:
        """group -> (instance, AZ, leaving) of its in-service, healthy instances and of its
        terminating ones (leaving: Terminating, Terminating:Wait, Terminating:Proceed)."""
        members: dict[str, list[tuple[str, str, bool]]] = {group: [] for group in groups}
        paginator = self._asg().get_paginator("describe_auto_scaling_groups")
        pages = _call(
            "DescribeAutoScalingGroups",
            ",".join(groups),
            lambda: list(paginator.paginate(AutoScalingGroupNames=list(groups))),
        )
        for page in pages:
            for group in page.get("AutoScalingGroups", []):
                for instance in group.get("Instances", []):
                    state = str(instance.get("LifecycleState", ""))
                    serving = state == "InService" and instance.get("HealthStatus") == "Healthy"
                    if serving or state.startswith("Terminating"):
                        members[group["AutoScalingGroupName"]].append(
                            (instance["InstanceId"], instance.get("AvailabilityZone", ""), not serving)
                        )
        return members

    def _running(self, **query: Any) -> dict[str, Candidate]:
        filters = [*query.pop("Filters", []), {"Name": "instance-state-name", "Values": ["running"]}]
        paginator = self._ec2_client().get_paginator("describe_instances")
        subject = ",".join(query.get("InstanceIds", [])) or "by tags"
        pages = _call("DescribeInstances", subject, lambda: list(paginator.paginate(Filters=filters, **query)))
        found: dict[str, Candidate] = {}
        for page in pages:
            for reservation in page.get("Reservations", []):
                for instance in reservation.get("Instances", []):
                    launched = instance.get("LaunchTime")
                    found[instance["InstanceId"]] = Candidate(
                        instance_id=instance["InstanceId"],
                        private_ip=instance.get("PrivateIpAddress"),
                        launched_at=launched.timestamp() if hasattr(launched, "timestamp") else 0.0,
                    )
        return found

    def complete(self, group: str, hook: str, instance_id: str, token: str | None, result: str) -> None:
        """CompleteLifecycleAction (CONTINUE or ABANDON) for a hook's instance: by its token when the
        event carried one, else by instance ID."""
        target = {"LifecycleActionToken": token} if token else {"InstanceId": instance_id}
        _call(
            "CompleteLifecycleAction",
            f"{group}/{hook}/{instance_id}",
            self._asg().complete_lifecycle_action,
            AutoScalingGroupName=group,
            LifecycleHookName=hook,
            LifecycleActionResult=result,
            **target,
        )
