"""Scheduled invocations whose starts jitter within their minute, on a fake clock, driving the real
loop and hand-off (nginx_eip_failover_lab.scenarios.coverage_sim): probing never pauses for longer than two
intervals plus the probe timeout, and the billed time stays within 1.25x of one invocation a minute.

The same simulation with the old design (65 s timeout, no hand-off) pauses for most of a minute: it
is what EventBridge's "within that minute" did to the monitor before the hand-off.
"""

from __future__ import annotations

import pytest

from nginx_eip_failover_lab.scenarios.coverage_sim import (
    Jitter,
    Scenario,
    alternating_extremes,
    anywhere_in_the_minute,
    jitter_within,
    simulate,
)

BILLED_RATIO_LIMIT = 1.25
MINUTES = 1500  # a day's worth of starts per scenario; about a second each

SCENARIOS = [
    *(Scenario(f"+-30 s, seed {seed}", jitter_within(30.0), minutes=MINUTES, seed=seed) for seed in (1, 2, 3)),
    Scenario("anywhere in the minute", anywhere_in_the_minute, minutes=MINUTES, seed=4),
    Scenario("early, late, early, ... (120 s apart, then together)", alternating_extremes(30.0), minutes=MINUTES),
    Scenario("a hung node: every cycle takes the probe timeout", jitter_within(30.0), cycle_seconds=(1.0, 1.1)),
    Scenario("reads lag writes by 5 s", jitter_within(30.0), read_lag_seconds=5.0, seed=5),
    Scenario("slow cold starts (up to 5 s)", jitter_within(30.0), init_seconds=(0.5, 5.0), seed=6),
    Scenario("interval 0.5 s, timeout 0.3 s", jitter_within(30.0), interval_seconds=0.5, probe_timeout_seconds=0.3),
    Scenario(
        "interval 5 s, timeout 2 s, cycles up to 2 s",
        jitter_within(30.0),
        interval_seconds=5.0,
        probe_timeout_seconds=2.0,
        cycle_seconds=(0.05, 2.05),
    ),
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda scenario: scenario.name)
def test_jittered_starts_never_pause_probing_and_bill_about_one_invocation_a_minute(scenario: Scenario) -> None:
    outcome = simulate(scenario)
    assert outcome.longest_pause <= scenario.bound_seconds, (
        f"probing paused {outcome.longest_pause:.2f} s at t={outcome.longest_pause_at:.1f} s"
    )
    assert outcome.billed_ratio <= BILLED_RATIO_LIMIT
    # every invocation that had a successor handed over to it (none ran out of time: the timeout
    # outlasts the longest gap between two starts)
    assert set(outcome.ended_by) == {"handed_over"}
    assert outcome.probes >= scenario.minutes * 60 / max(scenario.interval_seconds, scenario.cycle_seconds[1])


@pytest.mark.parametrize("jitter", [jitter_within(30.0), anywhere_in_the_minute], ids=["+-30 s", "in the minute"])
def test_before_the_hand_off_jittered_starts_left_probing_blind_for_most_of_a_minute(jitter: Jitter) -> None:
    # The old design: a 65 s timeout and a loop that ends near 63 s, whatever the next start does.
    outcome = simulate(Scenario("before", jitter, function_timeout_seconds=65.0, handoff=False))
    assert outcome.longest_pause > 30.0
    assert set(outcome.ended_by) == {"out_of_time"}


def test_known_limit_a_successor_that_dies_right_after_registering_leaves_a_pause_until_the_next_start() -> None:
    # The invocation before it hands over, so nobody probes until the next scheduled start: at most
    # two minutes of starts apart (plus its init). The crash shows in MonitorErrorsAlarm.
    scenario = Scenario("crash", jitter_within(30.0), minutes=300, crash_after_register=frozenset({100, 200}))
    outcome = simulate(scenario)
    assert outcome.ended_by["crashed"] == 2
    assert scenario.bound_seconds < outcome.longest_pause <= 120.0 + scenario.init_seconds[1] + 1.0
