"""Preflight's rows and what is made of them, pure: the row types, the table, the verdict, the alert's
transitions and what a failing run remembers. The checks that produce rows are adapters
(`adapters/ec2/preflight_checks.py`, `adapters/triggers.py`); the runner is `service/preflight.py`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from nginx_eip_failover.core.config import DEFAULT_GROUP
from nginx_eip_failover.core.ports import Notice

if TYPE_CHECKING:
    from nginx_eip_failover.core.config import Settings

Status = Literal["ok", "failed", "skipped"]

ALERT = "preflight_failing"
MAX_DETAIL = 500  # characters of one row's detail (AWS messages can be long)
MAX_NOTICE_DETAIL = 1500


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


def route_roles_to_check(settings: Settings) -> list[tuple[str, tuple[str, ...]]]:
    """(role ARN, the route tables reached by it) for each role a move may assume: those the group's
    routes name, and, for the stack's own pair, the stack's RouteTableRoleArn even when no route
    names it yet (a fleet's route will: a broken trust is found before that)."""
    tables: dict[str, list[str]] = {}
    if settings.group == DEFAULT_GROUP and settings.route_table_role_arn:
        tables[settings.route_table_role_arn] = []
    for route in settings.address_set.routes:
        if route.role_arn:
            known = tables.setdefault(route.role_arn, [])
            known += [table for table in route.route_table_ids if table not in known]
    return [(role, tuple(found)) for role, found in tables.items()]


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


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, tz=UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
