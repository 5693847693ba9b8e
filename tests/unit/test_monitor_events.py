"""What may invoke the monitor: the schedule's input, EventBridge scheduled events, alarm actions."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from nginx_eip_failover.core.errors import InvalidRequestError
from nginx_eip_failover.service.monitor_events import parse_monitor_event

EVENTS = Path(__file__).resolve().parents[2] / "events"

SCHEDULED = {
    "version": "0",
    "id": "89d1a02d-5ec7-412e-82f5-13505f849b41",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2026-11-25T13:00:00Z",
    "region": "us-east-1",
    "resources": ["arn:aws:events:us-east-1:123456789012:rule/nginx-eip-failover-MonitorSchedule"],
    "detail": {},
}

# The shape of a CloudWatch alarm action invoking Lambda directly (not an EventBridge event).
ALARM = {
    "source": "aws.cloudwatch",
    "alarmArn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:nginx-eip-failover-node1-status",
    "accountId": "123456789012",
    "time": "2026-11-25T13:00:05.123+0000",
    "region": "us-east-1",
    "alarmData": {
        "alarmName": "nginx-eip-failover-node1-status",
        "state": {
            "value": "ALARM",
            "reason": "Threshold Crossed: 1 datapoint [1.0 (25/11/26 12:59:00)] was >= the threshold (1.0).",
            "reasonData": '{"version":"1.0","queryDate":"2026-11-25T13:00:05.120+0000"}',
            "timestamp": "2026-11-25T13:00:05.123+0000",
        },
        "previousState": {"value": "OK", "reason": "ok", "timestamp": "2026-11-24T10:00:00.000+0000"},
        "configuration": {
            "description": "node1 failed its EC2 status checks",
            "metrics": [
                {
                    "id": "m1",
                    "metricStat": {
                        "metric": {
                            "namespace": "AWS/EC2",
                            "name": "StatusCheckFailed",
                            "dimensions": {"InstanceId": "i-0123456789abcdef1"},
                        },
                        "period": 60,
                        "stat": "Maximum",
                    },
                    "returnData": True,
                }
            ],
        },
    },
}


def test_the_schedules_input_is_a_scheduled_trigger() -> None:
    trigger = parse_monitor_event({"trigger": "schedule"})
    assert trigger.kind == "schedule"
    assert trigger.actor == "monitor:schedule"


def test_an_eventbridge_scheduled_event_is_a_scheduled_trigger() -> None:
    trigger = parse_monitor_event(copy.deepcopy(SCHEDULED))
    assert trigger.kind == "schedule"
    assert trigger.correlation_id == SCHEDULED["id"]


def test_an_alarm_action_is_an_alarm_trigger_naming_the_alarm_and_instance() -> None:
    trigger = parse_monitor_event(copy.deepcopy(ALARM))
    assert trigger.kind == "alarm"
    assert trigger.alarm_name == "nginx-eip-failover-node1-status"
    assert trigger.alarm_state == "ALARM"
    assert trigger.instance_ids == ("i-0123456789abcdef1",)
    assert trigger.actor == "monitor:alarm:nginx-eip-failover-node1-status"
    assert trigger.correlation_id is not None
    assert ALARM["alarmArn"] in trigger.correlation_id


def test_a_minimal_alarm_action_is_accepted() -> None:
    trigger = parse_monitor_event({"source": "aws.cloudwatch", "alarmData": {"alarmName": "a"}})
    assert (trigger.kind, trigger.alarm_name, trigger.alarm_state, trigger.instance_ids) == ("alarm", "a", None, ())


def test_an_alarm_on_a_metric_math_expression_has_no_instance() -> None:
    event = copy.deepcopy(ALARM)
    event["alarmData"]["configuration"]["metrics"] = [{"id": "e1", "expression": "m1 + m2"}]  # type: ignore[index]
    assert parse_monitor_event(event).instance_ids == ()


def _alarm_without(key: str) -> dict[str, Any]:
    event = copy.deepcopy(ALARM)
    del event[key]
    return event


def _alarm_with(**data: Any) -> dict[str, Any]:
    event = copy.deepcopy(ALARM)
    event["alarmData"] = data
    return event


# (event, field the message must name, text of the value it must show)
REJECTED: list[tuple[Any, str, str]] = [
    ([], "event", "[]"),
    ("schedule", "event", '"schedule"'),
    (None, "event", "null"),
    ({}, "event", "[]"),
    ({"trigger": "alarm"}, "trigger", '"alarm"'),
    ({"trigger": None}, "trigger", "null"),
    ({"trigger": "schedule", "force": True}, "force", "true"),
    ({"trigger": "schedule", "detail-type": "Scheduled Event"}, "detail-type", '"Scheduled Event"'),
    ({**SCHEDULED, "detail-type": "EC2 Instance State-change Notification"}, "detail-type", '"EC2 Instance State'),
    ({**SCHEDULED, "detail-type": None}, "detail-type", "null"),
    (_alarm_without("alarmData"), "alarmData", "null"),
    ({**ALARM, "alarmData": "ALARM"}, "alarmData", '"ALARM"'),
    (_alarm_with(state={"value": "ALARM"}), "alarmData.alarmName", "null"),
    (_alarm_with(alarmName=""), "alarmData.alarmName", '""'),
    (_alarm_with(alarmName=42), "alarmData.alarmName", "42"),
    ({"source": "aws.ec2", "detail": {}}, "source", '"aws.ec2"'),
    ({"source": "aws.sns"}, "source", '"aws.sns"'),
    ({"action": "status"}, "event", '["action"]'),
    ({"Records": [{"EventSource": "aws:sns"}]}, "event", '["Records"]'),
]


@pytest.mark.parametrize(("event", "field", "shown"), REJECTED, ids=[str(i) for i in range(len(REJECTED))])
def test_anything_else_is_rejected_naming_the_field_and_the_value(event: Any, field: str, shown: str) -> None:
    with pytest.raises(InvalidRequestError) as raised:
        parse_monitor_event(event)
    assert raised.value.field == field
    message = str(raised.value)
    assert f"'{field}'" in message
    assert shown in message


@pytest.mark.parametrize("event", [{"trigger": "nope"}, {"source": "aws.ec2"}, []], ids=["trigger", "source", "list"])
def test_the_rejection_says_what_was_expected(event: Any) -> None:
    with pytest.raises(InvalidRequestError) as raised:
        parse_monitor_event(event)
    for expected in ('{"trigger": "schedule"}', "Scheduled Event", "aws.cloudwatch", "alarmData"):
        assert expected in str(raised.value)


def test_the_sample_monitor_events_parse() -> None:
    samples = sorted(EVENTS.glob("monitor*.json"))
    if not samples:
        pytest.skip("no events/monitor*.json yet")
    kinds = {parse_monitor_event(json.loads(path.read_text())).kind for path in samples}
    assert kinds == {"schedule", "alarm"}
