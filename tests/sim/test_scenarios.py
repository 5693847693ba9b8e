"""Issue #25's named simulator scenarios: blips with fresh invocations move nothing; a node dying at
a schedule hand-off loses the EIP within FallThreshold x interval + 6 s."""

from __future__ import annotations

import pytest

from nginx_eip_failover.core import faults
from nginx_eip_failover_sim.scenarios import SCENARIOS, run_scenario
from nginx_eip_failover_sim.world import Period

SEEDS = (1, 2, 3)
# Each blip scenario with issue #25's rule re-injected (faults.STREAK_BY_TIME_GAP): the invariant that
# catches it and the number of seeds (from 1) it is caught within. Measured 2026-12-07 over seeds 1..30
# (python -m nginx_eip_failover_sim --scenario NAME --seeds 1..30 --fault streak_by_time_gap): every
# one caught at seed 1, and in 18-29 of the 30 seeds (alarm_fresh_invocations 18, short_gaps 19,
# blips_fall_3 26, blips_with_fresh_invocations 27, several_fresh_at_once and timeout_blips 29); the
# bound leaves a margin. A scenario that can no longer fail on the defect it was written for fails here.
BLIP_CATCHES = {
    "blips_with_fresh_invocations": ("no_down_without_run", 3),
    "blips_fall_3": ("no_down_without_run", 3),
    "timeout_blips": ("no_down_without_run", 3),
    "alarm_fresh_invocations": ("no_down_without_run", 3),
    "several_fresh_at_once": ("no_down_without_run", 3),
    "short_gaps": ("no_down_without_run", 3),
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_each_named_scenario_holds_over_a_few_seeds(name: str) -> None:
    failed = [
        (seed, [str(v) for v in r.violations], r.errors) for seed in SEEDS if not (r := run_scenario(name, seed)).ok
    ]
    assert failed == []


@pytest.mark.parametrize("name", sorted(BLIP_CATCHES))
def test_each_blip_scenario_catches_the_rule_it_was_written_for(name: str) -> None:
    invariant, within = BLIP_CATCHES[name]
    seen: list[tuple[int, list[str]]] = []
    for seed in range(1, within + 1):  # stops at the first catch: one seed each today
        result = run_scenario(name, seed, fault=faults.STREAK_BY_TIME_GAP)
        found = sorted({v.invariant for v in result.violations})
        if invariant in found:
            # The scenario's own expectation says so too: node1 was failed over.
            assert "scenario_no_move" in found, found
            return
        seen.append((seed, found))
    raise AssertionError(f"{name}: {faults.STREAK_BY_TIME_GAP} not caught by {invariant} within {within} seeds: {seen}")


def test_the_blip_scenarios_are_the_ones_with_a_catch_bound() -> None:
    # A new scenario of blips with fresh invocations (moves=0, fresh invocations) needs its bound too.
    blips = {name for name, s in SCENARIOS.items() if s.dies_at is None and s.world.fresh_seconds is not None}
    assert blips == set(BLIP_CATCHES)


def test_a_scenario_gives_a_byte_identical_trace() -> None:
    first = run_scenario("blips_with_fresh_invocations", 4)
    assert run_scenario("blips_with_fresh_invocations", 4).digest == first.digest


def test_the_liveness_expectation_can_fail() -> None:
    # A node that "dies" for less than FallThreshold probes never loses the EIP: the expectation says so.
    scenario = SCENARIOS["dies_at_hand_off_4s"]
    assert scenario.dies_at is not None
    brief = Period(scenario.dies_at, scenario.dies_at + 0.4, "refused")
    object.__setattr__(scenario.world, "node1", (brief,))
    try:
        result = run_scenario("dies_at_hand_off_4s", 1)
    finally:
        object.__setattr__(scenario.world, "node1", (Period(scenario.dies_at, scenario.dies_at + 600.0, "refused"),))
    assert [v.invariant for v in result.violations] == ["scenario_liveness"]


def test_active_active_moves_only_the_set_whose_primary_died_and_fails_it_back() -> None:
    from nginx_eip_failover_sim.run import run_seed
    from nginx_eip_failover_sim.scheduler import EPOCH
    from nginx_eip_failover_sim.timeline import Event, HolderChange

    scenario = SCENARIOS["active_active"]
    events: list[Event] = []
    result = run_seed(2, minutes=scenario.minutes, scripted=scenario.world, on_event=events.append)
    assert result.ok, [str(v) for v in result.violations]
    changes = [(e.group, e.node) for e in events if isinstance(e, HolderChange) and e.at > EPOCH]
    # The pair's set to node2 at node1's death and back after the preempt delay; set b never moved.
    assert changes == [("default", "node2"), ("default", "node1")]


def test_the_active_active_expectations_can_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    # Both sets preferring node1 (priorities not opposite): set b starts on node1 and moves at its death.
    import json

    from nginx_eip_failover_sim import run

    opposite = run.active_active_text

    def same_priorities(base: object) -> str:
        document = json.loads(opposite(base))  # type: ignore[arg-type]
        nodes = document["groups"][0]["nodes"]
        nodes[0]["priority"], nodes[1]["priority"] = 101, 100
        return json.dumps(document)

    monkeypatch.setattr(run, "active_active_text", same_priorities)
    result = run_scenario("active_active", 1)
    found = {v.invariant for v in result.violations}
    assert {"scenario_other_set_moved", "scenario_active_active"} <= found, found


def test_active_active_with_node2_dying_moves_only_set_b_and_fails_it_back() -> None:
    from nginx_eip_failover_sim.run import run_seed
    from nginx_eip_failover_sim.scheduler import EPOCH
    from nginx_eip_failover_sim.timeline import Event, HolderChange

    scenario = SCENARIOS["active_active_node2_dies"]
    events: list[Event] = []
    result = run_seed(3, minutes=scenario.minutes, scripted=scenario.world, on_event=events.append)
    assert result.ok, [str(v) for v in result.violations]
    changes = [(e.group, e.node) for e in events if isinstance(e, HolderChange) and e.at > EPOCH]
    assert changes == [("b", "node1"), ("b", "node2")]


def test_the_auth_refused_scenario_fails_when_a_401_counts_as_the_node_down() -> None:
    # The same world with the 401s taken for failures (a prober without auth failures): node1 is failed
    # over although it served throughout, which the scenario and the invariants both report.
    scenario = SCENARIOS["auth_refused_holder"]
    (period,) = scenario.world.node1
    object.__setattr__(scenario.world, "node1", (Period(period.start, period.end, "auth_refused_counted"),))
    try:
        result = run_scenario("auth_refused_holder", 1)
    finally:
        object.__setattr__(scenario.world, "node1", (period,))
    assert "scenario_no_move" in {v.invariant for v in result.violations}
    assert "no_move_off_healthy" in {v.invariant for v in result.violations}


def test_short_alarm_invocations_on_one_warm_container_do_not_add_their_blips_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # short_gaps: an alarm invocation with room for one cycle at each 0.5 s blip, 1.7 s apart, mostly on
    # the same warm container; the running monitor's successes between them go unwritten (its cached
    # copy shows node1 up). The container's runs start afresh with each invocation (Fleet.start_invocation):
    # seeds 3-5 moved node1 when a run carried over from one invocation to the next.
    for seed in (3, 4, 5):
        result = run_scenario("short_gaps", seed)
        assert result.ok, (seed, [str(v) for v in result.violations])
    from nginx_eip_failover.service.controller import FailoverController

    monkeypatch.setattr(FailoverController, "start_invocation", lambda self: None)
    found = {v.invariant for v in run_scenario("short_gaps", 3).violations}
    assert {"no_down_without_run", "scenario_no_move"} <= found, found
