"""What may invoke the monitor: the schedule (its explicit input, or a plain EventBridge scheduled
event) and CloudWatch alarm actions. Anything else is rejected before any AWS call is made.

Parsed by hand rather than with Powertools' event data classes: importing that package loads every
event class (about 35 ms measured), a seventh of boto3's own import, on every cold start.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from nginx_eip_failover.core.errors import InvalidRequestError

SCHEDULE_INPUT = {"trigger": "schedule"}
_EXPECTED = (
    'expected the schedule input {"trigger": "schedule"}, an EventBridge event with detail-type '
    '"Scheduled Event", or a CloudWatch alarm action event (source "aws.cloudwatch" with alarmData)'
)


@dataclass(frozen=True)
class MonitorTrigger:
    kind: Literal["schedule", "alarm"]
    actor: str  # recorded in the history as who made a change
    correlation_id: str | None = None
    alarm_name: str | None = None
    alarm_state: str | None = None
    instance_ids: tuple[str, ...] = ()

    @property
    def starts_runs_afresh(self) -> bool:
        """An alarm-started invocation counts only its own probes: what starts one is often the
        failure itself (FleetRunner; simulator scenario short_gaps)."""
        return self.kind == "alarm"


def parse_monitor_event(event: object) -> MonitorTrigger:
    if not isinstance(event, Mapping):
        raise InvalidRequestError("event", event, f"must be a JSON object; {_EXPECTED}")
    if "trigger" in event:
        if dict(event) != SCHEDULE_INPUT:
            field = "trigger" if event.get("trigger") != "schedule" else next(k for k in event if k != "trigger")
            raise InvalidRequestError(field, event.get(field), _EXPECTED)
        return MonitorTrigger(kind="schedule", actor="monitor:schedule")
    if event.get("source") == "aws.cloudwatch":
        return _alarm(event)
    if "detail-type" in event:
        if event["detail-type"] != "Scheduled Event":
            raise InvalidRequestError("detail-type", event["detail-type"], _EXPECTED)
        return MonitorTrigger(kind="schedule", actor="monitor:schedule", correlation_id=event.get("id"))
    field = "source" if "source" in event else "event"
    value = event.get("source") if "source" in event else sorted(event)
    raise InvalidRequestError(field, value, _EXPECTED)


def _alarm(event: Mapping[str, Any]) -> MonitorTrigger:
    data = event.get("alarmData")
    if not isinstance(data, Mapping):
        raise InvalidRequestError("alarmData", data, "must be an object in a CloudWatch alarm action event")
    name = data.get("alarmName")
    if not isinstance(name, str) or not name:
        raise InvalidRequestError("alarmData.alarmName", name, "must be a non-empty string")
    state = data.get("state")
    state = state if isinstance(state, Mapping) else {}
    state_value = state.get("value")
    return MonitorTrigger(
        kind="alarm",
        actor=f"monitor:alarm:{name}",
        correlation_id=f"{event.get('alarmArn') or name}@{state.get('timestamp', '')}",
        alarm_name=name,
        alarm_state=state_value if isinstance(state_value, str) else None,
        instance_ids=_instance_ids(data),
    )


def _instance_ids(data: Mapping[str, Any]) -> tuple[str, ...]:
    """The InstanceId dimensions the alarm watches: which node the hint is about (for the logs)."""
    found: list[str] = []
    configuration = data.get("configuration")
    metric_list = configuration.get("metrics") if isinstance(configuration, Mapping) else None
    for metric in metric_list if isinstance(metric_list, list) else []:
        stat = metric.get("metricStat") if isinstance(metric, Mapping) else None
        described = stat.get("metric") if isinstance(stat, Mapping) else None
        dimensions = described.get("dimensions") if isinstance(described, Mapping) else None
        if isinstance(dimensions, Mapping) and isinstance(dimensions.get("InstanceId"), str):
            found.append(dimensions["InstanceId"])
    return tuple(found)
