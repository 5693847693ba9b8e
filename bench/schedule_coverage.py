"""Schedule coverage: scheduled starts that jitter within their minute, on a fake clock.

EventBridge Scheduler runs each invocation at some second of its minute. The simulation
(`nginx_eip_failover_lab.scenarios.coverage_sim`) drives the real monitor loop and its lease hand-off
(`monitor_loop.MonitorRun`) for two days of scheduled starts per run (3 seeds per jitter model),
with the template's 150 s timeout, cold starts of up to 1.5 s (billed), cycles of 20-80 ms (or the
whole probe timeout, for a hung node) and lease reads that lag writes by 1 s. It reports the longest
pause between two probe cycles and the billed time per covered time (one invocation a minute =
1.00), against the contract's limits:

- a pause of at most 2 x HealthCheckIntervalSeconds + HealthCheckTimeoutSeconds (3 s at defaults);
- billed time within 1.25x of one invocation per minute.

The same run with the old design (65 s timeout, no hand-off) and with a successor that dies right
after registering (the documented limit) is printed for reference. No AWS, no processes: seconds.

    python -m bench.schedule_coverage [--quick]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from . import figures as recorded
from .common import Options, Row, parse_options, report, say

if TYPE_CHECKING:
    from nginx_eip_failover_lab.scenarios.coverage_sim import Outcome

# The package is imported inside the functions, as in the other benchmarks: Powertools' Metrics reads
# its namespace when first imported, and bench.aws_calls sets it (from the lab's stack) before that.

NAME = "schedule_coverage"
BILLED_RATIO_TARGET = 1.25
SEEDS = (1, 2, 3)


def _say(outcome: Outcome) -> None:
    scenario = outcome.scenario
    ended = ", ".join(f"{kind} {count}" for kind, count in sorted(outcome.ended_by.items()))
    say(
        f"[{NAME}] {scenario.name} (seed {scenario.seed}, {scenario.minutes} starts): longest pause "
        f"{outcome.longest_pause:.2f} s at t={outcome.longest_pause_at:.0f} s, billed/covered "
        f"{outcome.billed_ratio:.3f}, {outcome.probes} probe cycles; ended: {ended}"
    )


def measure(options: Options) -> dict[str, list[Outcome]]:
    from nginx_eip_failover_lab.scenarios.coverage_sim import (
        Scenario,
        alternating_extremes,
        anywhere_in_the_minute,
        jitter_within,
        simulate,
    )

    minutes = options.count(2 * 1440, 360)  # two days of starts per run (6 hours with --quick)
    groups = {
        "+-30 s": [Scenario("+-30 s", jitter_within(30.0), minutes=minutes, seed=seed) for seed in SEEDS],
        "in the minute": [
            Scenario("anywhere in the minute", anywhere_in_the_minute, minutes=minutes, seed=10 + seed)
            for seed in SEEDS
        ],
        "alternating": [
            Scenario("early, late, ... (120 s apart, then together)", alternating_extremes(30.0), minutes=minutes)
        ],
        "hung node": [
            Scenario(
                "+-30 s, a hung node (every cycle takes the timeout)",
                jitter_within(30.0),
                minutes=minutes,
                seed=7,
                cycle_seconds=(1.0, 1.1),
            )
        ],
        "before": [
            Scenario(
                "before the hand-off: 65 s timeout",
                jitter_within(30.0),
                minutes=minutes,
                function_timeout_seconds=65.0,
                handoff=False,
            )
        ],
        "crash": [
            Scenario(
                "a successor dies right after registering (known limit)",
                jitter_within(30.0),
                minutes=minutes,
                crash_after_register=frozenset({minutes // 3, 2 * minutes // 3}),
            )
        ],
    }
    outcomes = {name: [simulate(scenario) for scenario in scenarios] for name, scenarios in groups.items()}
    for group in outcomes.values():
        for outcome in group:
            _say(outcome)
    return outcomes


def billed_seconds_per_minute() -> float:
    """The monitor's billed time per scheduled minute with the hand-off (starts +-30 s), for bench.cost."""
    from nginx_eip_failover_lab.scenarios.coverage_sim import Scenario, jitter_within, simulate

    outcomes = [simulate(Scenario("+-30 s", jitter_within(30.0), minutes=720, seed=seed)) for seed in SEEDS]
    return 60.0 * sum(outcome.billed_ratio for outcome in outcomes) / len(outcomes)


def rows_from(outcomes: dict[str, list[Outcome]]) -> list[Row]:
    bound = outcomes["+-30 s"][0].scenario.bound_seconds
    minutes = outcomes["+-30 s"][0].scenario.minutes
    target = f"<= 2 x interval + timeout ({bound:g} s)"
    rows: list[Row] = []
    for name, label in (
        ("+-30 s", f"starts +-30 s around the minute ({len(SEEDS)} x {minutes} starts)"),
        ("in the minute", f"starts anywhere in the minute ({len(SEEDS)} x {minutes} starts)"),
        ("alternating", "starts early, late, early, ... (120 s apart, then together)"),
        ("hung node", "starts +-30 s, a hung node (each cycle takes the probe timeout)"),
    ):
        longest = max(outcome.longest_pause for outcome in outcomes[name])
        rows.append(Row(NAME, f"longest probe pause, {label}", f"{longest:.2f} s", target, longest <= bound))
    jittered = outcomes["+-30 s"] + outcomes["in the minute"]
    mean = sum(outcome.billed_ratio for outcome in jittered) / len(jittered)
    rows.append(
        Row(
            NAME,
            f"billed/covered ratio, starts +-30 s or anywhere in the minute (mean of {len(jittered)} runs)",
            f"{mean:.3f} ({60 * mean:.1f} s billed per minute)",
            f"<= {BILLED_RATIO_TARGET:g}",
            mean <= BILLED_RATIO_TARGET,
        )
    )
    handing_over = [o for name in ("+-30 s", "in the minute", "alternating", "hung node") for o in outcomes[name]]
    highest = max(handing_over, key=lambda outcome: outcome.billed_ratio)
    rows.append(
        Row(
            NAME,
            f"billed/covered ratio, highest run ({highest.scenario.name})",
            f"{highest.billed_ratio:.3f}",
            f"<= {BILLED_RATIO_TARGET:g}",
            highest.billed_ratio <= BILLED_RATIO_TARGET,
        )
    )
    (before,) = outcomes["before"]
    rows.append(
        Row(
            NAME,
            "before the hand-off (65 s timeout, loop ends near 63 s): longest pause / billed ratio",
            f"{before.longest_pause:.1f} s / {before.billed_ratio:.3f}",
        )
    )
    (crash,) = outcomes["crash"]
    rows.append(
        Row(
            NAME,
            "known limit: a successor dies right after registering: longest pause",
            f"{crash.longest_pause:.1f} s (until the next scheduled start)",
        )
    )
    return rows


def record(outcomes: dict[str, list[Outcome]]) -> None:
    """The figures docs quote (docs/figures.md): the longest pauses and the billed ratios."""
    jittered = outcomes["+-30 s"] + outcomes["in the minute"]
    handing_over = [o for name in ("+-30 s", "in the minute", "alternating", "hung node") for o in outcomes[name]]
    mean = sum(outcome.billed_ratio for outcome in jittered) / len(jittered)
    command, when = recorded.invoked_command(), recorded.now()
    pause = max(o.longest_pause for name in ("+-30 s", "in the minute", "alternating") for o in outcomes[name])
    recorded.record_all(
        recorded.Figure(f"{NAME}.{key}", value, unit, label, command, when, decimals)
        for key, value, unit, label, decimals in (
            ("longest_pause_s", pause, "s", "longest probe pause, starts +-30 s, anywhere or alternating", 2),
            (
                "longest_pause_hung_node_s",
                max(o.longest_pause for o in outcomes["hung node"]),
                "s",
                "longest probe pause, a hung node",
                2,
            ),
            ("billed_ratio", mean, "x", f"billed / covered time, mean of {len(jittered)} runs", 3),
            (
                "billed_ratio_max",
                max(o.billed_ratio for o in handing_over),
                "x",
                "billed / covered time, highest run",
                3,
            ),
            ("billed_seconds_per_minute", 60 * mean, "s", "billed per scheduled minute (the mean ratio x 60 s)", 1),
            ("before_handoff_longest_pause_s", outcomes["before"][0].longest_pause, "s", "before the hand-off", 1),
            ("successor_dies_longest_pause_s", outcomes["crash"][0].longest_pause, "s", "known limit", 1),
        )
    )


def run(options: Options) -> list[Row]:
    outcomes = measure(options)
    if not options.quick:
        record(outcomes)
    return rows_from(outcomes)


def main(argv: Sequence[str] | None = None) -> int:
    return report(run(parse_options(argv, __doc__ or "")))


if __name__ == "__main__":
    raise SystemExit(main())
