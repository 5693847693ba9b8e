"""Reliability: the EIP or the instances changed behind the controller's back (drift and ownership),
and both nodes down for a long time. Moving the EIP by hand inside the pair is covered by
test_lab_drift_and_races.py::test_eip_moved_by_hand_inside_the_pair_returns_after_the_preempt_delay."""

from __future__ import annotations

import json

import pytest

from nginx_eip_failover_lab.aws.proxy import Fault
from nginx_eip_failover_lab.environment import LabEnvironment
from support.lab_driving import control, cycle, cycle_result, cycles, loop_for, ok, place_on_node1, until_holder

pytestmark = pytest.mark.integration


def no_healthy_node_metrics(logs: str) -> int:
    count = 0
    for line in logs.splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and "NoHealthyNode" in record:
            value = record["NoHealthyNode"]
            count += len(value) if isinstance(value, list) else 1
    return count


def test_eip_unassociated_by_hand_is_reported_and_put_back(lab: LabEnvironment) -> None:
    place_on_node1(lab)
    assert lab.proxy is not None
    lab.notifications()
    # WHEN someone disassociates the EIP
    address = lab.ec2.describe_addresses(AllocationIds=[lab.allocation_id])["Addresses"][0]
    lab.ec2.disassociate_address(AssociationId=address["AssociationId"])
    assert lab.holder() is None
    payload = cycle(lab)
    # THEN the next cycle reports the drift and puts the EIP back on the best up node
    [drift] = lab.history("drift")
    assert drift["reason"] == "EIP was node1, found unassociated"
    assert [move["to"] for move in payload["moves"]] == ["node1"]
    assert lab.history("move_started")[-1]["reason"] == "EIP unassociated; node1 is up"
    assert lab.holder() == "node1" and lab.proxy.count("AssociateAddress") == 2
    assert "drift" in [notice["kind"] for notice in lab.notifications()]
    assert cycle(lab)["moves"] == []


def test_eip_on_a_foreign_instance_stays_until_an_operator_forces_a_failover(lab: LabEnvironment) -> None:
    place_on_node1(lab)
    assert lab.proxy is not None
    foreign = lab.create_foreign_instance()
    # WHEN the EIP is associated with an instance outside the pair, and node1 later fails too
    lab.move_eip_by_hand(foreign)
    cycle(lab)
    lab.nodes["node1"].stop()
    for payload in cycles(lab, 3):
        # THEN it is left there, cycle after cycle, with the foreign_holder alert
        assert payload["moves"] == [] and "left alone" in payload["decision"]
        assert "foreign_holder" in payload["alerts"]
    assert lab.holder() == f"foreign:{foreign}"
    assert lab.proxy.count("AssociateAddress") == 1  # the placement only
    # WHEN an operator asks for it back without "force"
    before = lab.item()
    refused = lab.control({"action": "failover", "target": "node2", "reason": "take it back"})
    # THEN it is refused, naming the field and its value, and changes nothing
    assert not refused.ok and refused.error_type == "RefusedError"
    assert "field 'force' = false" in (refused.error_message or "")
    assert foreign in (refused.error_message or "")
    assert lab.item() == before and lab.holder() == f"foreign:{foreign}"
    # WHEN the operator forces it
    answer = control(lab, {"action": "failover", "target": "node2", "reason": "take it back", "force": True})
    # THEN the EIP is on node2, pinned, and the alert clears on the next cycle
    assert answer["moved_to"] == "node2" and lab.holder() == "node2"
    assert answer["status"]["pin"]["node"] == "node2"
    [forced] = lab.history("control_failover")
    assert forced["detail"] == {"force": True}
    assert "foreign_holder" not in cycle(lab)["alerts"]
    assert lab.proxy.count("AssociateAddress") == 2


def test_a_stopped_standby_instance_refuses_the_eip_and_the_next_cycles_recover(lab: LabEnvironment) -> None:
    place_on_node1(lab)
    assert lab.proxy is not None
    # WHEN node2's instance is stopped in EC2 while its health URL still answers, and node1 fails.
    # moto associates an EIP with a stopped (even a terminated) instance; EC2 answers
    # IncorrectInstanceState, so the proxy gives that answer while the instance is stopped.
    lab.ec2.stop_instances(InstanceIds=[lab.instance_id("node2")])
    refusal = lab.proxy.inject(
        Fault(
            "AssociateAddress",
            service="ec2",
            status=400,
            code="IncorrectInstanceState",
            message=f"The instance '{lab.instance_id('node2')}' is not in a valid state for this operation.",
            times=None,
        )
    )
    lab.nodes["node1"].stop()
    results = [cycle_result(lab) for _ in range(4)]
    # THEN every invocation succeeded (no crash), the failed move is reported with EC2's error, and
    # the EIP stayed on node1
    payloads = [ok(result) for result in results]
    errors = [error for payload in payloads for error in payload["move_errors"]]
    assert errors and all("IncorrectInstanceState" in error for error in errors)
    assert refusal.hits >= 1 and lab.proxy.count("AssociateAddress") == 1
    assert lab.holder() == "node1"
    assert "move_failing" in lab.state()["alerts"]
    assert [n["kind"] for n in lab.notifications()].count("move_failed") == 1
    # WHEN the instance is started again
    lab.ec2.start_instances(InstanceIds=[lab.instance_id("node2")])
    lab.proxy.clear_faults()
    until_holder(lab, "node2")
    # THEN a later cycle moves the EIP there (after the backoff) and the alert clears
    assert lab.proxy.count("AssociateAddress") == 2
    assert "move_failing" not in lab.state()["alerts"]


def test_a_terminated_standby_is_down_and_never_receives_the_eip(lab: LabEnvironment) -> None:
    place_on_node1(lab)
    assert lab.proxy is not None
    # WHEN node2's instance is terminated (its nginx is gone with it) and then node1 fails
    lab.ec2.terminate_instances(InstanceIds=[lab.instance_id("node2")])
    lab.nodes["node2"].stop()
    cycles(lab, 3)
    lab.nodes["node1"].stop()
    last = cycles(lab, 3)[-1]
    # THEN nothing is moved to the terminated instance: both are down, the EIP stays, the alert is up
    assert last["nodes"] == {"node1": "down", "node2": "down"}
    assert "no_node_up" in last["alerts"]
    assert lab.holder() == "node1" and lab.proxy.count("AssociateAddress") == 1


def test_both_nodes_down_for_a_long_time_then_back_one_by_one(lab: LabEnvironment) -> None:
    place_on_node1(lab)
    cycle(lab)
    assert lab.proxy is not None
    lab.notifications()
    lab.proxy.reset()
    # WHEN both nodes are down for many cycles
    lab.nodes["node1"].stop()
    lab.nodes["node2"].stop()
    result = lab.monitor(remaining_ms=5000)
    outage = ok(result)
    # THEN the EIP stays, nothing is written once both are down (counters are capped), the
    # NoHealthyNode metric is emitted every cycle after that, and operators get one notice
    assert outage["cycles"] >= 6
    assert outage["nodes"] == {"node1": "down", "node2": "down"} and outage["moves"] == []
    assert lab.holder() == "node1" and lab.proxy.calls("AssociateAddress") == []
    # FallThreshold: one write per failed probe until "down"; plus the monitor lease's one registration
    assert lab.proxy.count("PutItem") <= 3 + 1
    assert no_healthy_node_metrics(result.logs) >= outage["cycles"] - 3
    assert [n["kind"] for n in lab.notifications()].count("no_node_up") == 1
    # WHEN node2 comes back first
    lab.nodes["node2"].start()
    until_holder(lab, "node2")
    # THEN it gets the EIP (node1 is still down) and the alert clears
    assert "no_node_up" not in lab.state()["alerts"]
    # WHEN node1 comes back too: it fails back once it has been up for PreemptDelaySeconds
    lab.nodes["node1"].start()
    payload = loop_for(lab, 4.0)
    assert payload["nodes"] == {"node1": "up", "node2": "up"}
    assert lab.holder() == "node1"
    # AND the whole outage cost exactly two moves: to node2 when it was the only one up, back to node1
    assert [e["node"] for e in lab.history("move_completed")][-2:] == ["node2", "node1"]
    assert lab.proxy.count("AssociateAddress") == 2
