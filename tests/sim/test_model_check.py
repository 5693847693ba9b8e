"""The exhaustive small-scope checker (nginx_eip_failover_sim.model_check) on small bounds: the
decision core passes every interleaving, and the checker catches the rule issue #25 replaced.

CI also runs the checker's own bound from `.ci/run` (it prints the states it explored); `make
model-check` runs the deeper one."""

from __future__ import annotations

from nginx_eip_failover.core import faults
from nginx_eip_failover_sim.model_check import Bound, check

SMALL = Bound(fall=2, ticks=6, changes=3, fresh=1, observer=False)


def test_every_interleaving_of_a_monitor_and_a_fresh_prober_keeps_the_invariants() -> None:
    result = check(SMALL)
    assert result.violations == {}
    assert result.states > 1000  # it explored, not stopped at the start


def test_fall_threshold_three_with_an_observer_keeps_the_invariants() -> None:
    result = check(Bound(fall=3, ticks=6, changes=2, fresh=0, observer=True))
    assert result.violations == {}


def test_the_shared_streak_bounded_by_a_time_gap_is_caught_with_a_blip_trace() -> None:
    with faults.injected(faults.STREAK_BY_TIME_GAP):
        result = check(Bound(fall=2, ticks=7, changes=3, fresh=1, observer=False), every_kind=True)
    assert "blips" in result.violations, result.violations
    message, trace = result.violations["blips"]
    assert "took node1 down in a world of blips" in message
    # The shortest trace: a fresh prober writes one failure, a success goes unwritten, the next blip joins.
    assert any("fresh" in step for step in trace)
    assert len(trace) <= 8
