"""The EIP changed behind the controller's back, and many monitor invocations racing."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from nginx_eip_failover_lab.environment import LabEnvironment
from support.lab_driving import LabFactory, control, cycle, cycles, loop_for, moves_to, ok, place_on_node1

pytestmark = pytest.mark.integration


def test_eip_moved_by_hand_inside_the_pair_returns_after_the_preempt_delay(make_lab: LabFactory) -> None:
    lab = make_lab(PreemptDelaySeconds="3")
    place_on_node1(lab)
    node1_up = next(e for e in lab.history("node_up") if e["node"] == "node1")
    # WHEN someone associates the EIP with node2 by hand
    lab.move_eip_by_hand(lab.instance_id("node2"))
    payload = loop_for(lab, 4.0)
    # THEN the monitor reports the drift and, node1 being preferred, moves it back, not before
    # node1 has been up for the preempt delay
    [drift] = lab.history("drift")
    assert "found node2" in drift["reason"]
    [back] = [e for e in lab.history("move_started") if e["at"] > drift["at"]]
    assert back["node"] == "node1" and back["reason"].startswith("preempt: node1")
    assert back["at"] - node1_up["at"] >= 3.0
    assert payload["eip"]["holder"] == "node1"
    assert lab.holder() == "node1"


def test_eip_on_a_foreign_instance_is_left_alone_until_an_operator_takes_it_back(lab: LabEnvironment) -> None:
    place_on_node1(lab)
    lab.notifications()
    foreign = lab.create_foreign_instance()
    # WHEN the EIP is associated with an instance outside the pair
    lab.move_eip_by_hand(foreign)
    first, second = cycles(lab, 2)
    # THEN it is left there and reported, cycle after cycle, with one notification
    for payload in (first, second):
        assert payload["moves"] == []
        assert payload["eip"]["instance_id"] == foreign
        assert "foreign_holder" in payload["alerts"]
        assert "left alone" in payload["decision"]
    assert lab.holder() == f"foreign:{foreign}"
    kinds = [notice["kind"] for notice in lab.notifications()]
    assert kinds.count("refused_move") == 1
    status = control(lab, {"action": "status"})["status"]
    assert status["eip"]["foreign"] is True and status["eip"]["node"] is None
    # WHEN an operator asks for a failover without "force", THEN it is refused and nothing moves
    refused = lab.control({"action": "failover", "target": "node1", "reason": "take the EIP back"})
    assert not refused.ok
    assert refused.error_type == "RefusedError"
    assert "field 'force' = false" in (refused.error_message or "")
    assert foreign in (refused.error_message or "")
    assert lab.holder() == f"foreign:{foreign}"
    # WHEN an operator forces a failover to node1
    answer = control(lab, {"action": "failover", "target": "node1", "reason": "take the EIP back", "force": True})
    # THEN the EIP is back on node1 and the alert clears on the next cycle
    assert answer["moved_to"] == "node1"
    assert lab.holder() == "node1"
    assert "foreign_holder" not in cycle(lab)["alerts"]


def test_concurrent_monitor_invocations_move_the_eip_once(lab: LabEnvironment) -> None:
    place_on_node1(lab)
    assert lab.proxy is not None
    lab.proxy.reset()
    lab.nodes["node1"].stop()
    # WHEN six monitor invocations (schedule and alarms alike) probe at the same time while node1 is
    # down, each long enough to see FallThreshold failures even when six cold starts share two CPUs
    events = [None, None, None, None, lab.alarm_event("node1"), lab.alarm_event("node1")]
    with ThreadPoolExecutor(max_workers=len(events)) as pool:
        results = list(pool.map(lambda event: lab.monitor(event, remaining_ms=6000), events))
    payloads = [ok(result) for result in results]
    # THEN exactly one AssociateAddress reached EC2, and one move is in the history
    assert lab.proxy.count("AssociateAddress") == 1
    assert len(moves_to(lab, "node2")) == 1
    assert sum(len(payload["moves"]) for payload in payloads) == 1
    assert lab.holder() == "node2"
