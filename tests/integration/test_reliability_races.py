"""Reliability: racing invocations. Many monitor processes, alarms and an operator act at once; every
decision makes exactly one AssociateAddress and the stored state stays consistent with the EIP."""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from nginx_eip_failover_lab.environment import LabEnvironment
from nginx_eip_failover_lab.invoke import InvokeResult
from support.lab_driving import cycle, ok, place_on_node1

pytestmark = pytest.mark.integration

TERMINAL = ("move_completed", "move_failed", "move_abandoned")


def steady(lab: LabEnvironment) -> None:
    """The EIP on node1 and both counters capped: from here a cycle with both nodes up writes nothing."""
    place_on_node1(lab)
    cycle(lab)
    lab.notifications()


def assert_consistent(lab: LabEnvironment, history_from: float) -> list[dict[str, Any]]:
    """No move in progress, the state's association is the EIP's real one, and every move started
    since `history_from` (a time: the item keeps a short history, so positions shift) ended exactly
    once (one completed, failed or abandoned entry with its id). Returns the new history entries."""
    state = lab.state()
    assert state["move"] is None, state["move"]
    assert state["association"] == lab.eip_instance()
    entries = [entry for entry in lab.history() if entry["at"] >= history_from]
    started = [entry["detail"]["id"] for entry in entries if entry["event"] == "move_started"]
    ended = Counter(entry["detail"]["id"] for entry in entries if entry["event"] in TERMINAL)
    assert len(started) == len(set(started)), started
    assert ended == Counter(started), (started, ended)
    return entries


def test_race_16_monitors_2_alarms_and_an_operator_failover_while_node1_fails(lab: LabEnvironment) -> None:
    steady(lab)
    assert lab.proxy is not None
    lab.proxy.reset()
    history_from = time.time()
    alarm = lab.alarm_event("node1")
    failover = {"action": "failover", "target": "node2", "reason": "node1 is failing"}
    # WHEN node1 fails and, all at once, 16 monitor invocations (separate processes), the same alarm
    # delivered twice and an operator failover to node2 run against the pair
    lab.nodes["node1"].stop()
    jobs: list[tuple[str, Any]] = [("monitor", None)] * 16 + [("monitor", alarm)] * 2 + [("control", failover)]

    def run(job: tuple[str, Any]) -> InvokeResult:
        kind, event = job
        return lab.monitor(event, remaining_ms=3000) if kind == "monitor" else lab.control(event)

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        results = list(pool.map(run, jobs))

    # THEN every monitor invocation succeeded and, between them, moved the EIP once at most
    monitors = [ok(result) for result in results[:-1]]
    operator = results[-1]
    if operator.ok:
        assert operator.payload["ok"] is True, operator.payload
    else:
        # the only acceptable refusal: a monitor's failover to node2 was in progress at that instant
        assert operator.error_type == "RefusedError", operator.error_message
        assert "in progress" in (operator.error_message or ""), operator.error_message
    # AND one decision made one AssociateAddress: calls that reached EC2 == moves started == moves done
    entries = assert_consistent(lab, history_from)
    started = [entry for entry in entries if entry["event"] == "move_started"]
    completed = [entry for entry in entries if entry["event"] == "move_completed"]
    assert len(lab.proxy.calls("AssociateAddress")) == lab.proxy.count("AssociateAddress") == len(started) == 1
    assert [entry["node"] for entry in completed] == ["node2"]
    operator_moved = bool(operator.ok and operator.payload["moved_to"])
    assert sum(len(payload["moves"]) for payload in monitors) + operator_moved == 1
    # AND the final state is consistent: the EIP on node2, node1 down, one move notification.
    # Invocations that probe at the same instant may write the very same sample (a write whose
    # stored item is already exactly ours counts as done), so on a loaded machine where each racer
    # runs a single cycle, node1 can need a few more cycles to reach FallThreshold.
    assert lab.holder() == "node2"
    for _ in range(3):
        if lab.state()["nodes"]["node1"]["status"] == "down":
            break
        assert cycle(lab)["moves"] == []
    assert lab.state()["nodes"]["node1"]["status"] == "down"
    assert [notice["kind"] for notice in lab.notifications()].count("move") == 1
    if operator.ok:
        assert lab.state()["pin"]["node"] == "node2"  # the operator's decision: accepted and pinned
        assert [entry["event"] for entry in entries].count("control_failover") == 1
    # AND a cycle afterwards has nothing left to do
    assert cycle(lab)["moves"] == []
    assert lab.proxy.count("AssociateAddress") == 1


def test_duplicate_delivery_of_an_alarm_changes_nothing_the_probes_do_not_justify(lab: LabEnvironment) -> None:
    steady(lab)
    assert lab.proxy is not None
    before = lab.item()
    lab.proxy.reset()
    alarm = lab.alarm_event("node1")
    # WHEN Lambda delivers the same alarm event twice, at the same time, while node1 is healthy
    with ThreadPoolExecutor(max_workers=2) as pool:
        payloads = [ok(result) for result in pool.map(lambda event: lab.monitor(event, remaining_ms=1500), [alarm] * 2)]
    # THEN both probed, saw both nodes up and changed nothing: no write, no EC2 change, same item
    for payload in payloads:
        assert payload["trigger"] == "alarm"
        assert payload["moves"] == [] and payload["nodes"] == {"node1": "up", "node2": "up"}
    assert lab.item() == before
    assert lab.proxy.count("PutItem") == 0
    assert lab.proxy.calls("AssociateAddress") == []
    # WHEN node1 really fails and the same alarm is delivered twice again
    history_from = time.time()
    lab.nodes["node1"].stop()
    with ThreadPoolExecutor(max_workers=2) as pool:
        payloads = [ok(result) for result in pool.map(lambda event: lab.monitor(event, remaining_ms=3000), [alarm] * 2)]
    # THEN the probes confirmed it and the pair moved once, not once per delivery
    assert sum(len(payload["moves"]) for payload in payloads) == 1
    assert lab.proxy.count("AssociateAddress") == len(lab.proxy.calls("AssociateAddress")) == 1
    entries = assert_consistent(lab, history_from)
    assert [entry["event"] for entry in entries].count("move_started") == 1
    assert lab.holder() == "node2"
