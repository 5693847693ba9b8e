"""Reliability: bad configuration and bad control requests, through the real handlers in fresh
processes against the lab. A bad configuration fails at cold start naming the variable and the value
before any AWS call (the proxy records none); a malformed or refused control request names the field
and the value and changes nothing (the stored item is byte-for-byte the same, no AssociateAddress).

The tables come from the unit tests (tests/unit/test_config.py::INVALID and REQUIRED,
tests/unit/test_control_requests.py::MALFORMED), which check the same messages at the parser level."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from nginx_eip_failover_lab.environment import LabEnvironment
from nginx_eip_failover_lab.invoke import invoke_handler
from support.lab_driving import control, cycles, place_on_node1

pytestmark = pytest.mark.integration

UNIT = Path(__file__).resolve().parents[1] / "unit"


def unit_table(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"reliability_{name}", UNIT / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def show(value: str | None) -> str:
    return json.dumps(value)  # how errors.ConfigError shows a value


# --- bad configuration ---------------------------------------------------------------------------

# (function, variable, value or None to remove it, a fragment of the problem): one fresh process each
COLD_STARTS: list[tuple[str, str, str | None, str]] = [
    ("monitor", "NODE1_PRIORITY", "high", "whole number"),  # wrong type
    ("control", "HEALTH_CHECK_INTERVAL_SECONDS", "fast", "number"),  # wrong type
    ("monitor", "EIP_ALLOCATION_ID", "", "required"),  # empty
    ("control", "STATE_TABLE_NAME", None, "required"),  # missing
    ("monitor", "FALL_THRESHOLD", "0", "[1, 100]"),  # out of range
    ("control", "HEALTH_CHECK_TIMEOUT_SECONDS", "11", "(0, 10]"),  # out of range
    ("monitor", "NODE1_HEALTH_CHECK_URL", "ftp://127.0.0.1/health", "http:// or https://"),  # scheme
    ("control", "MOVE_TIMEOUT_SECONDS", "0", "[1, 3600]"),  # out of range
]


def bad_env(lab: LabEnvironment, function: str, variable: str, value: str | None) -> dict[str, str]:
    env = dict(lab.monitor_env if function == "monitor" else lab.control_env)
    if value is None:
        env.pop(variable, None)
    else:
        env[variable] = value
    return env


def test_a_bad_configuration_fails_at_cold_start_before_any_aws_call(lab: LabEnvironment) -> None:
    assert lab.proxy is not None
    lab.proxy.reset()
    same_instance = ("monitor", "NODE2_INSTANCE_ID", lab.instance_id("node1"), "same instance as NODE1_INSTANCE_ID")
    same_priority = ("control", "NODE2_PRIORITY", lab.control_env["NODE1_PRIORITY"], "same priority as NODE1")
    cases = [*COLD_STARTS, same_instance, same_priority]
    events = {"monitor": {"trigger": "schedule"}, "control": {"action": "status"}}

    def run(case: tuple[str, str, str | None, str]) -> Any:
        function, variable, value, _ = case
        return invoke_handler(function, events[function], bad_env(lab, function, variable, value))

    # WHEN each function cold-starts in a fresh process with one bad variable
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(run, cases))
    # THEN the invocation fails with a ConfigError naming the variable and the value
    for (function, variable, value, problem), result in zip(cases, results, strict=True):
        assert not result.ok and result.error_type == "ConfigError", (function, variable, result.error_message)
        assert result.error_message.startswith(f"configuration error: {variable}={show(value)} ")
        assert problem in result.error_message
    # AND no AWS call was made: the proxy in front of moto recorded none
    assert lab.proxy.calls() == []


DRIVER = """
import json, os, sys
cases = json.load(sys.stdin)
out, sys.stdout = sys.stdout, sys.stderr  # Powertools logs to stdout; keep it for the result
from nginx_eip_failover.handlers import control, monitor
base = dict(os.environ)
handlers = (("monitor", monitor, {"trigger": "schedule"}), ("control", control, {"action": "status"}))
answers = []
for variable, value in cases:
    for name, module, event in handlers:
        os.environ.clear()
        os.environ.update(base)
        if value is None:
            os.environ.pop(variable, None)
        else:
            os.environ[variable] = value
        try:
            module.lambda_handler(event, None)
        except Exception as exc:
            answers.append([variable, value, name, type(exc).__name__, str(exc)])
        else:
            answers.append([variable, value, name, None, None])
print(json.dumps(answers), file=out)
"""


def test_the_whole_configuration_table_fails_before_any_aws_call(lab: LabEnvironment) -> None:
    """Every row of the unit table, through both handlers, in one fresh process: a ConfigError is
    raised before the controller (and its boto3 clients) exists, so each row is a cold start."""
    assert lab.proxy is not None
    table = unit_table("test_config")
    cases: list[tuple[str, str | None]] = [(variable, value) for variable, value, _ in table.INVALID]
    cases += [(variable, value) for variable in table.REQUIRED for value in (None, "", "   ")]
    cases += [
        ("NODE2_INSTANCE_ID", lab.instance_id("node1")),
        ("NODE2_PRIORITY", lab.monitor_env["NODE1_PRIORITY"]),
        ("NODE2_HEALTH_CHECK_URL", lab.monitor_env["NODE1_HEALTH_CHECK_URL"]),
        ("MOVE_TIMEOUT_SECONDS", "soon"),
        ("MOVE_TIMEOUT_SECONDS", "3601"),
    ]
    lab.proxy.reset()
    done = subprocess.run(
        [sys.executable, "-c", DRIVER],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        env=lab.monitor_env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    answers = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(answers) == 2 * len(cases) >= 2 * 60
    for variable, value, function, error_type, message in answers:
        assert error_type == "ConfigError", (variable, value, function, message)
        assert message.startswith(f"configuration error: {variable}="), message
        assert show(value) in message or show(value.strip() if value else value) in message, message
    assert lab.proxy.calls() == []


# --- bad control requests ------------------------------------------------------------------------


def test_malformed_and_refused_control_requests_change_nothing(lab: LabEnvironment) -> None:
    # GIVEN the EIP on node1, node2 down and node1 drained (it keeps the EIP: no other node is up)
    place_on_node1(lab)
    lab.nodes["node2"].stop()
    cycles(lab, 3)
    control(lab, {"action": "drain", "node": "node1", "reason": "maintenance"})
    assert lab.holder() == "node1" and lab.proxy is not None
    malformed: list[tuple[Any, str, str]] = unit_table("test_control_requests").MALFORMED[::2]
    extra: list[tuple[Any, str, str]] = [
        ({"action": " status"}, "action", '" status"'),
        ({"action": "failover", "target": "node\u00e92"}, "target", '"node\\u00e92"'),
        ({"action": "drain", "node": "node2", "reason": {"text": "x"}}, "reason", '{"text": "x"}'),
    ]
    refused: list[tuple[Any, str, str]] = [
        ({"action": "failover", "target": "node2"}, "target", '"node2": node2 is down'),
        ({"action": "failover", "target": lab.instance_id("node2"), "reason": "now"}, "target", '"node2"'),
        ({"action": "failover", "target": "node1"}, "target", '"node1": node1 is drained'),
        ({"action": "failover", "target": "node1", "force": True}, "target", '"node1": node1 is drained'),
    ]
    catalogue = [*malformed, *extra, *refused]
    assert len(catalogue) >= 20
    before = lab.item()
    lab.proxy.reset()
    # WHEN each request is sent to the real ControlFunction, each in its own process
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda case: lab.control(case[0]), catalogue))
    # THEN each is rejected with a message naming the field and the value
    for (request, field, shown), result in zip(catalogue, results, strict=True):
        assert not result.ok, f"{request!r} was accepted: {result.payload}"
        assert result.error_type in ("InvalidRequestError", "RefusedError"), (request, result.error_type)
        message = result.error_message or ""
        assert message.startswith(f"invalid request: field '{field}' = "), (request, message)
        assert shown in message, (request, message)
    assert sum(result.error_type == "RefusedError" for result in results) == len(refused)
    # AND nothing changed: the stored item byte for byte, no write, no AssociateAddress, the EIP
    assert lab.item() == before
    assert lab.proxy.count("PutItem") == 0
    assert lab.proxy.calls("AssociateAddress") == []
    assert lab.holder() == "node1"
