"""A fleet on the lab: groups of the fleet document (instances, ENIs and EIPs in moto, nodes served
by one real nginx) applied through the ControlFunction, each group moving its own addresses, an
address set (EIP by ENI + private IP, secondary IP, /32 route) moving as one, and a failover of many
groups at once paced under EC2's request limit. Every placement is read back with EC2's describes."""

from __future__ import annotations

import time
from typing import Any

import pytest

from nginx_eip_failover_lab.aws.ec2_request_limit import Ec2RequestLimit
from nginx_eip_failover_lab.environment import LabEnvironment
from support.lab_driving import LabFactory, control, cycle, loop_for, ok

pytestmark = pytest.mark.integration

MUTATING = ("AssociateAddress", "AssignPrivateIpAddresses", "ReplaceRoute", "CreateRoute")


def _placed_on_node1(lab: LabEnvironment) -> dict[str, Any]:
    """The first invocation places the pair and every group on node1 (a large fleet may take a
    second invocation: a move is committed only with time left to carry it out)."""
    payload = cycle(lab)
    if len(lab.groups) > 3:
        _until(lab, lambda: all(lab.group_holder(name) == "node1" for name in lab.groups))
    assert lab.holder() == "node1"
    for name in lab.groups:
        assert lab.group_holder(name) == "node1", (name, lab.group_placement(name))
    return payload


def _until(lab: LabEnvironment, done: Any, deadline: float = 30.0) -> list[dict[str, Any]]:
    """Monitor invocations (about 2 s each) until `done()`; their payloads. Warm ones: the container's
    prober keeps its runs (core/streaks), so a failure is confirmed when a loaded machine fits fewer
    cycles of 20 groups into one invocation than FallThreshold."""
    payloads = []
    give_up = time.monotonic() + deadline
    while not done():
        assert time.monotonic() < give_up, "not done in time"
        payloads.append(loop_for(lab, 2.0, warm=True))
    return payloads


def test_a_fleet_of_three_groups_is_applied_and_each_moves_only_its_own_addresses(make_lab: LabFactory) -> None:
    lab = make_lab(fleet_groups=2, address_set_group=True)
    shown = control(lab, {"action": "fleet_show"})
    assert shown["version"] == lab.fleet_version == 1
    assert [group["name"] for group in shown["document"]["groups"]] == ["g01", "g02", "addr"]
    first = _placed_on_node1(lab)
    assert sorted(first["groups"]) == ["addr", "g01", "g02"]
    assert all(summary["moves"] == ["node1"] for summary in first["groups"].values())

    lab.groups["g01"].nodes["node1"].stop()
    payloads = _until(lab, lambda: lab.group_holder("g01") == "node2")
    assert lab.group_placement("g01") == {f"eip {lab.groups['g01'].allocation_id}": "node2"}
    for other in ("g02", "addr"):
        assert lab.group_holder(other) == "node1", lab.group_placement(other)
        assert all(not payload["groups"][other]["moves"] for payload in payloads)
    assert lab.holder() == "node1"  # the stack's own pair
    assert all(not payload["moves"] for payload in payloads)
    assert payloads[-1]["groups"]["g01"]["nodes"] == {"node1": "down", "node2": "up"}


def test_the_address_set_moves_as_one_eip_secondary_ip_and_route(make_lab: LabFactory) -> None:
    lab = make_lab(address_set_group=True)
    group = lab.groups["addr"]
    _placed_on_node1(lab)
    eni1, eni2 = group.enis
    ec2 = lab.ec2
    address = ec2.describe_addresses(AllocationIds=[group.allocation_id])["Addresses"][0]
    assert (address["NetworkInterfaceId"], address["PrivateIpAddress"]) == (eni1, group.eip_private_ips["node1"])

    if lab.proxy is not None:
        lab.proxy.reset()
    group.nodes["node1"].stop()
    payloads = _until(lab, lambda: lab.group_holder("addr") == "node2")
    assert sum(len(payload["groups"]["addr"]["moves"]) for payload in payloads) == 1  # one decision

    # Read back from EC2 itself, address by address.
    address = ec2.describe_addresses(AllocationIds=[group.allocation_id])["Addresses"][0]
    assert address["NetworkInterfaceId"] == eni2
    assert address["PrivateIpAddress"] == group.eip_private_ips["node2"]
    assert address["InstanceId"] == group.instance_ids[1]
    interfaces = {
        interface["NetworkInterfaceId"]: {item["PrivateIpAddress"] for item in interface["PrivateIpAddresses"]}
        for interface in ec2.describe_network_interfaces(NetworkInterfaceIds=[eni1, eni2])["NetworkInterfaces"]
    }
    assert group.secondary_ip in interfaces[eni2]
    assert group.secondary_ip not in interfaces[eni1]  # moved, not copied
    assert group.eip_private_ips["node1"] in interfaces[eni1]  # node1's own addresses untouched
    table = ec2.describe_route_tables(RouteTableIds=[group.route_table_id])["RouteTables"][0]
    routes = {route.get("DestinationCidrBlock"): route.get("NetworkInterfaceId") for route in table["Routes"]}
    assert routes[group.route] == eni2
    if lab.proxy is not None:
        assert lab.proxy.count("AssociateAddress") == 1
        assert lab.proxy.count("AssignPrivateIpAddresses") == 1
        assert lab.proxy.count("ReplaceRoute") == 1


def test_a_failover_of_many_groups_under_ec2s_request_limit_is_paced_not_throttled(make_lab: LabFactory) -> None:
    # 20 address-set groups: 60 mutating calls at once, past EC2's burst of 50.
    lab = make_lab(fleet_groups=20, full_address_sets=True)
    assert lab.proxy is not None
    _placed_on_node1(lab)
    limit = lab.proxy.limit_ec2_requests(Ec2RequestLimit(burst=50, refill_per_second=5))
    assert limit is not None
    lab.proxy.reset()
    for group in lab.groups.values():
        group.nodes["node1"].stop()
    payloads = _until(lab, lambda: all(lab.group_holder(name) == "node2" for name in lab.groups), deadline=60)
    summaries = [payload["groups"][name] for payload in payloads for name in lab.groups]
    assert all(not summary["move_errors"] and not summary["errors"] for summary in summaries), summaries
    assert all(not payload["move_errors"] and not payload["cycle_errors"] for payload in payloads)
    # What reached EC2: each address once. The client-side budget and EC2's bucket have the same
    # size and rate, so at the edge of the burst a call now and then meets an empty bucket (a few
    # per 60 in the lab); botocore's adaptive retry absorbs it (never surfaced, asserted above).
    admitted = [call for action in MUTATING for call in lab.proxy.calls(action) if call.fault is None]
    assert len(admitted) == 60
    assert limit.throttled <= 5, limit.throttled
    # How long the pacing takes (10 calls beyond the burst at 5/s: about 2 s) is bench/fleet.py's
    # figure, not a test's: here, every group moved with no call refused for good.
    for name in lab.groups:
        assert set(lab.group_placement(name).values()) == {"node2"}


def test_fleet_show_through_the_lab_file_shape(make_lab: LabFactory) -> None:
    lab = make_lab(fleet_groups=1)
    described = lab.describe()
    assert described["fleet"]["version"] == 1
    assert described["fleet"]["groups"]["g01"]["nodes"]["node1"]["health_check_url"].startswith("http://127.0.0.1:")
    status = ok(lab.control({"action": "status"}))
    assert {row["group"] for row in status["fleet"]} == {"default", "g01"}
