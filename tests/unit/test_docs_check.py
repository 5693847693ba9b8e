"""make docs-check: what it refuses in a doc, and that the real docs pass it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nginx_eip_failover_docs.__main__ import generated
from nginx_eip_failover_docs.check import check_all, check_doc, make_targets, makefile_modules
from nginx_eip_failover_docs.figures import figures_page, load_figures
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
        ("`history --limit 100` shows the last 100 recorded events", "says history entries kept in the state is 100"),
        ("the last 200 are kept in memory and written", "says steady cycles the decision log buffers is 200"),
        ("each container re-reads the state at most every 15 s", "says cached state refresh period (s) is 15"),
        ("every function reads it at cold start and again every 30 s", "says fleet document refresh period (s) is 30"),
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


# ----------------------------------------------------------------------------- measured figures

FIGURES = {
    "failover_time.defaults.median_s": (2.55, "s"),
    "failover_time.defaults.p95_s": (3.66, "s"),
    "fleet_cost.lean.1.stack": (5.3912, "$"),
    "cost.nlb": (28.105, "$"),
}


def write_figures(root: Path, figures: dict[str, tuple[float, str]] = FIGURES) -> None:
    (root / "docs").mkdir(exist_ok=True)
    body = {
        "figures": {
            name: {"value": value, "unit": unit, "label": name, "command": "python -m bench", "measured": "2026-12-06"}
            for name, (value, unit) in figures.items()
        }
    }
    (root / "docs" / "figures.json").write_text(json.dumps(body), encoding="utf-8")


def figure_findings(tmp_path: Path, text: str) -> list[str]:
    write_figures(tmp_path)
    doc = tmp_path / "docs" / "page.md"
    doc.write_text(text, encoding="utf-8")
    found = check_doc(
        tmp_path,
        doc,
        targets=set(),
        commands=set(),
        names=set(),
        parameters=set(),
        figures=load_figures(tmp_path),
    )
    return [f"{finding.line}: {finding.problem}" for finding in found]


@pytest.mark.parametrize(
    ("line", "quoted"),
    [
        ("Failover at the defaults: 2.37 s median.", "a failover time of 2.37 s"),
        ("| Failover, defaults: median / p95 | 2.55 / 2.83 s |", "a failover time of 2.83 s"),
        ("A lean stack costs $5.62 a month.", "a cost of $5.62"),
        ("The stack costs $5.62 a month, as it did before the hand-off.", "a cost of $5.62"),
        ("an old figure: $1,234.50 a month", "a cost of $1,234.50"),
    ],
)
def test_a_quoted_figure_that_the_generated_figures_do_not_hold_is_refused(
    tmp_path: Path, line: str, quoted: str
) -> None:
    problems = figure_findings(tmp_path, f"intro\n{line}\n")
    assert len(problems) == 1 and problems[0].startswith(f"2: quotes {quoted}, which is not a figure"), problems


def test_current_figures_past_values_and_samples_of_output_pass(tmp_path: Path) -> None:
    text = (
        "Failover: 2.55 s median, 3.66 s p95 at the defaults (2.55 / 3.66 s).\n"
        "A lean stack is $5.39 a month; an NLB $28.11.\n"
        "At the defaults the failover median went from 2.37 s to 2.55 s.\n"
        "The bill was $5.62 before the cut (it was $5.17 earlier).\n"
        "Probing pauses 1.37 s at most (seconds elsewhere are not checked).\n"
        "```\nFailover time: 1.20 s   (a sample of the demo's output)\n```\n"
    )
    assert figure_findings(tmp_path, text) == []


def test_a_line_that_only_mentions_the_past_no_longer_excuses_a_stale_fact(tmp_path: Path) -> None:
    # The old exemption skipped any line containing "before" or "old"; now only the number's own words count.
    assert findings_in(tmp_path, "intro\nas before, the state keeps the last 100 events\n") == [
        "says history entries kept in the state is 100; the code says 20"
    ]
    (tmp_path / "b").mkdir()
    assert findings_in(tmp_path / "b", "it refreshes every 30 s (it was refreshed every 15 s)\n") == []


def test_figures_page_is_generated_from_figures_json_and_stale_when_it_changes(tmp_path: Path) -> None:
    write_figures(tmp_path)
    page = figures_page(tmp_path)
    assert "| `failover_time.defaults.median_s` | 2.55 s |" in page
    assert "$5.39" in page and "$28.11" in page  # rounded as docs quote them
    (tmp_path / "docs" / "figures.md").write_text(page, encoding="utf-8")
    write_figures(tmp_path, {**FIGURES, "failover_time.defaults.median_s": (2.61, "s")})
    assert figures_page(tmp_path) != page


def test_what_the_benchmarks_record_is_what_docs_check_reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bench import figures as recorded

    (tmp_path / "docs").mkdir()
    monkeypatch.setenv("BENCH_FIGURES", str(tmp_path / "docs" / "figures.json"))
    recorded.record("failover_time.defaults.median_s", 2.554, "s", "median", command="python -m bench.failover_time")
    recorded.record("fleet_cost.lean.1.stack", 5.3912, "$", "stack", command="python -m bench --only fleet_cost")
    loaded = load_figures(tmp_path)
    assert loaded["failover_time.defaults.median_s"].shown == "2.55 s"
    assert loaded["fleet_cost.lean.1.stack"].command == "python -m bench --only fleet_cost"
    doc = tmp_path / "docs" / "page.md"
    doc.write_text("failover in 2.55 s for $5.39; once $5.40\n", encoding="utf-8")
    found = check_doc(tmp_path, doc, targets=set(), commands=set(), names=set(), parameters=set(), figures=loaded)
    assert [finding.problem.split(",")[0] for finding in found] == ["quotes a cost of $5.40"]
    with pytest.raises(ValueError, match="unit 'seconds'"):
        recorded.record("x", 1.0, "seconds", "bad unit", command="c")


def test_the_repository_figures_are_recorded_with_their_command() -> None:
    figures = load_figures(ROOT)
    assert figures, "docs/figures.json is empty"
    for name in ("failover_time.defaults.median_s", "fleet_cost.lean.1.stack", "fleet_cost.lean.8.per_pair"):
        assert name in figures and figures[name].command and figures[name].measured


def test_a_quote_is_held_to_the_figure_it_names_and_a_named_figure_must_exist(tmp_path: Path) -> None:
    text = (
        "A lean stack costs $5.39 a month (`fleet_cost.lean.1.stack`).\n"
        "An NLB costs $5.39 (`cost.nlb`): a real figure's value, but not this one's.\n"
        "The median failover is 2.55 s (`failover_time.defaults.median_s`; all: `failover_time.defaults.*`).\n"
        "See `failover_time.aggressive.median_s` and `cost.nothing.*`.\n"
    )
    assert figure_findings(tmp_path, text) == [
        "2: quotes $5.39 as cost.nlb, which is $28.11 (2026-12-06)",
        "4: names figure failover_time.aggressive.median_s, which docs/figures.json does not have",
        "4: names figure cost.nothing.*, which docs/figures.json does not have",
    ]
