"""`nginx-eip-failover stop` and `resume`: one emergency stop for everything that can move an address.

`stop --reason TEXT`, in this order, each step reported:
1. writes the stop flag into the stack's state table (core/emergency_stop.py): from then on the
   monitor and every observer return without probing, and any move already decided is refused at
   the mover, whatever invoked the function (a schedule re-enabled by hand, an alarm, an operator);
2. disables every EventBridge Scheduler schedule of the stack (the monitor's and the observers');
3. disables the actions of every CloudWatch alarm of the stack (the node alarms invoke the monitor).

`resume` undoes 3 and 2, then deletes the flag, last and only when the rest succeeded, so a resume
that fails half way leaves the stack stopped (run it again). Both are idempotent.

These calls are made here with the operator's own credentials, not by a function (the stop is for
when the functions are not trusted): `dynamodb:PutItem`/`DeleteItem` on the state table,
`scheduler:GetSchedule`/`UpdateSchedule` (and `iam:PassRole` for the schedules' role, which
UpdateSchedule passes again), `cloudwatch:DisableAlarmActions`/`EnableAlarmActions`, and
`cloudformation:ListStackResources` to find them. With `--lab`, the lab's AWS.
"""

from __future__ import annotations

import argparse
import getpass
import json
import socket
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TextIO

from nginx_eip_failover.core.emergency_stop import STOP_KEY, EmergencyStop, stop_from_item, stop_item

from .common import PROG, TransportError, UsageError

COMMANDS = frozenset({"stop", "resume"})
STATE_TABLE = "StateTable"  # the template's logical ID
# UpdateSchedule replaces the whole schedule: these are what GetSchedule returns that it takes back.
_SCHEDULE_FIELDS = (
    "Name",
    "GroupName",
    "ScheduleExpression",
    "ScheduleExpressionTimezone",
    "FlexibleTimeWindow",
    "Target",
    "Description",
    "StartDate",
    "EndDate",
    "KmsKeyArn",
    "ActionAfterCompletion",
)


def add_commands(command: Callable[..., argparse.ArgumentParser]) -> None:
    stop = command("stop", "emergency stop: no function moves an address until resume", grouped=False)
    stop.add_argument("--reason", required=True, help="why (recorded in the flag, shown by every refused move)")
    command("resume", "undo stop: alarm actions and schedules on again, then the flag removed", grouped=False)


@dataclass(frozen=True)
class StopTargets:
    """What a stop touches in one stack."""

    table: str
    schedules: tuple[tuple[str, str], ...]  # (group, name)
    alarms: tuple[str, ...]


@dataclass
class Steps:
    rows: list[dict[str, Any]] = field(default_factory=list)

    def run(self, action: str, target: str, call: Callable[[], str]) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            detail = call()
        except (ClientError, BotoCoreError) as exc:
            self.rows.append({"step": action, "target": target, "ok": False, "detail": str(exc)})
            return False
        self.rows.append({"step": action, "target": target, "ok": True, "detail": detail})
        return True

    @property
    def ok(self) -> bool:
        return all(row["ok"] for row in self.rows)


# ------------------------------------------------------------------------------------ where it acts


@dataclass(frozen=True)
class Aws:
    client: Callable[[str], Any]
    targets: StopTargets


def _deployed(args: argparse.Namespace, environ: Mapping[str, str]) -> Aws:
    import boto3

    stack_name = args.stack_name or environ.get("NGINX_EIP_FAILOVER_STACK_NAME")
    if not stack_name:
        raise UsageError(f"{args.command} acts on a whole stack: give --stack-name NAME or --lab")
    session = boto3.session.Session(profile_name=args.profile, region_name=args.region)

    def client(service: str) -> Any:
        return session.client(service, endpoint_url=args.endpoint_url)  # type: ignore[call-overload]

    resources = list(_stack_resources(client("cloudformation"), stack_name))
    tables = [r["PhysicalResourceId"] for r in resources if r["LogicalResourceId"] == STATE_TABLE]
    if not tables:
        raise TransportError(f"stack {stack_name} has no {STATE_TABLE}: is it an nginx-eip-failover stack?")
    scheduler = client("scheduler")
    schedules = []
    for resource in resources:
        if resource["ResourceType"] == "AWS::Scheduler::Schedule":
            name = resource["PhysicalResourceId"]
            # The group is not in the physical ID; the template's schedules are in "default" unless named.
            schedules.append((_schedule_group(scheduler, name), name))
    alarms = tuple(r["PhysicalResourceId"] for r in resources if r["ResourceType"] == "AWS::CloudWatch::Alarm")
    return Aws(client, StopTargets(tables[0], tuple(schedules), alarms))


def _stack_resources(cloudformation: Any, stack_name: str) -> Iterator[dict[str, Any]]:
    for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack_name):
        yield from page.get("StackResourceSummaries") or []


def _schedule_group(scheduler: Any, name: str) -> str:
    for page in scheduler.get_paginator("list_schedules").paginate(NamePrefix=name):
        for schedule in page.get("Schedules") or []:
            if schedule.get("Name") == name:
                return str(schedule.get("GroupName") or "default")
    return "default"


def _lab(args: argparse.Namespace) -> Aws:
    try:
        from nginx_eip_failover_lab.__main__ import lab_file
        from nginx_eip_failover_lab.aws.moto_server import DUMMY_AWS_ENV
    except ImportError as exc:
        raise UsageError("--lab needs the development lab: pip install -e '.[dev]'") from exc
    import boto3

    path = lab_file(args.lab_file)
    try:
        env = json.loads(Path(path).read_text(encoding="utf-8"))["control_env"]
    except (OSError, KeyError, json.JSONDecodeError) as exc:
        raise UsageError(f"no running lab in {path}: {exc}") from None
    # The operator's own credentials in the lab: not the ControlFunction's key (the lab's IAM would
    # hold it to the function's policy, which has no UpdateSchedule: the stop is not the function's).
    session = boto3.session.Session(
        aws_access_key_id=DUMMY_AWS_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=DUMMY_AWS_ENV["AWS_SECRET_ACCESS_KEY"],
        region_name=env.get("AWS_REGION", "us-east-1"),
    )

    def client(service: str) -> Any:
        return session.client(service, endpoint_url=env["AWS_ENDPOINT_URL"])  # type: ignore[call-overload]

    schedule = env.get("SCHEDULE_NAME")
    schedules = ((env.get("SCHEDULE_GROUP_NAME") or "default", schedule),) if schedule else ()
    alarms = tuple(name for name in (env.get("ALARM_NAMES") or "").split(",") if name)
    return Aws(client, StopTargets(env["STATE_TABLE_NAME"], schedules, alarms))


# ------------------------------------------------------------------------------------------ actions


def stop(aws: Aws, reason: str, *, by: str, now: float) -> Steps:
    steps = Steps()
    targets = aws.targets
    dynamodb, scheduler, cloudwatch = aws.client("dynamodb"), aws.client("scheduler"), aws.client("cloudwatch")
    flag = EmergencyStop(reason=reason, by=by, at=now)

    def write_flag() -> str:
        dynamodb.put_item(TableName=targets.table, Item=stop_item(flag))
        return flag.describe()

    # The flag first: it stops every mover at once, before the slower trigger changes.
    steps.run("dynamodb:PutItem (the stop flag)", f"{targets.table}/{STOP_KEY}", write_flag)
    for group, name in targets.schedules:
        steps.run(
            "scheduler:UpdateSchedule", f"{group}/{name}", partial(_set_schedule, scheduler, group, name, "DISABLED")
        )
    if targets.alarms:
        steps.run(
            "cloudwatch:DisableAlarmActions",
            ", ".join(targets.alarms),
            partial(_alarms, cloudwatch, targets.alarms, False),
        )
    return steps


def resume(aws: Aws) -> Steps:
    steps = Steps()
    targets = aws.targets
    dynamodb, scheduler, cloudwatch = aws.client("dynamodb"), aws.client("scheduler"), aws.client("cloudwatch")
    if targets.alarms:
        steps.run(
            "cloudwatch:EnableAlarmActions",
            ", ".join(targets.alarms),
            partial(_alarms, cloudwatch, targets.alarms, True),
        )
    for group, name in targets.schedules:
        steps.run(
            "scheduler:UpdateSchedule", f"{group}/{name}", partial(_set_schedule, scheduler, group, name, "ENABLED")
        )
    flag_step, target = "dynamodb:DeleteItem (the stop flag)", f"{targets.table}/{STOP_KEY}"
    if not steps.ok:
        kept = "kept: a step above failed, so the stack stays stopped (fix it and run resume again)"
        steps.rows.append({"step": flag_step, "target": target, "ok": False, "detail": kept})
        return steps

    def delete_flag() -> str:
        old = dynamodb.delete_item(TableName=targets.table, Key={"pk": {"S": STOP_KEY}}, ReturnValues="ALL_OLD")
        was = stop_from_item(old.get("Attributes"))
        return f"removed ({was.describe()})" if was else "there was no stop flag"

    steps.run(flag_step, target, delete_flag)
    return steps


def _set_schedule(scheduler: Any, group: str, name: str, state: str) -> str:
    current = scheduler.get_schedule(Name=name, GroupName=group)
    if current.get("State") == state:
        return f"already {state}"
    kept = {key: current[key] for key in _SCHEDULE_FIELDS if current.get(key) is not None}
    scheduler.update_schedule(**kept, State=state)
    return state


def _alarms(cloudwatch: Any, names: tuple[str, ...], enable: bool) -> str:
    call = cloudwatch.enable_alarm_actions if enable else cloudwatch.disable_alarm_actions
    call(AlarmNames=list(names))
    return f"actions {'enabled' if enable else 'disabled'} on {len(names)} alarm(s)"


def operator() -> str:
    """Who stopped it, as the flag records it (the CLI runs on the operator's machine)."""
    return f"{getpass.getuser()}@{socket.gethostname()}"


def run(args: argparse.Namespace, environ: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    lab = bool(args.lab or args.lab_file)
    aws = _lab(args) if lab else _deployed(args, environ)
    steps = stop(aws, args.reason, by=operator(), now=time.time()) if args.command == "stop" else resume(aws)
    if args.output == "json":
        print(json.dumps({"command": args.command, "ok": steps.ok, "steps": steps.rows}, indent=2), file=out)
    else:
        width = max(len(row["step"]) for row in steps.rows)
        for row in steps.rows:
            print(
                f"{'ok  ' if row['ok'] else 'FAIL'}  {row['step'].ljust(width)}  {row['target']}: {row['detail']}",
                file=out,
            )
    if not steps.ok:
        print(f"{PROG}: {args.command} incomplete: see the FAIL rows", file=err)
        return 1
    if args.output != "json":
        done = "stopped: no function moves an address until resume" if args.command == "stop" else "resumed"
        print(f"{PROG}: {done}", file=out)
    return 0
