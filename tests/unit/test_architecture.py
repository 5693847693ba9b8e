"""The tree reads as the architecture: which package may import which (ARCHITECTURE.md).

Reads every module's imports with `ast` (top-level and deferred ones alike, `TYPE_CHECKING` blocks too:
a type-only import still ties one layer to the other) and fails naming the module and the import."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from support.imports import package_imports

PACKAGE = "nginx_eip_failover"
ROOT = Path(__file__).resolve().parents[2] / "src" / PACKAGE

# layer -> the layers it may import (besides itself). `observability` is the Powertools logger and
# metrics every layer but the core may use; the package root only holds `__version__`.
ALLOWED: dict[str, set[str]] = {
    "core": {"__init__"},
    "service": {"__init__", "core", "observability"},
    "adapters": {"__init__", "core", "observability"},
    "observability": set(),
    "handlers": {"__init__", "core", "service", "adapters", "observability"},
    "cli": {"__init__", "core", "service"},
    "__init__": set(),
}

# Imports that break the rule, each waiting for a port. Empty since issue #20: nothing may be added here.
DEBT: set[tuple[str, str]] = set()
LONG_DEBT: set[str] = set()

# Longer than 500 lines only with a reason written at the module's top (a line starting "Size:").
MAX_LINES = 500


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1] if len(parts) > 1 else parts
        found.append((".".join(parts), path))
    return found


MODULES = _modules()


def test_every_module_is_in_a_known_layer() -> None:
    unknown = sorted({m for m, _ in MODULES if _layer(m) not in ALLOWED})
    assert not unknown, f"modules outside the layers ARCHITECTURE.md names: {unknown}"


@pytest.mark.parametrize(("module", "path"), MODULES, ids=[m for m, _ in MODULES])
def test_imports_follow_the_layer_rule(module: str, path: Path) -> None:
    layer = _layer(module)
    bad = []
    for line, target in package_imports(path, module, PACKAGE, ROOT):
        other = _layer(target)
        if other != layer and other not in ALLOWED[layer] and (module, target) not in DEBT:
            bad.append(f"{path.relative_to(ROOT.parent)}:{line} imports {target} ({layer} -> {other})")
    assert not bad, "layer rule broken (ARCHITECTURE.md):\n" + "\n".join(bad)


@pytest.mark.parametrize(("module", "path"), MODULES, ids=[m for m, _ in MODULES])
def test_long_modules_say_why(module: str, path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    lines = text.count("\n")
    if lines > MAX_LINES and module not in LONG_DEBT:
        head = "\n".join(text.splitlines()[:40])
        assert "Size:" in head, f"{module} has {lines} lines (> {MAX_LINES}) and no 'Size:' reason at its top"


def test_the_core_does_no_io() -> None:
    """The core imports no AWS SDK, no network and no Powertools: it is a pure function of its inputs."""
    # JSON Schema validation (Powertools' validation utility) and urllib.parse are pure; the rest is I/O.
    forbidden = (
        "boto3",
        "botocore",
        "urllib.request",
        "http",
        "socket",
        "ssl",
        "threading",
        "concurrent",
        "aws_lambda_powertools.logging",
        "aws_lambda_powertools.metrics",
        "aws_lambda_powertools.tracing",
    )
    bad = []
    for module, path in MODULES:
        if _layer(module) != "core":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom) and not node.level
                else []
            )
            bad.extend(
                f"{module}:{node.lineno} imports {n}"
                for n in names
                if any(n == f or n.startswith(f + ".") for f in forbidden)
            )
    assert not bad, "\n".join(bad)
