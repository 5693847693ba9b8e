"""python -m nginx_eip_failover_sim --seed N [--steps M] [--minutes X] [--fault NAME]
python -m nginx_eip_failover_sim --seeds A..B [-j JOBS]
python -m nginx_eip_failover_sim --scenario NAME (--seed N | --seeds A..B) [--fault NAME]

With --scenario, a named scenario's fixed world (scenarios.py; --list-scenarios names them) and its
expectations instead of a drawn world; its own length replaces --minutes.

One seed: its result, and on a violation the seed, the violation and the trace before it (the same
seed reproduces it byte for byte). Many seeds: one line per failing seed, then a coverage summary:
which faults were injected and which decision rules ran, summed over the seeds.
Exit status 1 when any seed violated an invariant (or an actor raised an unexpected error).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

from nginx_eip_failover.core import faults
from nginx_eip_failover_sim.run import DEFAULT_MINUTES, DEFAULT_STEPS, RunResult, run_seed
from nginx_eip_failover_sim.scenarios import SCENARIOS, run_scenario

TRACE_LINES = 80


def seed_range(text: str) -> range:
    first, sep, last = text.partition("..")
    try:
        return range(int(first), int(last) + 1) if sep else range(int(first), int(first) + 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seeds: {text!r} is not A..B (two integers)") from None


def report(result: RunResult, *, trace_lines: int = TRACE_LINES) -> str:
    lines = [
        f"seed {result.seed}: {'ok' if result.ok else 'FAILED'} after {result.steps} steps, "
        f"{result.simulated_seconds:.0f}s simulated, trace {result.digest}"
        + (f", fault {result.fault}" if result.fault else "")
    ]
    for violation in result.violations:
        lines.append(f"  VIOLATION {violation}")
    for error in result.errors:
        lines.append(f"  ERROR {error}")
    if not result.ok:
        name = result.scenario.get("name")
        lines.append(
            f"  reproduce: python -m nginx_eip_failover_sim --seed {result.seed}"
            + (f" --scenario {name}" if name else f" --steps {result.steps}")
        )
        lines.append(f"  settings: {result.scenario.get('settings')}")
        lines.append(f"  profile: {result.scenario.get('profile')}")
        lines.append(f"  the last {trace_lines} events:")
        lines.extend("    " + line for line in result.trace[-trace_lines:])
    return "\n".join(lines)


def coverage_summary(coverage: Counter[str], seeds: int) -> str:
    groups: dict[str, list[str]] = {}
    for key, count in sorted(coverage.items()):
        kind, _, name = key.partition(":")
        groups.setdefault(kind, []).append(f"{name or kind}={count}")
    lines = [f"coverage over {seeds} seed(s):"]
    lines.extend(f"  {kind:<12} {' '.join(items)}" for kind, items in groups.items())
    return "\n".join(lines)


def _run(args: tuple[int, int, float, str | None, str | None]) -> RunResult:
    """One seed in a worker process (what `--seeds` and the tests map over)."""
    seed, steps, minutes, fault, scenario = args
    if scenario is not None:
        result = run_scenario(scenario, seed, fault=fault)
    else:
        result = run_seed(seed, steps=steps, minutes=minutes, fault=fault)
    result.scenario = {key: str(value) for key, value in result.scenario.items()}
    if result.ok:
        result.trace = result.trace[-1:]  # the digest is kept; a passing trace need not cross processes
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--list-scenarios", action="store_true", help="name the scenarios and what each shows")
    which.add_argument("--seed", type=int, help="run this seed")
    which.add_argument("--seeds", type=seed_range, help="run seeds A..B (inclusive)")
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS, help="scheduler steps at most (per seed)")
    parser.add_argument("--minutes", type=float, default=DEFAULT_MINUTES, help="simulated minutes per seed")
    parser.add_argument("--fault", choices=faults.KNOWN, help="TEST-ONLY: re-inject a past defect")
    parser.add_argument("-j", "--jobs", type=int, default=1, help="processes for --seeds (0: one per CPU)")
    parser.add_argument("--trace", action="store_true", help="print the whole trace of --seed")
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), help="a named scenario's world and expectations")
    args = parser.parse_args(argv)
    if args.list_scenarios:
        for name in sorted(SCENARIOS):
            print(f"{name}: {SCENARIOS[name].what}")
        return 0
    if args.seed is not None:
        if args.scenario is not None:
            result = run_scenario(args.scenario, args.seed, fault=args.fault)
        else:
            result = run_seed(args.seed, steps=args.steps, minutes=args.minutes, fault=args.fault)
        print(report(result, trace_lines=len(result.trace) if args.trace else TRACE_LINES))
        if args.trace and result.ok:
            print("\n".join(result.trace))
        print(coverage_summary(result.coverage, 1))
        return 0 if result.ok else 1
    seeds = list(args.seeds)
    jobs = args.jobs or os.cpu_count() or 1
    started = time.monotonic()
    coverage: Counter[str] = Counter()
    failed = 0
    simulated = 0.0
    work = [(seed, args.steps, args.minutes, args.fault, args.scenario) for seed in seeds]
    if jobs > 1:
        with ProcessPoolExecutor(jobs) as pool:
            results = pool.map(_run, work, chunksize=4)
            for result in results:
                failed += _tally(result, coverage)
                simulated += result.simulated_seconds
    else:
        for item in work:
            result = _run(item)
            failed += _tally(result, coverage)
            simulated += result.simulated_seconds
    wall = time.monotonic() - started
    print(coverage_summary(coverage, len(seeds)))
    print(
        f"{len(seeds)} seeds ({seeds[0]}..{seeds[-1]}), {failed} failed, {simulated / 3600:.1f} simulated hours "
        f"in {wall:.1f}s wall: {len(seeds) / wall:.1f} seeds/s, {simulated / 3600 / wall:.2f} simulated hours/s"
        + (f" (fault {args.fault})" if args.fault else "")
        + (f" (scenario {args.scenario})" if args.scenario else "")
    )
    return 1 if failed else 0


def _tally(result: RunResult, coverage: Counter[str]) -> int:
    coverage.update(result.coverage)
    if result.ok:
        return 0
    print(report(result), flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main())
