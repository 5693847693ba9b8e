"""The deterministic simulator's speed: simulated hours per wall-clock second, seeds per second.

    python -m bench.sim_throughput [--seeds N]      (also a row of `python -m bench`)

Runs seeds 1..N of `nginx_eip_failover_sim` in this process (one core; `make soak` runs several
processes) and prints the figures. Every seed must pass: a violation is a failed benchmark too.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

from nginx_eip_failover_sim.run import DEFAULT_MINUTES, run_seed

from .common import Options, Row, say


def measure(seeds: int, minutes: float = DEFAULT_MINUTES) -> dict[str, float]:
    started = time.monotonic()
    simulated = 0.0
    steps = 0
    failed = 0
    for seed in range(1, seeds + 1):
        result = run_seed(seed, minutes=minutes)
        simulated += result.simulated_seconds
        steps += result.steps
        failed += 0 if result.ok else 1
    wall = time.monotonic() - started
    return {
        "seeds": seeds,
        "failed": failed,
        "wall_s": wall,
        "simulated_hours_per_s": simulated / 3600 / wall,
        "seeds_per_s": seeds / wall,
        "steps_per_s": steps / wall,
    }


def run(options: Options) -> list[Row]:
    figures = measure(options.count(40, 8))
    say(f"sim_throughput: {figures}")
    return [
        Row(
            "sim_throughput",
            "simulated hours per wall-clock second (1 core)",
            f"{figures['simulated_hours_per_s']:.2f}",
        ),
        Row("sim_throughput", "seeds per second (8 simulated minutes each, 1 core)", f"{figures['seeds_per_s']:.2f}"),
        Row(
            "sim_throughput",
            f"seeds violating an invariant (of {figures['seeds']:.0f})",
            f"{figures['failed']:.0f}",
            "0",
            figures["failed"] == 0,
        ),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=40)
    args = parser.parse_args(argv)
    figures = measure(args.seeds)
    print(
        f"{figures['seeds']:.0f} seeds in {figures['wall_s']:.1f}s: {figures['simulated_hours_per_s']:.2f} simulated "
        f"hours/s, {figures['seeds_per_s']:.2f} seeds/s, {figures['steps_per_s']:.0f} scheduler steps/s, "
        f"{figures['failed']:.0f} failed"
    )
    return 1 if figures["failed"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
