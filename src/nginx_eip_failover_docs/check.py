"""What docs/ and README.md may claim: only what exists, and facts as the code states them."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nginx_eip_failover.core.log_records import WINDOW_MAX_BYTES, WINDOW_MAX_CYCLES
from nginx_eip_failover.core.state import HISTORY_LIMIT, HISTORY_MAX_BYTES
from nginx_eip_failover.service.controller import SNAPSHOT_MAX_AGE_SECONDS
from nginx_eip_failover.service.fleet import REFRESH_SECONDS as FLEET_REFRESH_SECONDS
from nginx_eip_failover_docs.figures import (
    FIGURES_JSON,
    Figure,
    is_past,
    known,
    load_figures,
    matches,
    named_after,
    named_figures,
    prose_lines,
    quotes,
    rounds_to,
)
from nginx_eip_failover_docs.references import cli_commands
from nginx_eip_failover_lab.stack.cfn_yaml import load_template


@dataclass(frozen=True)
class Finding:
    doc: str
    line: int
    problem: str

    def __str__(self) -> str:
        return f"{self.doc}:{self.line}: {self.problem}"


# A repository path as docs write it: in backticks or a link target, with a known top-level folder.
_TOP = ("src", "tests", "bench", "docs", "events", "requirements", "tools", "terraform", "constructs", "examples")
_PATH = re.compile(
    r"(?:`|\]\()(?:\.\./)?((?:" + "|".join(_TOP) + r")/[A-Za-z0-9_./-]+?)(?:::[A-Za-z0-9_\[\]-]+)?(?:#[\w-]+)?[`)]"
)
_TOP_FILES = re.compile(
    r"`((?:template\.yaml|samconfig\.toml|Makefile|pyproject\.toml|CHANGELOG\.md|ARCHITECTURE\.md))`"
)
_MODULE = re.compile(r"`((?:nginx_eip_failover(?:_lab|_sim|_docs|_e2e)?)(?:\.[a-z_0-9]+)+)`")
_MAKE = re.compile(r"`make ([a-z][a-z0-9-]*)")
_CLI = re.compile(r"`nginx-eip-failover ((?:[a-z][a-z-]*)(?: [a-z][a-z-]*)?)")
_PARAM = re.compile(r"`([A-Z][a-z0-9]+(?:[A-Z][a-z0-9]*)+)`")
# Facts the code owns: (what, pattern whose group 1 is the number, the code's value).
_FACTS: tuple[tuple[str, re.Pattern[str], float], ...] = (
    (
        "history entries kept in the state",
        re.compile(r"(?:state|item)[^.\n]{0,40}?(?:keeps?|holds?)[^.\n]{0,20}?(?:the )?(?:last|newest) (\d+)\b"),
        HISTORY_LIMIT,
    ),
    ("history entries kept in the state", re.compile(r"\bnewest (\d+) (?:history )?entries"), HISTORY_LIMIT),
    (
        "history entries kept in the state",
        re.compile(r"\blast (\d+) (?:recorded |history )?(?:events|entries)\b"),
        HISTORY_LIMIT,
    ),
    (
        "steady cycles the decision log buffers",
        re.compile(r"\blast (\d+) (?:steady cycles )?are kept in memory"),
        WINDOW_MAX_CYCLES,
    ),
    (
        "decision log window bytes",
        re.compile(r"written with the next change \(one item, at most (\d+) KB"),
        WINDOW_MAX_BYTES / 1024,
    ),
    ("history bytes kept in the state", re.compile(r"history[^.\n]{0,40}?at most (\d+) KB"), HISTORY_MAX_BYTES / 1024),
    (
        "cached state refresh period (s)",
        re.compile(r"refresh(?:es)?[^.\n]{0,40}?every (\d+) s\b"),
        SNAPSHOT_MAX_AGE_SECONDS,
    ),
    (
        "cached state refresh period (s)",
        re.compile(r"re-reads? (?:the|its) (?:cached )?state (?:at most )?every (\d+) s\b"),
        SNAPSHOT_MAX_AGE_SECONDS,
    ),
    (
        "fleet document refresh period (s)",
        re.compile(r"(?:fleet document|reads it at cold start)[^.\n]{0,40}?every (\d+) s\b"),
        FLEET_REFRESH_SECONDS,
    ),
)
# Prose may quote a past value on purpose ("it was refreshed every 15 s"): the words right before
# that one number say so (figures.is_past); a line that merely contains "before" or "old" does not.


def make_targets(makefile: Path) -> set[str]:
    return set(re.findall(r"^([a-z][a-z0-9-]*):", makefile.read_text(encoding="utf-8"), re.MULTILINE))


def template_names(template_path: Path) -> set[str]:
    template = load_template(template_path)
    names: set[str] = set()
    for section in ("Parameters", "Resources", "Outputs", "Conditions", "Rules", "Mappings"):
        names |= set((template.get(section) or {}).keys())
    return names


def _module_exists(root: Path, dotted: str) -> bool:
    """A module, or `module.attribute` where the module's source defines the attribute: a name
    whose module part does not exist (a module moved into a package) is not saved by its parent."""
    parts = dotted.split(".")
    for cut in (len(parts), len(parts) - 1):
        if cut < 1:
            continue
        base = root / "src" / Path(*parts[:cut])
        source = base.with_suffix(".py") if base.with_suffix(".py").is_file() else base / "__init__.py"
        if not source.is_file():
            continue
        if cut == len(parts):
            return True
        attribute = parts[-1]
        if attribute.startswith("__"):  # every module has `__file__`, `__version__` is checked by tests
            return True
        pattern = rf"^(?:def |class |async def )?{attribute}\b|\bimport [^\n]*\b{attribute}\b|^{attribute}\s*[:=]"
        return (
            re.search(pattern, source.read_text(encoding="utf-8"), re.MULTILINE) is not None
            or (base / attribute).with_suffix(".py").is_file()
        )
    return importlib.util.find_spec(parts[0]) is not None and len(parts) == 1


def makefile_modules(root: Path) -> Iterator[Finding]:
    """`python -m MODULE` lines in the Makefile and CI script: a moved module breaks a target."""
    for name in ("Makefile", ".ci/run"):
        path = root / name
        if not path.is_file():
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            for module in re.findall(r"-m (nginx_eip_failover[a-z_0-9]*(?:\.[a-z_0-9]+)*)", line):
                if not _module_exists(root, module):
                    yield Finding(name, number, f"runs module {module}, which does not exist")


def check_doc(
    root: Path,
    doc: Path,
    *,
    targets: set[str],
    commands: set[str],
    names: set[str],
    parameters: set[str],
    figures: dict[str, Figure] | None = None,
) -> Iterator[Finding]:
    """What `doc` names must exist and the facts it states must be the code's; with `figures`, every
    cost and failover time its prose quotes must be one of them."""
    rel = str(doc.relative_to(root))
    text = doc.read_text(encoding="utf-8")
    for number, line in enumerate(text.splitlines(), start=1):
        for path in _PATH.findall(line):
            path = path.rstrip(".,:;")
            if "*" in path or "<" in path or "{" in path:
                continue
            if not (root / path).exists():
                yield Finding(rel, number, f"names {path}, which does not exist")
        for path in _TOP_FILES.findall(line):
            if not (root / path).exists():
                yield Finding(rel, number, f"names {path}, which does not exist")
        for module in _MODULE.findall(line):
            if not _module_exists(root, module):
                yield Finding(rel, number, f"names module {module}, which does not exist")
        for target in _MAKE.findall(line):
            if target not in targets:
                yield Finding(rel, number, f"names `make {target}`, which the Makefile does not define")
        for command in _CLI.findall(line):
            first = command.split()[0]
            if command not in commands and first not in commands:
                yield Finding(rel, number, f"names `nginx-eip-failover {command}`, which the CLI does not have")
        for word in _PARAM.findall(line):
            looks_like_parameter = word.startswith(("Node1", "Node2", "Observer")) or word.endswith(
                ("Seconds", "Threshold", "Days", "Priority", "Profile")
            )
            if looks_like_parameter and word not in names and word not in parameters:
                yield Finding(rel, number, f"names `{word}`, which is not a template parameter or resource")
        reported: set[int] = set()  # two patterns may read the same number
        for what, pattern, value in _FACTS:
            for match in pattern.finditer(line):
                at = match.start(1)
                if float(match.group(1)) != value and not is_past(line, at) and at not in reported:
                    reported.add(at)
                    yield Finding(rel, number, f"says {what} is {match.group(1)}; the code says {value:g}")
    if figures is None:
        return
    for number, line in prose_lines(text):
        for _, name in named_figures(line):
            if not known(name, figures):
                yield Finding(rel, number, f"names figure {name}, which {FIGURES_JSON} does not have")
        for quote in quotes(line):
            named = named_after(line, quote, figures)
            if named is not None and not rounds_to(named, quote) and not is_past(line, quote.column):
                yield Finding(
                    rel, number, f"quotes {quote.text} as {named.name}, which is {named.shown} ({named.measured})"
                )
                continue
            if not matches(quote, figures) and not is_past(line, quote.column):
                kind = "a cost" if quote.unit == "$" else "a failover time"
                yield Finding(
                    rel,
                    number,
                    f"quotes {kind} of {quote.text}, which is not a figure in {FIGURES_JSON} "
                    "(link to docs/figures.md, or quote the figure it shows)",
                )


def check_all(root: Path, generated: dict[str, Callable[[], str]]) -> list[Finding]:
    findings: list[Finding] = []
    for name, build in generated.items():
        page = root / name
        if not page.is_file() or page.read_text(encoding="utf-8") != build():
            findings.append(Finding(name, 1, "is stale: run `make docs`"))
    template = load_template(root / "template.yaml")
    parameters = set((template.get("Parameters") or {}).keys())
    commands = {path for path, _ in cli_commands()}
    context: dict[str, Any] = {
        "targets": make_targets(root / "Makefile"),
        "commands": commands,
        "names": template_names(root / "template.yaml"),
        "parameters": parameters,
    }
    figures = load_figures(root)
    if not figures:
        findings.append(Finding(FIGURES_JSON, 1, "is missing or empty: run the benchmarks (python -m bench)"))
    context["figures"] = figures
    findings.extend(makefile_modules(root))
    docs = [root / "README.md", root / "ARCHITECTURE.md", *sorted((root / "docs").glob("*.md"))]
    for doc in docs:
        if doc.is_file() and doc.name not in {Path(name).name for name in generated}:
            findings.extend(check_doc(root, doc, **context))
    return findings
