"""Reliability: an invocation killed (SIGKILL) in the middle of a move. The lab's AWS proxy holds the
chosen call, the test kills the process while the call is held (so a held call "before" never
reaches moto), and the next invocation reconciles from the EIP's real association. No history is lost."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from nginx_eip_failover_lab import processes
from nginx_eip_failover_lab.aws.proxy import Fault
from nginx_eip_failover_lab.environment import LabEnvironment
from nginx_eip_failover_lab.invoke import InvokeResult
from support.lab_driving import cycle, cycle_result, cycles, place_on_node1

pytestmark = pytest.mark.integration

HOLD_SECONDS = 20.0  # how long the proxy holds the call; the kill comes long before that
DEADLINE = 60.0  # generous: the machine may be loaded


def kill_when_held(fault: Fault) -> Callable[[subprocess.Popen[str]], None]:
    """An invocation's on_start hook: SIGKILL the process group as soon as the proxy holds `fault`'s call."""

    def start(process: subprocess.Popen[str]) -> None:
        def watch() -> None:
            give_up = time.monotonic() + DEADLINE
            while fault.hits == 0 and process.poll() is None and time.monotonic() < give_up:
                time.sleep(0.01)
            if fault.hits:
                processes.signal_group(process.pid, signal.SIGKILL)

        threading.Thread(target=watch, name="killer", daemon=True).start()

    return start


def killed_invocation(lab: LabEnvironment, fault: Fault) -> InvokeResult:
    result = cycle_result(lab, on_start=kill_when_held(fault))  # the warm container that counted the failures
    assert fault.hits == 1
    assert not result.ok and result.error_type == "Runtime.ExitError", (result.payload, result.logs[-3000:])
    return result


def until_holder(lab: LabEnvironment, node: str) -> list[dict[str, Any]]:
    """Single-cycle monitor invocations until the EIP is on `node` (bounded by a generous deadline)."""
    payloads = []
    give_up = time.monotonic() + DEADLINE
    while lab.holder() != node and time.monotonic() < give_up:
        payloads.append(cycle(lab))
        time.sleep(0.2)
    assert lab.holder() == node, payloads[-3:]
    return payloads


def moves(lab: LabEnvironment) -> list[tuple[str, str, str]]:
    """(event, move id, node) of every move entry in the history, in order."""
    return [
        (entry["event"], entry["detail"]["id"], entry["node"])
        for entry in lab.history("move_started", "move_completed", "move_failed", "move_abandoned")
    ]


def test_killed_between_committing_the_intent_and_calling_ec2(make_lab: Any) -> None:
    lab = make_lab()
    lab.extra_env["MOVE_TIMEOUT_SECONDS"] = "2"  # how long a committed move may stay unconfirmed
    place_on_node1(lab)
    assert lab.proxy is not None
    lab.nodes["node1"].stop()
    cycles(lab, 2)  # node1 has failed FallThreshold-1 probes: the next cycle decides the failover
    placed = moves(lab)
    # WHEN the deciding invocation commits its intent and is killed while its AssociateAddress is held
    # (the proxy never forwards it: the call never reaches EC2)
    held = lab.proxy.inject(Fault("AssociateAddress", service="ec2", kind="drop", delay_seconds=HOLD_SECONDS))
    killed_invocation(lab, held)
    lab.proxy.clear_faults()
    # THEN the intent is in the state, the EIP has not moved
    state = lab.state()
    assert state["move"] is not None and state["move"]["target"] == "node2"
    crashed = state["move"]["id"]
    assert moves(lab) == [*placed, ("move_started", crashed, "node2")]
    assert lab.holder() == "node1"
    assert lab.proxy.count("AssociateAddress") == 1  # the placement only
    # WHEN the next invocations run: the intent blocks new moves until MOVE_TIMEOUT_SECONDS, then
    # it is abandoned, reconciled from the EIP's association, and the failover is decided again
    until_holder(lab, "node2")
    # THEN nothing is lost: started, abandoned, started again, completed; one AssociateAddress
    history = moves(lab)[len(placed) :]
    assert [event for event, _, _ in history] == ["move_started", "move_abandoned", "move_started", "move_completed"]
    assert history[0][1] == history[1][1] == crashed
    assert history[2][1] == history[3][1] != crashed
    [abandoned] = [e for e in lab.history("move_abandoned") if e["detail"]["id"] == crashed]
    assert abandoned["detail"]["association"] == lab.instance_id("node1")
    [started] = [e for e in lab.history("move_started") if e["detail"]["id"] == crashed]
    assert abandoned["at"] - started["at"] >= 2.0  # never before MOVE_TIMEOUT_SECONDS
    assert lab.proxy.count("AssociateAddress") == 2
    assert lab.state()["move"] is None and lab.state()["association"] == lab.instance_id("node2")
    assert "move_abandoned" in [notice["kind"] for notice in lab.notifications()]


def test_killed_between_ec2_and_recording_the_outcome(lab: LabEnvironment) -> None:
    place_on_node1(lab)
    assert lab.proxy is not None
    lab.nodes["node1"].stop()
    cycles(lab, 2)
    placed = moves(lab)
    # WHEN the deciding invocation's intent write goes through, AssociateAddress reaches EC2, and the
    # invocation is killed while its next write (the outcome) is held
    lab.proxy.inject(Fault("PutItem", service="dynamodb", kind="delay", delay_seconds=0))  # the intent
    held = lab.proxy.inject(Fault("PutItem", service="dynamodb", kind="drop", delay_seconds=HOLD_SECONDS))
    killed_invocation(lab, held)
    lab.proxy.clear_faults()
    # THEN the EIP is on node2 but the state still holds the intent
    assert lab.holder() == "node2"
    assert lab.proxy.count("AssociateAddress") == 2
    state = lab.state()
    assert state["move"] is not None and state["move"]["target"] == "node2"
    crashed = state["move"]["id"]
    # WHEN the next invocation runs (no need to wait for the move timeout: the EIP is where the intent says)
    payload = cycle(lab)
    # THEN it records the crashed invocation's move as completed, without calling EC2 again
    assert payload["moves"] == [] and payload["eip"]["holder"] == "node2"
    assert moves(lab)[len(placed) :] == [("move_started", crashed, "node2"), ("move_completed", crashed, "node2")]
    assert lab.proxy.count("AssociateAddress") == 2
    assert lab.state()["move"] is None and lab.state()["association"] == lab.instance_id("node2")
    assert lab.state()["last_move_at"] is not None
