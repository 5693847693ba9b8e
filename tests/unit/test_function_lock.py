"""The functions' dependencies are locked: exact versions with hashes, from requirements/function.in."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "src" / "requirements.txt"  # what src/Makefile installs (sam build's CodeUri is src/)
SOURCE = ROOT / "requirements" / "function.in"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;\\]+)")


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=!~; ]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _entries() -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes), reading pip's continuation lines."""
    entries: dict[str, tuple[str, list[str]]] = {}
    current = None
    for raw in LOCK.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = PIN.match(line)
        if match:
            current = _name(match.group(1))
            entries[current] = (match.group(3), [])
        elif line.startswith("--hash=sha256:"):
            assert current is not None, f"a hash before any requirement: {line}"
            entries[current][1].append(line.removeprefix("--hash=sha256:").rstrip(" \\"))
        else:
            raise AssertionError(f"{LOCK}: not an exact pin or a hash: {raw!r}")
    return entries


def test_every_dependency_is_an_exact_version_with_hashes() -> None:
    entries = _entries()
    assert entries, f"{LOCK} pins nothing"
    for name, (version, hashes) in entries.items():
        assert re.fullmatch(r"[0-9][0-9A-Za-z.+!-]*", version), f"{name}=={version}"
        assert hashes and all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes), f"{name}: no sha256 hash"


def test_the_lock_holds_what_the_source_asks_for_and_no_sdk() -> None:
    wanted = {
        _name(line)
        for line in SOURCE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    locked = set(_entries())
    assert wanted <= locked, f"run make lock: {sorted(wanted - locked)} not in {LOCK}"
    # boto3/botocore are the Lambda runtime's: shipping them would hide what the runtime provides.
    assert not locked & {"boto3", "botocore", "s3transfer"}


def test_pyproject_runtime_dependencies_are_the_lock_source_plus_the_sdk() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = {_name(requirement) for requirement in project["dependencies"]}
    wanted = {
        _name(line)
        for line in SOURCE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert declared - {"boto3"} == wanted, "pyproject's dependencies and requirements/function.in disagree"


def test_the_build_installs_only_from_the_lock() -> None:
    makefile = (ROOT / "src" / "Makefile").read_text(encoding="utf-8")
    install = next(line for line in makefile.replace("\\\n", " ").splitlines() if "pip install" in line)
    assert "--require-hashes" in install and "-r requirements.txt" in install and "--no-deps" in install
