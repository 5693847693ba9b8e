"""CloudFormation for the run: the nodes stack created from tests/e2e/aws/nodes.yaml, any stack's
outputs, and a delete that waits and retries (a VPC's subnets can stay busy for minutes after the
controller's functions, whose network interfaces Lambda removes lazily, are deleted)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError, WaiterError

NODES_TEMPLATE = Path(__file__).resolve().parents[2] / "tests" / "e2e" / "aws" / "nodes.yaml"
RUN_TAG = "nginx-eip-failover-e2e"  # every stack the run creates carries it, valued with the run's id
DELETE_ATTEMPTS = 3


class StackError(Exception):
    """A stack could not be created: names the stack, its status and the first failed resource."""


@dataclass(frozen=True)
class Nodes:
    """The nodes stack's outputs: the pair, and the network the controller's functions go in."""

    stack_name: str
    outputs: Mapping[str, str]

    def __getitem__(self, key: str) -> str:
        return self.outputs[key]

    @property
    def instance_ids(self) -> tuple[str, str]:
        return self["Node1InstanceId"], self["Node2InstanceId"]

    @property
    def allocation_id(self) -> str:
        return self["ElasticIpAllocationId"]

    @property
    def public_ip(self) -> str:
        return self["ElasticIp"]


@dataclass(frozen=True)
class Waiting:
    """How the CloudFormation waiters poll (seconds between polls, polls in all)."""

    delay: int = 15
    attempts: int = 160  # 40 minutes: a stack holding a Lambda's VPC network interfaces can take that

    def config(self) -> dict[str, int]:
        return {"Delay": self.delay, "MaxAttempts": self.attempts}


def create_nodes_stack(
    cloudformation: Any,
    stack_name: str,
    parameters: Mapping[str, str],
    *,
    run_id: str,
    template: Path = NODES_TEMPLATE,
    waiting: Waiting = Waiting(),
) -> Nodes:
    cloudformation.create_stack(
        StackName=stack_name,
        TemplateBody=template.read_text(),
        Parameters=[{"ParameterKey": key, "ParameterValue": value} for key, value in parameters.items()],
        Capabilities=["CAPABILITY_IAM"],
        Tags=[{"Key": RUN_TAG, "Value": run_id}],
    )
    try:
        cloudformation.get_waiter("stack_create_complete").wait(StackName=stack_name, WaiterConfig=waiting.config())
    except WaiterError as exc:
        raise StackError(f"stack {stack_name} was not created: {_failure(cloudformation, stack_name, exc)}") from None
    return Nodes(stack_name, stack_outputs(cloudformation, stack_name))


def stack_outputs(cloudformation: Any, stack_name: str) -> dict[str, str]:
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    return {output["OutputKey"]: str(output.get("OutputValue", "")) for output in stack.get("Outputs") or []}


def delete_stack(cloudformation: Any, stack_name: str, *, waiting: Waiting = Waiting()) -> str:
    """Delete the stack and wait; retried DELETE_ATTEMPTS times. Returns how it ended, for the report
    ("deleted", or the last error): a teardown reports, it does not raise."""
    problem = "not tried"
    for _attempt in range(DELETE_ATTEMPTS):
        try:
            cloudformation.delete_stack(StackName=stack_name)
            cloudformation.get_waiter("stack_delete_complete").wait(StackName=stack_name, WaiterConfig=waiting.config())
        except (ClientError, WaiterError) as exc:
            problem = _failure(cloudformation, stack_name, exc)
            continue
        return "deleted"
    return f"not deleted after {DELETE_ATTEMPTS} attempts: {problem}"


def _failure(cloudformation: Any, stack_name: str, error: Exception) -> str:
    """The stack's status and its first failed resource's reason (what an operator needs to act)."""
    try:
        stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
        events = cloudformation.describe_stack_events(StackName=stack_name).get("StackEvents") or []
    except ClientError:
        return str(error)
    failed = [event for event in reversed(events) if str(event.get("ResourceStatus", "")).endswith("_FAILED")]
    reason = f"; {failed[0]['LogicalResourceId']}: {failed[0].get('ResourceStatusReason')}" if failed else f" ({error})"
    return f"{stack['StackStatus']}{reason}"
