"""The bill-relevant resources a run created, whether each one is gone, and the table printed at the end.

A resource counts as deleted only when AWS says so (a describe after the teardown), never because its
stack's deletion was asked for: the table is what an operator checks the bill against.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

# What is billed while it exists (us-east-1 list prices, docs/aws-e2e.md has the per-run figure).
BILLED_TYPES: dict[str, str] = {
    "AWS::EC2::Instance": "instance, per second running (and its public IPv4 address, per hour)",
    "AWS::EC2::EIP": "Elastic IP: public IPv4, per hour",
    "AWS::EC2::VPCEndpoint": "interface endpoint, per AZ-hour (the gateway endpoint is free)",
    "AWS::Lambda::Function": "function, per request and GB-second",
    "AWS::DynamoDB::Table": "table, per request and GB-month",
    "AWS::CloudWatch::Alarm": "alarm, per alarm-month",
    "AWS::KMS::Key": "customer managed key, per month (full profile only)",
    "AWS::Logs::LogGroup": "log group, per GB ingested and stored",
    "AWS::Scheduler::Schedule": "schedule, per invocation",
}


@dataclass
class Resource:
    stack: str
    logical_id: str
    type: str
    physical_id: str
    deleted: bool | None = None  # None: not checked (or the check itself failed)

    @property
    def billing(self) -> str:
        return BILLED_TYPES.get(self.type, "")


def billed_resources(cloudformation: Any, stack_name: str) -> list[Resource]:
    """The stack's bill-relevant resources (none when the stack does not exist)."""
    resources: list[Resource] = []
    try:
        for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack_name):
            for summary in page.get("StackResourceSummaries") or []:
                if summary["ResourceType"] in BILLED_TYPES and summary.get("PhysicalResourceId"):
                    resources.append(
                        Resource(
                            stack_name,
                            summary["LogicalResourceId"],
                            summary["ResourceType"],
                            summary["PhysicalResourceId"],
                        )
                    )
    except ClientError as exc:
        if "does not exist" not in str(exc):
            raise
    return resources


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _gone_when(call: Callable[[], bool], *not_found: str) -> bool:
    """call() says whether it is gone; an error whose code is one of `not_found` means gone too."""
    try:
        return call()
    except ClientError as exc:
        if _code(exc) in not_found or _code(exc).endswith(".NotFound"):
            return True
        raise


def is_gone(client: Callable[[str], Any], resource: Resource) -> bool:
    """Whether AWS reports the resource deleted (or being deleted, which stops its billing)."""
    kind, name = resource.type, resource.physical_id
    if kind == "AWS::EC2::Instance":
        return _gone_when(
            lambda: all(
                instance["State"]["Name"] in ("shutting-down", "terminated")
                for reservation in client("ec2").describe_instances(InstanceIds=[name])["Reservations"]
                for instance in reservation["Instances"]
            )
        )
    if kind == "AWS::EC2::EIP":  # its physical ID is the public IP
        return _gone_when(
            lambda: not client("ec2").describe_addresses(PublicIps=[name])["Addresses"], "InvalidAddress.NotFound"
        )
    if kind == "AWS::EC2::VPCEndpoint":
        return _gone_when(
            lambda: all(
                endpoint["State"].lower() in ("deleting", "deleted")
                for endpoint in client("ec2").describe_vpc_endpoints(VpcEndpointIds=[name])["VpcEndpoints"]
            )
        )
    if kind == "AWS::Lambda::Function":
        return _gone_when(lambda: not client("lambda").get_function(FunctionName=name), "ResourceNotFoundException")
    if kind == "AWS::DynamoDB::Table":
        return _gone_when(
            lambda: client("dynamodb").describe_table(TableName=name)["Table"]["TableStatus"] == "DELETING",
            "ResourceNotFoundException",
        )
    if kind == "AWS::CloudWatch::Alarm":
        return not client("cloudwatch").describe_alarms(AlarmNames=[name])["MetricAlarms"]
    if kind == "AWS::KMS::Key":
        return _gone_when(
            lambda: client("kms").describe_key(KeyId=name)["KeyMetadata"]["KeyState"] in ("PendingDeletion", "Deleted"),
            "NotFoundException",
        )
    if kind == "AWS::Logs::LogGroup":
        groups = client("logs").describe_log_groups(logGroupNamePrefix=name).get("logGroups") or []
        return all(group["logGroupName"] != name for group in groups)
    if kind == "AWS::Scheduler::Schedule":
        return _gone_when(lambda: not client("scheduler").get_schedule(Name=name), "ResourceNotFoundException")
    raise ValueError(f"resource type {kind!r} is not one the run checks (BILLED_TYPES)")


def check_deleted(client: Callable[[str], Any], resources: Iterable[Resource]) -> None:
    for resource in resources:
        try:
            resource.deleted = is_gone(client, resource)
        except (ClientError, ValueError):
            resource.deleted = None


_DELETED = {True: "yes", False: "NO", None: "unknown"}


def render(resources: list[Resource]) -> str:
    header = ["STACK", "RESOURCE", "TYPE", "ID", "DELETED", "BILLED AS"]
    rows = [
        [
            r.stack,
            r.logical_id,
            r.type,
            r.physical_id,
            {True: "yes", False: "NO", None: "unknown"}[r.deleted],
            r.billing,
        ]
        for r in resources
    ]
    if not rows:
        return "Bill-relevant resources created: none"
    widths = [max(len(line[i]) for line in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in [header, *rows]
    ]
    left = [r for r in resources if r.deleted is not True]
    summary = (
        f"{len(resources)} bill-relevant resources created, all deleted"
        if not left
        else f"{len(left)} of {len(resources)} bill-relevant resources NOT confirmed deleted: delete them by hand"
    )
    return "\n".join(["Bill-relevant resources created:", *lines, summary])
