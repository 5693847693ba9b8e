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
