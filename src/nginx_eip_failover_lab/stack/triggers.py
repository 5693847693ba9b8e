"""What invokes the monitor, read from the template: the schedule's input and the alarms on the pair;
and the events the lab sends in their place (an EventBridge scheduled event, an alarm action's)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from nginx_eip_failover_lab.account import ACCOUNT_ID, REGION

from .intrinsics import Resolver
from .template import MONITOR_FUNCTION, StackTemplate

DEFAULT_SCHEDULE_INPUT: Mapping[str, str] = {"trigger": "schedule"}


@dataclass(frozen=True)
class AlarmDefinition:
    logical_id: str
    name: str
    arn: str
    instance_ids: tuple[str, ...]
    namespace: str
    metric_name: str
    period: int
    statistic: str
    triggers_monitor: bool


def _targets_monitor(value: Any) -> bool:
    text = json.dumps(value)
    return MONITOR_FUNCTION in text


def schedule_input(template: StackTemplate, resolver: Resolver, notes: list[str]) -> dict[str, Any]:
    """What the template's schedule sends the monitor: its Input, or EventBridge's scheduled event."""
    inputs: list[Any] = []
    events = (template.function(MONITOR_FUNCTION).get("Properties") or {}).get("Events") or {}
    for event in events.values():
        if event.get("Type") in ("Schedule", "ScheduleV2"):
            inputs.append((event.get("Properties") or {}).get("Input"))
    for resource in template.of_type("AWS::Events::Rule").values():
        properties = resource.get("Properties") or {}
        if properties.get("ScheduleExpression"):
            inputs.extend(target.get("Input") for target in properties.get("Targets") or [] if _targets_monitor(target))
    for resource in template.of_type("AWS::Scheduler::Schedule").values():
        target = (resource.get("Properties") or {}).get("Target") or {}
        if _targets_monitor(target):
            inputs.append(target.get("Input"))
    if not inputs:
        notes.append("the template has no schedule for MonitorFunction; the lab sends the contract's input")
        return dict(DEFAULT_SCHEDULE_INPUT)
    first = resolver.resolve(inputs[0])
    if first is None:
        return scheduled_event()
    return dict(json.loads(first) if isinstance(first, str) else first)


def scheduled_event() -> dict[str, Any]:
    """An EventBridge scheduled event, as a schedule without Input delivers it."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/lab-schedule"],
        "detail": {},
    }


def alarm_definitions(template: StackTemplate, resolver: Resolver) -> list[AlarmDefinition]:
    """The template's CloudWatch alarms (those its conditions include), resolved."""
    alarms: list[AlarmDefinition] = []
    for logical_id, resource in template.of_type("AWS::CloudWatch::Alarm").items():
        if not resolver.included(resource):
            continue
        raw = resource.get("Properties") or {}
        name = str(resolver.resolve(raw["AlarmName"])) if "AlarmName" in raw else f"{resolver.stack_name}-{logical_id}"
        dimensions = resolver.resolve(raw.get("Dimensions") or [])
        for metric in raw.get("Metrics") or []:
            stat = resolver.resolve(metric.get("MetricStat") or {})
            dimensions.extend((stat.get("Metric") or {}).get("Dimensions") or [])
        instance_ids = tuple(str(item["Value"]) for item in dimensions if item.get("Name") == "InstanceId")
        alarms.append(
            AlarmDefinition(
                logical_id=logical_id,
                name=name,
                arn=f"arn:aws:cloudwatch:{REGION}:{ACCOUNT_ID}:alarm:{name}",
                instance_ids=instance_ids,
                namespace=str(raw.get("Namespace", "")),
                metric_name=str(raw.get("MetricName", "")),
                period=int(raw.get("Period", 60)),
                statistic=str(raw.get("Statistic", "Maximum")),
                triggers_monitor=_targets_monitor(raw.get("AlarmActions")),
            )
        )
    return alarms


def alarm_event(alarm: AlarmDefinition | None, instance_id: str, state: str = "ALARM") -> dict[str, Any]:
    """The event a CloudWatch alarm action delivers to a Lambda function."""
    name = alarm.name if alarm else f"lab-{instance_id}-status-check"
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"
    return {
        "source": "aws.cloudwatch",
        "alarmArn": alarm.arn if alarm else f"arn:aws:cloudwatch:{REGION}:{ACCOUNT_ID}:alarm:{name}",
        "accountId": ACCOUNT_ID,
        "time": now,
        "region": REGION,
        "alarmData": {
            "alarmName": name,
            "state": {
                "value": state,
                "reason": f"Threshold Crossed: 1 datapoint [1.0] was greater than or equal to the threshold (1.0) "
                f"[lab: simulated for {instance_id}]",
                "timestamp": now,
            },
            "previousState": {"value": "OK", "reason": "lab", "timestamp": now},
            "configuration": {
                "description": "simulated by the nginx-eip-failover lab",
                "metrics": [
                    {
                        "id": "m1",
                        "metricStat": {
                            "metric": {
                                "namespace": alarm.namespace if alarm else "AWS/EC2",
                                "name": alarm.metric_name if alarm else "StatusCheckFailed",
                                "dimensions": {"InstanceId": instance_id},
                            },
                            "period": alarm.period if alarm else 60,
                            "stat": alarm.statistic if alarm else "Maximum",
                        },
                        "returnData": True,
                    }
                ],
            },
        },
    }
