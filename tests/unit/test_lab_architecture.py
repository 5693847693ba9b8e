"""The lab's layout is its architecture: subpackages by concern, a few modules flat, imports one way.

Like tests/unit/test_architecture.py for the runtime: every import between the lab's parts is read
with `ast` (deferred and type-only ones too) and must follow the layers below, so `stack/` (the
template read and provisioned) never reaches up into a scenario, and nothing but the soak's own entry
point imports `chaos/`. Fails naming the module, the line and the import.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from support.imports import package_imports

PACKAGE = "nginx_eip_failover_lab"
ROOT = Path(__file__).resolve().parents[2] / "src" / PACKAGE

# The lab's processes and invocations: what every other part stands on.
BASE = {"account", "processes", "lambda_context", "warm", "invoke", "scheduler"}

# part -> the parts it may import besides itself and BASE. A part is a subpackage or a flat module.
ALLOWED: dict[str, set[str]] = {
    **{module: set(BASE) for module in BASE},
    "stack": set(),
    "iam": {"stack"},
    "aws": {"iam", "stack"},
    "nodes": {"stack"},
    "iac_surface": {"iam", "stack"},
    "terraform": {"iac_surface", "iam", "stack"},
    "environment": {"aws", "iam", "nodes", "stack"},
    "scenarios": {"environment", "aws", "iam", "nodes", "stack"},
    "chaos": {"environment", "aws", "iam", "nodes", "scenarios", "stack"},
    "__main__": {"environment", "aws", "iam", "nodes", "scenarios", "stack"},
    "__init__": set(),
}

# Issue #27: at most 12 modules flat at the lab's top level (py.typed is not a module).
MAX_FLAT = 12


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" and len(parts) > 1 else parts)


MODULES = sorted(ROOT.rglob("*.py"))


def test_every_part_has_a_rule() -> None:
    parts = {_part(_module_name(path)) for path in MODULES}
    assert parts <= set(ALLOWED), f"parts with no rule in ALLOWED: {sorted(parts - set(ALLOWED))}"


def _violations(path: Path, module: str) -> list[str]:
    mine = _part(module)
    may = ALLOWED[mine] | {mine} | (BASE if mine != "__init__" else set())
    return [
        f"{module} line {line}: {mine} imports {target} ({_part(target)} not in {sorted(may)})"
        for line, target in package_imports(path, module, PACKAGE, ROOT)
        if target != PACKAGE
        if _part(target) not in may
    ]


@pytest.mark.parametrize("path", MODULES, ids=lambda path: str(path.relative_to(ROOT)))
def test_imports_follow_the_layers(path: Path) -> None:
    broken = _violations(path, _module_name(path))
    assert not broken, "\n".join(broken)


def test_at_most_twelve_modules_flat() -> None:
    flat = sorted(path.name for path in ROOT.glob("*.py"))
    assert len(flat) <= MAX_FLAT, f"{len(flat)} flat modules in {ROOT.name}/ (at most {MAX_FLAT}): {flat}"


def test_the_rule_catches_an_upward_import(tmp_path: Path) -> None:
    # The checker itself must be able to fail: stack/ reaching into scenarios/ (directly or relatively) is refused.
    rogue = tmp_path / "rogue.py"
    rogue.write_text(
        "from nginx_eip_failover_lab.scenarios import demo\n\n\ndef f() -> None:\n    from ..chaos import soak\n"
    )
    broken = _violations(rogue, f"{PACKAGE}.stack.rogue")
    assert [line.split(": ")[1].split(" (")[0] for line in broken] == [
        f"stack imports {PACKAGE}.scenarios",
        f"stack imports {PACKAGE}.chaos",
    ], broken
