"""Active/active on one pair, on the lab: the stack's own pair (set A: its EIP by instance, node1
first) and a fleet group `b` on the same two instances (set B: its own EIP by ENI + private IP,
node2 first), real nginx as the nodes; and the same from the template's parameters alone
(SecondElasticIpAllocationId: the group `second`). Each set stays on its own primary; a node's death moves both
to the survivor; each set fails back on its own after its PreemptDelaySeconds; every cycle probes
each node once for both sets. Placements are read back with EC2's describes."""

from __future__ import annotations

import ipaddress
import json
import random
import time
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError

from nginx_eip_failover_lab.environment import LabEnvironment
from support.lab_driving import LabFactory, cycle, loop_for

pytestmark = pytest.mark.integration

PREEMPT_DELAY_A = "2"  # the stack's PreemptDelaySeconds (set A)
PREEMPT_DELAY_B = 3.0  # set b's own, from the fleet document


@dataclass(frozen=True)
class SetB:
    allocation_id: str
    enis: tuple[str, str]
    private_ips: tuple[str, str]


def _free_private_ip(ec2: Any, eni: str, subnet_id: str) -> str:
    """A secondary private IP on `eni` for set b's EIP (labs share one moto server: retry on a taken one)."""
    subnet = ipaddress.ip_network(ec2.describe_subnets(SubnetIds=[subnet_id])["Subnets"][0]["CidrBlock"])
    for _ in range(20):
        candidate = str(subnet[random.randrange(4, subnet.num_addresses - 1)])
        try:
            ec2.assign_private_ip_addresses(NetworkInterfaceId=eni, PrivateIpAddresses=[candidate])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "PrivateIpAddressLimitExceeded":
                raise
            continue
        return candidate
    raise RuntimeError(f"no free private IP in {subnet} for {eni}")


def _add_second_set(lab: LabEnvironment) -> SetB:
    """Set b as an operator would add it: an EIP, a secondary private IP on each node's ENI for it,
    the tags of the template's ABAC condition, and the fleet document applied through the ControlFunction."""
    ec2 = lab.ec2
    instances = [
        ec2.describe_instances(InstanceIds=[lab.instance_id(node)])["Reservations"][0]["Instances"][0]
        for node in ("node1", "node2")
    ]
    enis = tuple(instance["NetworkInterfaces"][0]["NetworkInterfaceId"] for instance in instances)
    ips = tuple(_free_private_ip(ec2, eni, instance["SubnetId"]) for eni, instance in zip(enis, instances, strict=True))
    allocation_id = ec2.allocate_address(Domain="vpc")["AllocationId"]
    ec2.create_tags(
        Resources=[allocation_id, *enis, *(instance["InstanceId"] for instance in instances)],
        Tags=[{"Key": "nginx-eip-failover", "Value": lab.stack_name}],
    )
    group = {
        "name": "b",
        "nodes": [
            {
                "instance_id": lab.instance_id(node),
                "network_interface_id": enis[index],
                "health_check_url": lab.nodes[node].health_url,
                "priority": priority,
            }
            for index, (node, priority) in enumerate((("node1", 100), ("node2", 101)))
        ],
        "elastic_ips": [{"allocation_id": allocation_id, "private_ips": {"node1": ips[0], "node2": ips[1]}}],
        "settings": {"preempt_delay_seconds": PREEMPT_DELAY_B},
    }
    lab.apply_fleet({"groups": [group]})
    return SetB(allocation_id, (enis[0], enis[1]), (ips[0], ips[1]))


def _set_b_on(lab: LabEnvironment, second: SetB) -> str | None:
    """The node set b's EIP is on, from EC2: on that node's ENI and on its own private IP for set b."""
    address = lab.ec2.describe_addresses(AllocationIds=[second.allocation_id])["Addresses"][0]
    eni = address.get("NetworkInterfaceId")
    if eni not in second.enis:
        return None if eni is None else f"foreign:{eni}"
    index = second.enis.index(eni)
    assert address.get("PrivateIpAddress") == second.private_ips[index]
    return ("node1", "node2")[index]


def _placements(lab: LabEnvironment, second: SetB) -> tuple[str | None, str | None]:
    return lab.holder(), _set_b_on(lab, second)


def _until(lab: LabEnvironment, second: SetB, wanted: tuple[str, str], deadline: float = 40.0) -> list[Any]:
    """Monitor invocations (about 1.5 s each) until (set A, set b) are on `wanted`; every placement seen."""
    seen = [_placements(lab, second)]
    give_up = time.monotonic() + deadline
    while seen[-1] != wanted:
        assert time.monotonic() < give_up, f"not {wanted} in time: {seen}"
        loop_for(lab, 1.5)
        seen.append(_placements(lab, second))
    return seen


def _state(lab: LabEnvironment, allocation_id: str) -> dict[str, Any]:
    """One set's own state item (`eip#<its first allocation id>`), decoded."""
    item = lab.dynamodb.get_item(
        TableName=lab.table_name, Key={"pk": {"S": f"eip#{allocation_id}"}}, ConsistentRead=True
    )
    return dict(json.loads(item["Item"]["state"]["S"]))


def _moves(lab: LabEnvironment, allocation_id: str) -> list[str]:
    return [entry["node"] for entry in _state(lab, allocation_id)["history"] if entry["event"] == "move_completed"]


def _probes(lab: LabEnvironment, node: str) -> int:
    log = lab.nodes[node].dir / "access.log"
    return sum("nginx-eip-failover" in line for line in log.read_text().splitlines()) if log.exists() else 0


def test_two_sets_with_opposite_primaries_each_keep_their_own_and_share_the_survivor(make_lab: LabFactory) -> None:
    lab = make_lab(PreemptDelaySeconds=PREEMPT_DELAY_A)
    second = _add_second_set(lab)

    # Both nodes up: each set on its own primary (A on node1, b on node2).
    first = cycle(lab)
    assert first["groups"]["b"]["moves"] == ["node2"]
    assert _until(lab, second, ("node1", "node2"))[-1] == ("node1", "node2")
    steady = loop_for(lab, 2.0)
    assert _placements(lab, second) == ("node1", "node2")
    assert not steady["moves"] and not steady["groups"]["b"]["moves"]

    # One probe per node per cycle, shared by both sets (not one per set).
    before = {node: _probes(lab, node) for node in ("node1", "node2")}
    counted = loop_for(lab, 2.0)
    sent = {node: _probes(lab, node) - before[node] for node in ("node1", "node2")}
    assert sent == {"node1": counted["cycles"], "node2": counted["cycles"]}, (sent, counted["cycles"])

    # node1's nginx dies: set A moves to node2, set b (already there) stays; both on the survivor.
    lab.nodes["node1"].stop()
    seen = _until(lab, second, ("node2", "node2"))
    assert all(b == "node2" for _a, b in seen), seen  # set b never left node2
    for allocation_id in (lab.allocation_id, second.allocation_id):  # each set's own hysteresis saw it
        assert _state(lab, allocation_id)["nodes"]["node1"]["status"] == "down"

    # node1 is back: set A fails back on its own, after PreemptDelaySeconds; set b stays on node2.
    lab.nodes["node1"].start()
    back = time.monotonic()
    seen = _until(lab, second, ("node1", "node2"))
    assert time.monotonic() - back >= float(PREEMPT_DELAY_A)
    assert all(b == "node2" for _a, b in seen), seen

    # node2's nginx dies: now set b moves (to node1) and set A stays; then b fails back on its own.
    lab.nodes["node2"].stop()
    seen = _until(lab, second, ("node1", "node1"))
    assert all(a == "node1" for a, _b in seen), seen
    lab.nodes["node2"].start()
    back = time.monotonic()
    seen = _until(lab, second, ("node1", "node2"))
    assert time.monotonic() - back >= PREEMPT_DELAY_B
    assert all(a == "node1" for a, _b in seen), seen

    # Each set kept its own state item and history: A's moves node1 (placed), node2, node1; b's
    # node2 (placed), node1, node2.
    assert _moves(lab, lab.allocation_id) == ["node1", "node2", "node1"]
    assert _moves(lab, second.allocation_id) == ["node2", "node1", "node2"]


def test_the_templates_second_eip_keeps_to_node2_and_moves_on_its_own(make_lab: LabFactory) -> None:
    # SecondElasticIpAllocationId, Node1/Node2SecondPrivateIpAddress: no fleet document, the IAM by ARN.
    lab = make_lab(second_address_set=True, PreemptDelaySeconds=PREEMPT_DELAY_A)
    assert lab.second_set is not None and lab.pair is not None
    enis = lab.pair.network_interface_ids
    second = SetB(lab.second_set.allocation_id, (enis[0], enis[1]), lab.second_set.private_ips)

    first = cycle(lab)
    assert first["groups"]["second"]["moves"] == ["node2"]
    _until(lab, second, ("node1", "node2"))

    lab.nodes["node1"].stop()
    seen = _until(lab, second, ("node2", "node2"))
    assert all(b == "node2" for _a, b in seen), seen
    lab.nodes["node1"].start()
    back = time.monotonic()
    seen = _until(lab, second, ("node1", "node2"))
    assert time.monotonic() - back >= float(PREEMPT_DELAY_A)
    assert all(b == "node2" for _a, b in seen), seen
    assert _moves(lab, lab.allocation_id) == ["node1", "node2", "node1"]
    assert _moves(lab, second.allocation_id) == ["node2"]
    if lab.proxy is not None and lab.iam_enforced:
        assert not lab.iam.denials(), lab.iam.denials()
