"""The stack's own pair by ENI + private IP (Node*NetworkInterfaceId, Node*PrivateIpAddress): the EIP
moves between the nodes' secondary private IPs and each node keeps its own EIP on its primary IP; by
instance (the default) a node's own EIP is detached when the pair's EIP lands there."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from nginx_eip_failover_lab.environment import LabEnvironment
from support.lab_driving import LabFactory, loop_for, ok

pytestmark = pytest.mark.integration


def until(lab: LabEnvironment, done: Callable[[], bool], deadline: float = 30.0) -> None:
    give_up = time.monotonic() + deadline
    while not done():
        assert time.monotonic() < give_up, "not done in time"
        loop_for(lab, 2.0)


def addresses(lab: LabEnvironment) -> dict[str, dict[str, Any]]:
    """allocation ID -> its association as EC2 reports it (ENI, private IP, instance)."""
    return {
        address["AllocationId"]: {
            "eni": address.get("NetworkInterfaceId") or None,
            "private_ip": address.get("PrivateIpAddress") or None,
            "instance": address.get("InstanceId") or None,
        }
        for address in lab.ec2.describe_addresses()["Addresses"]
    }


def test_the_pair_by_eni_moves_the_eip_between_private_ips_and_each_node_keeps_its_own_eip(
    make_lab: LabFactory,
) -> None:
    lab = make_lab(pair_by_network_interface=True)
    pair = lab.pair
    assert pair is not None and len(pair.network_interface_ids) == 2
    own_before = {allocation: addresses(lab)[allocation] for allocation in pair.own_allocation_ids}
    assert all(own["instance"] for own in own_before.values())
    # WHEN the monitor places the EIP, THEN it is on node1's ENI at node1's private IP
    until(lab, lambda: lab.holder() == "node1")
    placed = addresses(lab)[lab.allocation_id]
    assert (placed["eni"], placed["private_ip"]) == (pair.network_interface_ids[0], pair.private_ips[0])
    # WHEN node1 fails, THEN the EIP moves to node2's ENI and private IP
    lab.nodes["node1"].stop()
    until(lab, lambda: lab.holder() == "node2")
    moved = addresses(lab)[lab.allocation_id]
    assert (moved["eni"], moved["private_ip"]) == (pair.network_interface_ids[1], pair.private_ips[1])
    # AND each node's own EIP is still where it was, on its primary private IP (read back from EC2)
    assert {allocation: addresses(lab)[allocation] for allocation in pair.own_allocation_ids} == own_before
    # AND every AssociateAddress went by ENI + private IP, allowed by the pair's grant on the ENIs
    moves = [verdict for verdict in lab.iam.verdicts() if verdict.call.operation == "AssociateAddress"]
    assert moves and all("NetworkInterfaceId" in verdict.call.parameters for verdict in moves)
    assert all("InstanceId" not in verdict.call.parameters for verdict in moves)
    assert all(verdict.allowed for verdict in moves)
    assert {check.resource.type for verdict in moves for check in verdict.checks} == {"elastic-ip", "network-interface"}


def test_preflight_dry_runs_the_move_by_eni_and_private_ip(make_lab: LabFactory) -> None:
    lab = make_lab(pair_by_network_interface=True)
    assert lab.pair is not None
    payload = ok(lab.control({"action": "preflight"}))
    rows = [row for row in payload["checks"] if row["check"] == "ec2:AssociateAddress (DryRun)"]
    assert [row["target"] for row in rows] == [
        f"node{index + 1}: {lab.allocation_id} -> {eni} {ip}"
        for index, (eni, ip) in enumerate(zip(lab.pair.network_interface_ids, lab.pair.private_ips, strict=True))
    ]
    assert all(row["ok"] for row in rows), rows
    assert lab.holder() is None  # a dry run changes nothing


def test_by_instance_a_nodes_own_eip_is_detached(lab: LabEnvironment) -> None:
    """What the default costs: EC2 puts the EIP on the primary ENI's primary private IP, replacing the
    EIP that was there (docs/reliability.md)."""
    own = lab.ec2.allocate_address(Domain="vpc")["AllocationId"]
    lab.ec2.associate_address(AllocationId=own, InstanceId=lab.instance_id("node1"))
    assert addresses(lab)[own]["instance"] == lab.instance_id("node1")
    until(lab, lambda: lab.holder() == "node1")
    assert addresses(lab)[own]["instance"] is None
