"""Builds the preflight from the environment: for the control action, and for the monitor's periodic run.

Variables (all optional; the template sets them):

- PREFLIGHT_INTERVAL_SECONDS  the monitor's period (default 900; 0 = off)
- ALARM_NAMES                 comma-separated names of the alarms that must invoke the monitor
- SCHEDULE_NAME, SCHEDULE_GROUP_NAME   an EventBridge Scheduler schedule (SAM ScheduleV2)
- SCHEDULE_RULE_NAME          an EventBridge rule (SAM Schedule); "name" or "bus|name"
- MONITOR_FUNCTION_ARN        the function the schedule and alarms must invoke; the monitor itself
                              uses its own name (AWS_LAMBDA_FUNCTION_NAME): it cannot be given its
                              own ARN or its schedule's name without a circular dependency
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from functools import cache, partial
from typing import TYPE_CHECKING, Any

from nginx_eip_failover.core.config import Settings
from nginx_eip_failover.core.errors import ConfigError, FailoverError
from nginx_eip_failover.observability import logger
from nginx_eip_failover.service.preflight_periodic import PeriodicPreflight, record_metric

if TYPE_CHECKING:
    from nginx_eip_failover.adapters.ec2.assumed_role import AssumedRoleEc2
    from nginx_eip_failover.core.preflight import PreflightTargets
    from nginx_eip_failover.service.controller import FailoverController
    from nginx_eip_failover.service.preflight import Preflight
    from nginx_eip_failover.service.status import StatusDocument

DEFAULT_INTERVAL_SECONDS = 900.0
MAX_INTERVAL_SECONDS = 86400.0


def interval_from_env(env: Mapping[str, str]) -> float:
    raw = env.get("PREFLIGHT_INTERVAL_SECONDS", "").strip()
    if not raw:
        return DEFAULT_INTERVAL_SECONDS
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError("PREFLIGHT_INTERVAL_SECONDS", raw, "must be a number of seconds (0 = off)") from None
    if not math.isfinite(value) or not 0 <= value <= MAX_INTERVAL_SECONDS:
        raise ConfigError("PREFLIGHT_INTERVAL_SECONDS", raw, f"must be in [0, {MAX_INTERVAL_SECONDS:g}] (0 = off)")
    return value


def targets_from_env(env: Mapping[str, str], *, in_monitor: bool) -> PreflightTargets:
    from nginx_eip_failover.core.preflight import PreflightTargets

    def value(name: str) -> str | None:
        return env.get(name, "").strip() or None

    monitor = value("MONITOR_FUNCTION_ARN") or (value("AWS_LAMBDA_FUNCTION_NAME") if in_monitor else None)
    return PreflightTargets(
        monitor_function=monitor,
        schedule_name=value("SCHEDULE_NAME"),
        schedule_group=value("SCHEDULE_GROUP_NAME") or "default",
        schedule_rule=value("SCHEDULE_RULE_NAME"),
        alarm_names=tuple(name.strip() for name in env.get("ALARM_NAMES", "").split(",") if name.strip()),
    )


def _route_role(settings: Settings, role_arn: str) -> AssumedRoleEc2:
    from nginx_eip_failover.adapters import aws_clients
    from nginx_eip_failover.adapters.ec2.assumed_role import AssumedRoleEc2, session_name

    return AssumedRoleEc2(
        role_arn,
        external_id=settings.route_table_role_external_id,
        session_name=session_name(os.environ.get("AWS_LAMBDA_FUNCTION_NAME")),
        sts=aws_clients.sts,
        ec2_for=aws_clients.ec2_with_credentials,
    )


def build_preflight(settings: Settings, env: Mapping[str, str], *, in_monitor: bool) -> Preflight:
    # Built when a run is due (or an operator asks): the checks stay off the monitor's cold path.
    from nginx_eip_failover.adapters import aws_clients
    from nginx_eip_failover.adapters.dynamodb.preflight_store import PreflightStore
    from nginx_eip_failover.adapters.ec2.preflight_checks import Ec2PreflightChecks
    from nginx_eip_failover.adapters.health_probe import HealthProber
    from nginx_eip_failover.adapters.sns_notifier import Notifier
    from nginx_eip_failover.adapters.triggers import TriggerPreflightChecks
    from nginx_eip_failover.handlers.wiring import probe_credentials
    from nginx_eip_failover.service.preflight import Preflight

    targets = targets_from_env(env, in_monitor=in_monitor)
    return Preflight(
        settings,
        ec2=Ec2PreflightChecks(aws_clients.ec2(), route_role=partial(_route_role, settings)),
        store=PreflightStore(aws_clients.dynamodb(), settings.table_name, settings.allocation_id),
        prober=HealthProber(
            settings.nodes,
            settings.timeout_seconds,
            settings.ca_bundle,
            observer="preflight",
            credentials=probe_credentials(settings.probe_auth),
        ),
        notifier=Notifier(None, settings.topic_arn, source="nginx-eip-failover", connect=aws_clients.sns),
        targets=targets,
        # Only the clients a configured check needs.
        triggers=TriggerPreflightChecks(
            cloudwatch=aws_clients.client("cloudwatch") if targets.alarm_names else None,
            events=aws_clients.client("events") if targets.schedule_rule else None,
            scheduler=aws_clients.client("scheduler") if targets.schedule_name else None,
        ),
        actor="monitor" if in_monitor else "operator",
        secrets=probe_credentials(settings.probe_auth),
    )


_control_preflights: dict[str, tuple[Settings, Preflight]] = {}


def control_preflight(settings: Settings) -> Preflight:
    """The control action's preflight of one group, built once per container and group settings."""
    built = _control_preflights.get(settings.group)
    if built is None or built[0] != settings:
        built = _control_preflights[settings.group] = (
            settings,
            build_preflight(settings, os.environ, in_monitor=False),
        )
    return built[1]


def clear_control_preflights() -> None:
    _control_preflights.clear()


@cache
def periodic_preflight() -> PeriodicPreflight:
    """The monitor's, once per container. Built lazily: nothing is created until a run is due."""
    from nginx_eip_failover.handlers.wiring import controller

    try:
        interval = interval_from_env(os.environ)
    except ConfigError as exc:
        # The monitor must keep failing over whatever this optional check's setting: off, loudly.
        logger.error("periodic preflight is off", extra={"error": str(exc)})
        interval = 0.0
    return PeriodicPreflight(
        lambda: build_preflight(controller().settings, os.environ, in_monitor=True),
        interval_seconds=interval,
        metric_every_run=os.environ.get("OBSERVABILITY_PROFILE", "lean").strip() == "full",
    )


def preflight_response(failover: FailoverController) -> dict[str, Any]:
    """The control action: run every check now, and return the rows with the status."""
    from nginx_eip_failover.core.preflight import NotDue

    if failover.found_nodes is not None:
        failover.status()  # found nodes (docs/found-nodes.md): the checks name the instances in service now
    report = control_preflight(failover.settings).run()
    assert not isinstance(report, NotDue)  # min_age 0: an operator's run always runs
    record_metric(report, every_run=failover.settings.observability == "full")
    status: StatusDocument | None
    error: str | None = None
    try:
        status = failover.status()
    except FailoverError as exc:
        # The checks may have found why: return them rather than the error alone.
        status, error = None, f"status unavailable: {exc}"
    return {
        "ok": report.ok,
        "action": "preflight",
        "checks": report.as_dicts(),
        "status": status,
        "error": error,
    }
