"""The stack's triggers in the lab's AWS: the monitor's schedule and the template's CloudWatch alarms.

Nothing invokes anything through them (the lab's scheduler and `alarm_event` do that); they exist so
that what reads them - the preflight's schedule and alarm checks - sees what a deployed stack has.
They are created from the template's own properties, resolved with the names the lab's stack gave.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nginx_eip_failover_lab.stack.intrinsics import Resolver
from nginx_eip_failover_lab.stack.provisioner import LabStack
from nginx_eip_failover_lab.stack.template import MONITOR_FUNCTION, TemplateError


def create_triggers(stack: LabStack, clients: Mapping[str, Any]) -> list[str]:
    """Create the MonitorFunction's schedule events and every alarm; returns what was created.

    `clients` holds boto3 clients for "events", "scheduler" and "cloudwatch" of the lab's AWS.
    """
    resolver = Resolver(stack.template, stack.parameters, stack.name)
    resolver.physical.update(stack.physical_ids)  # the names the functions' environment already uses
    monitor_arn = str(resolver.get_att(MONITOR_FUNCTION, "Arn"))
    created: list[str] = []
    events = (stack.template.function(MONITOR_FUNCTION).get("Properties") or {}).get("Events") or {}
    for event_name, event in events.items():
        logical_id = MONITOR_FUNCTION + event_name
        properties = resolver.resolve(event.get("Properties") or {})
        if event.get("Type") == "Schedule":
            name = str(properties.get("Name") or resolver.ref(logical_id))
            state = properties.get("State") or ("DISABLED" if properties.get("Enabled") is False else "ENABLED")
            clients["events"].put_rule(
                Name=name,
                ScheduleExpression=properties["Schedule"],
                State=str(state),
                Description=str(properties.get("Description", "")),
            )
            target = {"Id": f"{logical_id}LambdaTarget", "Arn": monitor_arn}
            if properties.get("Input") is not None:
                target["Input"] = str(properties["Input"])
            clients["events"].put_targets(Rule=name, Targets=[target])
            created.append(f"rule {name}")
        elif event.get("Type") == "ScheduleV2":
            # The name the functions' environment got for !Ref (unique per lab stack in one moto server).
            name = str(properties.get("Name") or resolver.ref(logical_id))
            target = {"Arn": monitor_arn, "RoleArn": f"arn:aws:iam::{resolver.pseudo['AWS::AccountId']}:role/lab"}
            if properties.get("Input") is not None:
                target["Input"] = str(properties["Input"])
            clients["scheduler"].create_schedule(
                Name=name,
                GroupName=str(properties.get("GroupName") or "default"),
                ScheduleExpression=properties["ScheduleExpression"],
                FlexibleTimeWindow=properties.get("FlexibleTimeWindow") or {"Mode": "OFF"},
                State=str(properties.get("State") or "ENABLED"),
                Target=target,
            )
            created.append(f"schedule {name}")
    for logical_id, (function, raw) in stack.template.schedules().items():
        # The plain CloudFormation form (a CDK synth): the schedule resource itself.
        if function != MONITOR_FUNCTION or not resolver.included(stack.template.resources[logical_id]):
            continue
        name = str(resolver.resolve(raw.get("Name")) or resolver.ref(logical_id))
        target = {"Arn": monitor_arn, "RoleArn": f"arn:aws:iam::{resolver.pseudo['AWS::AccountId']}:role/lab"}
        schedule_input = (raw.get("Target") or {}).get("Input")
        if schedule_input is not None:
            target["Input"] = str(resolver.resolve(schedule_input))
        clients["scheduler"].create_schedule(
            Name=name,
            GroupName=str(resolver.resolve(raw.get("GroupName")) or "default"),
            ScheduleExpression=str(resolver.resolve(raw["ScheduleExpression"])),
            FlexibleTimeWindow=resolver.resolve(raw.get("FlexibleTimeWindow")) or {"Mode": "OFF"},
            State=str(resolver.resolve(raw.get("State")) or "ENABLED"),
            Target=target,
        )
        created.append(f"schedule {name}")
    for logical_id, resource in stack.template.of_type("AWS::CloudWatch::Alarm").items():
        if not resolver.included(resource):
            continue
        try:
            properties = resolver.resolve(resource.get("Properties") or {})
        except TemplateError as exc:
            raise TemplateError(f"{logical_id}: {exc}") from exc
        properties.setdefault("AlarmName", f"{stack.name}-{logical_id}")
        clients["cloudwatch"].put_metric_alarm(**properties)
        created.append(f"alarm {properties['AlarmName']}")
    return created
