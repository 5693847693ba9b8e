"""Preflight: exercise everything a failover needs, without changing anything.

A failover breaks in the one minute it is needed when something changed months earlier: an IAM
policy edited, a tag removed, a route table replaced, a security group that no longer lets the
function reach a health port. Each check here makes the call a failover makes (or the closest
call that changes nothing) and becomes one row: check, target, ok, why not.

- `ec2:AssociateAddress` with `DryRun=True` for each node (`DryRunOperation` = allowed);
- the EIP and the instances exist (`DescribeAddresses`, `DescribeInstances`);
- each node's health URL answers from where the function runs (one probe each);
- the state table: a conditional `PutItem` (the failover's own write action) and a `GetItem`, both on
  preflight's own items, never on the state item;
- the schedule is enabled and targets the monitor (`scheduler:GetSchedule` or `events:DescribeRule`
  + `events:ListTargetsByRule`), and the node alarms invoke the monitor (`cloudwatch:DescribeAlarms`);
  either is skipped with a "not configured" row when its variable is not set.

The pure parts (rows, the table, `due`, the alert's transitions) are separate from the I/O (the
check functions and `Preflight`), so each is tested alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

from botocore.exceptions import BotoCoreError, ClientError

from nginx_eip_failover.adapters.dynamodb.preflight_store import AlertRecord, PreflightStore
from nginx_eip_failover.core.addresses import RouteSpec
from nginx_eip_failover.core.config import NodeConfig, Settings
from nginx_eip_failover.core.errors import ConflictError, StateStoreError
from nginx_eip_failover.core.ports import Notice, NotifierPort, Prober
from nginx_eip_failover.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client

Status = Literal["ok", "failed", "skipped"]

ALERT = "preflight_failing"
MAX_DETAIL = 500  # characters of one row's detail (AWS messages can be long)
MAX_NOTICE_DETAIL = 1500

# The states in which an instance can no longer take the EIP.
_GONE = ("shutting-down", "terminated")


# ------------------------------------------------------------------------------------ result types


@dataclass(frozen=True)
class CheckRow:
    check: str  # the AWS action (or what is checked), e.g. "ec2:AssociateAddress (DryRun)"
    target: str  # what it was checked on, e.g. "node1: eipalloc-... -> i-..."
    status: Status
    detail: str  # what was seen; for a failed row the why-not; for a skipped row why it was skipped

    @property
    def ok(self) -> bool:
        """A skipped check is not a failure: it was not configured, so there is nothing to break."""
        return self.status != "failed"

    @property
    def why_not(self) -> str | None:
        return self.detail if self.status == "failed" else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "target": self.target,
            "ok": self.ok,
            "status": self.status,
            "why_not": self.why_not,
            "detail": self.detail,
        }

    def summary(self) -> str:
        return f"{self.check} {self.target}: {self.detail}"


@dataclass(frozen=True)
class PreflightReport:
    ran_at: float
    rows: tuple[CheckRow, ...]
    notices: tuple[Notice, ...] = ()  # what this run published (the alert raised or cleared)

    @property
    def ok(self) -> bool:
        return all(row.ok for row in self.rows)

    @property
    def failures(self) -> list[CheckRow]:
        return [row for row in self.rows if not row.ok]

    def as_dicts(self) -> list[dict[str, Any]]:
        return [row.as_dict() for row in self.rows]


@dataclass(frozen=True)
class NotDue:
    """Another invocation ran the preflight at `last_run_at`, less than a period ago: nothing ran."""

    last_run_at: float


@dataclass(frozen=True)
class PreflightTargets:
    """What the stack's triggers are called (from the environment; each is optional)."""

    monitor_function: str | None = None  # ARN or name of the MonitorFunction the triggers must invoke
    schedule_name: str | None = None  # EventBridge Scheduler schedule (SAM ScheduleV2)
    schedule_group: str = "default"
    schedule_rule: str | None = None  # EventBridge rule (SAM Schedule): "name" or "bus|name"
    alarm_names: tuple[str, ...] = ()


def ok(check: str, target: str, detail: str) -> CheckRow:
    return CheckRow(check, target, "ok", _short(detail))


def failed(check: str, target: str, detail: str) -> CheckRow:
    return CheckRow(check, target, "failed", _short(detail))


def skipped(check: str, target: str, detail: str) -> CheckRow:
    return CheckRow(check, target, "skipped", _short(detail))


# ------------------------------------------------------------------------------------- pure parts


def render_table(rows: Sequence[CheckRow]) -> str:
    """The rows as a fixed-width table for people, with a one-line verdict under it."""
    header = ("check", "target", "result", "why not / seen")
    results = {"ok": "ok", "failed": "FAIL", "skipped": "skip"}
    lines = [(row.check, row.target, results[row.status], row.detail) for row in rows]
    widths = [max(len(line[column]) for line in [header, *lines]) for column in range(3)]

    def format_line(line: tuple[str, str, str, str]) -> str:
        return "  ".join(cell.ljust(width) for cell, width in zip(line[:3], widths, strict=True)) + "  " + line[3]

    table = [format_line(header), *(format_line(line) for line in lines)]
    return "\n".join([*(line.rstrip() for line in table), verdict(rows)])


def verdict(rows: Sequence[CheckRow]) -> str:
    failures = sum(1 for row in rows if not row.ok)
    skips = sum(1 for row in rows if row.status == "skipped")
    skipped_text = f", {skips} skipped (not configured)" if skips else ""
    if failures:
        return f"preflight FAILED: {failures} of {len(rows)} checks failed{skipped_text}"
    return f"preflight passed: {len(rows) - skips} checks ok{skipped_text}"


def failure_summaries(rows: Iterable[CheckRow]) -> tuple[str, ...]:
    """What is remembered of a failing run (bounded: it is stored in the preflight item)."""
    return tuple(row.summary()[:200] for row in rows if not row.ok)[:20]


def alert_notice(was_raised: bool, rows: Sequence[CheckRow], allocation_id: str) -> Notice | None:
    """One notice when the preflight starts failing and one when it passes again; None otherwise."""
    failures = [row for row in rows if not row.ok]
    if failures and not was_raised:
        listed = "; ".join(row.summary() for row in failures)
        if len(listed) > MAX_NOTICE_DETAIL:
            listed = listed[: MAX_NOTICE_DETAIL - 3] + "..."
        return Notice(
            ALERT,
            "critical",
            f"preflight failed for EIP {allocation_id}: {len(failures)} of {len(rows)} checks failed, so a "
            f"failover now could fail: {listed}",
        )
    if not failures and was_raised:
        return Notice(f"{ALERT}_cleared", "info", f"cleared: preflight for EIP {allocation_id} passes again")
    return None


def function_name(arn_or_name: str) -> str:
    """The function name of a Lambda ARN (alias or version dropped), or the name itself."""
    parts = arn_or_name.split(":")
    if arn_or_name.startswith("arn:") and len(parts) >= 7 and parts[5] == "function":
        return parts[6]
    return arn_or_name


def _short(text: str) -> str:
    # IAM denials end with a long encoded message that says nothing without sts:DecodeAuthorizationMessage.
    text = text.split(" Encoded authorization failure message:")[0].strip().rstrip(".")
    return text if len(text) <= MAX_DETAIL else text[: MAX_DETAIL - 3] + "..."


def _error(exc: Exception) -> tuple[str, str]:
    """(code, "Code: message") of an AWS error."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Error"))
        return code, f"{code}: {error.get('Message', '')}".rstrip(": ")
    return type(exc).__name__, f"{type(exc).__name__}: {exc}"


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, tz=UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# ------------------------------------------------------------------------------------------- checks


def check_eip(ec2: EC2Client, settings: Settings) -> CheckRow:
    check, target = "ec2:DescribeAddresses", settings.allocation_id
    try:
        addresses = ec2.describe_addresses(AllocationIds=[settings.allocation_id]).get("Addresses") or []
    except (ClientError, BotoCoreError) as exc:
        return failed(check, target, _error(exc)[1])
    if not addresses:
        return failed(check, target, "not found")
    address = addresses[0]
    holder = settings.describe_association(address.get("InstanceId") or None)
    return ok(check, target, f"exists: {address.get('PublicIp')}, {holder}")


def check_instances(ec2: EC2Client, nodes: Sequence[NodeConfig]) -> list[CheckRow]:
    """One DescribeInstances for all nodes; one per node only when one of them is not found."""
    check = "ec2:DescribeInstances"
    ids = [node.instance_id for node in nodes]
    try:
        states = _instance_states(ec2, ids)
    except ClientError as exc:
        if not _error(exc)[0].startswith("InvalidInstanceID"):
            return [failed(check, f"{node.name} {node.instance_id}", _error(exc)[1]) for node in nodes]
        states = {}
        for instance_id in ids:  # which one is missing: EC2 fails the whole call for one bad ID
            try:
                states.update(_instance_states(ec2, [instance_id]))
            except (ClientError, BotoCoreError) as single:
                states[instance_id] = "! " + _error(single)[1]
    except BotoCoreError as exc:
        return [failed(check, f"{node.name} {node.instance_id}", _error(exc)[1]) for node in nodes]
    rows = []
    for node in nodes:
        target = f"{node.name} {node.instance_id}"
        state = states.get(node.instance_id)
        if state is None:
            rows.append(failed(check, target, "not found"))
        elif state.startswith("! "):
            rows.append(failed(check, target, state[2:]))
        elif state in _GONE:
            rows.append(failed(check, target, f"instance is {state}: it can never take the EIP"))
        else:
            rows.append(ok(check, target, f"exists ({state})"))
    return rows


def _instance_states(ec2: EC2Client, ids: list[str]) -> dict[str, str]:
    response = ec2.describe_instances(InstanceIds=ids)
    return {
        instance["InstanceId"]: (instance.get("State") or {}).get("Name", "unknown")
        for reservation in response.get("Reservations") or []
        for instance in reservation.get("Instances") or []
    }


def check_associate(ec2: EC2Client, allocation_id: str, node: NodeConfig, private_ip: str | None = None) -> CheckRow:
    """The failover's own call, with DryRun: EC2 checks the permissions and changes nothing. By ENI
    and private IP when the group's EIP lands there, else by instance, as the move makes it."""
    if private_ip is not None and node.network_interface_id is not None:
        where = f"network-interface/{node.network_interface_id} ({private_ip})"
        target = f"{node.name}: {allocation_id} -> {node.network_interface_id} {private_ip}"
        params: dict[str, Any] = {"NetworkInterfaceId": node.network_interface_id, "PrivateIpAddress": private_ip}
    else:
        where = f"instance/{node.instance_id}"
        target = f"{node.name}: {allocation_id} -> {node.instance_id}"
        params = {"InstanceId": node.instance_id}
    return dry_run(
        "ec2:AssociateAddress (DryRun)",
        target,
        f"elastic-ip/{allocation_id} with {where}",
        partial(ec2.associate_address, AllocationId=allocation_id, AllowReassociation=True, DryRun=True, **params),
    )


def check_secondary_ips(ec2: EC2Client, node: NodeConfig, addresses: Sequence[str]) -> CheckRow:
    """AssignPrivateIpAddresses takes no DryRun in EC2's API, so its permission is proven only by a real
    move; what can be checked is that the ENI the addresses move to exists."""
    check = "ec2:DescribeNetworkInterfaces"
    eni = node.network_interface_id
    target = f"{node.name}: {', '.join(addresses)} -> {eni}"
    if eni is None:
        return failed(check, target, "the node names no ENI (network_interface_id) for its secondary IPs")
    try:
        found = ec2.describe_network_interfaces(NetworkInterfaceIds=[eni]).get("NetworkInterfaces") or []
    except (ClientError, BotoCoreError) as exc:
        return failed(check, target, _error(exc)[1])
    if not found:
        return failed(check, target, "not found")
    return ok(
        check,
        target,
        f"exists in {found[0].get('SubnetId')}; ec2:AssignPrivateIpAddresses has no DryRun: granted by the "
        "template's tag condition, proven only by a move",
    )


def check_replace_route(ec2: EC2Client, node: NodeConfig, route: RouteSpec, table: str) -> CheckRow:
    """ReplaceRoute with DryRun: the overlay route pointed at this node's ENI."""
    eni = node.network_interface_id or "(no ENI)"

    def call() -> Any:
        if ":" in route.destination:
            return ec2.replace_route(
                RouteTableId=table, NetworkInterfaceId=eni, DestinationIpv6CidrBlock=route.destination, DryRun=True
            )
        return ec2.replace_route(
            RouteTableId=table, NetworkInterfaceId=eni, DestinationCidrBlock=route.destination, DryRun=True
        )

    return dry_run(
        "ec2:ReplaceRoute (DryRun)",
        f"{node.name}: {route.destination} in {table} -> {eni}",
        f"route-table/{table}",
        call,
    )


def dry_run(check: str, target: str, resource: str, call: Callable[[], Any]) -> CheckRow:
    """A mutating EC2 call with DryRun=True: `DryRunOperation` means allowed; `UnauthorizedOperation`
    names the action and the resource; any other answer is reported as is."""
    action = check.split(" ", 1)[0]
    try:
        call()
    except ClientError as exc:
        code, message = _error(exc)
        if code == "DryRunOperation":
            return ok(check, target, "allowed (DryRunOperation)")
        if code in ("UnauthorizedOperation", "AccessDenied", "AccessDeniedException"):
            # EC2's message repeats what its code says; the IAM sentence after it names the resource.
            message = message.replace("You are not authorized to perform this operation. ", "")
            return failed(check, target, f"{action} denied for {resource}: {message}")
        return failed(check, target, message)
    except BotoCoreError as exc:
        return failed(check, target, _error(exc)[1])
    # EC2 never performs a DryRun request; an answer without the DryRunOperation error is not proof.
    return failed(check, target, "answered without DryRunOperation: cannot tell whether it is allowed")


def check_health(prober: Prober, nodes: Sequence[NodeConfig]) -> list[CheckRow]:
    urls = {node.name: node.health_check_url for node in nodes}
    rows = []
    for observation in prober.probe_all():
        target = f"{observation.node} {urls.get(observation.node, '')}".strip()
        detail = f"{observation.detail} in {observation.latency_ms:g} ms"
        row = ok if observation.ok else failed
        rows.append(row("health probe", target, detail if observation.ok else observation.detail))
    return rows


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


# --------------------------------------------------------------------------------------- the runner


class Preflight:
    """Runs every check and keeps the preflight alert (one notice when it starts, one when it clears)."""

    def __init__(
        self,
        settings: Settings,
        *,
        ec2: EC2Client,
        store: PreflightStore,
        prober: Prober,
        notifier: NotifierPort,
        targets: PreflightTargets,
        cloudwatch: Any | None = None,
        events: Any | None = None,
        scheduler: Any | None = None,
        actor: str = "operator",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self._ec2 = ec2
        self._store = store
        self._prober = prober
        self._notifier = notifier
        self._targets = targets
        self._cloudwatch = cloudwatch
        self._events = events
        self._scheduler = scheduler
        self._actor = actor
        self._clock = clock
        # Whether this container last saw the alert raised: used only when the item cannot be read,
        # so an unreadable table sends its notice once per container, not once per run.
        self._raised_here = False

    def run(self, *, now: float | None = None, min_age: float = 0.0) -> PreflightReport | NotDue:
        """Run every check, unless another invocation did within `min_age` seconds (then NotDue).

        The run is first recorded in the preflight's own item with a conditional PutItem, the same
        action a failover writes its state with, on the same table: that write is the table check, and
        its condition makes concurrent monitors run the checks once per period between them.
        """
        now = self._clock() if now is None else now
        settings = self.settings
        write_check = "dynamodb:PutItem (conditional)"
        write_target = f"{settings.table_name}/{self._store.run_key}"
        try:
            newer = self._store.claim(now, now - min_age, self._actor)
        except StateStoreError as exc:
            write_row = failed(write_check, write_target, str(exc))
        else:
            if newer is not None and min_age > 0:
                return NotDue(newer)
            seen = "write accepted" if newer is None else f"write authorised (a newer run at {_iso(newer)} is kept)"
            write_row = ok(write_check, write_target, seen)
        record, read_row = self._read_alert()
        rows = [*self._ec2_rows(), *self._guard("health probe", "nodes", self._health), write_row, read_row]
        rows += self._guard("schedule", "-", self._schedule)
        rows += self._guard("cloudwatch:DescribeAlarms", "alarms", self._alarms)
        notices = self._keep_alert(record, rows, now)
        report = PreflightReport(ran_at=now, rows=tuple(rows), notices=tuple(notices))
        log = logger.warning if not report.ok else logger.info
        log(
            "preflight",
            extra={"ok": report.ok, "failures": [row.summary() for row in report.failures], "checks": len(rows)},
        )
        return report

    def _ec2_rows(self) -> list[CheckRow]:
        settings = self.settings
        rows = self._guard("ec2:DescribeAddresses", settings.allocation_id, self._eip)
        rows += self._guard("ec2:DescribeInstances", "instances", self._instances)
        addresses = settings.address_set
        for spec in addresses.elastic_ips:
            if spec.allocation_id != settings.allocation_id:
                rows += self._guard("ec2:DescribeAddresses", spec.allocation_id, partial(self._eip, spec.allocation_id))
        for node in settings.nodes:
            # Every call a move to this node makes, with DryRun: each EIP, the secondary IPs, each route.
            for spec in addresses.elastic_ips:
                target = f"{node.name}: {spec.allocation_id}"
                private_ip = spec.private_ips.get(node.name)
                call = partial(self._associate, node, spec.allocation_id, private_ip)
                rows += self._guard("ec2:AssociateAddress (DryRun)", target, call)
            if addresses.secondary_ips:
                ips = [spec.address for spec in addresses.secondary_ips]
                call = partial(lambda n, i: [check_secondary_ips(self._ec2, n, i)], node, ips)
                rows += self._guard("ec2:DescribeNetworkInterfaces", node.name, call)
            for route in addresses.routes:
                for table in route.route_table_ids:
                    call = partial(lambda n, r, t: [check_replace_route(self._ec2, n, r, t)], node, route, table)
                    rows += self._guard("ec2:ReplaceRoute (DryRun)", f"{node.name}: {table}", call)
        return rows

    def _eip(self, allocation_id: str | None = None) -> list[CheckRow]:
        settings = self.settings if allocation_id is None else replace(self.settings, allocation_id=allocation_id)
        return [check_eip(self._ec2, settings)]

    def _instances(self) -> list[CheckRow]:
        return check_instances(self._ec2, self.settings.nodes)

    def _associate(self, node: NodeConfig, allocation_id: str, private_ip: str | None) -> list[CheckRow]:
        return [check_associate(self._ec2, allocation_id, node, private_ip)]

    def _health(self) -> list[CheckRow]:
        return check_health(self._prober, self.settings.nodes)

    def _schedule(self) -> list[CheckRow]:
        return check_schedule(self._targets, scheduler=self._scheduler, events=self._events)

    def _alarms(self) -> list[CheckRow]:
        return check_alarms(self._cloudwatch, self._targets)

    def _guard(self, check: str, target: str, run: Callable[[], list[CheckRow]]) -> list[CheckRow]:
        """A check that raises unexpectedly is a failed row, never a failed preflight."""
        try:
            return run()
        except Exception as exc:
            logger.exception("preflight check raised", extra={"check": check})
            return [failed(check, target, f"unexpected error: {_error(exc)[1]}")]

    def _read_alert(self) -> tuple[AlertRecord | None, CheckRow]:
        check = "dynamodb:GetItem"
        target = f"{self.settings.table_name}/{self._store.alert_key}"
        try:
            record = self._store.load_alert()
        except StateStoreError as exc:
            return None, failed(check, target, str(exc))
        return record, ok(check, target, "read " + ("(no item yet)" if record.version == 0 else "the item"))

    def _keep_alert(self, record: AlertRecord | None, rows: Sequence[CheckRow], now: float) -> list[Notice]:
        was_raised = record.raised if record is not None else self._raised_here
        notice = alert_notice(was_raised, rows, self.settings.allocation_id)
        failing = any(not row.ok for row in rows)
        self._raised_here = failing
        if record is not None:
            updated = AlertRecord(
                raised=failing,
                failures=failure_summaries(rows),
                since=(record.since if record.raised else now) if failing else None,
                changed_at=now,
                by=self._actor,
                version=record.version,
            )
            # Written only when the result changes: whether it fails, and what fails.
            if (updated.raised, updated.failures) != (record.raised, record.failures):
                try:
                    self._store.save_alert(updated, record.version)
                except ConflictError:
                    # Another invocation recorded a result meanwhile and sent its own notice.
                    return []
                except StateStoreError:
                    logger.exception("could not record the preflight result")
        if notice is None:
            return []
        self._notifier.publish([notice])
        return [notice]
