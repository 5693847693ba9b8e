"""The one file the measured figures live in: docs/figures.json, written here, rendered to docs/figures.md.

Each benchmark records what it measured with `record` (a full run only: a `--quick` run is a smoke
test and records nothing); `make docs` renders the file to docs/figures.md, and `make docs-check`
refuses a doc that quotes a failover time or a monthly cost that is not one of these figures. Docs
link to docs/figures.md instead of copying numbers, so a re-run is the only edit a new figure needs.

    python -m bench.figures [--list]      print the recorded figures

BENCH_FIGURES=PATH writes elsewhere (a trial run that must not touch the committed file).
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

DEFAULT_PATH = Path(__file__).resolve().parents[1] / "docs" / "figures.json"
UNITS = ("s", "ms", "$", "x", "%", "count", "MB", "KB")


@dataclass(frozen=True)
class Figure:
    name: str  # dotted, benchmark first: "failover_time.defaults.median_s"
    value: float
    unit: str  # one of UNITS; "$" is dollars a month unless the label says otherwise
    label: str  # what it is, in words, as docs/figures.md shows it
    command: str  # the command that produced it
    measured: str  # "YYYY-MM-DD HH:MM UTC" (or the date alone for figures seeded from older docs)
    decimals: int = 2  # how docs/figures.md prints it (and the precision a doc should quote)
    note: str = ""  # e.g. where a figure seeded from an older doc was quoted

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise ValueError(f"figure {self.name}: unit {self.unit!r} is not one of {', '.join(UNITS)}")
        if not isinstance(self.value, int | float) or not math.isfinite(self.value):
            raise ValueError(f"figure {self.name}: value {self.value!r} is not a finite number")


def path() -> Path:
    return Path(os.environ.get("BENCH_FIGURES") or DEFAULT_PATH)


def load(file: Path | None = None) -> dict[str, Figure]:
    file = file or path()
    if not file.is_file():
        return {}
    raw = json.loads(file.read_text(encoding="utf-8"))
    return {name: Figure(name=name, **fields) for name, fields in raw["figures"].items()}


def save(figures: dict[str, Figure], file: Path | None = None) -> None:
    file = file or path()
    body = {
        "about": "Written by the benchmarks (bench/figures.py); rendered to docs/figures.md by make docs. Do not edit.",
        "figures": {
            name: {k: v for k, v in asdict(figure).items() if k != "name" and (k != "note" or v)}
            for name, figure in sorted(figures.items())
        },
    }
    file.write_text(json.dumps(body, indent=1, sort_keys=False) + "\n", encoding="utf-8")


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")


def invoked_command(argv: Sequence[str] | None = None) -> str:
    """The command line as a reader would type it: `python -m bench.cost --failovers-per-month 4`."""
    argv = list(sys.argv if argv is None else argv)
    script = Path(argv[0]) if argv else Path("bench")
    module = "bench" if script.name == "__main__.py" else f"bench.{script.stem}"
    return " ".join(["python -m", module, *argv[1:]])


def record(
    name: str,
    value: float,
    unit: str,
    label: str,
    *,
    command: str | None = None,
    decimals: int = 2,
    measured: str | None = None,
) -> Figure:
    """Record one figure (replacing the previous one of that name) and return it."""
    return record_all(
        [Figure(name, float(value), unit, label, command or invoked_command(), measured or now(), decimals)]
    )[0]


def record_all(new: Iterable[Figure]) -> list[Figure]:
    figures = load()
    added = list(new)
    for figure in added:
        figures[figure.name] = figure
    save(figures)
    return added


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--list", action="store_true", help="print every figure (the default)")
    parser.parse_args(argv)
    for figure in load().values():
        print(f"{figure.name}\t{figure.value:.{figure.decimals}f} {figure.unit}\t{figure.measured}\t{figure.command}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
