"""The operator CLI: parsing, the exact requests, rendering, exit codes, and the deployed transport.

The transport is injected (a fake records the requests and answers like the ControlFunction);
the boto3 transport is exercised with a botocore Stubber for Lambda and moto for CloudFormation.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from moto import mock_aws

from nginx_eip_failover import cli
from nginx_eip_failover.core.ports import Association, Snapshot
from nginx_eip_failover.core.state import ControllerState, Drain, HistoryEntry, NodeHealth, Pin
from nginx_eip_failover.service.status import build_status
from support.core_builders import I1, I2, settings

# A status document as the ControlFunction returns it (shape of status.build_status).
STATUS: dict[str, Any] = {
    "eip": {
        "allocation_id": "eipalloc-0123456789abcdef0",
        "public_ip": "198.51.100.7",
        "instance_id": "i-0123456789abcdef2",
        "node": "node2",
        "foreign": False,
    },
    "nodes": {
        "node1": {
            "name": "node1",
            "instance_id": "i-0123456789abcdef1",
            "priority": 101,
            "health_check_url": "http://10.0.1.10:8080/api/9/http/upstreams/backend",
            "health": "down",
            "up": False,
            "since": "2025-06-01T10:00:05.250Z",
            "last_change_reason": "connection refused",
            "ok_streak": 0,
            "fail_streak": 3,
            "rise_threshold": 2,
            "fall_threshold": 3,
            "holds_eip": False,
            "pinned": False,
            "drained": True,
            "drain": {"reason": "kernel upgrade", "by": "operator", "at": "2025-06-01T10:00:00.000Z"},
            "flap_damped": False,
            "recent_flaps": 1,
        },
        "node2": {
            "name": "node2",
            "instance_id": "i-0123456789abcdef2",
            "priority": 100,
            "health_check_url": "http://10.0.2.10:8080/api/9/http/upstreams/backend",
            "health": "up",
            "up": True,
            "since": "2025-06-01T08:00:00.000Z",
            "last_change_reason": "HTTP 200",
            "ok_streak": 2,
            "fail_streak": 0,
            "rise_threshold": 2,
            "fall_threshold": 3,
            "holds_eip": True,
            "pinned": True,
            "drained": False,
            "drain": None,
            "flap_damped": False,
            "recent_flaps": 0,
        },
    },
    "pin": {"node": "node2", "reason": "patch node1", "by": "operator", "at": "2025-06-01T09:59:58.000Z"},
    "drains": ["node1"],
    "move_in_progress": None,
    "alerts": [],
    "recent_moves": [
        {
            "at": "2025-06-01T09:59:58.400Z",
            "event": "move_completed",
            "reason": "operator failover to node2: patch node1",
            "by": "operator",
            "node": "node2",
            "detail": {"id": "m1", "from": "node1", "seconds": 0.412},
        }
    ],
    "history": [
        {
            "at": "2025-06-01T09:59:58.000Z",
            "event": "control_failover",
            "reason": "patch node1",
            "by": "operator",
            "node": "node2",
            "detail": {},
        },
        {
            "at": "2025-06-01T09:59:58.400Z",
            "event": "move_completed",
            "reason": "operator failover to node2: patch node1",
            "by": "operator",
            "node": "node2",
            "detail": {"id": "m1", "from": "node1", "seconds": 0.412},
        },
        {
            "at": "2025-06-01T10:00:00.000Z",
            "event": "control_drain",
            "reason": "kernel upgrade",
            "by": "operator",
            "node": "node1",
            "detail": {},
        },
        {
            "at": "2025-06-01T10:00:05.250Z",
            "event": "node_down",
            "reason": "connection refused",
            "by": "monitor:schedule",
            "node": "node1",
            "detail": {},
        },
    ],
    "last_move_at": "2025-06-01T09:59:58.400Z",
    "state_version": 42,
    "settings": {
        "preempt": True,
        "preempt_delay_seconds": 60.0,
        "interval_seconds": 1.0,
        "timeout_seconds": 1.0,
        "min_seconds_between_moves": 30.0,
    },
    "checked_at": "2025-06-01T10:05:06.000Z",
}

EXPECTED_STATUS_TABLE = """\
Elastic IP  198.51.100.7  eipalloc-0123456789abcdef0  on node2 (i-0123456789abcdef2)
NODE   INSTANCE             PRIORITY  HEALTH  SINCE (UTC)                  OK   FAIL  FLAGS    EIP  LAST CHANGE
node1  i-0123456789abcdef1  101       down    2025-06-01 10:00:05 (5m00s)  0/2  3/3   drained  -    connection refused
node2  i-0123456789abcdef2  100       up      2025-06-01 08:00:00 (2h05m)  2/2  0/3   pinned   yes  HTTP 200
Pin         node2  (by operator at 2025-06-01 09:59:58: patch node1)
Drains      node1 (by operator at 2025-06-01 10:00:00: kernel upgrade)
Alerts      none
Policy      preempt after 1m00s up, at least 30s between moves; probes every 1.0s, timeout 1.0s
Checked     2025-06-01 10:05:06 UTC, state version 42

Recent moves
TIME (UTC)           EVENT           FROM   TO     SECONDS  BY        REASON
2025-06-01 09:59:58  move_completed  node1  node2  0.41     operator  operator failover to node2: patch node1
"""


class FakeFunction:
    """Stands in for the ControlFunction: records every request, answers with a canned response."""

    def __init__(self, response: cli.Response | None = None) -> None:
        self.requests: list[dict[str, Any]] = []
        self.response = response or cli.Response(payload={"ok": True, "action": "status", "status": STATUS})

    def __call__(self, request: Mapping[str, Any]) -> cli.Response:
        self.requests.append(dict(request))
        return self.response


def run_cli(argv: list[str], function: FakeFunction | None = None, **kwargs: Any) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(argv, transport=function, out=out, err=err, **kwargs)
    return code, out.getvalue(), err.getvalue()


# ------------------------------------------------------------------------------------ parsing


@pytest.mark.parametrize(
    ("argv", "request_sent"),
    [
        (["status"], {"action": "status"}),
        (["history"], {"action": "status"}),
        (["history", "--limit", "3"], {"action": "status"}),
        (["failover", "--to", "node2"], {"action": "failover", "target": "node2"}),
        (
            ["failover", "--to", "i-0123456789abcdef2", "--reason", "kernel upgrade", "--force"],
            {"action": "failover", "target": "i-0123456789abcdef2", "force": True, "reason": "kernel upgrade"},
        ),
        (["unpin"], {"action": "unpin"}),
        (["unpin", "--reason", "patched"], {"action": "unpin", "reason": "patched"}),
        (["drain", "node1", "--reason", "maintenance"], {"action": "drain", "node": "node1", "reason": "maintenance"}),
        (["drain", "node1"], {"action": "drain", "node": "node1"}),
        (["undrain", "node1"], {"action": "undrain", "node": "node1"}),
        (["undrain", "node1", "--reason", "done"], {"action": "undrain", "node": "node1", "reason": "done"}),
    ],
)
def test_each_subcommand_sends_its_exact_request(argv: list[str], request_sent: dict[str, Any]) -> None:
    function = FakeFunction()
    code, _, err = run_cli(argv, function)
    assert (code, err) == (0, "")
    assert function.requests == [request_sent]
    assert json.dumps(function.requests[0]) == json.dumps(request_sent)  # same keys, nothing extra


def test_global_options_go_before_or_after_the_subcommand() -> None:
    parser = cli.build_parser()
    before = parser.parse_args(["--profile", "ops", "--region", "eu-west-1", "--stack-name", "s", "--json", "status"])
    after = parser.parse_args(["status", "--profile", "ops", "--region", "eu-west-1", "--stack-name", "s", "--json"])
    for args in (before, after):
        assert (args.profile, args.region, args.stack_name, args.output) == ("ops", "eu-west-1", "s", "json")
    assert parser.parse_args(["status"]).output == "table"
    assert parser.parse_args(["--output", "json", "status"]).output == "json"
    assert parser.parse_args(["status", "--output", "table"]).output == "table"
    mixed = parser.parse_args(["--function-name", "fn", "drain", "node1", "--endpoint-url", "http://127.0.0.1:5000"])
    assert (mixed.function_name, mixed.endpoint_url, mixed.node) == ("fn", "http://127.0.0.1:5000", "node1")
    lab = parser.parse_args(["history", "--lab-file", "/tmp/lab.json"])
    assert (lab.lab, lab.lab_file, lab.limit) == (False, "/tmp/lab.json", cli.DEFAULT_HISTORY_LIMIT)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "required: COMMAND"),
        (["reboot"], "invalid choice: 'reboot'"),
        (["failover"], "--to"),
        (["failover", "node2"], "--to"),
        (["drain"], "NODE"),
        (["history", "--limit", "0"], "must be at least 1"),
        (["history", "--limit", "ten"], "not a whole number"),
        (["status", "--output", "yaml"], "invalid choice: 'yaml'"),
        (["status", "--unknown"], "unrecognized arguments"),
    ],
)
def test_usage_errors_exit_2_and_say_what_is_wrong(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    function = FakeFunction()
    assert cli.main(argv, transport=function) == 2
    assert message in capsys.readouterr().err
    assert function.requests == []


def test_help_and_version_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--help"]) == 0
    assert "failover" in capsys.readouterr().out
    assert cli.main(["failover", "--help"]) == 0
    assert "--force" in capsys.readouterr().out
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("nginx-eip-failover ")


@pytest.mark.parametrize(
    ("argv", "environ", "message"),
    [
        (["status"], {}, "which ControlFunction?"),
        (["status", "--lab", "--function-name", "fn"], {}, "--lab cannot be combined"),
        (["status", "--lab-file", "x.json", "--stack-name", "s"], {}, "--lab cannot be combined"),
        (["status", "--function-name", "fn", "--stack-name", "s"], {}, "not both"),
    ],
)
def test_choosing_the_function_is_a_usage_error_when_ambiguous_or_missing(
    argv: list[str], environ: dict[str, str], message: str
) -> None:
    code, out, err = run_cli(argv, environ=environ)
    assert (code, out) == (2, "")
    assert message in err


def test_the_function_can_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    chosen: list[tuple[str | None, str | None]] = []

    def fake_lambda_transport(function_name: str | None, stack_name: str | None, **_: Any) -> cli.Transport:
        chosen.append((function_name, stack_name))
        return FakeFunction()

    monkeypatch.setattr(cli.transports, "lambda_transport", fake_lambda_transport)
    assert run_cli(["status"], environ={cli.STACK_ENV: "prod-lb"})[0] == 0
    assert run_cli(["status"], environ={cli.FUNCTION_ENV: "fn", cli.STACK_ENV: "prod-lb"})[0] == 0
    assert run_cli(["status", "--stack-name", "s"], environ={cli.FUNCTION_ENV: "fn"})[0] == 0
    assert chosen == [(None, "prod-lb"), ("fn", None), (None, "s")]


# ---------------------------------------------------------------------------------- rendering


def test_status_prints_the_tables() -> None:
    code, out, err = run_cli(["status"], FakeFunction())
    assert (code, err) == (0, "")
    assert out == EXPECTED_STATUS_TABLE


def test_status_of_an_unassociated_or_foreign_eip_with_alerts() -> None:
    status = json.loads(json.dumps(STATUS))
    status["eip"].update(instance_id=None, node=None)
    status["alerts"] = ["no_node_up"]
    status["recent_moves"] = []
    status["move_in_progress"] = {"id": "m2", "target": "node2", "started_at": "2025-06-01T10:05:05.000Z"}
    out = cli.render_status(status)
    assert out.splitlines()[0] == "Elastic IP  198.51.100.7  eipalloc-0123456789abcdef0  UNASSOCIATED"
    assert "Alerts      no_node_up" in out
    assert "Moving      m2 to node2, started 2025-06-01 10:05:05" in out
    assert out.endswith("Recent moves: none")
    status["eip"].update(instance_id="i-00000000000ffff99", foreign=True)
    assert "on i-00000000000ffff99, OUTSIDE THE PAIR" in cli.render_status(status)


def test_history_prints_time_event_node_by_reason_oldest_first_limited() -> None:
    code, out, _ = run_cli(["history", "--limit", "2"], FakeFunction())
    assert code == 0
    assert out == (
        "TIME (UTC)           EVENT          NODE   BY                REASON\n"
        "2025-06-01 10:00:00  control_drain  node1  operator          kernel upgrade\n"
        "2025-06-01 10:00:05  node_down      node1  monitor:schedule  connection refused\n"
    )
    code, out, _ = run_cli(["history", "--json", "--limit", "1"], FakeFunction())
    assert json.loads(out) == STATUS["history"][-1:]
    empty = FakeFunction(cli.Response(payload={"ok": True, "action": "status", "status": {**STATUS, "history": []}}))
    assert run_cli(["history"], empty)[1] == "No history recorded yet.\n"


def test_json_prints_the_raw_answer() -> None:
    payload = {"ok": True, "action": "status", "status": STATUS}
    code, out, _ = run_cli(["--json", "status"], FakeFunction(cli.Response(payload=payload)))
    assert code == 0
    assert json.loads(out) == payload


def test_an_accepted_action_prints_what_happened_then_the_status() -> None:
    payload = {
        "ok": True,
        "action": "failover",
        "result": "operator failover to node2: patch node1",
        "moved_to": "node2",
        "error": None,
        "status": STATUS,
    }
    code, out, err = run_cli(
        ["failover", "--to", "node2", "--reason", "patch node1"], FakeFunction(cli.Response(payload))
    )
    assert (code, err) == (0, "")
    assert out == (
        "Request     failover node2: accepted\n"
        "Decision    operator failover to node2: patch node1\n"
        "Moved       the EIP to node2\n"
        "\n" + EXPECTED_STATUS_TABLE
    )


def test_rendering_reads_the_status_document_the_core_builds() -> None:
    """The CLI and status.build_status agree on every key the tables show."""
    cfg = settings()
    state = ControllerState(
        nodes={
            "node1": NodeHealth(status="down", fail_streak=3, since=1_000.0, reason="refused"),
            "node2": NodeHealth(status="up", ok_streak=2, since=900.0, reason="HTTP 200"),
        },
        association=I2,
        observed=True,
        pin=Pin(node="node2", reason="patch", by="operator", at=950.0),
        drains={"node1": Drain(reason="maintenance", by="operator", at=960.0)},
        alerts=frozenset({"move_failing"}),
        history=(
            HistoryEntry(
                at=950.0,
                event="move_completed",
                reason="operator failover",
                by="operator",
                node="node2",
                detail={"id": "m", "from": "node1", "seconds": 0.25},
            ),
        ),
    )
    document = build_status(Snapshot(state, 7), Association(cfg.allocation_id, "192.0.2.1", I2), cfg, now=1_065.0)
    document = json.loads(json.dumps(document))  # as it crosses Lambda's JSON boundary
    out = cli.render_status(document)
    assert f"192.0.2.1  {cfg.allocation_id}  on node2 ({I2})" in out.splitlines()[0]
    rows = {line.split()[0]: line for line in out.splitlines()[2:4]}
    assert rows["node1"].split()[:5] == ["node1", I1, "101", "down", "1970-01-01"]
    assert "(1m05s)  0/2  3/3   drained  -    refused" in rows["node1"]
    assert "2/2  0/3   pinned   yes  HTTP 200" in rows["node2"]
    assert "Pin         node2  (by operator at 1970-01-01 00:15:50: patch)" in out
    assert "Drains      node1 (by operator at 1970-01-01 00:16:00: maintenance)" in out
    assert "Alerts      move_failing" in out
    assert "state version 7" in out
    assert "1970-01-01 00:15:50  move_completed  node1  node2  0.25     operator  operator failover" in out
    history = cli.render_history(document["history"])
    assert history.splitlines()[1].split()[:5] == ["1970-01-01", "00:15:50", "move_completed", "node2", "operator"]


@pytest.mark.parametrize(
    ("seconds", "shown"), [(0, "0s"), (59.9, "59s"), (61, "1m01s"), (3_600, "1h00m"), (90_061, "1d1h"), (-5, "0s")]
)
def test_durations_are_short(seconds: float, shown: str) -> None:
    assert cli.duration(seconds) == shown


def test_a_reason_with_newlines_stays_on_its_row() -> None:
    entry = {**STATUS["history"][0], "reason": "line one\nline two"}
    assert cli.render_history([entry]).splitlines()[1].endswith("line one line two")


# --------------------------------------------------------------------------------- exit codes

REFUSED = cli.Response(
    payload={"errorType": "RefusedError", "errorMessage": "invalid request: ... [refused:target_down]"},
    error_type="RefusedError",
    error_message=(
        "invalid request: field 'target' = \"node1\": node1 is down (connection refused); "
        'add "force": true to move the EIP there anyway [refused:target_down]'
    ),
)


def test_a_refused_request_exits_1_with_the_functions_message() -> None:
    code, out, err = run_cli(["failover", "--to", "node1"], FakeFunction(REFUSED))
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        "nginx-eip-failover: invalid request: field 'target' = \"node1\": node1 is down (connection refused); "
        'add "force": true to move the EIP there anyway',
        "nginx-eip-failover: add --force to move the EIP there anyway",
    ]


def test_a_refused_request_with_json_prints_the_error_document_too() -> None:
    code, out, err = run_cli(["--json", "failover", "--to", "node1"], FakeFunction(REFUSED))
    assert code == 1
    assert json.loads(out)["errorType"] == "RefusedError"
    assert "node1 is down" in err


@pytest.mark.parametrize(
    ("refusal", "hint"),
    [
        ("target_down", True),
        ("foreign_holder", True),
        ("target_drained", False),
        ("move_in_progress", False),
        (None, False),  # no code: the wording alone never adds the hint
    ],
)
def test_the_refusal_code_not_the_wording_decides_the_force_hint(refusal: str | None, hint: bool) -> None:
    text = 'invalid request: field \'target\' = "node1": whatever it says; add "force": true'
    message = f"{text} [refused:{refusal}]" if refusal else text
    response = cli.Response(
        payload={"errorType": "RefusedError", "errorMessage": message},
        error_type="RefusedError",
        error_message=message,
    )
    assert response.refusal == refusal
    code, out, err = run_cli(["failover", "--to", "node1"], FakeFunction(response))
    assert (code, out) == (1, "")
    force_hint = ["nginx-eip-failover: add --force to move the EIP there anyway"] if hint else []
    assert err.splitlines() == [f"nginx-eip-failover: {text}", *force_hint]


def test_only_a_refused_error_carries_a_refusal_code() -> None:
    message = "invalid request: field 'reason' = \"x [refused:target_down]\": odd [refused:target_down]"
    response = cli.Response(error_type="InvalidRequestError", error_message=message)
    assert (response.refusal, response.message) == (None, message)
    code, _, err = run_cli(["failover", "--to", "node1"], FakeFunction(response))
    assert (code, err) == (1, f"nginx-eip-failover: {message}\n")


def test_an_accepted_request_whose_move_failed_exits_1() -> None:
    payload = {
        "ok": False,
        "action": "failover",
        "result": "operator failover to node2: x",
        "moved_to": None,
        "error": "EC2 AssociateAddress failed: UnauthorizedOperation",
        "status": STATUS,
    }
    code, out, err = run_cli(["failover", "--to", "node2"], FakeFunction(cli.Response(payload)))
    assert code == 1
    assert "Request     failover node2: accepted, but the move failed" in out
    assert "Error       EC2 AssociateAddress failed: UnauthorizedOperation" in out
    assert (
        err == "nginx-eip-failover: failover accepted but the EIP move failed: "
        "EC2 AssociateAddress failed: UnauthorizedOperation\n"
    )


def test_an_unexpected_answer_exits_1() -> None:
    code, _, err = run_cli(["status"], FakeFunction(cli.Response(payload="null")))
    assert code == 1
    assert "unexpected answer from the function" in err


def test_a_transport_failure_exits_1() -> None:
    def broken(_: Mapping[str, Any]) -> cli.Response:
        raise cli.TransportError("AWS error: An error occurred (AccessDeniedException) when calling the Invoke")

    code, _, err = run_cli(["status"], broken)  # type: ignore[arg-type]
    assert code == 1
    assert err == "nginx-eip-failover: AWS error: An error occurred (AccessDeniedException) when calling the Invoke\n"


# ---------------------------------------------------------------------------------- lab transport


def test_lab_mode_without_a_running_lab_is_a_usage_error(tmp_path: Path) -> None:
    code, _, err = run_cli(["status", "--lab-file", str(tmp_path / "lab.json")])
    assert code == 2
    assert "no running lab" in err and "python -m nginx_eip_failover_lab up" in err
    stale = tmp_path / "stale.json"
    dead_pid = 2**22 + 12345  # above pid_max's default: never a live process
    stale.write_text(json.dumps({"pid": dead_pid, "control_env": {}}))
    code, _, err = run_cli(["status", "--lab", "--lab-file", str(stale)])
    assert code == 2
    assert f"pid {dead_pid} is gone" in err


LAB_MISSING = (
    "nginx-eip-failover: --lab needs the development lab: pip install -e '.[dev]' from a clone of the repository\n"
)


def test_lab_mode_without_the_lab_installed_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """A plain `pip install .` has no lab (nor the PyYAML it needs): one clear line, exit 2, no traceback."""
    loaded = [name for name in sys.modules if name.startswith("nginx_eip_failover_lab.")]
    for name in ["nginx_eip_failover_lab", *loaded]:
        monkeypatch.setitem(sys.modules, name, None)  # importing a None entry raises ImportError
    for argv in (["--lab", "status"], ["failover", "--to", "node2", "--lab-file", "/tmp/lab.json"]):
        code, out, err = run_cli(argv, environ={})
        assert (code, out, err) == (2, "", LAB_MISSING)


def test_lab_mode_without_the_lab_installed_is_one_line_from_the_command() -> None:
    script = (
        "import runpy, sys; sys.modules['nginx_eip_failover_lab'] = None; "
        "sys.argv = ['nginx-eip-failover', '--lab', 'status']; "
        "runpy.run_module('nginx_eip_failover.cli', run_name='__main__')"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert (done.returncode, done.stdout, done.stderr) == (2, "", LAB_MISSING)


def test_lab_file_defaults_to_the_environment_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NGINX_EIP_FAILOVER_LAB_FILE", str(tmp_path / "from-env.json"))
    code, _, err = run_cli(["--lab", "status"])
    assert code == 2
    assert str(tmp_path / "from-env.json") in err


# ------------------------------------------------------------------------------ deployed transport


def lambda_answer(payload: Any, function_error: str | None = None) -> dict[str, Any]:
    body = json.dumps(payload).encode()
    answer: dict[str, Any] = {"StatusCode": 200, "Payload": StreamingBody(io.BytesIO(body), len(body))}
    if function_error:
        answer["FunctionError"] = function_error
    return answer


def test_decode_lambda_answer() -> None:
    ok = cli.decode_lambda_answer(lambda_answer({"ok": True}))
    assert (ok.payload, ok.failed) == ({"ok": True}, False)
    error = {
        "errorMessage": "invalid request: field 'node' = \"node3\": ...",
        "errorType": "InvalidRequestError",
        "stackTrace": ["..."],
        "requestId": "r",
    }
    failed = cli.decode_lambda_answer(lambda_answer(error, "Unhandled"))
    assert (failed.failed, failed.error_type, failed.error_message) == (
        True,
        "InvalidRequestError",
        "invalid request: field 'node' = \"node3\": ...",
    )
    timeout = {"errorMessage": "2025-06-01T10:00:00Z r Task timed out after 30.03 seconds"}
    assert cli.decode_lambda_answer(lambda_answer(timeout, "Unhandled")).error_type == "Unhandled"
    body = b"not json"
    raw = cli.decode_lambda_answer({"FunctionError": "Unhandled", "Payload": StreamingBody(io.BytesIO(body), 8)})
    assert (raw.error_type, raw.error_message) == ("Unhandled", "not json")


TEMPLATE_WITH_OUTPUT = json.dumps(
    {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {"ControlFunctionName": {"Value": "prod-lb-ControlFunction-AbC123"}},
    }
)


@pytest.fixture
def stubbed_lambda(monkeypatch: pytest.MonkeyPatch) -> Stubber:
    """Every boto3 Lambda client the CLI creates is this stubbed one; other services are moto's."""
    client = boto3.session.Session(region_name="eu-west-1").client("lambda")
    stubber = Stubber(client)
    real_client = boto3.session.Session.client
    created: list[dict[str, Any]] = []

    def client_factory(self: boto3.session.Session, service: str, *args: Any, **kwargs: Any) -> Any:
        if "config" in kwargs:  # a client the CLI made (the test's own setup calls pass no config)
            created.append({"service": service, "region": self.region_name, **kwargs})
        if service == "lambda":
            return client
        return real_client(self, service, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(boto3.session.Session, "client", client_factory)
    stubber.created = created  # type: ignore[attr-defined]
    stubber.activate()
    return stubber


def test_deployed_mode_resolves_the_stack_output_and_invokes_request_response(stubbed_lambda: Stubber) -> None:
    answer = {"ok": True, "action": "drain", "result": "x", "moved_to": None, "error": None, "status": STATUS}
    stubbed_lambda.add_response(
        "invoke",
        lambda_answer(answer),
        {
            "FunctionName": "prod-lb-ControlFunction-AbC123",
            "InvocationType": "RequestResponse",
            "Payload": json.dumps({"action": "drain", "node": "node1", "reason": "kernel"}).encode(),
        },
    )
    with mock_aws():
        boto3.client("cloudformation", region_name="eu-west-1").create_stack(
            StackName="prod-lb", TemplateBody=TEMPLATE_WITH_OUTPUT
        )
        code, out, err = run_cli(
            ["--region", "eu-west-1", "--stack-name", "prod-lb", "--json", "drain", "node1", "--reason", "kernel"],
            environ={},
        )
    assert (code, err) == (0, "")
    assert json.loads(out) == answer
    stubbed_lambda.assert_no_pending_responses()
    created = stubbed_lambda.created  # type: ignore[attr-defined]
    assert [(c["service"], c["region"], c["endpoint_url"]) for c in created] == [
        ("cloudformation", "eu-west-1", None),
        ("lambda", "eu-west-1", None),
    ]
    assert created[1]["config"].read_timeout > 30  # longer than the function's timeout: no retry of a slow answer


def test_deployed_mode_function_error_exits_1_with_the_error_message(stubbed_lambda: Stubber) -> None:
    error = {
        "errorMessage": "invalid request: field 'target' = \"node3\": is not a node of this pair; known: ...",
        "errorType": "InvalidRequestError",
        "stackTrace": [],
    }
    stubbed_lambda.add_response("invoke", lambda_answer(error, "Unhandled"))
    code, out, err = run_cli(
        [
            "--function-name",
            "arn:aws:lambda:eu-west-1:123456789012:function:fn",
            "--endpoint-url",
            "http://127.0.0.1:9",
            "failover",
            "--to",
            "node3",
        ],
        environ={},
    )
    assert (code, out) == (1, "")
    assert err == f"nginx-eip-failover: {error['errorMessage']}\n"
    created = stubbed_lambda.created  # type: ignore[attr-defined]
    assert [(c["service"], c["endpoint_url"]) for c in created] == [("lambda", "http://127.0.0.1:9")]


def test_deployed_mode_aws_errors_exit_1(stubbed_lambda: Stubber) -> None:
    stubbed_lambda.add_client_error("invoke", "ResourceNotFoundException", "Function not found: fn")
    code, _, err = run_cli(["--function-name", "fn", "status"], environ={})
    assert code == 1
    assert "AWS error" in err and "Function not found: fn" in err


def test_deployed_mode_stack_without_the_output_exits_1(stubbed_lambda: Stubber) -> None:
    with mock_aws():
        boto3.client("cloudformation", region_name="us-east-1").create_stack(
            StackName="other", TemplateBody=json.dumps({"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}})
        )
        code, _, err = run_cli(["--stack-name", "other", "status"], environ={})
        assert code == 1
        assert "stack other has no ControlFunctionName output" in err
        code, _, err = run_cli(["--stack-name", "missing", "status"], environ={})
        assert code == 1
        assert "AWS error" in err and "missing" in err


def test_an_unknown_profile_is_a_usage_error() -> None:
    code, _, err = run_cli(["--profile", "no-such-profile", "--function-name", "fn", "status"], environ={})
    assert code == 2
    assert "no-such-profile" in err


def test_importing_the_cli_does_not_import_boto3() -> None:
    code = "import sys, nginx_eip_failover.cli; assert 'boto3' not in sys.modules, 'boto3 imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_importing_the_cli_imports_neither_botocore_nor_the_lab() -> None:
    code = (
        "import sys, nginx_eip_failover.cli; "
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore', 'nginx_eip_failover_lab') "
        "or m.startswith('nginx_eip_failover.lab')); "
        "assert not loaded, loaded"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
