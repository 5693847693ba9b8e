"""The simulator: deterministic, quiet on today's code over CI's fixed seeds, and able to fail.

CI runs this file (tests/sim, with the rest of `make test`); `make soak SEEDS=10000` runs thousands.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor

import pytest

from nginx_eip_failover.core import faults
from nginx_eip_failover_sim.__main__ import _run, main, report
from nginx_eip_failover_sim.run import DEFAULT_MINUTES, DEFAULT_STEPS, run_seed
from nginx_eip_failover_sim.scenarios import SCENARIOS
from nginx_eip_failover_sim.world import Period

# Run in parallel, as `make soak` does; then the seeds of past findings (1558: a blip on a new
# group's first probe failed its holder over; 2306: a move seen as drift did not count for
# MinSecondsBetweenMoves; 834, 1527 and 2019: a retried failover off a holder still down in the
# stored state, a slow EC2 call in flight when its target failed, and one failback split over two
# decisions, which the checker once took for violations; 2567: a mover's slow read aged its
# decision; 6353: overlapping node faults, whose ground truth the simulator once recorded wrong).
CI_SEEDS = (*range(1, 31), 834, 1527, 1558, 2019, 2306, 2567, 6353)
# Each re-injected past defect, the invariant that catches it, and the number of seeds (from 1) it
# is caught within (measured: python -m nginx_eip_failover_sim --seeds 1..N --fault NAME).
MUTATIONS = {
    faults.BLIP_COUNTED_TWICE: ("no_move_off_healthy", 20),
    faults.STALE_DECISION_AFTER_SLOW_NOTICE: ("no_move_to_down", 60),
    faults.ALERT_NOT_CLEARED: ("alert_clears", 10),
    # Issue #25's shared streak bounded by a time gap: blips seen by different containers, with the
    # successes between them unwritten, add up to a failover (seed 10 of the widened world).
    faults.STREAK_BY_TIME_GAP: ("no_down_without_run", 10),
}


def test_a_seed_gives_a_byte_identical_trace() -> None:
    first = run_seed(7, minutes=4)
    second = run_seed(7, minutes=4)
    assert first.trace == second.trace
    assert first.digest == second.digest
    assert run_seed(8, minutes=4).digest != first.digest


def test_no_invariant_is_violated_over_the_ci_seeds() -> None:
    with ProcessPoolExecutor(os.cpu_count() or 1) as pool:
        results = pool.map(_run, [(seed, DEFAULT_STEPS, DEFAULT_MINUTES, None, None) for seed in CI_SEEDS])
        failed = [report(result) for result in results if not result.ok]
    assert failed == []


@pytest.mark.parametrize("fault", sorted(MUTATIONS))
def test_each_reinjected_defect_is_caught(fault: str) -> None:
    invariant, within = MUTATIONS[fault]
    with ProcessPoolExecutor(os.cpu_count() or 1) as pool:  # the seeds are independent
        results = pool.map(_run, [(seed, DEFAULT_STEPS, DEFAULT_MINUTES, fault, None) for seed in range(1, within + 1)])
        caught = [r.seed for r in results if any(v.invariant == invariant for v in r.violations)]
    assert caught, f"{fault} was not caught by {invariant} within {within} seeds"


def test_the_cli_reproduces_a_seed_and_summarises_coverage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--seed", "3", "--minutes", "2"]) == 0
    out = capsys.readouterr().out
    assert "seed 3: ok" in out
    assert "coverage over 1 seed(s):" in out
    assert "probe" in out
    assert main(["--seeds", "1..2", "--minutes", "1"]) == 0
    assert "2 seeds (1..2), 0 failed" in capsys.readouterr().out


def test_the_cli_runs_a_named_scenario_and_its_reproduce_line_names_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--list-scenarios"]) == 0
    assert "blips_with_fresh_invocations: issue #25 as filed" in capsys.readouterr().out
    assert main(["--scenario", "blips_with_fresh_invocations", "--seeds", "1..2"]) == 0
    assert "2 seeds (1..2), 0 failed" in capsys.readouterr().out
    # A failing scenario seed's reproduce line names the scenario (its world is not the drawn one).
    scenario = SCENARIOS["dies_at_hand_off_4s"]
    assert scenario.dies_at is not None
    kept = scenario.world.node1
    object.__setattr__(scenario.world, "node1", (Period(scenario.dies_at, scenario.dies_at + 0.4, "refused"),))
    try:
        assert main(["--scenario", "dies_at_hand_off_4s", "--seed", "1"]) == 1
    finally:
        object.__setattr__(scenario.world, "node1", kept)
    out = capsys.readouterr().out
    assert "VIOLATION [scenario_liveness]" in out
    assert "reproduce: python -m nginx_eip_failover_sim --seed 1 --scenario dies_at_hand_off_4s" in out


def test_a_violation_prints_the_seed_and_the_trace(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--seeds", "1..20", "--jobs", "0", "--fault", faults.BLIP_COUNTED_TWICE]) == 1
    out = capsys.readouterr().out
    assert "FAILED" in out
    assert "VIOLATION [no_move_off_healthy]" in out
    assert "reproduce: python -m nginx_eip_failover_sim --seed " in out
    assert "NodeTruth" in out and "MoveCall" in out
