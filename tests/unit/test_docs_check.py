"""make docs-check: what it refuses in a doc, and that the real docs pass it."""

from __future__ import annotations

from pathlib import Path

import pytest

from nginx_eip_failover_docs.__main__ import generated
from nginx_eip_failover_docs.check import check_all, check_doc, make_targets, makefile_modules
from nginx_eip_failover_docs.references import cli_commands, parameters_page
from nginx_eip_failover_lab.stack.cfn_yaml import load_template

ROOT = Path(__file__).resolve().parents[2]


def findings_in(tmp_path: Path, text: str) -> list[str]:
    docs = tmp_path / "docs"
    docs.mkdir()
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "real.py").write_text("", encoding="utf-8")
    doc = docs / "page.md"
    doc.write_text(text, encoding="utf-8")
    found = check_doc(
        tmp_path,
        doc,
        targets={"test", "demo"},
        commands={"status", "fleet show"},
        names={"MonitorFunction"},
        parameters={"FallThreshold"},
    )
    return [finding.problem for finding in found]


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("see `src/missing.py`", "names src/missing.py, which does not exist"),
        ("run `make soak-everything`", "names `make soak-everything`, which the Makefile does not define"),
        ("`nginx-eip-failover frobnicate`", "names `nginx-eip-failover frobnicate`, which the CLI does not have"),
        ("set `FallThresholdSeconds`", "names `FallThresholdSeconds`, which is not a template parameter or resource"),
        ("the state keeps the last 100 events", "says history entries kept in the state is 100; the code says 20"),
        ("a running monitor refreshes its cached state every 15 s", "says cached state refresh period (s) is 15"),
    ],
)
def test_a_doc_that_names_what_does_not_exist_or_contradicts_the_code_is_refused(
    tmp_path: Path, line: str, problem: str
) -> None:
    problems = findings_in(tmp_path, f"intro\n{line}\n")
    assert len(problems) == 1 and problems[0].startswith(problem), problems


def test_what_exists_and_facts_quoted_as_past_pass(tmp_path: Path) -> None:
    text = (
        "see `src/real.py`, `make test`, `nginx-eip-failover fleet show`, `FallThreshold`, `MonitorFunction`\n"
        "the state keeps the last 20 events\n"
        "a running monitor refreshes its cached state every 30 s (it was 15 s)\n"
    )
    assert findings_in(tmp_path, text) == []


def test_every_template_parameter_is_in_the_generated_reference() -> None:
    page = parameters_page(ROOT / "template.yaml")
    for name in load_template(ROOT / "template.yaml")["Parameters"]:
        assert f"| `{name}` |" in page


def test_the_cli_reference_lists_every_command() -> None:
    commands = {path for path, _ in cli_commands()}
    assert {"status", "failover", "plan", "preflight", "fleet show", "explain", "replay", "log"} <= commands


def test_the_repository_docs_pass_docs_check() -> None:
    # The generated pages are current, and README, ARCHITECTURE and docs/ name only what exists.
    findings = check_all(ROOT, generated(ROOT))
    assert [str(finding) for finding in findings] == []
    assert "docs-check" in make_targets(ROOT / "Makefile")


def test_a_module_moved_into_a_package_is_not_saved_by_its_parent(tmp_path: Path) -> None:
    package = tmp_path / "src" / "nginx_eip_failover_lab"
    (package / "iam").mkdir(parents=True)
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "iam" / "__init__.py").write_text("", encoding="utf-8")
    (package / "iam" / "policy_documents.py").write_text("def main() -> None: ...\n", encoding="utf-8")
    (tmp_path / "Makefile").write_text(
        "iam-lint:\n\tpython -m nginx_eip_failover_lab.iam_policy_documents out\n"
        "ok:\n\tpython -m nginx_eip_failover_lab.iam.policy_documents out\n",
        encoding="utf-8",
    )
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "page.md").write_text(
        "`nginx_eip_failover_lab.iam_policy_documents`\n"
        "`nginx_eip_failover_lab.iam.policy_documents` and `nginx_eip_failover_lab.iam.policy_documents.main`\n"
        "`nginx_eip_failover_lab.iam.policy_documents.missing`\n",
        encoding="utf-8",
    )
    found = check_doc(
        tmp_path, tmp_path / "docs" / "page.md", targets=set(), commands=set(), names=set(), parameters=set()
    )
    assert [(f.line, f.problem) for f in found] == [
        (1, "names module nginx_eip_failover_lab.iam_policy_documents, which does not exist"),
        (3, "names module nginx_eip_failover_lab.iam.policy_documents.missing, which does not exist"),
    ]
    assert [str(f) for f in makefile_modules(tmp_path)] == [
        "Makefile:2: runs module nginx_eip_failover_lab.iam_policy_documents, which does not exist"
    ]
