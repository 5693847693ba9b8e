"""The emergency stop on the lab: `nginx-eip-failover stop` (the CLI in its own process, with the
operator's credentials) stops every function that can move the EIP, even when the holder dies and
something still invokes them; `resume` turns everything back on and the failover happens."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from nginx_eip_failover_lab.environment import LabEnvironment
from support.lab_driving import LabFactory, cycles, lab_cli, ok, place_on_node1

pytestmark = pytest.mark.integration


def _schedule_state(lab: LabEnvironment) -> str:
    env = lab.control_env
    schedule = lab.client("scheduler").get_schedule(Name=env["SCHEDULE_NAME"], GroupName="default")
    return str(schedule["State"])


def _alarm_actions(lab: LabEnvironment) -> dict[str, bool]:
    names = lab.control_env["ALARM_NAMES"].split(",")
    alarms = lab.client("cloudwatch").describe_alarms(AlarmNames=names)["MetricAlarms"]
    return {alarm["AlarmName"]: bool(alarm["ActionsEnabled"]) for alarm in alarms}


def _steps(done: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    answer = json.loads(done.stdout)
    assert answer["ok"] is True
    return list(answer["steps"])


def test_stop_holds_every_mover_and_resume_fails_over(make_lab: LabFactory, tmp_path: Path) -> None:
    lab = make_lab(PreemptDelaySeconds="0")
    place_on_node1(lab)
    assert lab.proxy is not None
    lab_file = tmp_path / "lab.json"
    assert _schedule_state(lab) == "ENABLED" and all(_alarm_actions(lab).values())

    # WHEN an operator stops everything
    steps = _steps(lab_cli(lab, lab_file, "stop", "--reason", "game day: hands off", "--json"))
    # THEN the flag, the schedule and the node alarms' actions were all switched off, in that order
    assert [step["step"] for step in steps] == [
        "dynamodb:PutItem (the stop flag)",
        "scheduler:UpdateSchedule",
        "cloudwatch:DisableAlarmActions",
    ]
    assert _schedule_state(lab) == "DISABLED"
    assert not any(_alarm_actions(lab).values())
    moves_before = lab.proxy.count("AssociateAddress")

    # WHEN the holder dies and the monitor is still invoked (a schedule re-enabled by hand, an alarm)
    lab.nodes["node1"].stop()
    for event in (None, lab.alarm_event("node1"), None, None):
        payload = ok(lab.monitor(event, remaining_ms=1500))
        # THEN it returns at once, naming the stop, without probing
        assert payload["stopped"]["reason"] == "game day: hands off"
        assert "cycles" not in payload
    # AND an operator's failover is refused at the mover, naming the stop; EC2 is never called
    answer = ok(lab.control({"action": "failover", "target": "node2", "reason": "try anyway"}))
    assert answer["ok"] is False
    assert "emergency stop set by" in str(answer["error"]) and "game day: hands off" in str(answer["error"])
    assert lab.proxy.count("AssociateAddress") == moves_before
    assert lab.holder() == "node1"

    # WHEN the operator resumes
    steps = _steps(lab_cli(lab, lab_file, "resume", "--json"))
    assert steps[-1]["step"] == "dynamodb:DeleteItem (the stop flag)"
    assert "game day: hands off" in steps[-1]["detail"]
    assert _schedule_state(lab) == "ENABLED" and all(_alarm_actions(lab).values())
    # THEN the monitor probes again and fails over from the dead holder
    for payload in cycles(lab, 4):
        if payload["moves"]:
            break
    assert lab.holder() == "node2"


def test_stop_and_resume_are_idempotent_and_the_table_output_names_each_step(
    make_lab: LabFactory, tmp_path: Path
) -> None:
    lab = make_lab()
    lab_file = tmp_path / "lab.json"
    first = lab_cli(lab, lab_file, "stop", "--reason", "maintenance")
    second = lab_cli(lab, lab_file, "stop", "--reason", "maintenance, again")
    assert first.returncode == 0 and second.returncode == 0, second.stderr
    assert "already DISABLED" in second.stdout
    assert "stopped: no function moves an address until resume" in second.stdout
    # The newer stop's reason is the one recorded.
    assert ok(lab.monitor())["stopped"]["reason"] == "maintenance, again"
    assert lab_cli(lab, lab_file, "resume").returncode == 0
    again = lab_cli(lab, lab_file, "resume")
    assert again.returncode == 0 and "there was no stop flag" in again.stdout and "already ENABLED" in again.stdout
    assert "stopped" not in ok(lab.monitor())


def test_stop_without_a_stack_is_a_usage_error() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "nginx_eip_failover.cli", "stop", "--reason", "x"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "NGINX_EIP_FAILOVER_"))},
    )
    assert done.returncode == 2
    assert "--stack-name" in done.stderr
