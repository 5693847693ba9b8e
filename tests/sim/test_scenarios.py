"""Issue #25's named simulator scenarios: blips with fresh invocations move nothing; a node dying at
a schedule hand-off loses the EIP within FallThreshold x interval + 6 s."""

from __future__ import annotations

import pytest

from nginx_eip_failover_sim.scenarios import SCENARIOS, run_scenario
from nginx_eip_failover_sim.world import Period

SEEDS = (1, 2, 3)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_each_named_scenario_holds_over_a_few_seeds(name: str) -> None:
    failed = [
        (seed, [str(v) for v in r.violations], r.errors) for seed in SEEDS if not (r := run_scenario(name, seed)).ok
    ]
    assert failed == []


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
