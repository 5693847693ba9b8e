"""The decision log: records and their bounds, the steady window, the controller's hooks, the DynamoDB
adapter (moto), replay (exact with the recorded settings, a different and correct timeline with
others), explain and the CLI working offline on an exported log."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from nginx_eip_failover.adapters.dynamodb.decision_log import DecisionLogTable
from nginx_eip_failover.cli import main
from nginx_eip_failover.cli.transports import Response
from nginx_eip_failover.core.errors import InvalidRequestError
from nginx_eip_failover.core.log_records import (
    WINDOW_MAX_BYTES,
    WINDOW_MAX_CYCLES,
    ChangeRecord,
    SteadyCycle,
    SteadyWindow,
    bounded_window,
    record_from_dict,
    record_json,
    record_size,
    record_to_dict,
)
from nginx_eip_failover.core.ports import Observation
from nginx_eip_failover.service.decision_journal import DecisionJournal
from nginx_eip_failover.service.incident import build_timeline, move_rule
from nginx_eip_failover.service.log_query import LogQuery, log_answer
from nginx_eip_failover.service.operator_requests import parse_control_request
from nginx_eip_failover.service.replay import ReplayError, replay, settings_with
from support.core_builders import I1, I2
from support.decision_log_scenario import START, MemoryLog, build_incident
from support.moto_tables import create_table

# ------------------------------------------------------------------------------------------ records


def test_every_record_survives_its_json_form() -> None:
    incident = build_incident()
    records = incident.log.records()
    assert {type(r) for r in records} == {ChangeRecord, SteadyWindow}
    for record in records:
        assert record_from_dict(json.loads(record_json(record))) == record
        assert record_from_dict(record_to_dict(record)) == record


def test_a_change_record_holds_inputs_outputs_and_settings() -> None:
    incident = build_incident()
    failover = next(
        r for r in incident.log.records() if isinstance(r, ChangeRecord) and r.move and r.move.id == "m0008"
    )
    assert failover.op == "cycle"
    assert failover.association == I1 and failover.actor == "monitor:schedule"
    assert [(o.node, o.ok, o.detail) for o in failover.observations] == [
        ("node1", False, "connection refused"),
        ("node2", True, "HTTP 200, 1/1 peers up"),
    ]
    assert failover.move_id == "m0008" and failover.may_move is True
    assert failover.reason.startswith("failover: node1 is down")
    assert [e.event for e in failover.events] == ["node_down", "move_started"]
    assert failover.settings["fall_threshold"] == 3 and failover.version_after == failover.version_before + 1
    assert failover.state_before.history == ()  # the history is the core's output: in `events`
    outcome = next(
        r for r in incident.log.records() if isinstance(r, ChangeRecord) and r.op == "outcome" and r.move_id == "m0008"
    )
    assert outcome.association == I2 and outcome.error is None and outcome.cause == "ec2"


def test_free_text_is_bounded_in_bytes() -> None:
    log = MemoryLog()
    incident = build_incident()
    settings = incident.settings
    journal = DecisionJournal(log, settings, writer="w9")
    from nginx_eip_failover.core.decision import Context, decide

    huge = "ü" * 100_000
    ctx = Context(settings, START, "monitor:alarm:" + huge)
    snapshot = incident.world.load()
    observations = [Observation("node1", False, huge, 1.0, observer=huge), Observation("node2", True, "ok", 1.0)]
    journal.attempt(snapshot.state, I2, ctx, probed_at=START, observations=observations, move_id="x1")
    decision = decide(snapshot.state, I2, ctx, move_id="x1")
    journal.committed(decision, snapshot.version, snapshot.version + 1)
    journal.flush()
    [record] = log.records()
    assert isinstance(record, ChangeRecord)
    assert len(record.observations[0].detail.encode()) <= 200
    assert len(record.observations[0].observer.encode()) <= 200
    assert len(record.actor.encode()) <= 2000
    assert record_size(record) < 12_000


def test_the_steady_window_is_bounded_in_count_and_bytes() -> None:
    observation = Observation("node1", True, "x" * 200, 1.0)
    cycles = [
        SteadyCycle(
            START + i, START + i, 3, I1, (observation, observation), f"m{i}", True, "monitor:schedule", "y" * 1500
        )
        for i in range(WINDOW_MAX_CYCLES)
    ]
    window = bounded_window("w1", 1, "fp", cycles)
    assert record_size(window) <= WINDOW_MAX_BYTES
    assert window.dropped == WINDOW_MAX_CYCLES - len(window.cycles) > 0
    assert window.cycles[-1] == cycles[-1]  # the newest kept: what led up to the change


# ------------------------------------------------------------------------------------ the controller


def test_steady_cycles_write_nothing_and_go_with_the_next_change() -> None:
    incident = build_incident()
    writes = list(incident.log.appends)
    incident.cycle(10)  # steady on node2 (node1 still down)
    assert incident.log.appends == writes
    incident.world.ok["node1"] = True
    incident.cycle()  # node1's first good probe: a change
    assert len(incident.log.appends) == len(writes) + 1
    window, change = incident.log.records()[-2:]
    assert isinstance(window, SteadyWindow) and len(window.cycles) >= 10  # and the cycles before them
    assert [c.association for c in window.cycles[-10:]] == [I2] * 10
    assert isinstance(change, ChangeRecord) and change.op == "cycle"


def test_one_write_per_changed_cycle_after_the_ec2_call() -> None:
    incident = build_incident()
    calls: list[str] = []
    world = incident.world
    original_move, original_append = world.move, incident.log.append
    world.move = lambda instance_id, **kw: (calls.append("associate"), original_move(instance_id, **kw))[1]  # type: ignore[method-assign]
    incident.log.append = lambda records: (calls.append(f"log {len(records)}"), original_append(records))[1]  # type: ignore[method-assign]
    world.ok["node1"] = True
    incident.cycle(13)  # node1 up, then failback after the preempt delay
    assert calls[-2:] == ["associate", "log 3"]  # window, the move's decision and its outcome: one batch
    assert all(call.startswith("log") for call in calls[:-2])


def test_a_failing_log_never_fails_the_cycle_and_is_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    incident = build_incident()
    counted: list[str] = []
    from nginx_eip_failover.service import decision_journal

    monkeypatch.setattr(decision_journal.metrics, "add_metric", lambda name, **_: counted.append(name))
    incident.log.fail = True
    incident.world.ok["node1"] = True
    incident.cycle(13)  # the failback happens all the same
    assert incident.world.holder == I1
    assert "DecisionLogErrors" in counted
    lost = len(incident.log.lines)
    incident.log.fail = False
    incident.world.ok["node2"] = False
    incident.cycle()
    assert len(incident.log.lines) > lost + 1  # the queued records went with the next change
    assert replay(incident.log.records()).exact


def test_no_log_no_hooks_cost() -> None:
    journal = DecisionJournal(None, build_incident().settings)
    assert not journal.enabled
    journal.flush()


# ---------------------------------------------------------------------------------------- the table


@pytest.fixture
def table(boto_session: boto3.session.Session) -> Any:
    with mock_aws():
        client = boto_session.client("dynamodb", region_name="us-east-1")
        create_table(client, "log", sort_key="sk")
        yield client


def test_the_table_adapter_appends_and_reads_by_time(table: Any) -> None:
    records = build_incident().log.records()
    log = DecisionLogTable(table, "log", "eipalloc-00000000000000001", retention_days=14, clock=lambda: START)
    log.append(records)  # 27 records: two batches
    items = table.scan(TableName="log")["Items"]
    assert len(items) == len(records)
    assert {item["pk"]["S"] for item in items} == {"eip#eipalloc-00000000000000001"}
    assert {item["expires_at"]["N"] for item in items} == {str(int(START) + 14 * 86400)}
    assert sorted(log.read(START - 1, START + 100), key=lambda r: r.key) == sorted(records, key=lambda r: r.key)
    later = log.read(START + 20, START + 100)
    assert later and all(record.at >= START + 20 for record in later)
    first, second = log.read(START - 1, START + 100, limit=5), None
    second = log.read(START - 1, START + 100, limit=5, after=first[-1].key)
    assert [r.key for r in first + second] == sorted(r.key for r in records)[:10]


def test_the_log_action_pages_and_validates(table: Any) -> None:
    records = build_incident().log.records()
    log = DecisionLogTable(table, "log", "eipalloc-00000000000000001", clock=lambda: START)
    log.append(records)
    answer = log_answer(LogQuery(since=START - 1, until=START + 100, limit=10), log, START + 100)
    assert len(answer["records"]) == 10 and answer["next"] == answer["records"][-1]["key"]
    rest = log_answer(LogQuery(since=START - 1, until=START + 100, limit=1000, after=answer["next"]), log, START)
    assert rest["next"] is None and len(answer["records"]) + len(rest["records"]) == len(records)
    assert log_answer(LogQuery(), None, START)["enabled"] is False
    settings = build_incident().settings
    assert parse_control_request({"action": "log", "since": 5, "limit": 3}, settings).log == LogQuery(5.0, None, 3)
    for bad in (
        {"limit": 0},
        {"limit": True},
        {"since": "1h"},
        {"after": "x"},
        {"since": 9, "until": 1},
        {"node": "n"},
    ):
        with pytest.raises(InvalidRequestError):
            parse_control_request({"action": "log", **bad}, settings)


@pytest.mark.parametrize("field", ["since", "until"])
def test_a_log_bound_in_epoch_milliseconds_is_refused_naming_the_field(field: str) -> None:
    """Past 2286-11-20 (9,999,999,999 s) a bound is epoch milliseconds by mistake: the log's 13-digit
    millisecond keys cannot hold it, and it used to answer the wrong records without an error."""
    settings = build_incident().settings
    milliseconds = int(START * 1000)
    with pytest.raises(InvalidRequestError) as raised:
        parse_control_request({"action": "log", field: milliseconds}, settings)
    assert (raised.value.field, raised.value.value) == (field, milliseconds)
    assert "milliseconds" in str(raised.value)
    last = 9_999_999_999
    assert getattr(parse_control_request({"action": "log", field: last}, settings).log, field) == last


# ------------------------------------------------------------------------------------------ replay


def test_replay_with_the_recorded_settings_reproduces_every_decision_exactly() -> None:
    incident = build_incident()
    result = replay(incident.log.records())
    assert result.exact, [s.mismatch for s in result.mismatches]
    assert result.gaps == 0
    # Every state-changing step was replayed: all 7 moves (placement, failover, failback, operator
    # failover, failback after unpin, the failed move and its retry) with their outcomes.
    started = [(e.node, e.detail["id"]) for _at, e in result.moves("replayed") if e.event == "move_started"]
    assert [node for node, _id in started] == ["node1", "node2", "node1", "node2", "node1", "node2", "node2"]
    assert [e.event for _at, e in result.moves("replayed")].count("move_failed") == 1
    # ... and the replayed history is the controller's own
    stored = incident.world.load().state.history
    replayed = [e for step in result.steps for e in step.replayed_events]
    assert replayed[-len(stored) :] == list(stored)


def test_replay_reports_a_record_that_does_not_match_the_core() -> None:
    records = build_incident().log.records()
    index = next(i for i, r in enumerate(records) if isinstance(r, ChangeRecord) and r.move and r.move.id == "m0008")
    change = records[index]
    assert isinstance(change, ChangeRecord)
    records[index] = replace(change, observations=tuple(replace(o, ok=True) for o in change.observations))
    result = replay(records)
    assert not result.exact
    assert "m0008" in (result.mismatches[0].mismatch or "")


def test_a_lost_record_is_a_gap_and_the_replay_resynchronises() -> None:
    records = build_incident().log.records()
    del records[5]
    result = replay(records)
    assert result.gaps == 1
    assert result.exact  # every record present still reproduces exactly


def test_replay_with_fall_threshold_1_fails_over_on_the_first_failed_probe() -> None:
    incident = build_incident()
    result = replay(incident.log.records(), {"FallThreshold": "1"})
    failovers = [
        at for at, e in result.moves("replayed") if e.event == "move_started" and e.reason.startswith("failover")
    ]
    recorded = [
        at for at, e in result.moves("recorded") if e.event == "move_started" and e.reason.startswith("failover")
    ]
    assert failovers[0] == incident.marks["node1_fails"]  # the first failed probe
    assert recorded[0] == incident.marks["node1_fails"] + 2  # FallThreshold 3: two intervals later
    assert failovers[1] == incident.marks["node1_fails_again"]
    # The recorded failed move (another move id) is not replayed: that failover succeeds at once.
    assert not [e for _at, e in result.moves("replayed") if e.event == "move_failed"]


def test_replay_with_a_longer_preempt_delay_fails_back_later_and_skips_the_operators_move() -> None:
    incident = build_incident()
    result = replay(incident.log.records(), {"PreemptDelaySeconds": "20"})
    moves = [
        (at - START, e.node, move_rule(e.reason)) for at, e in result.moves("replayed") if e.event == "move_started"
    ]
    # node1 is up again at +12: no failback at +22 any more; the operator's failover to node2 finds
    # the EIP there already (pinned, no move); after unpin node1 has been up 20 s at +32.
    assert moves[:4] == [
        (0.0, "node1", "placement"),
        (7.0, "node2", "failover"),
        (32.0, "node1", "preempt"),
        (37.0, "node2", "failover"),
    ]


def test_unknown_or_invalid_settings_are_refused_with_their_name() -> None:
    settings = build_incident().settings
    with pytest.raises(ReplayError, match="NoSuchThing"):
        settings_with(settings, {"NoSuchThing": "1"})
    with pytest.raises(ReplayError, match="FALL_THRESHOLD"):
        settings_with(settings, {"FallThreshold": "0"})
    assert settings_with(settings, {"Node2Priority": "200"}).nodes[1].priority == 200
    assert settings_with(settings, {}) == replace(settings, table_name=settings.table_name)


# ------------------------------------------------------------------------------------ explain, CLI


def test_explain_shows_transitions_not_every_probe() -> None:
    timeline = build_timeline(build_incident().log.records())
    kinds = [e.kind for e in timeline.events]
    assert kinds.count("probe") == 5  # the first probe of each node; node1 fails, recovers, fails again
    rules = [e.rule for e in timeline.events if e.kind == "move" and e.rule]
    assert rules == ["placement", "failover", "preempt", "operator", "preempt", "failover", "failover"]
    assert [holder for _s, _e, holder in timeline.holder if _e > _s][:3] == ["node1", "node2", "node1"]


def _export(tmp_path: Path) -> Path:
    path = tmp_path / "incident.jsonl"
    path.write_text("\n".join(build_incident().log.lines) + "\n", encoding="utf-8")
    return path


def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err, environ={})
    return code, out.getvalue(), err.getvalue()


def test_cli_works_offline_on_an_exported_log(tmp_path: Path) -> None:
    path = _export(tmp_path)
    code, out, _ = _cli("replay", "--log-file", str(path))
    assert code == 0 and "EXACT" in out
    code, out, _ = _cli("replay", "--log-file", str(path), "--set", "FallThreshold=1")
    assert code == 0 and "-> node2 [failover] ok" in out
    code, out, _ = _cli("explain", "--log-file", str(path))
    assert code == 0 and "[preempt]" in out and "operator: failover node2" in out
    code, _, err = _cli("replay", "--log-file", str(path), "--set", "Bogus=1")
    assert code == 2 and "Bogus" in err


def test_explain_draws_an_svg_and_an_html_page(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    path = _export(tmp_path)
    code, _, _ = _cli("explain", "--log-file", str(path), "--svg", str(tmp_path / "t.svg"))
    assert code == 0 and (tmp_path / "t.svg").read_text().lstrip().startswith("<?xml")
    code, _, _ = _cli("explain", "--log-file", str(path), "--html", str(tmp_path / "t.html"))
    assert code == 0 and "<svg" in (tmp_path / "t.html").read_text()


def test_cli_reads_the_log_through_the_control_action_page_by_page() -> None:
    records = build_incident().log.records()
    pages = [records[:10], records[10:]]
    sent: list[dict[str, Any]] = []

    def transport(request: Any) -> Response:
        sent.append(dict(request))
        page = pages[len(sent) - 1]
        next_key = page[-1].key if len(sent) < len(pages) else None
        return Response(
            payload={
                "ok": True,
                "action": "log",
                "enabled": True,
                "records": [record_to_dict(r) for r in page],
                "next": next_key,
            }
        )

    out, err = io.StringIO(), io.StringIO()
    code = main(["log", "export", "--since", "2d"], transport=transport, out=out, err=err)
    assert code == 0, err.getvalue()
    assert [json.loads(line)["key"] for line in out.getvalue().splitlines()] == [r.key for r in records]
    assert sent[0]["action"] == "log" and "after" not in sent[0] and sent[1]["after"] == records[9].key


def test_two_racers_recording_one_identical_write_replay_as_one_step() -> None:
    """Racers that compute byte-identical states both count the write as theirs (the store's
    lost-answer rule) and both record it: replay takes the second record as the same write."""
    from dataclasses import replace as copy_with

    from nginx_eip_failover.core.log_records import ChangeRecord

    records = build_incident().log.records()
    index, twin = next((i, r) for i, r in enumerate(records) if isinstance(r, ChangeRecord) and r.op == "cycle")
    racer = copy_with(twin, writer="racer", seq=0, at=twin.at + 0.01)
    result = replay([*records[: index + 1], racer, *records[index + 1 :]])
    assert result.exact and result.gaps == 0 and result.duplicates == 1
