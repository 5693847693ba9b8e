"""The control action {"action": "preflight"} end to end, in-process (moto, two tiny HTTP nodes):
it returns every check with the status and changes no failover state."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

from nginx_eip_failover.adapters.dynamodb.state_store import state_key
from nginx_eip_failover.core.config import load_settings
from nginx_eip_failover.core.errors import InvalidRequestError
from nginx_eip_failover.handlers import control
from nginx_eip_failover.handlers.preflight_wiring import periodic_preflight
from nginx_eip_failover.service.operator_requests import parse_control_request
from support.moto_pair import create_pair
from support.moto_tables import create_table

EVENTS = Path(__file__).resolve().parents[2] / "events"
TABLE = "preflight-control-state"
MONITOR = "arn:aws:lambda:us-east-1:123456789012:function:stack-MonitorFunction-ABC"


@pytest.fixture(scope="module")
def aws(moto_module: None, boto_session: boto3.session.Session) -> dict[str, Any]:
    services = ("ec2", "dynamodb", "sns", "sqs", "events", "cloudwatch")
    clients = {name: boto_session.client(name, region_name="us-east-1") for name in services}
    create_table(clients["dynamodb"], TABLE)
    return clients


@pytest.fixture
def deployed(
    aws: dict[str, Any], base_env: dict[str, str], node_server: Callable[[], Any], monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    """A pair, an EIP, a topic with a queue, the schedule's rule and the two alarms, as the stack has them."""
    ec2 = aws["ec2"]
    created = create_pair(ec2)
    ids, allocation_id = list(created.instance_ids), created.allocation_id
    nodes = [node_server(), node_server()]
    topic = aws["sns"].create_topic(Name=f"t-{allocation_id}")["TopicArn"]
    queue = aws["sqs"].create_queue(QueueName=f"q-{allocation_id}")["QueueUrl"]
    queue_arn = aws["sqs"].get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    aws["sns"].subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    rule = f"stack-MonitorFunctionEveryMinute-{allocation_id[-6:]}"
    aws["events"].put_rule(Name=rule, ScheduleExpression="rate(1 minute)", State="ENABLED")
    aws["events"].put_targets(Rule=rule, Targets=[{"Id": "t", "Arn": MONITOR, "Input": '{"trigger": "schedule"}'}])
    alarms = [f"stack-{allocation_id}-node{index}-status-check" for index in (1, 2)]
    for name, instance in zip(alarms, ids, strict=True):
        aws["cloudwatch"].put_metric_alarm(
            AlarmName=name,
            Namespace="AWS/EC2",
            MetricName="StatusCheckFailed",
            Dimensions=[{"Name": "InstanceId", "Value": instance}],
            Statistic="Maximum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
            AlarmActions=[MONITOR],
        )
    env = {
        **base_env,
        **created.env(
            [node.url() for node in nodes],
            HEALTH_CHECK_TIMEOUT_SECONDS="0.5",
            STATE_TABLE_NAME=TABLE,
            NOTIFICATION_TOPIC_ARN=topic,
            ALARM_NAMES=",".join(alarms),
            SCHEDULE_RULE_NAME=rule,
            MONITOR_FUNCTION_ARN=MONITOR,
        ),
    }
    for variable, value in env.items():
        monkeypatch.setenv(variable, value)
    return {"allocation_id": allocation_id, "ids": ids, "nodes": nodes, "queue": queue, **aws}


def notices(deployed: dict[str, Any]) -> list[str]:
    found = []
    sqs, queue = deployed["sqs"], deployed["queue"]
    while messages := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages"):
        for message in messages:
            found.append(json.loads(message["Body"])["MessageAttributes"]["kind"]["Value"])
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    return found


def test_the_preflight_action_returns_every_check_and_the_status(deployed: dict[str, Any]) -> None:
    result = control.lambda_handler(json.loads((EVENTS / "control-preflight.json").read_text()), None)
    assert set(result) == {"ok", "action", "checks", "status", "error"}
    assert (result["ok"], result["action"], result["error"]) == (True, "preflight", None)
    assert [check["status"] for check in result["checks"]] == ["ok"] * 12, result["checks"]
    assert {check["check"] for check in result["checks"]} >= {
        "ec2:AssociateAddress (DryRun)",
        "events:DescribeRule + ListTargetsByRule",
        "cloudwatch:DescribeAlarms",
    }
    assert result["status"]["eip"]["allocation_id"] == deployed["allocation_id"]
    # It changed no failover state: no state item, the EIP still unassociated, nothing published.
    key = {"pk": {"S": state_key(deployed["allocation_id"])}}
    assert "Item" not in deployed["dynamodb"].get_item(TableName=TABLE, Key=key)
    address = deployed["ec2"].describe_addresses(AllocationIds=[deployed["allocation_id"]])["Addresses"][0]
    assert not address.get("InstanceId")
    assert notices(deployed) == []


def test_a_failing_preflight_answers_ok_false_and_alerts_once(deployed: dict[str, Any]) -> None:
    deployed["events"].disable_rule(Name=f"stack-MonitorFunctionEveryMinute-{deployed['allocation_id'][-6:]}")
    for _ in range(2):
        result = control.lambda_handler({"action": "preflight"}, None)
        assert result["ok"] is False
        (failure,) = [check for check in result["checks"] if not check["ok"]]
        assert failure["check"] == "events:DescribeRule + ListTargetsByRule"
        assert failure["why_not"].startswith("rule is DISABLED")
    assert notices(deployed) == ["preflight_failing"]


def test_a_preflight_request_takes_no_fields(settings: Any) -> None:
    assert parse_control_request({"action": "preflight"}, settings).action == "preflight"
    with pytest.raises(InvalidRequestError, match=r"field 'reason'.*is not a field of 'preflight'"):
        parse_control_request({"action": "preflight", "reason": "x"}, settings)


def test_the_monitors_periodic_preflight_is_built_from_its_environment(
    deployed: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The monitor has no MONITOR_FUNCTION_ARN or schedule name (a circular dependency): it checks
    # the alarms against its own name.
    monkeypatch.delenv("MONITOR_FUNCTION_ARN")
    monkeypatch.delenv("SCHEDULE_RULE_NAME")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "stack-MonitorFunction-ABC")
    monkeypatch.setenv("PREFLIGHT_INTERVAL_SECONDS", "900")
    runner = periodic_preflight()
    runner.tick()
    runner.finish(10.0)
    report = runner.last_report
    assert report is not None and report.ok
    assert [row.status for row in report.rows if row.check == "schedule"] == ["skipped"]
    assert [row.status for row in report.rows if row.check == "cloudwatch:DescribeAlarms"] == ["ok", "ok"]
    assert load_settings().allocation_id == deployed["allocation_id"]
