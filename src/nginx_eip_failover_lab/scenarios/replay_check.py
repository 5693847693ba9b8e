"""The demo's last check: the decision log read back through the ControlFunction and replayed through
the pure core with the recorded settings must reproduce every recorded decision exactly."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nginx_eip_failover.core.log_records import ChangeRecord, LogRecord, record_from_dict
from nginx_eip_failover.service.replay import ReplayResult, replay

if TYPE_CHECKING:
    from nginx_eip_failover_lab.environment import LabEnvironment

MAX_PAGES = 50


@dataclass(frozen=True)
class ReplayCheck:
    exact: bool
    line: str


@dataclass(frozen=True)
class LabReplay:
    """The decision log read back and replayed: `None` result when it could not be read (`error`)."""

    result: ReplayResult | None
    changes: int
    error: str = ""
    records: tuple[LogRecord, ...] = ()


def replay_lab_decision_log(lab: LabEnvironment) -> LabReplay:
    """Fetch the whole log (`log` action, page by page) and replay it with the recorded settings."""
    raw: list[dict[str, Any]] = []
    after: str | None = None
    for _ in range(MAX_PAGES):
        request: dict[str, Any] = {"action": "log", "since": 0, "limit": 1000, **({"after": after} if after else {})}
        result = lab.control(request)
        if not result.ok:
            return LabReplay(None, 0, f"cannot read it: {result.error_type}: {result.error_message}")
        raw.extend(result.payload["records"])
        after = result.payload.get("next")
        if not after:
            break
    records = [record_from_dict(item) for item in raw]
    changes = sum(1 for record in records if isinstance(record, ChangeRecord))
    return LabReplay(replay(records), changes, records=tuple(records))


def replay_lab_log(lab: LabEnvironment) -> ReplayCheck:
    """The demo's check: every step reproduced exactly, and no gap."""
    fetched = replay_lab_decision_log(lab)
    replayed = fetched.result
    if replayed is None:
        return ReplayCheck(False, f"Decision log: {fetched.error}")
    changes = fetched.changes
    steps = len(replayed.steps)
    if replayed.exact and replayed.gaps == 0:
        return ReplayCheck(
            True,
            f"Decision log: {changes} change records; replayed through the pure core with the recorded "
            f"settings: all {steps} steps reproduced exactly (0 gaps"
            + (f"; {replayed.duplicates} racing twin record(s) of one write" if replayed.duplicates else "")
            + ")",
        )
    first = replayed.mismatches[0].mismatch if replayed.mismatches else f"{replayed.gaps} gap(s)"
    return ReplayCheck(False, f"Decision log: replay differs from what happened: {first}")
