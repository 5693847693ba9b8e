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
  either is skipped with a "not configured" row when its variable is not set;
- with authenticated health checks, each secret can be read and holds what its kind needs
  (`secretsmanager:GetSecretValue` or `ssm:GetParameter`), the row naming the template parameter.

Here is the runner, which reaches AWS only through ports (core/ports.py). The rows, the table and
the alert's transitions are pure (core/preflight.py); the checks that call AWS are adapters
(adapters/ec2/preflight_checks.py, adapters/triggers.py); `due` and the monitor's background run are
in preflight_periodic.py. Each is tested alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial

from nginx_eip_failover.core.config import NodeConfig, Settings
from nginx_eip_failover.core.errors import ConflictError, StateStoreError
from nginx_eip_failover.core.ports import (
    AlertRecord,
    Notice,
    NotifierPort,
    PreflightEc2Checks,
    PreflightStorePort,
    PreflightTriggerChecks,
    Prober,
    ProbeSecretChecks,
)
from nginx_eip_failover.core.preflight import (
    CheckRow,
    NotDue,
    PreflightReport,
    PreflightTargets,
    _iso,
    alert_notice,
    failed,
    failure_summaries,
    ok,
    route_roles_to_check,
)
from nginx_eip_failover.core.probe_auth import secret_service
from nginx_eip_failover.observability import logger


def check_health(prober: Prober, nodes: Sequence[NodeConfig]) -> list[CheckRow]:
    urls = {node.name: node.health_check_url for node in nodes}
    rows = []
    for observation in prober.probe_all():
        target = f"{observation.node} {urls.get(observation.node, '')}".strip()
        detail = f"{observation.detail} in {observation.latency_ms:g} ms"
        row = ok if observation.ok else failed
        rows.append(row("health probe", target, detail if observation.ok else observation.detail))
    return rows


# --------------------------------------------------------------------------------------- the runner


class Preflight:
    """Runs every check and keeps the preflight alert (one notice when it starts, one when it clears)."""

    def __init__(
        self,
        settings: Settings,
        *,
        ec2: PreflightEc2Checks,
        triggers: PreflightTriggerChecks,
        store: PreflightStorePort,
        prober: Prober,
        notifier: NotifierPort,
        targets: PreflightTargets,
        actor: str = "operator",
        clock: Callable[[], float] = time.time,
        secrets: ProbeSecretChecks | None = None,
    ) -> None:
        self.settings = settings
        self._secrets = secrets
        self._ec2 = ec2
        self._store = store
        self._prober = prober
        self._notifier = notifier
        self._targets = targets
        self._triggers = triggers
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
        rows = [*self._ec2_rows(), *self._guard("health check secrets", "-", self._secret_rows)]
        rows += [*self._guard("health probe", "nodes", self._health), write_row, read_row]
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
        # Another account's route tables: its role first (a fresh session the dry runs below reuse).
        for role_arn, tables in route_roles_to_check(settings):
            call = partial(self._ec2.route_role, role_arn, tables)
            rows += self._guard("sts:AssumeRole", f"RouteTableRoleArn {role_arn}", call)
        for node in settings.nodes:
            # Every call a move to this node makes, with DryRun: each EIP, the secondary IPs, each route.
            for spec in addresses.elastic_ips:
                target = f"{node.name}: {spec.allocation_id}"
                private_ip = spec.private_ips.get(node.name)
                call = partial(self._associate, node, spec.allocation_id, private_ip)
                rows += self._guard("ec2:AssociateAddress (DryRun)", target, call)
            if addresses.secondary_ips:
                ips = [spec.address for spec in addresses.secondary_ips]
                call = partial(lambda n, i: [self._ec2.secondary_ips(n, i)], node, ips)
                rows += self._guard("ec2:DescribeNetworkInterfaces", node.name, call)
            for route in addresses.routes:
                for table in route.route_table_ids:
                    call = partial(lambda n, r, t: [self._ec2.replace_route(n, r, t)], node, route, table)
                    rows += self._guard("ec2:ReplaceRoute (DryRun)", f"{node.name}: {table}", call)
        return rows

    def _eip(self, allocation_id: str | None = None) -> list[CheckRow]:
        settings = self.settings if allocation_id is None else replace(self.settings, allocation_id=allocation_id)
        return [self._ec2.eip(settings)]

    def _instances(self) -> list[CheckRow]:
        return self._ec2.instances(self.settings.nodes)

    def _associate(self, node: NodeConfig, allocation_id: str, private_ip: str | None) -> list[CheckRow]:
        return [self._ec2.associate(allocation_id, node, private_ip)]

    def _health(self) -> list[CheckRow]:
        return check_health(self._prober, self.settings.nodes)

    def _secret_rows(self) -> list[CheckRow]:
        rows = []
        for parameter, arn, problem in self._secrets.check() if self._secrets is not None else []:
            check = "ssm:GetParameter" if secret_service(arn) == "ssm" else "secretsmanager:GetSecretValue"
            target = f"{parameter} {arn}"
            rows.append(ok(check, target, "read; well-formed") if problem is None else failed(check, target, problem))
        return rows

    def _schedule(self) -> list[CheckRow]:
        return self._triggers.schedule(self._targets)

    def _alarms(self) -> list[CheckRow]:
        return self._triggers.alarms(self._targets)

    def _guard(self, check: str, target: str, run: Callable[[], list[CheckRow]]) -> list[CheckRow]:
        """A check that raises unexpectedly is a failed row, never a failed preflight."""
        try:
            return run()
        except Exception as exc:
            logger.exception("preflight check raised", extra={"check": check})
            return [failed(check, target, f"unexpected error: {type(exc).__name__}: {exc}")]

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
