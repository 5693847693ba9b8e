"""Hardening (issue 11): the pure core under overlapping probers, pins, lagging verification,
operator text in any script, and cycles with no time left. Each of these failed on the old core."""

from __future__ import annotations

import json
from dataclasses import replace

from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from nginx_eip_failover.core.bounds import MAX_REASON_BYTES, bounded, stored_size
from nginx_eip_failover.core.decision import ALERT_MOVE_FAILING, Context, complete_move, decide
from nginx_eip_failover.core.state import HISTORY_MAX_BYTES, ControllerState, MoveIntent, Pin, state_to_dict
from nginx_eip_failover.service.operator_requests import apply_control, parse_control_request
from support.core_builders import I1, I2, down, new_world, recorded, settings, state, step, up, verdicts

CFG = settings(fall_threshold=3, rise_threshold=2, interval_seconds=1.0, preempt_delay_seconds=10.0)


def _probe(current: ControllerState, at: float, actor: str = "prober", **results: bool) -> ControllerState:
    return recorded(current, verdicts(**results), Context(CFG, at, actor), at)


# --- 3. hysteresis counts by time, not by how many invocations probed --------------------------


def test_two_overlapping_invocations_probing_one_blip_do_not_add_up_to_a_failure() -> None:
    """The old core counted 3 failures here (two probers inside one 1.2 s blip) and moved the EIP."""
    current = state(I1, node1=up(), node2=up())
    for at in (100.0, 100.4, 101.0, 101.1):  # prober A at 100, 101; prober B at 100.4, 101.1
        current = _probe(current, at, node1=False, node2=True)
    assert current.health("node1").status == "up"
    assert step(current, I1, CFG, 101.2).move is None
    current = _probe(current, 101.5, node1=True, node2=True)  # the blip ends: the streak is gone
    assert current.health("node1").fail_streak == 0


def test_one_prober_still_takes_fall_threshold_intervals() -> None:
    current = state(I1, node1=up(), node2=up())
    for at in (100.0, 101.0):
        current = _probe(current, at, node1=False, node2=True)
    assert current.health("node1").status == "up"
    current = _probe(current, 102.0, node1=False, node2=True)
    assert current.health("node1").status == "down"
    assert step(current, I1, CFG, 102.0).move is not None


@hyp_settings(max_examples=200, deadline=None)
@given(
    offsets=st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=1, max_size=6),
    blip=st.floats(min_value=0.0, max_value=1.89),
)
def test_no_number_of_probers_turns_a_blip_shorter_than_the_fall_span_into_down(
    offsets: list[float], blip: float
) -> None:
    """Any number of invocations, each probing every interval from its own offset: a failure
    shorter than (FallThreshold - 1) intervals never marks the node down."""
    new_world()
    probes = sorted(
        {
            (round(100.0 + offset + k * CFG.interval_seconds, 6), f"p{index}")
            for index, offset in enumerate(offsets)
            for k in range(6)
        }
    )
    current = state(I1, node1=up(), node2=up())
    for at, actor in probes:
        failing = 101.0 <= at <= 101.0 + blip
        current = _probe(current, at, actor, node1=not failing, node2=True)
        assert current.health("node1").status == "up"


# --- 5. move_failing clears when the EIP is where it belongs -------------------------------------


def test_a_failing_move_alert_clears_when_the_eip_turns_up_on_the_target_anyway() -> None:
    intent = MoveIntent(id="m1", target="node2", source="node1", reason="r", by="t", started_at=100.0)
    failing = replace(state(I1, node1=down(), node2=up()), move=intent)
    failed, _ = complete_move(failing, "m1", I1, "RequestLimitExceeded", Context(CFG, 101.0, "t"))
    assert ALERT_MOVE_FAILING in failed.alerts and failed.move_failures == 1
    # An operator moved it by hand (or the verification lagged): the EIP is on node2 now.
    settled = step(failed, I2, CFG, 101.5)
    assert settled.move is None
    assert ALERT_MOVE_FAILING not in settled.state.alerts
    assert (settled.state.move_failures, settled.state.last_failure_at) == (0, None)
    assert "move_failing_cleared" in [notice.kind for notice in settled.notices]


# --- 6. the EIP returns to a pinned node -----------------------------------------------------------


def test_after_a_pinned_node_recovers_for_the_preempt_delay_the_eip_returns_to_it() -> None:
    # Pinned to node2 (the lower priority), node2 failed and the EIP went to node1.
    pinned = replace(state(I1, node1=up(), node2=up(since=200.0)), pin=Pin("node2", "maintenance", "op", 0.0))
    early = step(pinned, I1, CFG, 205.0)
    assert early.move is None
    assert "PreemptDelaySeconds" in early.reason
    due = step(pinned, I1, CFG, 210.0)
    assert due.move is not None and due.move.target == "node2"
    assert "pinned node2" in due.reason


def test_without_preempt_the_pin_still_brings_the_eip_back() -> None:
    cfg = replace(CFG, preempt=False)
    pinned = replace(state(I1, node1=up(), node2=up(since=0.0)), pin=Pin("node2", "m", "op", 0.0))
    decision = decide(pinned, I1, Context(cfg, 100.0, "t"), move_id="m")
    assert decision.move is not None and decision.move.target == "node2"


# --- 2. a cycle with no time left commits no move ----------------------------------------------------


def test_a_cycle_without_time_to_carry_a_move_out_commits_none() -> None:
    failing = state(I1, node1=down(), node2=up())
    deferred = decide(failing, I1, Context(CFG, 100.0, "t"), move_id="m", may_move=False)
    assert deferred.move is None and deferred.state.move is None
    assert "deferred" in deferred.reason
    assert decide(failing, I1, Context(CFG, 100.0, "t"), move_id="m").move is not None


# --- 1. free text is bounded in bytes ---------------------------------------------------------------


def test_bounded_cuts_on_characters_and_measures_utf8_json_bytes() -> None:
    assert bounded("short") == "short"
    text = "\U0001f525" * 500  # 4 bytes each in UTF-8
    cut = bounded(text, 100)
    assert stored_size(cut) <= 100 and cut.endswith("...")
    assert stored_size('"\\') == 4  # JSON escapes count


def test_seventy_long_reasons_in_any_script_keep_the_state_small() -> None:
    """500 non-ASCII characters were 3,000-6,000 bytes escaped each; 100 of them in the history
    passed DynamoDB's 400 KB item limit and failover stopped for good."""
    current = state(I1, node1=up(), node2=up())
    for index, script in enumerate(["\u4e2d", "\U0001f525", "\u0416", "\u00e9", "\u05d0"] * 14):
        action = ("drain", "undrain")[index % 2]
        request = parse_control_request({"action": action, "node": "node2", "reason": script * 500}, CFG)
        assert stored_size(request.reason) <= MAX_REASON_BYTES
        current = apply_control(
            current, request, I1, Context(CFG, 100.0 + index, "operator"), move_id=f"m{index}"
        ).state
    size = len(json.dumps(state_to_dict(current), ensure_ascii=False).encode())
    assert size < HISTORY_MAX_BYTES + 16 * 1024
    assert len(current.history) < 70  # bounded by size, not only by count
    # Failover still works on top of it.
    current = _probe(_probe(_probe(current, 200.0, node1=False), 201.0, node1=False), 202.0, node1=False)
    assert step(current, I1, CFG, 202.0).move is not None


def test_up_since_is_the_recorded_time_of_the_change_not_the_probes_start() -> None:
    """A failback waits PreemptDelaySeconds from the recorded node_up; a probe that started 0.3 s
    before the decision must not make it 0.3 s early (lab: failback 2.94 s after node_up, delay 3 s)."""
    current = state(I1, node1=down(), node2=up())
    for probe_start in (100.0, 101.0):
        decided = probe_start + 0.3
        current = recorded(current, verdicts(node1=True), Context(CFG, decided, "p"), probe_start)
    health = current.health("node1")
    assert health.status == "up"
    assert health.since == current.history[-1].at == 101.3
