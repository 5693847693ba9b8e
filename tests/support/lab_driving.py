"""Driving the lab's functions from a test: single cycles, looping invocations, checked results."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nginx_eip_failover_lab.environment import LabEnvironment
from nginx_eip_failover_lab.invoke import InvokeResult

LabFactory = Callable[..., LabEnvironment]


def lab_cli(lab: LabEnvironment, path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The operator CLI, as a user runs it against the lab (`--lab-file`, written to `path`), with no
    AWS_* variable of the test's environment: the lab file alone says where AWS is."""
    path.write_text(json.dumps({**lab.describe(), "pid": os.getpid()}))
    return subprocess.run(
        [sys.executable, "-m", "nginx_eip_failover.cli", *args, "--lab-file", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={key: value for key, value in os.environ.items() if not key.startswith("AWS_")},
    )


def ok(result: InvokeResult) -> dict[str, Any]:
    """The payload of a successful invocation; otherwise fail with the handler's error and logs."""
    assert result.ok, f"{result.error_type}: {result.error_message}\n{result.logs[-4000:]}"
    assert isinstance(result.payload, dict)
    return result.payload


_last_cycle: dict[int, float] = {}


def cycle_result(
    lab: LabEnvironment, event: dict[str, Any] | None = None, *, remaining_ms: int = 1500, **kwargs: Any
) -> InvokeResult:
    """One monitor invocation of one probe cycle (the time budget leaves no room for two), on the lab's
    warm container when one is idle: cycles in a row are one container invoked again, as Lambda
    reuses a warm one, so its prober's runs count them (core/streaks). `warm=False`: a cold one."""
    kwargs.setdefault("warm", True)
    # A warm container answers in milliseconds: one-cycle invocations in a row start at least an
    # interval apart (with a margin for the probe's own start), as the loop paces its own cycles.
    interval = float(lab.monitor_env["HEALTH_CHECK_INTERVAL_SECONDS"])
    wait = _last_cycle.get(id(lab), float("-inf")) + interval * 1.1 + 0.02 - time.monotonic()
    if wait > 0:
        time.sleep(wait)
    _last_cycle[id(lab)] = time.monotonic()
    return lab.monitor(event, remaining_ms=remaining_ms, **kwargs)


# The decision's reason when a cycle decided a move with less than the move's reserve left of its
# budget (service/controller.py MOVE_TIME_RESERVE_SECONDS): the next invocation makes that move.
DEFERRED_FOR_TIME = "deferred: no time left in this invocation to move"
# A one-cycle budget cannot grow past the interval, the probe timeout and the loop's margin without
# allowing a second cycle, so on a loaded machine (a cold container's first clients, a busy CPU) a
# decided move may be deferred for time: the cycle is run again, as the next invocation would be.
DEFERRED_RETRIES = 4


def deferred_for_time(payload: dict[str, Any]) -> bool:
    """The invocation's last cycle (the pair's or any group's) decided a move it had no time to make."""
    groups = payload.get("groups") or {}
    decisions = [payload.get("decision"), *(group.get("decision") for group in groups.values())]
    return any(DEFERRED_FOR_TIME in str(decision or "") for decision in decisions)


def cycle(lab: LabEnvironment, event: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
    """`cycle_result`'s payload; it ran exactly one cycle. A cycle whose decided move was deferred for
    lack of time (a slow machine, not the code under test) is run again, at most DEFERRED_RETRIES times:
    the test then asserts what the move led to, as it would on an idle machine."""
    for _ in range(DEFERRED_RETRIES):
        payload = ok(cycle_result(lab, event, **kwargs))
        assert payload["cycles"] == 1
        if not deferred_for_time(payload):
            break
    return payload


def cycles(lab: LabEnvironment, count: int) -> list[dict[str, Any]]:
    return [cycle(lab) for _ in range(count)]


def loop_for(lab: LabEnvironment, seconds: float, event: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
    """One monitor invocation whose time budget keeps it probing for about `seconds`."""
    interval = float(lab.monitor_env["HEALTH_CHECK_INTERVAL_SECONDS"])
    timeout = float(lab.monitor_env["HEALTH_CHECK_TIMEOUT_SECONDS"])
    remaining_ms = int((seconds + 1.0 + timeout + interval) * 1000)
    return ok(lab.monitor(event, remaining_ms=remaining_ms, **kwargs))


def loop_until(
    lab: LabEnvironment,
    done: Callable[[], bool],
    *,
    seconds: float = 3.0,
    deadline: float = 120.0,
    describe: Callable[[], object] | None = None,
) -> None:
    """Looping invocations of about `seconds` each (room for RiseThreshold cycles in one, even after a
    slow cold start) until `done()`. The deadline guards against a hang only: a loaded machine runs
    fewer cycles a second, and no test asserts how long this takes."""
    give_up = time.monotonic() + deadline
    payload: dict[str, Any] = {}
    while not done():
        shown = f"{describe() if describe else ''} (last invocation's groups: {payload.get('groups')})"
        assert time.monotonic() < give_up, f"not done in time: {shown}"
        payload = loop_for(lab, seconds)


def node_state(lab: LabEnvironment, node: str) -> dict[str, Any]:
    """The stack's pair's stored record of `node` (status, instance_id, counts)."""
    return dict(lab.state()["nodes"][node])


def place_on_node1(lab: LabEnvironment) -> None:
    """Steady state: the first cycle puts the unassociated EIP on node1, both nodes up."""
    payload = cycle(lab)
    assert payload["eip"]["holder"] == "node1"
    assert payload["nodes"] == {"node1": "up", "node2": "up"}
    assert lab.holder() == "node1"


def control(lab: LabEnvironment, request: dict[str, Any]) -> dict[str, Any]:
    payload = ok(lab.control(request))
    assert payload["ok"] is True, payload
    return payload


def json_logs(result: InvokeResult) -> list[dict[str, Any]]:
    """The handler's structured (Powertools JSON) log lines."""
    records = []
    for line in result.logs.splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def log_records(result: InvokeResult, message: str) -> list[dict[str, Any]]:
    """The handler's structured log lines with this message."""
    return [record for record in json_logs(result) if record.get("message") == message]


def until_holder(lab: LabEnvironment, node: str, deadline: float = 60.0) -> None:
    """Run monitor cycles until the EIP is on `node` (or fail after `deadline` seconds)."""
    give_up = time.monotonic() + deadline
    while lab.holder() != node and time.monotonic() < give_up:
        cycle(lab)
        time.sleep(0.2)
    assert lab.holder() == node


def moves_to(lab: LabEnvironment, node: str) -> list[dict[str, Any]]:
    return [entry for entry in lab.history("move_completed") if entry["node"] == node]
