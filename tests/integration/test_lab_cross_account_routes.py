"""Routes in another account on the lab: a fleet group's overlay route lives in a route table of a
shared VPC's owner (account B in the lab's moto), reached through B's role (RouteTableRoleArn, with
its ExternalId). Real nginx nodes, the handlers in fresh processes, and the lab's IAM: the function's
sts:AssumeRole needs the template's grant and B's trust policy, and the session's calls are evaluated
against B's permissions policy on B's resources. Everything is read back from B's EC2 itself.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from nginx_eip_failover_lab.aws.other_account import OTHER_ACCOUNT_ID, OtherAccount, role_arn
from nginx_eip_failover_lab.environment import LabEnvironment
from nginx_eip_failover_lab.iam.enforcement import access_key_for, function_role_arn
from nginx_eip_failover_lab.nodes.fleet import LabGroup
from nginx_eip_failover_lab.stack.template import CONTROL_FUNCTION, MONITOR_FUNCTION
from support.lab_driving import LabFactory, loop_for, ok

pytestmark = pytest.mark.integration

EXTERNAL_ID = "lab-shared-vpc-1"
ROUTE_CALLS = ("ReplaceRoute", "CreateRoute")


def _lab(make_lab: LabFactory, role_name: str) -> LabEnvironment:
    return make_lab(address_set_group=True, RouteTableRoleArn=role_arn(role_name), RouteTableRoleExternalId=EXTERNAL_ID)


def _route_in_other_account(
    lab: LabEnvironment, other: OtherAccount, role_name: str, *, trusted_external_id: str | None = EXTERNAL_ID
) -> LabGroup:
    """The addr group's route moved (in the fleet document) to a table of B, reached by B's role,
    which trusts both function roles with `trusted_external_id`."""
    group = lab.groups["addr"]
    table = other.route_table()
    principals = [function_role_arn(MONITOR_FUNCTION), function_role_arn(CONTROL_FUNCTION)]
    arn, trust, permissions = other.create_role(role_name, principals, trusted_external_id, [table])
    lab.iam.add_assumable_role(arn, trust, permissions)
    group.route_table_id, group.route_role_arn, group.route_ec2 = table, arn, other.ec2
    lab.apply_fleet()
    return group


def _until(lab: LabEnvironment, done: Any, deadline: float = 30.0) -> list[dict[str, Any]]:
    payloads = []
    give_up = time.monotonic() + deadline
    while not done():
        assert time.monotonic() < give_up, f"not done in time: {lab.group_placement('addr')}"
        payloads.append(loop_for(lab, 2.0))
    return payloads


def _preflight_rows(lab: LabEnvironment, group: str | None = None) -> list[dict[str, Any]]:
    request: dict[str, Any] = {"action": "preflight", **({"group": group} if group else {})}
    payload = ok(lab.control(request))
    return [row for row in payload["checks"] if row["check"].startswith(("sts:", "ec2:DescribeRouteTables (assumed"))]


def test_a_route_table_behind_an_assumed_role_moves_on_failover(make_lab: LabFactory) -> None:
    role_name = f"routes-{uuid.uuid4().hex[:8]}"
    lab = _lab(make_lab, role_name)
    assert lab.proxy is not None
    other = OtherAccount(lab.moto.url)
    group = _route_in_other_account(lab, other, role_name)
    table, route = group.route_table_id, group.route
    assert table is not None and route is not None
    eni1, eni2 = group.enis
    # The table is B's: the lab account's own credentials do not see it.
    assert lab.ec2.describe_route_tables(Filters=[{"Name": "route-table-id", "Values": [table]}])["RouteTables"] == []

    # Preflight: the role is assumed, its table described with it, the move's dry run allowed.
    rows = {(row["check"], row["status"]) for row in _preflight_rows(lab, "addr")}
    assert rows == {("sts:AssumeRole", "ok"), ("ec2:DescribeRouteTables (assumed role)", "ok")}, rows
    assert other.route_eni(table, route) is None  # a preflight moves nothing

    # The first cycles place the whole set on node1: the route is created in B's table.
    _until(lab, lambda: lab.group_holder("addr") == "node1")
    assert other.route_eni(table, route) == eni1

    lab.proxy.reset()
    group.nodes["node1"].stop()
    payloads = _until(lab, lambda: lab.group_holder("addr") == "node2")
    assert sum(len(payload["groups"]["addr"]["moves"]) for payload in payloads) == 1  # one decision
    assert other.route_eni(table, route) == eni2  # read back from B's EC2

    # The move went through the assumed role: the ReplaceRoute that reached moto was signed with a
    # session of B's role that the monitor obtained from STS with its own key.
    sessions = lab.iam.sessions()
    moved = [call for action in ROUTE_CALLS for call in lab.proxy.calls(action) if call.upstream_status == 200]
    assert [call.action for call in moved] == ["ReplaceRoute"]
    [session] = [sessions[call.access_key] for call in moved if call.access_key in sessions]
    assert session.role.arn == role_arn(role_name)
    assert session.role.account == OTHER_ACCOUNT_ID
    assert session.caller == MONITOR_FUNCTION
    assert session.session_name.startswith("nginx-eip-failover-")
    assumes = lab.proxy.calls("AssumeRole", "sts")
    assert assumes and all(call.access_key == access_key_for(MONITOR_FUNCTION) for call in assumes)
    # ... and IAM allowed it by B's permissions policy, on B's table.
    verdicts = [v for v in lab.iam.verdicts() if v.call.operation == "ReplaceRoute" and v.role.startswith(role_name)]
    assert verdicts and all(verdict.allowed for verdict in verdicts)
    assert verdicts[-1].checks[0].resource.arn == f"arn:aws:ec2:us-east-1:{OTHER_ACCOUNT_ID}:route-table/{table}"
    assert "PointTheOverlayRoutes" in verdicts[-1].checks[0].decision.reason


@pytest.mark.parametrize("refusal", ["wrong external id", "unknown role"])
def test_a_role_that_cannot_be_assumed_fails_preflight_naming_it_and_nothing_moves(
    make_lab: LabFactory, refusal: str
) -> None:
    role_name = f"routes-{uuid.uuid4().hex[:8]}"
    lab = _lab(make_lab, role_name)
    assert lab.proxy is not None
    other = OtherAccount(lab.moto.url)
    group = lab.groups["addr"]
    if refusal == "wrong external id":
        group = _route_in_other_account(lab, other, role_name, trusted_external_id="another-external-id")
    else:  # the stack names a role B never created: it trusts nobody
        group.route_table_id, group.route_role_arn = other.route_table(), role_arn(role_name)
        group.route_ec2 = other.ec2
        lab.apply_fleet()
    table, route = group.route_table_id, group.route
    assert table is not None and route is not None
    eni1 = group.enis[0]
    # The route is on node1 already (B's operator put it there): a failover would have to move it.
    other.ec2.create_route(RouteTableId=table, DestinationCidrBlock=route, NetworkInterfaceId=eni1)

    # Preflight, of the stack's own pair and of the group: the role's row names the parameter, the
    # role and STS's AccessDenied.
    for scope in ("default", "addr"):
        [row] = _preflight_rows(lab, scope)
        assert (row["check"], row["status"]) == ("sts:AssumeRole", "failed"), row
        assert row["target"] == f"RouteTableRoleArn {role_arn(role_name)}"
        assert "AccessDenied" in row["why_not"] and role_arn(role_name) in row["why_not"], row

    lab.proxy.reset()
    group.nodes["node1"].stop()
    payloads = [loop_for(lab, 2.0) for _ in range(3)]
    # No move: nothing was sent to B's table, the route is where it was, and each cycle says why.
    assert other.route_eni(table, route) == eni1
    assert not [call for action in ROUTE_CALLS for call in lab.proxy.calls(action)]
    errors = [error for payload in payloads for error in payload["groups"]["addr"]["errors"]]
    assert errors and all(role_arn(role_name) in str(error) and "AccessDenied" in str(error) for error in errors)
    # The refusals were IAM's (trust policy): acknowledged here, each one an sts:AssumeRole.
    denied = lab.iam.acknowledge_denials()
    assert denied and {verdict.call.action for verdict in denied} == {"sts:AssumeRole"}
    assert all("trust policy" in verdict.describe() for verdict in denied)
