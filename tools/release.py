"""Cut a release: `make release VERSION=x.y.z` (python tools/release.py x.y.z).

pyproject.toml's `version` is the one version source. A release writes it there and in the two places
that cannot read pyproject at run time: `nginx_eip_failover.__version__` (the sam build copies the
package, without installed metadata) and template.yaml's `SemanticVersion` (the Serverless Application
Repository listing); tests/unit/test_release.py fails when the three disagree. Then it moves
CHANGELOG.md's Unreleased section under the new version, commits, and creates an annotated tag
vX.Y.Z. It never pushes. It refuses a dirty tree, a version that is not semantic (MAJOR.MINOR.PATCH
with an optional -prerelease), one that is not above the current one, and an empty Unreleased section.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import subprocess
import sys
from pathlib import Path

SEMVER = re.compile(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z.-]+))?")
PYPROJECT_VERSION = re.compile(r'^version = "([^"]+)"$', re.MULTILINE)
INIT_VERSION = re.compile(r'^__version__ = "([^"]+)"$', re.MULTILINE)
TEMPLATE_VERSION = re.compile(r"^(    SemanticVersion: )(\S+)$", re.MULTILINE)
UNRELEASED = "## [Unreleased]"

PYPROJECT = Path("pyproject.toml")
INIT = Path("src/nginx_eip_failover/__init__.py")
TEMPLATE = Path("template.yaml")
CHANGELOG = Path("CHANGELOG.md")


class ReleaseError(Exception):
    pass


def parse(version: str) -> tuple[int, int, int, tuple[tuple[int, int | str], ...]]:
    """A sortable key: a release sorts above its pre-releases (SemVer 2.0.0, section 11)."""
    match = SEMVER.fullmatch(version)
    if not match:
        raise ReleaseError(f"VERSION={version!r} is not a semantic version MAJOR.MINOR.PATCH[-prerelease]")
    major, minor, patch, pre = match.groups()
    if pre is None:
        tail: tuple[tuple[int, int | str], ...] = ((2, 0),)
    else:
        tail = tuple((0, int(part)) if part.isdigit() else (1, part) for part in pre.split("."))
    return int(major), int(minor), int(patch), tail


def versions(root: Path) -> dict[str, str]:
    """The version each of the three places says."""
    found = {}
    for path, pattern, group in (
        (PYPROJECT, PYPROJECT_VERSION, 1),
        (INIT, INIT_VERSION, 1),
        (TEMPLATE, TEMPLATE_VERSION, 2),
    ):
        match = pattern.search((root / path).read_text(encoding="utf-8"))
        if not match:
            raise ReleaseError(f"{path}: no version line ({pattern.pattern})")
        found[str(path)] = match.group(group)
    return found


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ReleaseError(f"git {' '.join(args)}: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


def changelog_with_release(text: str, version: str, date: str) -> str:
    """Unreleased's entries become the version's section; a fresh, empty Unreleased stays on top."""
    if UNRELEASED not in text:
        raise ReleaseError(f"{CHANGELOG}: no '{UNRELEASED}' section")
    head, rest = text.split(UNRELEASED, 1)
    next_section = re.search(r"^## \[", rest, re.MULTILINE)
    body = rest[: next_section.start()] if next_section else rest
    tail = rest[next_section.start() :] if next_section else ""
    if not re.search(r"^- ", body, re.MULTILINE):
        raise ReleaseError(f"{CHANGELOG}: the Unreleased section lists no change to release")
    if re.search(rf"^## \[{re.escape(version)}\]", tail, re.MULTILINE):
        raise ReleaseError(f"{CHANGELOG}: {version} is already released")
    return f"{head}{UNRELEASED}\n\n## [{version}] - {date}\n{body.rstrip()}\n\n{tail}".rstrip() + "\n"


def release(root: Path, version: str, *, today: dt.date | None = None) -> str:
    new = parse(version)
    current = versions(root)
    if len(set(current.values())) != 1:
        raise ReleaseError(f"the version sources disagree: {current}")
    old = next(iter(current.values()))
    if new <= parse(old):
        raise ReleaseError(f"VERSION={version} is not above the current version {old}")
    if _git(root, "status", "--porcelain").strip():
        raise ReleaseError("the working tree is not clean: commit or stash first (git status)")
    tag = f"v{version}"
    if _git(root, "tag", "--list", tag).strip():
        raise ReleaseError(f"tag {tag} exists already")
    date = (today or dt.datetime.now(dt.UTC).date()).isoformat()
    edits = {
        PYPROJECT: lambda text: PYPROJECT_VERSION.sub(f'version = "{version}"', text, count=1),
        INIT: lambda text: INIT_VERSION.sub(f'__version__ = "{version}"', text, count=1),
        TEMPLATE: lambda text: TEMPLATE_VERSION.sub(rf"\g<1>{version}", text, count=1),
        CHANGELOG: lambda text: changelog_with_release(text, version, date),
    }
    rewritten = {path: edit((root / path).read_text(encoding="utf-8")) for path, edit in edits.items()}
    for path, text in rewritten.items():  # written only once every edit succeeded
        (root / path).write_text(text, encoding="utf-8")
    _git(root, "add", *(str(path) for path in rewritten))
    _git(root, "commit", "-q", "-m", f"Release {version}")
    _git(root, "tag", "-a", tag, "-m", f"nginx-eip-failover {version} (CHANGELOG.md)")
    return tag


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("version", help="the new semantic version, e.g. 0.2.0")
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        tag = release(args.root, args.version)
    except ReleaseError as exc:
        print(f"release refused: {exc}", file=sys.stderr)
        return 1
    print(f"released {args.version}: commit 'Release {args.version}' and annotated tag {tag} (not pushed)")
    print(f"  publish: git push origin HEAD {tag}; then docs/releases.md (sam package, sam publish)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
