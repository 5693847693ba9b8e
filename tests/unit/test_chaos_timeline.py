"""The chaos soak's record read as the simulator's timeline: small hand-made records that the checker
must pass or fail, so the soak's "no violation" is known to be able to say otherwise."""

from __future__ import annotations

from typing import Any

import pytest

from nginx_eip_failover.core.log_records import SteadyCycle, SteadyWindow
from nginx_eip_failover.core.ports import Observation
from nginx_eip_failover_lab.aws.proxy import Call
from nginx_eip_failover_lab.chaos.record import ChaosRecord, HolderSample, NodeTruth
from nginx_eip_failover_lab.chaos.timeline import TimelineBuilder, check
from nginx_eip_failover_lab.scenarios.replay_check import LabReplay
from nginx_eip_failover_sim.invariants import CheckConfig
from nginx_eip_failover_sim.timeline import HolderChange, MoveCall, ProbeFailed

T0 = 1_000.0
INSTANCES = {"node1": "i-1", "node2": "i-2"}
CONFIG = CheckConfig(
    nodes=("node1", "node2"), interval_seconds=0.5, timeout_seconds=0.4, fall_threshold=3, rise_threshold=2
)


def associate(at: float, node: str, sdk_invocation: str, *, status: int = 200) -> Call:
    params = (("AllocationId", "eipalloc-1"), ("InstanceId", INSTANCES[node]))
    return Call(
        "ec2", "AssociateAddress", status, at + 0.05, None, status if status < 300 else None, params, at, sdk_invocation
    )


def move_started(at: float, node: str, move_id: str, reason: str, source: str | None = "node1") -> dict[str, Any]:
    return {
        "at": at,
        "event": "move_started",
        "node": node,
        "reason": reason,
        "by": "monitor:schedule",
        "detail": {"id": move_id, "from": source},
    }


def record(
    *, node1_failing: tuple[float, float] | None, history: list[dict[str, Any]], calls: list[Call]
) -> ChaosRecord:
    made = ChaosRecord(started_at=T0, ended_at=T0 + 60)
    made.truths = [NodeTruth(T0, "node1", "serving", True), NodeTruth(T0, "node2", "serving", True)]
    if node1_failing is not None:
        made.truths += [
            NodeTruth(T0 + node1_failing[0], "node1", "stopped", False),
            NodeTruth(T0 + node1_failing[1], "node1", "serving", True),
        ]
    made.holders = [HolderSample(T0, T0 + 0.01, "i-1", "node1")]
    made.history = history
    made.calls = calls
    return made


def checked(made: ChaosRecord) -> tuple[list[str], TimelineBuilder, list[Any]]:
    builder = TimelineBuilder(made, allocation_id="eipalloc-1", instance_ids=INSTANCES, replay=None)
    events = builder.events()
    result = check(events, CONFIG, T0 + 60, builder.unexplained)
    return [violation.invariant for violation in result.violations], builder, events


FAILOVER = "failover: node1 is down (refused); node2 is up"


def test_a_failover_after_a_long_failure_with_botocore_retries_is_one_call_and_no_violation() -> None:
    # GIVEN node1 (the holder) stopped for 5 s, a failover decided 2 s in, its AssociateAddress
    # throttled once and retried by botocore (same invocation id)
    made = record(
        node1_failing=(10.0, 15.0),
        history=[move_started(T0 + 12.0, "node2", "m1", FAILOVER)],
        calls=[associate(T0 + 12.1, "node2", "call-1", status=503), associate(T0 + 12.3, "node2", "call-1")],
    )
    violations, _, events = checked(made)
    # THEN one MoveCall, on decision m1, and nothing to report
    moves = [event for event in events if isinstance(event, MoveCall)]
    assert [(m.decision_id, m.cause, m.source, m.target) for m in moves] == [("m1", "failover", "node1", "node2")]
    assert violations == []


def test_a_second_call_on_one_decision_is_reported() -> None:
    made = record(
        node1_failing=(10.0, 15.0),
        history=[move_started(T0 + 12.0, "node2", "m1", FAILOVER)],
        calls=[associate(T0 + 12.1, "node2", "call-1"), associate(T0 + 13.0, "node2", "call-2")],
    )
    assert checked(made)[0] == ["one_call_per_decision"]


def test_a_call_no_committed_decision_explains_is_reported() -> None:
    made = record(node1_failing=(10.0, 15.0), history=[], calls=[associate(T0 + 12.1, "node2", "call-1")])
    violations, builder, _ = checked(made)
    assert violations == ["one_call_per_decision"]
    assert "no committed decision" in builder.unexplained[0].message


def test_a_failover_off_a_holder_that_stayed_healthy_is_reported() -> None:
    # GIVEN node1 never failed, yet a decision failed it over (as the overlapping-blip defect did)
    made = record(
        node1_failing=None,
        history=[move_started(T0 + 12.0, "node2", "m1", FAILOVER)],
        calls=[associate(T0 + 12.1, "node2", "call-1")],
    )
    assert checked(made)[0] == ["no_move_off_healthy"]


def test_a_move_sent_after_a_logged_probe_saw_the_target_fail_is_reported() -> None:
    # GIVEN node1 failing from 10 s on, a decision sending the EIP to it at 15 s, and the decision
    # log holding a probe of node1 by the deciding invocation, sent after the decision's probes, failed
    made = record(
        node1_failing=(10.0, 40.0),
        history=[move_started(T0 + 15.0, "node1", "m1", "preempt: node1 (priority 101) up for 60.0s", "node2")],
        calls=[associate(T0 + 15.1, "node1", "call-1")],
    )
    failed = Observation("node1", False, "refused", latency_ms=2.0)
    cycle = SteadyCycle(T0 + 15.03, T0 + 15.02, 3, "i-2", (failed,), "m2", True, "monitor:schedule", "steady")
    log = LabReplay(result=None, changes=0, records=(SteadyWindow("monitor:schedule", 1, "f", (cycle,)),))
    builder = TimelineBuilder(made, allocation_id="eipalloc-1", instance_ids=INSTANCES, replay=log)
    events = builder.events()
    violations = [v.invariant for v in check(events, CONFIG, T0 + 60, builder.unexplained).violations]
    # THEN the move is reported (and the unreadable log too)
    probes = [e for e in events if isinstance(e, ProbeFailed)]
    assert [(p.node, p.sent_at, p.actor, p.detail) for p in probes] == [
        ("node1", T0 + 15.02, "monitor:schedule", "refused")
    ]
    assert probes[0].at == pytest.approx(T0 + 15.022)  # known once answered: sent + latency
    assert "no_move_to_down" in violations and "replay_exact" in violations


def test_the_holder_is_dated_by_the_poll_before_the_one_that_saw_it() -> None:
    made = record(node1_failing=None, history=[], calls=[])
    made.holders = [
        HolderSample(T0, T0 + 0.01, "i-1", "node1"),
        HolderSample(T0 + 0.1, T0 + 0.11, "i-1", "node1"),
        HolderSample(T0 + 0.2, T0 + 0.21, "i-2", "node2"),
    ]
    _, _, events = checked(made)
    changes = [(event.at, event.node) for event in events if isinstance(event, HolderChange)]
    assert changes == [(T0, "node1"), (T0 + 0.1, "node2")]  # the change happened after the poll sent at +0.1


def test_a_holder_change_comes_after_the_call_that_made_it() -> None:
    # GIVEN a failback whose association is seen by a poll sent before its call reached the proxy
    made = record(
        node1_failing=None,
        history=[move_started(T0 + 20.0, "node1", "m1", "preempt: node1 (priority 101) up for 4.4s", "node2")],
        calls=[associate(T0 + 5.0, "node2", "call-0"), associate(T0 + 20.05, "node1", "call-1")],
    )
    made.holders = [
        HolderSample(T0 + 19.98, T0 + 19.99, "i-2", "node2"),
        HolderSample(T0 + 20.08, T0 + 20.1, "i-1", "node1"),
    ]
    _, _, events = checked(made)
    # THEN the change to node1 is dated after the call (not at the poll sent 0.07 s before it), so
    # the checker does not take the failback's own change for a move just before it
    change = next(event for event in events if isinstance(event, HolderChange) and event.node == "node1")
    call = next(event for event in events if isinstance(event, MoveCall))
    assert call.at < change.at <= T0 + 20.1
