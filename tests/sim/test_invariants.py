"""The checker over hand-written timelines: each invariant fires on its violation and stays quiet
on the legitimate case next to it."""

from __future__ import annotations

from nginx_eip_failover_sim.invariants import CheckConfig, check_timeline, move_cause
from nginx_eip_failover_sim.timeline import (
    Event,
    HolderChange,
    MoveCall,
    NodeTruth,
    OperatorAnswer,
    OperatorRequest,
    ProbeFailed,
    ReplayChecked,
    StateWritten,
)

CONFIG = CheckConfig(
    nodes=("node1", "node2"), interval_seconds=1.0, timeout_seconds=1.0, fall_threshold=2, rise_threshold=2
)
G = "default"


def names(events: list[Event], end: float | None = None) -> list[str]:
    return [violation.invariant for violation in check_timeline(events, {G: CONFIG}, end)]


def failover(at: float, probed_at: float, decision: str = "m1") -> MoveCall:
    return MoveCall(at, G, "eip", "node2", "node1", decision, "failover", probed_at, "monitor")


def test_a_sub_interval_blip_does_not_explain_a_failover() -> None:
    blip = [NodeTruth(10.0, G, "node1", True, "reset"), NodeTruth(10.9, G, "node1", False)]
    assert names([*blip, failover(11.5, 10.8)]) == ["no_move_off_healthy"]


def test_a_failure_spanning_an_interval_explains_a_failover() -> None:
    outage = [NodeTruth(10.0, G, "node1", True, "refused"), NodeTruth(11.2, G, "node1", False)]
    assert names([*outage, failover(11.5, 11.05)]) == []


def test_two_calls_for_one_decision() -> None:
    outage = NodeTruth(0.0, G, "node1", True, "refused")
    assert names([outage, failover(3.0, 2.0), failover(3.5, 2.0)]) == ["one_call_per_decision"]


def test_move_towards_a_node_that_probes_saw_fail() -> None:
    down = NodeTruth(0.0, G, "node2", True, "refused")

    def move(*seen: ProbeFailed) -> list[str]:
        call = MoveCall(10.0, G, "eip", "node2", "node1", "m1", "operator", 2.0, "monitor")
        return names([down, *seen, call])

    # Another invocation saw it fail 6 s before the call, on a probe sent after the decision's.
    assert move(ProbeFailed(4.0, G, "node2", 3.9, "alarm", "connection refused")) == ["no_move_to_down"]
    # ... but a failure nobody probed, or one seen only just before the call, is not held against it.
    assert move() == []
    assert move(ProbeFailed(9.5, G, "node2", 9.4, "alarm")) == []
    # The deciding invocation's own probe (its re-check) counts however late.
    assert move(ProbeFailed(9.5, G, "node2", 9.4, "monitor")) == ["no_move_to_down"]


def test_a_move_is_judged_by_when_its_call_was_sent() -> None:
    # Seed 1527: an AssociateAddress sent at 8.0 took EC2 4 s; another invocation saw the target
    # fail at 9.0, while the call was in flight. Then the set's second address followed at 12.3.
    # (A failure counts against a call when seen more than the re-check 2 s + timeout 1 s before.)
    down = NodeTruth(8.5, G, "node2", True, "refused")
    seen = ProbeFailed(9.0, G, "node2", 8.9, "alarm", "connection refused")
    first = MoveCall(12.0, G, "eip-a", "node2", "node1", "m1", "operator", 7.5, "monitor", sent_at=8.0)
    second = MoveCall(12.3, G, "eip-b", "node2", "node1", "m1", "operator", 7.5, "monitor", sent_at=12.1)
    assert names([down, seen, first, second]) == []
    # sent as late as it took effect, the same call is a move towards a node known down
    late = MoveCall(12.5, G, "eip-a", "node2", "node1", "m1", "operator", 7.5, "monitor", sent_at=12.5)
    assert names([down, seen, late]) == ["no_move_to_down"]


def test_liveness_fires_once_when_the_holder_stays_dead() -> None:
    events: list[Event] = [HolderChange(0.0, G, "eip", "i-1", "node1"), NodeTruth(10.0, G, "node1", True, "refused")]
    assert names(events, end=10.0 + CONFIG.detection_seconds + CONFIG.move_bound_seconds + 5) == ["liveness"]
    moved = [*events, HolderChange(20.0, G, "eip", "i-2", "node2")]
    assert names(moved, end=400.0) == []


def test_operator_budget_and_unanswered_requests() -> None:
    request = OperatorRequest(0.0, "r1", G, "failover", "node2")
    assert names([request, OperatorAnswer(40.0, "r1", "ok", 40.0)]) == ["operator_answers"]
    assert names([request], end=100.0) == ["operator_answers"]
    assert names([request, OperatorAnswer(2.0, "r1", "ok", 2.0)], end=100.0) == []


def test_state_item_bound_and_a_stale_alert() -> None:
    big = StateWritten(1.0, G, 1, CONFIG.state_max_bytes + 1, True)
    assert names([big]) == ["state_item"]
    stale = [StateWritten(t, G, int(t), 900, True, alerts=("no_node_up",), up_nodes=("node1",)) for t in (1, 5, 12)]
    assert names(stale) == ["alert_clears"]


def test_replay_mismatch() -> None:
    assert names([ReplayChecked(1.0, G, exact=False, steps=3, detail="step 2")]) == ["replay_exact"]


def test_move_causes_follow_the_cores_reasons() -> None:
    assert move_cause("failover: node1 is down (refused); node2 is up") == "failover"
    assert move_cause("failover: node1 is drained; node2 is up") == "drain"
    assert move_cause("preempt: node1 (priority 101) up for 61.0s") == "preempt"
    assert move_cause("operator failover to node2: maintenance") == "operator"
    assert move_cause("EIP unassociated; node1 is up") == "placement"


def test_a_failback_completed_by_a_second_decision_counts_once() -> None:
    # Seed 2019: a failback to node1 moved one address of a two-address set; the next decision
    # moved the other. FlapSuppressThreshold 3 per 300 s: that is one failback, not two.
    config = CheckConfig(
        nodes=("node1", "node2"),
        interval_seconds=1.0,
        timeout_seconds=1.0,
        fall_threshold=2,
        rise_threshold=2,
        flap_window_seconds=300.0,
        flap_suppress_threshold=3,
    )
    i1, i2 = "i-1", "i-2"
    events: list[Event] = [HolderChange(0.0, G, "a", i2, "node2"), HolderChange(0.0, G, "b", i2, "node2")]

    def failback(at: float, decision: str, *addresses: str) -> list[Event]:
        calls: list[Event] = []
        for address in addresses:
            calls.append(MoveCall(at, G, address, "node1", "node2", decision, "preempt", at - 1, "monitor"))
            calls.append(HolderChange(at, G, address, i1, "node1"))
        return calls

    def away(at: float) -> list[Event]:  # node1 fails for real, and both addresses leave it
        down = [NodeTruth(at - 5, G, "node1", True, "refused"), NodeTruth(at + 1, G, "node1", False)]
        calls = [MoveCall(at, G, x, "node2", "node1", f"f{at}", "failover", at - 0.5, "monitor") for x in "ab"]
        return [*down, *calls, *(HolderChange(at, G, x, i2, "node2") for x in "ab")]

    events += failback(10.0, "p1", "b") + failback(20.0, "p2", "a")  # one failback in two decisions
    events += away(50.0) + failback(100.0, "p3", "a", "b") + away(150.0) + failback(200.0, "p4", "a", "b")
    assert names_with(events, config) == []
    events += away(250.0) + failback(280.0, "p5", "a", "b")  # a 4th failback within 300 s of the 1st
    assert names_with(events, config) == ["flap_damping"]


def names_with(events: list[Event], config: CheckConfig) -> list[str]:
    return [violation.invariant for violation in check_timeline(events, {G: config}, None)]


def test_the_ground_truth_of_overlapping_node_faults_follows_what_a_probe_meets() -> None:
    # Seed 6353: a short slow spell (past the timeout) inside an HTTP 500 period ended at 377.2 and
    # the truth said healthy, while probes still met the 500s until 380: a false no_move_off_healthy.
    from nginx_eip_failover.core.config import NodeConfig
    from nginx_eip_failover_sim.world import NodeScript, Period

    node = NodeConfig("node2", "i-2", "http://node2/health", 100)
    periods = [Period(375.8, 377.0, "slow", 1.5), Period(377.0, 380.0, "http_500"), Period(377.0, 377.2, "slow", 1.5)]
    events = NodeScript(G, node, periods, 0.005).truth_events(timeout=1.0)
    assert [(e.at, e.failing) for e in events] == [(375.8, True), (380.0, False)]
    # a slow spell that answers in time is no failure, even inside one
    inside = [Period(10.0, 20.0, "refused"), Period(12.0, 14.0, "slow", 0.1)]
    events = NodeScript(G, node, inside, 0.005).truth_events(timeout=1.0)
    assert [(e.at, e.failing) for e in events] == [(10.0, True), (12.0, False), (14.0, True), (20.0, False)]
