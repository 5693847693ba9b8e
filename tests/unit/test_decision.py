"""The decision core, invariant by invariant (CONTRACT.md, "Decision invariants")."""

from __future__ import annotations

from dataclasses import replace

import pytest

from nginx_eip_failover.core.decision import (
    ALERT_FOREIGN_HOLDER,
    ALERT_NO_NODE_UP,
    Context,
    Verdict,
    complete_move,
    decide,
    is_damped,
    node_verdicts,
)
from nginx_eip_failover.core.ports import Observation
from nginx_eip_failover.core.state import ControllerState, Drain, MoveIntent, NodeHealth, Pin
from support.core_builders import FOREIGN, I1, I2, I3, down, recorded, settings, state, step, three_nodes, up

CFG = settings()


# --- hysteresis: rise and fall counts ------------------------------------------------------------


def test_a_node_with_no_history_passes_on_its_first_success_and_fails_like_an_up_node() -> None:
    decision = step(ControllerState(), None, CFG, 0.0, {"node1": True, "node2": False})
    assert decision.state.health("node1").status == "up"
    assert decision.state.health("node2").status == "unknown"  # one failure: not yet FallThreshold
    assert decision.move is not None and decision.move.target == "node1"  # placed in the first cycle
    current = decision.state
    for cycle in range(1, CFG.fall_threshold):
        current = step(current, I1, CFG, cycle * CFG.interval_seconds, {"node1": True, "node2": False}).state
    assert current.health("node2").status == "down"


def test_a_blip_on_the_holders_first_probe_does_not_move_the_eip() -> None:
    # Simulator seed 1558: a fleet group's first cycle saw node1 (the holder) answer with garbage
    # for 0.65 s; node1 was marked down at once and the EIP failed over off a healthy node.
    decision = step(ControllerState(), I1, CFG, 0.0, {"node1": False, "node2": True})
    assert decision.move is None
    assert decision.state.health("node1").status == "unknown"
    decision = step(decision.state, I1, CFG, CFG.interval_seconds, {"node1": True, "node2": True})
    assert decision.move is None and decision.state.health("node1").status == "up"


def test_up_node_goes_down_only_after_fall_threshold_consecutive_failures() -> None:
    current = state(node1=up(), node2=up())
    for cycle in range(CFG.fall_threshold - 1):
        current = step(current, I1, CFG, 1.0 + cycle, {"node1": False, "node2": True}).state
        assert current.health("node1").status == "up"
    # The next interval: consecutive failures (one much later would start a streak of its own).
    current = step(current, I1, CFG, CFG.fall_threshold * CFG.interval_seconds, {"node1": False, "node2": True}).state
    assert current.health("node1").status == "down"


def test_a_success_resets_the_fall_count() -> None:
    current = state(node1=up(), node2=up())
    for now, ok in enumerate([False, False, True, False, False]):
        current = step(current, I1, CFG, float(now), {"node1": ok, "node2": True}).state
    assert current.health("node1").status == "up"


def test_down_node_comes_up_only_after_rise_threshold_consecutive_successes() -> None:
    current = state(I2, node1=down(), node2=up())
    current = step(current, I2, CFG, 1.0, {"node1": True, "node2": True}).state
    assert current.health("node1").status == "down"
    current = step(current, I2, CFG, 2.0, {"node1": True, "node2": True}).state
    assert current.health("node1").status == "up"
    assert current.health("node1").since == 2.0


def test_steady_probes_do_not_change_the_state() -> None:
    # Streaks are capped, so a steady pair costs no DynamoDB write.
    current = state(node1=up(), node2=up())
    for now in range(5):
        decision = step(current, I1, CFG, 100.0 + now, {"node1": True, "node2": True})
        assert decision.state == current
        assert decision.move is None


# --- invariant 1: never move to a node that is not up --------------------------------------------


@pytest.mark.parametrize("target_health", [down(), NodeHealth()])
def test_never_moves_to_a_node_that_is_not_up(target_health: NodeHealth) -> None:
    decision = step(state(I1, node1=down(), node2=target_health), I1, CFG, 100.0)
    assert decision.move is None


# --- invariant 2: the holder keeps the EIP unless down or drained --------------------------------


def test_holder_down_and_other_up_moves_to_other() -> None:
    decision = step(state(I1, node1=down(), node2=up()), I1, CFG, 100.0)
    assert decision.move is not None
    assert decision.move.target == "node2"
    assert CFG.node(decision.move.target).instance_id == I2
    assert decision.state.move is not None  # the intent is part of the state to commit


def test_failing_holder_loses_the_eip_within_fall_threshold_cycles() -> None:
    current = state(I1, node1=up(), node2=up())
    moves = []
    for cycle in range(CFG.fall_threshold):
        decision = step(current, I1, CFG, 10.0 + cycle, {"node1": False, "node2": True})
        current = decision.state
        if decision.move:
            moves.append((cycle, decision.move.target))
    assert moves == [(CFG.fall_threshold - 1, "node2")]


def test_lower_priority_holder_that_is_up_keeps_the_eip_without_preempt() -> None:
    cfg = settings(preempt=False)
    decision = step(state(I2, node1=up(0.0), node2=up(0.0)), I2, cfg, 10_000.0)
    assert decision.move is None
    assert "Preempt is off" in decision.reason


def test_drained_holder_moves_to_other_up_node() -> None:
    current = replace(state(I1, node1=up(), node2=up()), drains={"node1": Drain("maintenance", "op", 0.0)})
    decision = step(current, I1, CFG, 100.0)
    assert decision.move is not None
    assert decision.move.target == "node2"


def test_drained_holder_stays_when_no_other_node_is_up() -> None:
    current = replace(state(I1, node1=up(), node2=down()), drains={"node1": Drain("maintenance", "op", 0.0)})
    assert step(current, I1, CFG, 100.0).move is None


def test_drained_node_is_never_chosen() -> None:
    current = replace(state(None, node1=up(), node2=up()), drains={"node1": Drain("maintenance", "op", 0.0)})
    decision = step(current, None, CFG, 100.0)
    assert decision.move is not None
    assert decision.move.target == "node2"


def test_holder_with_unknown_health_keeps_the_eip() -> None:
    decision = step(state(I1, node2=up()), I1, CFG, 100.0)
    assert decision.move is None


# --- invariant 3: preemption only after the delay, only with Preempt ----------------------------


def test_failback_waits_for_the_preempt_delay() -> None:
    current = replace(state(I2, node1=up(since=100.0), node2=up()), last_move_at=0.0)
    before = step(current, I2, CFG, 100.0 + CFG.preempt_delay_seconds - 0.001)
    assert before.move is None
    assert "PreemptDelaySeconds" in before.reason
    after = step(current, I2, CFG, 100.0 + CFG.preempt_delay_seconds)
    assert after.move is not None
    assert after.move.target == "node1"


def test_no_failback_towards_a_node_the_deciders_own_probe_saw_fail() -> None:
    # Simulator seed 11: another prober's newer success is already stored (so this decider's failure
    # is not counted and node1 stays up, its preempt delay long over), yet the decider itself just saw
    # node1 fail: the EIP is not sent there on this round; the next round, seeing it up, fails back.
    current = replace(state(I2, node1=replace(up(since=0.0), last_ok_at=1000.0), node2=up()), last_move_at=-1000.0)
    ctx = Context(CFG, 1001.0, "decider", frozenset({"node1"}))
    seen = recorded(current, {"node1": Verdict(False, "refused"), "node2": Verdict(True, "HTTP 200")}, ctx, 999.0)
    assert seen.health("node1").status == "up"
    held = decide(seen, I2, ctx, move_id="m")
    assert held.move is None
    assert step(current, I2, CFG, 1002.0, {"node1": True, "node2": True}).move is not None


def test_preempt_delay_restarts_when_the_node_flaps() -> None:
    cfg = settings(flap_window_seconds=0.0)
    current = replace(state(I2, node1=up(since=0.0), node2=up()), last_move_at=-1000.0)
    # node1 goes down (fall) and up again (rise) at t=50..54; the delay counts from t=54.
    for now, ok in [(50.0, False), (51.0, False), (52.0, False), (53.0, True), (54.0, True)]:
        decision = step(current, I2, cfg, now, {"node1": ok, "node2": True})
        assert decision.move is None
        current = decision.state
    assert current.health("node1").since == 54.0
    assert step(current, I2, cfg, 54.0 + cfg.preempt_delay_seconds - 1).move is None
    assert step(current, I2, cfg, 54.0 + cfg.preempt_delay_seconds).move is not None


def test_no_failback_without_preempt_however_long_the_node_is_up() -> None:
    cfg = settings(preempt=False)
    assert step(state(I2, node1=up(0.0), node2=up(0.0)), I2, cfg, 1e9).move is None


def test_preemption_respects_min_seconds_between_moves() -> None:
    current = replace(state(I2, node1=up(since=0.0), node2=up()), last_move_at=990.0)
    blocked = step(current, I2, CFG, 1000.0)
    assert blocked.move is None
    assert "MinSecondsBetweenMoves" in blocked.reason
    assert step(current, I2, CFG, 990.0 + CFG.min_seconds_between_moves).move is not None


def test_a_move_seen_as_drift_counts_for_min_seconds_between_moves() -> None:
    # Simulator seed 2306: our own move to node2 was recorded as failed (EC2 answered an error, then
    # carried it out); the next cycle saw the EIP on node2 as drift, and the failback to node1 came
    # 8 s later although MinSecondsBetweenMoves was 10.
    current = replace(state(I1, node1=up(since=0.0), node2=up()), last_move_at=0.0)
    drifted = step(current, I2, CFG, 1000.0)
    assert [entry.event for entry in drifted.state.history][-1:] == ["drift"]
    assert drifted.move is None and "MinSecondsBetweenMoves" in drifted.reason
    assert step(drifted.state, I2, CFG, 1000.0 + CFG.min_seconds_between_moves).move is not None


def test_failover_from_a_down_holder_ignores_min_seconds_between_moves() -> None:
    current = replace(state(I1, node1=down(), node2=up()), last_move_at=99.0)
    assert step(current, I1, CFG, 100.0).move is not None


def test_pin_suspends_preemption() -> None:
    current = replace(state(I2, node1=up(0.0), node2=up(0.0)), pin=Pin("node2", "test", "op", 0.0))
    decision = step(current, I2, CFG, 1e6)
    assert decision.move is None
    assert "pinned" in decision.reason


def test_pinned_node_that_goes_down_still_fails_over() -> None:
    current = replace(state(I2, node1=up(0.0), node2=down()), pin=Pin("node2", "t", "op", 0.0))
    decision = step(current, I2, CFG, 100.0)
    assert decision.move is not None
    assert decision.move.target == "node1"


def test_flapping_node_is_damped_and_not_preempted_to() -> None:
    flaps = (10.0, 20.0, 30.0)
    node1 = replace(up(since=31.0), flaps=flaps)
    current = replace(state(I2, node1=node1, node2=up()), last_move_at=0.0)
    assert is_damped(node1, CFG, 100.0)
    decision = step(current, I2, CFG, 31.0 + CFG.preempt_delay_seconds)
    assert decision.move is None
    assert "damped" in decision.reason
    # The damping ends when the window has passed since the oldest flap that counts.
    later = 10.0 + CFG.flap_window_seconds
    assert not is_damped(node1, CFG, later)
    assert step(current, I2, CFG, later).move is not None


def test_damped_node_still_receives_the_eip_when_it_is_the_only_one_up() -> None:
    node2 = replace(up(), flaps=(10.0, 20.0, 30.0))
    decision = step(state(I1, node1=down(), node2=node2), I1, CFG, 40.0)
    assert decision.move is not None
    assert decision.move.target == "node2"


def test_undamped_node_is_preferred_over_a_damped_one_of_higher_priority() -> None:
    cfg = three_nodes()
    node1 = replace(up(), flaps=(10.0, 20.0, 30.0))
    decision = step(state(I2, node1=node1, node2=down(), node3=up()), I2, cfg, 40.0)
    assert decision.move is not None
    assert decision.move.target == "node3"


def test_up_node_counts_flaps_only_on_up_to_down_transitions() -> None:
    cfg = settings(fall_threshold=1, rise_threshold=1)
    current = state(I1, node1=up(), node2=up())
    for now, ok in enumerate([False, True, False, True, False, False, False]):
        current = recorded(current, {"node1": _v(ok)}, Context(cfg, float(now), "t"))
    assert current.health("node1").flaps == (0.0, 2.0, 4.0)


# --- invariant 4: no node up ---------------------------------------------------------------------


def test_no_node_up_keeps_the_eip_and_raises_an_alert_once() -> None:
    first = step(state(I1, node1=down(), node2=down()), I1, CFG, 100.0)
    assert first.move is None
    assert ALERT_NO_NODE_UP in first.state.alerts
    assert [n.kind for n in first.notices] == ["no_node_up"]
    again = step(first.state, I1, CFG, 101.0)
    assert again.notices == ()
    assert again.state == first.state
    recovered = step(first.state, I1, CFG, 102.0, {"node1": True, "node2": True})
    recovered = step(recovered.state, I1, CFG, 103.0, {"node1": True, "node2": True})
    assert ALERT_NO_NODE_UP not in recovered.state.alerts


def test_no_node_up_leaves_an_unassociated_eip_unassociated() -> None:
    decision = step(state(None, node1=down(), node2=down()), None, CFG, 100.0)
    assert decision.move is None


# --- invariant 5: unassociated, wrong member, foreign --------------------------------------------


def test_unassociated_eip_goes_to_the_highest_priority_up_node() -> None:
    decision = step(state(None, node1=up(), node2=up()), None, CFG, 100.0)
    assert decision.move is not None
    assert decision.move.target == "node1"


def test_unassociated_eip_goes_to_the_up_node_without_preempt() -> None:
    cfg = settings(preempt=False)
    decision = step(state(None, node1=down(), node2=up()), None, cfg, 100.0)
    assert decision.move is not None
    assert decision.move.target == "node2"


def test_manual_move_inside_the_pair_is_reported_as_drift_and_preempted_back() -> None:
    current = state(I1, node1=up(0.0), node2=up(0.0))
    decision = step(current, I2, CFG, 1000.0)
    assert [n.kind for n in decision.notices] == ["drift"]
    assert decision.state.history[-1].event == "drift"
    # the hand's move counts as a move: the failback waits MinSecondsBetweenMoves from it
    assert decision.move is None and "MinSecondsBetweenMoves" in decision.reason
    decision = step(decision.state, I2, CFG, 1000.0 + CFG.min_seconds_between_moves)
    assert decision.move is not None
    assert decision.move.target == "node1"


def test_eip_on_a_foreign_instance_is_left_and_reported() -> None:
    decision = step(state(I1, node1=up(), node2=up()), FOREIGN, CFG, 100.0)
    assert decision.move is None
    assert ALERT_FOREIGN_HOLDER in decision.state.alerts
    assert "refused_move" in [n.kind for n in decision.notices]
    assert step(decision.state, FOREIGN, CFG, 101.0).notices == ()


def test_first_look_at_the_eip_is_not_drift() -> None:
    decision = step(ControllerState(), I2, CFG, 0.0, {"node1": True, "node2": True})
    assert decision.notices == ()
    assert decision.state.observed


# --- invariant 6: one move per decision; reconciliation -----------------------------------------


def _with_intent(target: str = "node2", started_at: float = 100.0) -> ControllerState:
    intent = MoveIntent(id="m1", target=target, source="node1", reason="r", by="t", started_at=started_at)
    return replace(state(I1, node1=down(), node2=up()), move=intent)


def test_a_committed_move_in_progress_blocks_other_moves() -> None:
    decision = step(_with_intent(), I1, CFG, 101.0, move_id="m2")
    assert decision.move is None
    assert decision.state.move is not None
    assert decision.state.move.id == "m1"


def test_a_move_whose_eip_change_is_visible_is_completed_by_whoever_sees_it() -> None:
    decision = step(_with_intent(), I2, CFG, 101.0, move_id="m2")
    assert decision.move is None
    assert decision.state.move is None
    assert decision.state.association == I2
    assert decision.state.history[-1].event == "move_completed"
    assert "drift" not in [n.kind for n in decision.notices]


def test_a_move_of_a_crashed_invocation_is_abandoned_and_decided_again() -> None:
    decision = step(_with_intent(), I1, CFG, 100.0 + CFG.move_timeout_seconds, move_id="m2")
    assert [e.event for e in decision.state.history[-2:]] == ["move_abandoned", "move_started"]
    assert decision.move is not None
    assert decision.move.id == "m2"


def test_complete_move_is_idempotent() -> None:
    done = complete_move(_with_intent(), "m1", I2, None, Context(CFG, 101.0, "t"))[0]
    assert done.move is None
    assert done.last_move_at == 101.0
    assert complete_move(done, "m1", I2, None, Context(CFG, 102.0, "t"))[0] == done


def test_failed_move_is_recorded_and_alerted() -> None:
    failed, notices = complete_move(_with_intent(), "m1", I1, "Throttling", Context(CFG, 101.0, "t"))
    assert failed.move is None
    assert failed.history[-1].event == "move_failed"
    assert "move_failed" in [n.kind for n in notices]
    # The next cycle tries again.
    assert step(failed, I1, CFG, 102.0).move is not None


def test_history_is_bounded() -> None:
    cfg = settings(history_limit=5, fall_threshold=1, rise_threshold=1, flap_window_seconds=0.0)
    current = state(None, node1=up(), node2=up())
    for now in range(20):
        current = step(current, None, cfg, float(now), {"node1": now % 2 == 0}).state
    assert len(current.history) == 5


# --- more than two nodes, more than one observer -------------------------------------------------


def test_three_nodes_failover_goes_to_the_highest_priority_up_node() -> None:
    cfg = three_nodes()
    decision = step(state(I1, node1=down(), node2=up(), node3=up()), I1, cfg, 100.0)
    assert decision.move is not None
    assert decision.move.target == "node3"


def test_quorum_ignores_a_single_observer_partitioned_from_the_node() -> None:
    observations = [
        Observation("node1", False, "timeout", 1000.0, observer="az-a"),
        Observation("node1", True, "HTTP 200", 3.0, observer="az-b"),
        Observation("node1", True, "HTTP 200", 3.0, observer="az-c"),
    ]
    assert node_verdicts(observations, quorum=2)["node1"].ok
    observations[1] = Observation("node1", False, "timeout", 1000.0, observer="az-b")
    assert not node_verdicts(observations, quorum=2)["node1"].ok


def test_one_observer_verdict_is_its_probe() -> None:
    verdicts = node_verdicts([Observation("node1", False, "refused", 1.0), Observation("node2", True, "ok", 1.0)])
    assert not verdicts["node1"].ok
    assert verdicts["node1"].detail == "refused"
    assert verdicts["node2"].ok


def test_decide_is_deterministic_and_pure() -> None:
    current = state(I1, node1=down(), node2=up())
    first = decide(current, I1, Context(CFG, 100.0, "a"), move_id="x")
    second = decide(current, I1, Context(CFG, 100.0, "a"), move_id="x")
    assert first == second
    assert current == state(I1, node1=down(), node2=up())


def _v(ok: bool):
    from nginx_eip_failover.core.decision import Verdict

    return Verdict(ok, "ok" if ok else "fail")


def test_node3_builder_uses_distinct_instances() -> None:
    assert {n.instance_id for n in three_nodes().nodes} == {I1, I2, I3}


def test_repeated_move_failures_back_off_exponentially_up_to_a_cap() -> None:
    from nginx_eip_failover.core.decision import MAX_MOVE_BACKOFF_SECONDS, move_backoff_seconds

    current = _with_intent()
    now = 101.0
    for failures in range(1, 8):
        current = complete_move(current, current.move.id, I1, "Throttling", Context(CFG, now, "t"))[0]
        assert current.move_failures == failures
        wait = move_backoff_seconds(failures)
        assert wait == min(MAX_MOVE_BACKOFF_SECONDS, 2.0 ** (failures - 1))
        blocked = step(current, I1, CFG, now + wait - 0.01, move_id=f"b{failures}")
        assert blocked.move is None
        assert "retrying" in blocked.reason
        retry = step(current, I1, CFG, now + wait, move_id=f"r{failures}")
        assert retry.move is not None
        current, now = retry.state, now + wait
    done = complete_move(current, current.move.id, I2, None, Context(CFG, now, "t"))[0]
    assert done.move_failures == 0
    assert done.last_failure_at is None


def test_a_move_whose_call_failed_but_whose_eip_moved_counts_as_done() -> None:
    done = complete_move(_with_intent(), "m1", I2, "ReadTimeoutError", Context(CFG, 101.0, "t"))[0]
    assert done.move is None
    assert done.association == I2
    assert done.history[-1].event == "move_completed"
    assert done.history[-1].detail["error"] == "ReadTimeoutError"
    assert done.move_failures == 0


def test_draining_the_pinned_node_clears_the_pin() -> None:
    from nginx_eip_failover.service.operator_requests import ControlRequest, apply_control

    pinned = replace(state(I2, node1=up(), node2=up()), pin=Pin("node2", "t", "op", 0.0))
    decision = apply_control(
        pinned, ControlRequest("drain", node=CFG.node("node2"), reason="m"), I2, Context(CFG, 10.0, "op"), move_id="d"
    )
    assert decision.state.pin is None
    assert decision.move is not None
    assert decision.move.target == "node1"
    other = apply_control(
        pinned, ControlRequest("drain", node=CFG.node("node1"), reason="m"), I2, Context(CFG, 10.0, "op"), move_id="d"
    )
    assert other.state.pin == pinned.pin
