"""The lab itself: its stack comes from template.yaml, it stops every process it starts, and it says
what to install when nginx is missing."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from nginx_eip_failover_lab.environment import LabEnvironment
from nginx_eip_failover_lab.invoke import invoke_handler
from nginx_eip_failover_lab.stack.cfn_yaml import load_template
from support.lab_driving import LabFactory

pytestmark = pytest.mark.integration


def test_the_stack_is_created_from_the_template(lab: LabEnvironment) -> None:
    template = load_template(lab.template_path)
    resources = template["Resources"]
    assert lab.stack is not None
    # the state table: key schema, attributes and billing exactly as the template defines them
    table_name = lab.stack.physical_ids["StateTable"]
    table = lab.dynamodb.describe_table(TableName=table_name)["Table"]
    properties = resources["StateTable"]["Properties"]
    assert table["KeySchema"] == properties["KeySchema"]
    assert table["AttributeDefinitions"] == properties["AttributeDefinitions"]
    assert table["BillingModeSummary"]["BillingMode"] == properties["BillingMode"]
    # the topic: the default profile (lean) has no customer managed key to encrypt it with
    topic_arn = lab.stack.physical_ids["NotificationTopic"]
    attributes = lab.sns.get_topic_attributes(TopicArn=topic_arn)["Attributes"]
    assert lab.monitor_env["OBSERVABILITY_PROFILE"] == "lean"
    assert "KmsMasterKeyId" not in attributes and "NotificationKey" not in lab.stack.physical_ids
    # each function gets exactly the variables the template gives it, resolved
    for function, env in (("MonitorFunction", lab.monitor_env), ("ControlFunction", lab.control_env)):
        variables = resources[function]["Properties"]["Environment"]["Variables"]
        # A variable that is `!If [cond, value, !Ref AWS::NoValue]` is absent while cond is false
        # (the found nodes' NODEn_AUTO_SCALING_GROUP_NAME with fixed InstanceIds).
        declared = {name for name, value in variables.items() if not _absent_unless_set(value)}
        assert declared <= set(env)
        assert env["STATE_TABLE_NAME"] == table_name
        assert env["NOTIFICATION_TOPIC_ARN"] == topic_arn
        assert env["EIP_ALLOCATION_ID"] == lab.allocation_id
        assert env["NODE1_HEALTH_CHECK_URL"] == lab.nodes["node1"].health_url
        assert env["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
    # the monitor lease has its own table, which the monitor alone is told about
    lease_table = lab.stack.physical_ids["MonitorLeaseTable"]
    assert lab.dynamodb.describe_table(TableName=lease_table)["Table"]["KeySchema"] == properties["KeySchema"]
    assert lab.monitor_env["MONITOR_LEASE_TABLE_NAME"] == lease_table
    assert "MONITOR_LEASE_TABLE_NAME" not in lab.control_env
    # the schedule sends the template's input; the alarm events name the template's alarms
    schedule = resources["MonitorFunction"]["Properties"]["Events"]
    inputs = [
        json.loads(e["Properties"]["Input"]) for e in schedule.values() if e["Type"] in ("Schedule", "ScheduleV2")
    ]
    assert lab.stack.schedule_input in inputs
    assert lab.alarm_event("node1")["alarmData"]["alarmName"] == f"{lab.stack_name}-node1-status-check"


def _group_alive(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_the_full_profile_encrypts_the_topic_and_publishes_the_per_node_metrics(make_lab: LabFactory) -> None:
    lab = make_lab(ObservabilityProfile="full")
    assert lab.stack is not None
    topic_arn = lab.stack.physical_ids["NotificationTopic"]
    attributes = lab.sns.get_topic_attributes(TopicArn=topic_arn)["Attributes"]
    assert attributes["KmsMasterKeyId"] == lab.stack.physical_ids["NotificationKey"]
    assert lab.monitor_env["OBSERVABILITY_PROFILE"] == lab.control_env["OBSERVABILITY_PROFILE"] == "full"
    result = lab.monitor(remaining_ms=1000)
    assert result.ok, result.error_message
    assert '"NodeUp"' in result.logs and '"MonitorCycles"' in result.logs


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_lab_up_serves_the_control_function_and_stops_everything_on_a_signal(
    tmp_path: Path, stop_signal: signal.Signals
) -> None:
    lab_file = tmp_path / "lab.json"
    env = {**os.environ, "NGINX_EIP_FAILOVER_LAB_FILE": str(lab_file)}
    process = subprocess.Popen(
        [sys.executable, "-m", "nginx_eip_failover_lab", "up"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while not lab_file.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert lab_file.exists(), process.communicate(timeout=5)[0] if process.poll() is not None else "no lab.json"
        described: dict[str, Any] = json.loads(lab_file.read_text())
        assert described["region"] == "us-east-1"
        assert described["endpoint_url"].startswith("http://127.0.0.1:")
        # a CLI drives the running lab's ControlFunction with the described environment
        result = invoke_handler("control", {"action": "status"}, described["control_env"])
        assert result.ok, result.logs[-3000:]
        assert result.payload["status"]["eip"]["allocation_id"] == described["elastic_ip"]["allocation_id"]
        cli = subprocess.run(
            [sys.executable, "-m", "nginx_eip_failover_lab", "control", '{"action": "status"}'],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert cli.returncode == 0, cli.stdout + cli.stderr
        assert json.loads(cli.stdout)["status"]["eip"]["allocation_id"] == described["elastic_ip"]["allocation_id"]
        pids = [described["pids"]["moto"], described["pids"]["node1"], described["pids"]["node2"]]
        ports = [node["port"] for node in described["nodes"].values()]
        assert all(_group_alive(pid) for pid in pids)
        # WHEN the lab gets Ctrl-C (SIGINT) or SIGTERM
        os.kill(process.pid, stop_signal)
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    # THEN it stopped every process it started, closed its ports and removed its description
    assert process.returncode == 128 + stop_signal, output[-3000:]
    assert "every process the lab started has been stopped" in output
    assert not [pid for pid in pids if _group_alive(pid)]
    assert not [port for port in ports if _port_open(port)]
    assert not lab_file.exists()


def test_missing_nginx_says_what_to_install_and_exits_2(tmp_path: Path) -> None:
    env = {**os.environ, "NGINX_EIP_FAILOVER_NGINX": str(tmp_path / "no-such-nginx")}
    result = subprocess.run(
        [sys.executable, "-m", "nginx_eip_failover_lab", "--quick"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "apt-get install -y nginx-light" in result.stderr
    assert "NGINX_EIP_FAILOVER_NGINX" in result.stderr


def _absent_unless_set(value: object) -> bool:
    branch = value.get("Fn::If") if isinstance(value, dict) else None
    return isinstance(branch, list) and branch[2] == {"Ref": "AWS::NoValue"}
