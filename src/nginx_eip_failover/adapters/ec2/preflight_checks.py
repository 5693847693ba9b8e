"""Preflight's EC2 checks: each makes the call a move makes (with DryRun), or the closest call that
changes nothing, and answers one row (core/preflight.py)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from nginx_eip_failover.adapters.aws_errors import aws_error as _error
from nginx_eip_failover.adapters.ec2.assumed_role import AssumedRoleEc2, RoleAssumptionError
from nginx_eip_failover.core.addresses import RouteSpec
from nginx_eip_failover.core.config import NodeConfig, Settings
from nginx_eip_failover.core.preflight import CheckRow, failed, ok

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client

# The states in which an instance can no longer take the EIP.
_GONE = ("shutting-down", "terminated")


def check_eip(ec2: EC2Client, settings: Settings) -> CheckRow:
    check, target = "ec2:DescribeAddresses", settings.allocation_id
    try:
        addresses = ec2.describe_addresses(AllocationIds=[settings.allocation_id]).get("Addresses") or []
    except (ClientError, BotoCoreError) as exc:
        return failed(check, target, _error(exc)[1])
    if not addresses:
        return failed(check, target, "not found")
    address = addresses[0]
    holder = settings.describe_association(address.get("InstanceId") or None)
    return ok(check, target, f"exists: {address.get('PublicIp')}, {holder}")


def check_instances(ec2: EC2Client, nodes: Sequence[NodeConfig]) -> list[CheckRow]:
    """One DescribeInstances for all nodes; one per node only when one of them is not found."""
    check = "ec2:DescribeInstances"
    ids = [node.instance_id for node in nodes]
    try:
        states = _instance_states(ec2, ids)
    except ClientError as exc:
        if not _error(exc)[0].startswith("InvalidInstanceID"):
            return [failed(check, f"{node.name} {node.instance_id}", _error(exc)[1]) for node in nodes]
        states = {}
        for instance_id in ids:  # which one is missing: EC2 fails the whole call for one bad ID
            try:
                states.update(_instance_states(ec2, [instance_id]))
            except (ClientError, BotoCoreError) as single:
                states[instance_id] = "! " + _error(single)[1]
    except BotoCoreError as exc:
        return [failed(check, f"{node.name} {node.instance_id}", _error(exc)[1]) for node in nodes]
    rows = []
    for node in nodes:
        target = f"{node.name} {node.instance_id}"
        state = states.get(node.instance_id)
        if state is None:
            rows.append(failed(check, target, "not found"))
        elif state.startswith("! "):
            rows.append(failed(check, target, state[2:]))
        elif state in _GONE:
            rows.append(failed(check, target, f"instance is {state}: it can never take the EIP"))
        else:
            rows.append(ok(check, target, f"exists ({state})"))
    return rows


def _instance_states(ec2: EC2Client, ids: list[str]) -> dict[str, str]:
    response = ec2.describe_instances(InstanceIds=ids)
    return {
        instance["InstanceId"]: (instance.get("State") or {}).get("Name", "unknown")
        for reservation in response.get("Reservations") or []
        for instance in reservation.get("Instances") or []
    }


def check_associate(ec2: EC2Client, allocation_id: str, node: NodeConfig, private_ip: str | None = None) -> CheckRow:
    """The failover's own call, with DryRun: EC2 checks the permissions and changes nothing. By ENI
    and private IP when the group's EIP lands there, else by instance, as the move makes it."""
    if private_ip is not None and node.network_interface_id is not None:
        where = f"network-interface/{node.network_interface_id} ({private_ip})"
        target = f"{node.name}: {allocation_id} -> {node.network_interface_id} {private_ip}"
        params: dict[str, Any] = {"NetworkInterfaceId": node.network_interface_id, "PrivateIpAddress": private_ip}
    else:
        where = f"instance/{node.instance_id}"
        target = f"{node.name}: {allocation_id} -> {node.instance_id}"
        params = {"InstanceId": node.instance_id}
    return dry_run(
        "ec2:AssociateAddress (DryRun)",
        target,
        f"elastic-ip/{allocation_id} with {where}",
        partial(ec2.associate_address, AllocationId=allocation_id, AllowReassociation=True, DryRun=True, **params),
    )


def check_secondary_ips(ec2: EC2Client, node: NodeConfig, addresses: Sequence[str]) -> CheckRow:
    """AssignPrivateIpAddresses takes no DryRun in EC2's API, so its permission is proven only by a real
    move; what can be checked is that the ENI the addresses move to exists."""
    check = "ec2:DescribeNetworkInterfaces"
    eni = node.network_interface_id
    target = f"{node.name}: {', '.join(addresses)} -> {eni}"
    if eni is None:
        return failed(check, target, "the node names no ENI (network_interface_id) for its secondary IPs")
    try:
        found = ec2.describe_network_interfaces(NetworkInterfaceIds=[eni]).get("NetworkInterfaces") or []
    except (ClientError, BotoCoreError) as exc:
        return failed(check, target, _error(exc)[1])
    if not found:
        return failed(check, target, "not found")
    return ok(
        check,
        target,
        f"exists in {found[0].get('SubnetId')}; ec2:AssignPrivateIpAddresses has no DryRun: granted by the "
        "template's tag condition, proven only by a move",
    )


def check_replace_route(ec2: EC2Client, node: NodeConfig, route: RouteSpec, table: str) -> CheckRow:
    """ReplaceRoute with DryRun: the overlay route pointed at this node's ENI."""
    eni = node.network_interface_id or "(no ENI)"

    def call() -> Any:
        if ":" in route.destination:
            return ec2.replace_route(
                RouteTableId=table, NetworkInterfaceId=eni, DestinationIpv6CidrBlock=route.destination, DryRun=True
            )
        return ec2.replace_route(
            RouteTableId=table, NetworkInterfaceId=eni, DestinationCidrBlock=route.destination, DryRun=True
        )

    return dry_run(
        "ec2:ReplaceRoute (DryRun)",
        f"{node.name}: {route.destination} in {table} -> {eni}",
        f"route-table/{table}",
        call,
    )


def dry_run(check: str, target: str, resource: str, call: Callable[[], Any]) -> CheckRow:
    """A mutating EC2 call with DryRun=True: `DryRunOperation` means allowed; `UnauthorizedOperation`
    names the action and the resource; any other answer is reported as is."""
    action = check.split(" ", 1)[0]
    try:
        call()
    except ClientError as exc:
        code, message = _error(exc)
        if code == "DryRunOperation":
            return ok(check, target, "allowed (DryRunOperation)")
        if code in ("UnauthorizedOperation", "AccessDenied", "AccessDeniedException"):
            return failed(check, target, f"{action} denied for {resource}: {_denial(code, exc)}")
        return failed(check, target, message)
    except BotoCoreError as exc:
        return failed(check, target, _error(exc)[1])
    # EC2 never performs a DryRun request; an answer without the DryRunOperation error is not proof.
    return failed(check, target, "answered without DryRunOperation: cannot tell whether it is allowed")


def _denial(code: str, exc: ClientError) -> str:
    """What a denial says beyond its code. EC2's message repeats the code in words and ends with an
    encoded part that says nothing without sts:DecodeAuthorizationMessage; the IAM sentence between
    them, when there is one, names the resource. Often there is none."""
    said = str(exc.response.get("Error", {}).get("Message", ""))
    said = said.split("Encoded authorization failure message:")[0]
    said = said.replace("You are not authorized to perform this operation.", "").strip()
    if said:
        return f"{code}: {said}"
    return f"{code} (EC2 gave no detail: decode the message with sts:DecodeAuthorizationMessage, or see CloudTrail)"


def check_route_role(role: AssumedRoleEc2, tables: Sequence[str]) -> list[CheckRow]:
    """sts:AssumeRole of the role a route's tables are reached by, then DescribeRouteTables of those
    tables with its credentials: what every cycle does first for such a route."""
    check, target = "sts:AssumeRole", f"RouteTableRoleArn {role.role_arn}"
    try:
        ec2 = role.client()
    except RoleAssumptionError as exc:
        hint = ""
        if exc.code in ("AccessDenied", "AccessDeniedException"):
            hint = (
                " (the role's trust policy must admit the functions' roles, with sts:ExternalId = the stack's "
                "RouteTableRoleExternalId when set: docs/cross-account-routes.md)"
            )
        return [failed(check, target, f"{exc}{hint}")]
    rows = [ok(check, target, "assumed: a session for this check")]
    if not tables:
        return rows
    describe, where = "ec2:DescribeRouteTables (assumed role)", ", ".join(tables)
    try:
        response = ec2.describe_route_tables(Filters=[{"Name": "route-table-id", "Values": list(tables)}])
    except (ClientError, BotoCoreError) as exc:
        return [*rows, failed(describe, where, f"with {role.role_arn}: {_error(exc)[1]}")]
    found = {table.get("RouteTableId") for table in response.get("RouteTables") or []}
    missing = [table for table in tables if table not in found]
    if missing:
        return [*rows, failed(describe, where, f"not found with {role.role_arn}: {', '.join(missing)}")]
    return [*rows, ok(describe, where, f"found with {role.role_arn}")]


class Ec2PreflightChecks:
    """The preflight's EC2 checks (the PreflightEc2Checks port) on one EC2 client; another account's
    route tables through `route_role(role_arn)` (an assumed-role EC2, one session per preflight)."""

    def __init__(self, ec2: EC2Client, route_role: Callable[[str], AssumedRoleEc2] | None = None) -> None:
        self._ec2 = ec2
        self._route_role = route_role
        self._roles: dict[str, AssumedRoleEc2] = {}

    def _role(self, role_arn: str) -> AssumedRoleEc2:
        if self._route_role is None:
            raise ValueError(f"no way to assume {role_arn}")
        role = self._roles.get(role_arn)
        if role is None:
            role = self._roles[role_arn] = self._route_role(role_arn)
        return role

    def eip(self, settings: Settings) -> CheckRow:
        return check_eip(self._ec2, settings)

    def instances(self, nodes: Sequence[NodeConfig]) -> list[CheckRow]:
        return check_instances(self._ec2, nodes)

    def associate(self, allocation_id: str, node: NodeConfig, private_ip: str | None) -> CheckRow:
        return check_associate(self._ec2, allocation_id, node, private_ip)

    def secondary_ips(self, node: NodeConfig, addresses: Sequence[str]) -> CheckRow:
        return check_secondary_ips(self._ec2, node, addresses)

    def replace_route(self, node: NodeConfig, route: RouteSpec, table: str) -> CheckRow:
        if route.role_arn is None:
            return check_replace_route(self._ec2, node, route, table)
        try:
            ec2 = self._role(route.role_arn).client()
        except RoleAssumptionError as exc:
            target = f"{node.name}: {route.destination} in {table}"
            return failed("ec2:ReplaceRoute (DryRun)", target, f"not checked: {exc}")
        return check_replace_route(ec2, node, route, table)

    def route_role(self, role_arn: str, tables: Sequence[str]) -> list[CheckRow]:
        role = self._role(role_arn)
        role.new_cycle()  # a fresh session: this run proves the trust as it is now
        return check_route_role(role, tables)
