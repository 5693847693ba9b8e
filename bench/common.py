"""What every benchmark shares: options, result rows, statistics, progress output."""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Options:
    trials: int | None = None  # None: each benchmark's own default
    quick: bool = False
    verbose: bool = False

    def count(self, default: int, quick: int) -> int:
        if self.trials is not None:
            return self.trials
        return quick if self.quick else default


@dataclass(frozen=True)
class Row:
    """One line of the final table. `ok` is None for figures that have no target."""

    benchmark: str
    metric: str
    value: str
    target: str = ""
    ok: bool | None = None

    @property
    def verdict(self) -> str:
        return "" if self.ok is None else ("pass" if self.ok else "MISS")


def parse_options(argv: Sequence[str] | None = None, description: str = "") -> Options:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--trials", type=int, help="trials (or repetitions) per measurement")
    parser.add_argument("--quick", action="store_true", help="fewer trials: a smoke run, not a measurement")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every trial")
    args = parser.parse_args(argv)
    return Options(trials=args.trials, quick=args.quick, verbose=args.verbose)


def say(text: str) -> None:
    """Progress and per-benchmark figures go to stderr; the final table goes to stdout."""
    print(text, file=sys.stderr, flush=True)


def percentile(values: Sequence[float], fraction: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = math.floor(position)
    high = math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


def format_table(rows: Sequence[Row]) -> str:
    header = ("benchmark", "metric", "value", "target", "result")
    lines = [(r.benchmark, r.metric, r.value, r.target, r.verdict) for r in rows]
    widths = [max(len(h), *(len(line[i]) for line in lines)) if lines else len(h) for i, h in enumerate(header)]
    out = [
        "| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |",
        "| " + " | ".join("-" * w for w in widths) + " |",
    ]
    out += ["| " + " | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) + " |" for line in lines]
    return "\n".join(out)


def exit_status(rows: Sequence[Row]) -> int:
    """0 when no target was missed (rows without a target do not count), else 1."""
    return 0 if all(row.ok is not False for row in rows) else 1


def report(rows: Sequence[Row]) -> int:
    """Print the table of one benchmark run alone; its exit status."""
    print(format_table(rows), flush=True)
    return exit_status(rows)


@contextmanager
def workdir(name: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as directory:
        yield Path(directory)
