"""Preflight's checks of the stack's triggers: the schedule (EventBridge Scheduler or an EventBridge
rule) and the node alarms (CloudWatch) must be enabled and invoke the monitor. One row each
(core/preflight.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from nginx_eip_failover.adapters.aws_errors import aws_error as _error
from nginx_eip_failover.core.preflight import CheckRow, PreflightTargets, failed, function_name, ok, skipped


def check_schedule(targets: PreflightTargets, *, scheduler: Any | None, events: Any | None) -> list[CheckRow]:
    rows = []
    if targets.schedule_name and scheduler is not None:
        rows.append(_check_scheduler_schedule(scheduler, targets))
    if targets.schedule_rule and events is not None:
        rows.append(_check_events_rule(events, targets))
    if not rows:
        rows.append(
            skipped(
                "schedule",
                "-",
                "not configured: neither SCHEDULE_NAME (EventBridge Scheduler) "
                "nor SCHEDULE_RULE_NAME (EventBridge rule) is set",
            )
        )
    return rows


def _check_scheduler_schedule(scheduler: Any, targets: PreflightTargets) -> CheckRow:
    check, target = "scheduler:GetSchedule", f"schedule {targets.schedule_group}/{targets.schedule_name}"
    try:
        schedule = scheduler.get_schedule(Name=targets.schedule_name, GroupName=targets.schedule_group)
    except (ClientError, BotoCoreError) as exc:
        return failed(check, target, _error(exc)[1])
    state = schedule.get("State", "ENABLED")
    arn = (schedule.get("Target") or {}).get("Arn", "")
    if state != "ENABLED":
        return failed(check, target, f"schedule is {state}: nothing starts the monitor every minute")
    problem = _not_the_monitor([arn], targets.monitor_function)
    if problem:
        return failed(check, target, f"enabled, but its target {problem}")
    return ok(check, target, f"enabled, {schedule.get('ScheduleExpression', '')}, invokes {function_name(arn)}")


def _check_events_rule(events: Any, targets: PreflightTargets) -> CheckRow:
    assert targets.schedule_rule is not None
    bus, _, name = targets.schedule_rule.rpartition("|")
    on_bus = {"EventBusName": bus} if bus else {}
    check, target = "events:DescribeRule + ListTargetsByRule", f"rule {name}"
    try:
        rule = events.describe_rule(Name=name, **on_bus)
        state = rule.get("State", "")
        if state != "ENABLED":
            return failed(check, target, f"rule is {state}: nothing starts the monitor every minute")
        arns = [item.get("Arn", "") for item in events.list_targets_by_rule(Rule=name, **on_bus).get("Targets") or []]
    except (ClientError, BotoCoreError) as exc:
        return failed(check, target, _error(exc)[1])
    problem = _not_the_monitor(arns, targets.monitor_function)
    if problem:
        return failed(check, target, f"enabled, but {problem}")
    invoked = ", ".join(function_name(arn) for arn in arns) or "nothing"
    return ok(check, target, f"enabled, {rule.get('ScheduleExpression', '')}, invokes {invoked}")


def check_alarms(cloudwatch: Any | None, targets: PreflightTargets) -> list[CheckRow]:
    check = "cloudwatch:DescribeAlarms"
    if not targets.alarm_names or cloudwatch is None:
        return [skipped(check, "-", "not configured: ALARM_NAMES is not set")]
    try:
        answer = cloudwatch.describe_alarms(
            AlarmNames=list(targets.alarm_names), AlarmTypes=["MetricAlarm", "CompositeAlarm"]
        )
    except (ClientError, BotoCoreError) as exc:
        return [failed(check, f"alarm {name}", _error(exc)[1]) for name in targets.alarm_names]
    found = {
        alarm["AlarmName"]: alarm
        for alarm in [*(answer.get("MetricAlarms") or []), *(answer.get("CompositeAlarms") or [])]
    }
    rows = []
    for name in targets.alarm_names:
        target = f"alarm {name}"
        alarm = found.get(name)
        if alarm is None:
            rows.append(failed(check, target, "not found: nothing invokes the monitor when this node's checks fail"))
            continue
        if not alarm.get("ActionsEnabled", True):
            rows.append(failed(check, target, "actions are disabled: the alarm cannot invoke the monitor"))
            continue
        actions = list(alarm.get("AlarmActions") or [])
        lambdas = [action for action in actions if ":lambda:" in action]
        problem = _not_the_monitor(lambdas, targets.monitor_function)
        if problem:
            rows.append(failed(check, target, f"{problem}; its alarm actions: {', '.join(actions) or 'none'}"))
            continue
        invoked = ", ".join(function_name(arn) for arn in lambdas)
        rows.append(ok(check, target, f"invokes {invoked}; state {alarm.get('StateValue', 'unknown')}"))
    return rows


def _not_the_monitor(arns: Sequence[str], monitor: str | None) -> str | None:
    """Why none of `arns` is the monitor function (None when one is). Without a known monitor, any
    Lambda function will do."""
    lambdas = [arn for arn in arns if arn]
    if not lambdas:
        return "invokes no Lambda function"
    if monitor is None:
        return None
    if any(function_name(arn) == function_name(monitor) for arn in lambdas):
        return None
    return f"does not invoke the monitor function {function_name(monitor)}"


class TriggerPreflightChecks:
    """The preflight's trigger checks (the PreflightTriggerChecks port); a client is None when its
    check is not configured (the row then says so)."""

    def __init__(
        self, *, cloudwatch: Any | None = None, events: Any | None = None, scheduler: Any | None = None
    ) -> None:
        self._cloudwatch = cloudwatch
        self._events = events
        self._scheduler = scheduler

    def schedule(self, targets: PreflightTargets) -> list[CheckRow]:
        return check_schedule(targets, scheduler=self._scheduler, events=self._events)

    def alarms(self, targets: PreflightTargets) -> list[CheckRow]:
        return check_alarms(self._cloudwatch, targets)
