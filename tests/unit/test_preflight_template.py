"""template.yaml gives the preflight what it checks, and least-privilege reads scoped to the stack's own
schedule and alarms (read as data; nothing here talks to AWS)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nginx_eip_failover_lab.stack.intrinsics import sam_generated
from nginx_eip_failover_lab.stack.template import StackTemplate
from template_loader import load_template

TEMPLATE_PATH = Path(__file__).resolve().parents[2] / "template.yaml"
ALARM_ARN = "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:"


@pytest.fixture(scope="module")
def resources() -> dict[str, Any]:
    return dict(load_template(TEMPLATE_PATH)["Resources"])


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _variables(resources: dict[str, Any], function: str) -> dict[str, Any]:
    return dict(resources[function]["Properties"]["Environment"]["Variables"])


def _statement(resources: dict[str, Any], function: str, sid: str) -> dict[str, Any] | None:
    for policy in resources[function]["Properties"]["Policies"]:
        for statement in policy["Statement"]:
            if statement.get("Sid") == sid:
                return dict(statement)
    return None


def _monitor_alarm_names(resources: dict[str, Any]) -> list[str]:
    """The AlarmName (as !Sub text) of every alarm whose action invokes the monitor."""
    return sorted(
        resource["Properties"]["AlarmName"]["Fn::Sub"]
        for resource in resources.values()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
        and {"Fn::GetAtt": ["MonitorFunction", "Arn"]} in resource["Properties"].get("AlarmActions", [])
    )


def test_the_period_is_a_parameter_defaulting_to_15_minutes() -> None:
    parameter = load_template(TEMPLATE_PATH)["Parameters"]["PreflightIntervalSeconds"]
    assert (parameter["Type"], parameter["Default"], parameter["MinValue"]) == ("Number", 900, 0)


@pytest.mark.parametrize("function", ["MonitorFunction", "ControlFunction"])
def test_both_functions_name_every_alarm_that_invokes_the_monitor(resources: dict[str, Any], function: str) -> None:
    variables = _variables(resources, function)
    assert variables["PREFLIGHT_INTERVAL_SECONDS"] == {"Ref": "PreflightIntervalSeconds"}
    # Both nodes have their alarm unless found by tags (Node*HasStatusCheckAlarm): the both-alarms branch
    # names them all (tests/unit/test_template.py: test_the_preflight_checks_the_alarms_there_are).
    condition, with_node1, _without_node1 = variables["ALARM_NAMES"]["Fn::If"]
    inner, both, _node1_only = with_node1["Fn::If"]
    assert (condition, inner) == ("Node1HasStatusCheckAlarm", "Node2HasStatusCheckAlarm")
    assert sorted(both["Fn::Sub"].split(",")) == _monitor_alarm_names(resources)
    statement = _statement(resources, function, "PreflightReadsTheNodeAlarms")
    assert statement is not None and statement["Action"] == "cloudwatch:DescribeAlarms"
    assert sorted(arn["Fn::Sub"] for arn in statement["Resource"]) == [
        ALARM_ARN + name for name in _monitor_alarm_names(resources)
    ]


def test_the_control_function_checks_the_schedule_against_the_monitor(resources: dict[str, Any]) -> None:
    variables = _variables(resources, "ControlFunction")
    assert variables["MONITOR_FUNCTION_ARN"] == {"Fn::GetAtt": ["MonitorFunction", "Arn"]}
    rule = variables["SCHEDULE_NAME"]["Ref"]
    schedules = [
        "MonitorFunction" + name
        for name, event in resources["MonitorFunction"]["Properties"]["Events"].items()
        if event["Type"] == "ScheduleV2"
    ]
    assert [rule] == schedules  # the EventBridge Scheduler schedule SAM generates for the monitor
    assert rule in sam_generated(StackTemplate(TEMPLATE_PATH))
    statement = _statement(resources, "ControlFunction", "PreflightReadsTheSchedule")
    assert statement is not None
    assert _as_list(statement["Action"]) == ["scheduler:GetSchedule"]
    assert statement["Resource"] == {"Fn::GetAtt": [rule, "Arn"]}


def test_the_monitor_gets_nothing_that_would_make_a_circular_dependency(resources: dict[str, Any]) -> None:
    text = repr(resources["MonitorFunction"]["Properties"]["Environment"])
    text += repr(resources["MonitorFunction"]["Properties"]["Policies"])
    for name in ("MonitorFunction", *sam_generated(StackTemplate(TEMPLATE_PATH)), "Node1StatusCheckAlarm"):
        assert f"'{name}'" not in text, name
    assert _statement(resources, "MonitorFunction", "PreflightReadsTheSchedule") is None
