"""Run every benchmark and print one table: benchmark, metric, value, target, result.

    python -m bench [--quick] [--trials N] [--only NAME ...] [--failovers-per-month N] [-v]

Per-benchmark figures and progress go to stderr; the table (with the date and the machine) goes to
stdout. The exit status is 1 when a target is missed, so CI can see it; the table says which. A full
(not --quick) run records its figures in docs/figures.json (bench/figures.py); `make docs` renders
them to docs/figures.md.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from . import (
    aws_calls,
    cold_start,
    cost,
    failover_time,
    fleet,
    iam_check,
    observers,
    probe_concurrency,
    schedule_coverage,
    sim_throughput,
)
from .common import Options, Row, exit_status, format_table, say

ORDER = (
    "probe_concurrency",
    "cold_start",
    "aws_calls",
    "cost",
    "fleet",
    "fleet_cost",
    "schedule_coverage",
    "sim_throughput",
    "failover_time",
    "iam_check",
    "observers",
)


def machine() -> str:
    return (
        f"{os.cpu_count()} CPUs, {platform.machine()}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer trials and shorter runs: a smoke test")
    parser.add_argument("--trials", type=int, help="trials per measurement (failover, cold start, probes)")
    parser.add_argument("--only", nargs="+", choices=ORDER, help="run only these benchmarks")
    parser.add_argument("--failovers-per-month", type=float, default=4, help="cost model: failovers per month")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    options = Options(trials=args.trials, quick=args.quick, verbose=args.verbose)
    selected = [name for name in ORDER if not args.only or name in args.only]
    measured: dict[str, Any] | None = None
    rows: list[Row] = []
    started = time.monotonic()

    fleet_figures: dict[str, float] | None = None

    def aws() -> list[Row]:
        nonlocal measured
        result, measured = aws_calls.run(options)
        return result

    def fleets() -> list[Row]:
        nonlocal fleet_figures
        result, fleet_figures = fleet.run(options)
        return result

    def fleet_cost() -> list[Row]:
        nonlocal measured, fleet_figures
        if measured is None:
            measured = aws_calls.measure(options)
        if fleet_figures is None:  # the CPU a group's cycle costs: a short probing run
            fleet_figures = fleet.probing(Options(quick=True, verbose=options.verbose))[1]
        figures = dict(measured)
        figures.setdefault("duration_s", schedule_coverage.billed_seconds_per_minute())
        return cost.fleet_rows(
            figures,
            fleet_figures["cpu_per_group_cycle_s"],
            fleet_figures["interval_s"],
            failovers=args.failovers_per_month,
            record=not options.quick,
        )

    runners: dict[str, Callable[[], list[Row]]] = {
        "schedule_coverage": lambda: schedule_coverage.run(options),
        "sim_throughput": lambda: sim_throughput.run(options),
        "probe_concurrency": lambda: probe_concurrency.run(options),
        "cold_start": lambda: cold_start.run(options),
        "aws_calls": aws,
        "cost": lambda: cost.run(options, measured, failovers=args.failovers_per_month),
        "failover_time": lambda: failover_time.run(options),
        # A 5-minute soak here; `python -m bench.observers` runs the 30 minutes.
        "observers": lambda: observers.run(options, minutes=5.0),
        "fleet": fleets,
        "fleet_cost": fleet_cost,
        "iam_check": lambda: iam_check.run(options),
    }
    for name in selected:
        say(f"== {name}")
        began = time.monotonic()
        try:
            rows += runners[name]()
        except Exception as exc:  # one broken benchmark must not hide the others' results
            traceback.print_exc()
            rows.append(Row(name, "benchmark failed", f"{type(exc).__name__}: {exc}"[:200], "runs", False))
        say(f"== {name}: {time.monotonic() - began:.0f} s")
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    mode = "quick (smoke test, not a measurement)" if options.quick else "full"
    print(f"nginx-eip-failover benchmarks, {now}, {machine()}, {mode} run, {time.monotonic() - started:.0f} s")
    print()
    print(format_table(rows))
    sys.stdout.flush()
    return exit_status(rows)


if __name__ == "__main__":
    raise SystemExit(main())
