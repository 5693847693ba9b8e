"""Releases: one version in three places, a Keep a Changelog file, and `make release` (tools/release.py)
run on a throwaway git repository holding copies of the files it edits."""

from __future__ import annotations

import datetime as dt
import importlib.util
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

import nginx_eip_failover
from template_loader import load_template

ROOT = Path(__file__).resolve().parents[2]


def _release_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("release_tool", ROOT / "tools" / "release.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


release_tool = _release_module()


def test_one_version_pyproject_package_and_template_agree() -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    repo = load_template(ROOT / "template.yaml")["Metadata"]["AWS::ServerlessRepo::Application"]
    assert nginx_eip_failover.__version__ == version
    assert repo["SemanticVersion"] == version
    release_tool.parse(version)  # semantic


def test_serverless_repo_metadata_is_complete() -> None:
    repo = load_template(ROOT / "template.yaml")["Metadata"]["AWS::ServerlessRepo::Application"]
    for key in ("Name", "Description", "Author", "SpdxLicenseId", "LicenseUrl", "ReadmeUrl", "Labels"):
        assert repo.get(key), key
    for key in ("HomePageUrl", "SourceCodeUrl"):
        assert str(repo[key]).startswith("https://"), key
    # sam package uploads these local files; they must exist.
    assert (ROOT / repo["LicenseUrl"]).is_file() and (ROOT / repo["ReadmeUrl"]).is_file()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert repo["SpdxLicenseId"] == project["license"]["text"]
    assert repo["HomePageUrl"] == project["urls"]["Homepage"]


def test_the_changelog_keeps_an_unreleased_section_above_the_releases() -> None:
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    sections = [line for line in text.splitlines() if line.startswith("## [")]
    assert sections[0] == "## [Unreleased]"
    current = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    assert any(line.startswith(f"## [{current}] - ") for line in sections), f"no CHANGELOG section for {current}"


@pytest.mark.parametrize(
    ("older", "newer"), [("0.1.0", "0.1.1"), ("0.1.9", "0.2.0"), ("1.0.0-rc.1", "1.0.0"), ("1.0.0-alpha", "1.0.0-beta")]
)
def test_semantic_versions_order(older: str, newer: str) -> None:
    assert release_tool.parse(older) < release_tool.parse(newer)


# ---------------------------------------------------------------------- make release on a scratch repo


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    if shutil.which("git") is None:
        pytest.fail("git is needed for the release test")
    for relative in ("pyproject.toml", "src/nginx_eip_failover/__init__.py", "template.yaml", "CHANGELOG.md"):
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / relative, tmp_path / relative)
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@example.com", "add", ".")
    _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "start")
    _git(tmp_path, "config", "user.name", "Release Test")
    _git(tmp_path, "config", "user.email", "release@example.com")
    return tmp_path


def _next_minor(repo: Path) -> str:
    major, minor, _patch, _ = release_tool.parse(release_tool.versions(repo)["pyproject.toml"])
    return f"{major}.{minor + 1}.0"


def test_release_bumps_all_three_moves_the_changelog_and_tags(scratch: Path) -> None:
    version = _next_minor(scratch)
    tag = release_tool.release(scratch, version, today=dt.date(2027, 1, 2))
    assert tag == f"v{version}"
    assert set(release_tool.versions(scratch).values()) == {version}
    changelog = (scratch / "CHANGELOG.md").read_text(encoding="utf-8")
    sections = [line for line in changelog.splitlines() if line.startswith("## [")]
    assert sections[:2] == ["## [Unreleased]", f"## [{version}] - 2027-01-02"]
    # The released section holds what Unreleased held; Unreleased is empty again.
    unreleased = changelog.split("## [Unreleased]", 1)[1].split(f"## [{version}]", 1)[0]
    assert unreleased.strip() == ""
    assert "make contract-test" in changelog.split(f"## [{version}]", 1)[1].split("## [", 1)[0]
    assert _git(scratch, "cat-file", "-t", tag).strip() == "tag"  # annotated, not lightweight
    assert _git(scratch, "status", "--porcelain").strip() == ""
    assert _git(scratch, "log", "-1", "--format=%s").strip() == f"Release {version}"


def test_release_refuses_a_dirty_tree_and_changes_nothing(scratch: Path) -> None:
    (scratch / "template.yaml").write_text((scratch / "template.yaml").read_text() + "\n# edit\n")
    before = release_tool.versions(scratch)
    with pytest.raises(release_tool.ReleaseError, match="not clean"):
        release_tool.release(scratch, _next_minor(scratch))
    assert release_tool.versions(scratch) == before
    assert _git(scratch, "tag", "--list").strip() == ""


@pytest.mark.parametrize(
    ("version", "why"), [("1.2", "not a semantic version"), ("v1.2.3", "not a semantic"), ("0.0.1", "not above")]
)
def test_release_refuses_bad_or_older_versions(scratch: Path, version: str, why: str) -> None:
    with pytest.raises(release_tool.ReleaseError, match=why):
        release_tool.release(scratch, version)


def test_release_refuses_an_empty_unreleased_section(scratch: Path) -> None:
    release_tool.release(scratch, _next_minor(scratch))
    with pytest.raises(release_tool.ReleaseError, match="lists no change"):
        release_tool.release(scratch, _next_minor(scratch))
