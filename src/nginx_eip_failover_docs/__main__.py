"""`python -m nginx_eip_failover_docs generate|check` (make docs / make docs-check).

generate writes docs/parameters.md (template.yaml), docs/cli.md (the CLI's parser) and
docs/figures.md (docs/figures.json, the benchmarks' figures); check fails when any is stale.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

# argparse wraps --help to the terminal: a fixed width keeps the generated CLI page byte-stable.
os.environ["COLUMNS"] = "100"

from nginx_eip_failover_docs.check import check_all
from nginx_eip_failover_docs.figures import figures_page
from nginx_eip_failover_docs.references import cli_page, parameters_page


def generated(root: Path) -> dict[str, Callable[[], str]]:
    return {
        "docs/parameters.md": lambda: parameters_page(root / "template.yaml"),
        "docs/cli.md": cli_page,
        "docs/figures.md": lambda: figures_page(root),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nginx_eip_failover_docs")
    parser.add_argument("action", choices=("generate", "check"))
    parser.add_argument("--root", type=Path, default=Path.cwd())
    args = parser.parse_args(argv)
    root: Path = args.root
    pages = generated(root)
    if args.action == "generate":
        for name, build in pages.items():
            (root / name).write_text(build(), encoding="utf-8")
            print(f"wrote {name}")
        return 0
    findings = check_all(root, pages)
    for finding in findings:
        print(finding)
    print(f"docs-check: {len(findings)} problem(s) in README.md, ARCHITECTURE.md and docs/")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
