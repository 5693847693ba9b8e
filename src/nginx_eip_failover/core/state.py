"""The controller's persistent state: plain immutable values, serialisable to JSON.

Everything here changes only through the pure functions of `decision` and `control`; the state
store writes it whole, conditional on the version it read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

Health = Literal["unknown", "up", "down"]
# 2: NodeHealth.last_ok_at (per-prober runs, issue 25); a release before it cannot read a state that has it.
SCHEMA_VERSION = 2
# The item keeps a short recent history (what `status` shows: the last moves and what led to them);
# the decision log keeps every change's entries for DecisionLogRetentionDays. A short history keeps
# the item that every cycle reads near one 4 KB read unit: 20 entries of a typical 150-250 bytes,
# and at most HISTORY_MAX_BYTES whatever they hold (long operator reasons), the newest entry always
# kept (its fields are bounded on their own: bounds.MAX_ENTRY_REASON_BYTES).
HISTORY_LIMIT = 20
HISTORY_MAX_BYTES = 6 * 1024


@dataclass(frozen=True)
class NodeHealth:
    status: Health = "unknown"
    # Streaks are capped at the rise/fall thresholds so a steady node does not change the state
    # (and cost a write) on every probe.
    ok_streak: int = 0
    fail_streak: int = 0
    since: float | None = None  # when `status` last changed
    reason: str = ""  # the probe detail that caused the last change
    # Unused since per-prober runs (core/streaks); kept so states written before them still load
    # (and for the re-injected shared streak of core/streak_by_gap).
    streak_started_at: float | None = None
    # The newest failed probe recorded (None: none since this field exists). Another prober's run of
    # successes counts only after it: a failure written because it broke a rise under way.
    last_failed_at: float | None = None
    # The newest success recorded: written when it contradicted a stored failure streak (or raised a
    # down node's rise), never for a steady up node. A prober's run of failures counts only after it.
    last_ok_at: float | None = None
    # When the node last went from up to down, newest last, at most FLAP_SUPPRESS_THRESHOLD kept.
    flaps: tuple[float, ...] = ()
    # A found node's (core/found_nodes) instance whose probes these counts are of: "" while none is in
    # service, None for a fixed node (never written then, so a pair of fixed nodes stores what it did).
    # An unknown node that names one leaves "unknown" only by a complete run (decision._advance).
    instance_id: str | None = None


@dataclass(frozen=True)
class Pin:
    node: str
    reason: str
    by: str
    at: float


@dataclass(frozen=True)
class Drain:
    reason: str
    by: str
    at: float


@dataclass(frozen=True)
class MoveIntent:
    """A move committed to the state before EC2 is called: the lock that makes it happen once."""

    id: str
    target: str
    source: str | None  # see Settings.source_of: node name, "foreign:<instance>", or None when unassociated
    reason: str
    by: str
    started_at: float


@dataclass(frozen=True)
class HistoryEntry:
    at: float
    event: str
    reason: str
    by: str
    node: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ControllerState:
    nodes: Mapping[str, NodeHealth] = field(default_factory=dict)
    # Last association the controller saw or made: instance ID or None; `observed` is False until
    # the EIP was looked at once, so a fresh table is not mistaken for drift.
    association: str | None = None
    observed: bool = False
    pin: Pin | None = None
    drains: Mapping[str, Drain] = field(default_factory=dict)
    move: MoveIntent | None = None
    last_move_at: float | None = None
    # Consecutive failed moves and when the last one failed: the next attempt backs off.
    move_failures: int = 0
    last_failure_at: float | None = None
    # Consecutive repairs of a split address set (addresses left behind by a partial move): the
    # next waits 1, 2, 4 ... 30 s after the last move, like a failed move's retry.
    repairs: int = 0
    alerts: frozenset[str] = frozenset()
    history: tuple[HistoryEntry, ...] = ()

    def health(self, node: str) -> NodeHealth:
        return self.nodes.get(node, NodeHealth())

    def with_history(self, entry: HistoryEntry, limit: int) -> ControllerState:
        """Append `entry`, keeping the newest `limit` entries that fit in HISTORY_MAX_BYTES (and
        `entry` itself whatever its size: an accepted action is always in the history)."""
        history = (*self.history, entry)[-max(1, limit) :]
        size = 0
        for index in range(len(history) - 1, -1, -1):
            size += entry_size(history[index])
            if size > HISTORY_MAX_BYTES and index < len(history) - 1:
                history = history[index + 1 :]
                break
        return replace(self, history=history)


def entry_size(entry: HistoryEntry) -> int:
    """Bytes the entry takes in the stored item (UTF-8 JSON, as the state store writes it)."""
    return len(json.dumps(asdict(entry), ensure_ascii=False, default=str).encode("utf-8", "surrogatepass"))


def state_to_dict(state: ControllerState) -> dict[str, Any]:
    data = asdict(state)
    for health in data["nodes"].values():
        if health.get("instance_id") is None:
            del health["instance_id"]  # a fixed node's state stays byte for byte what it was
    data["alerts"] = sorted(state.alerts)
    data["history"] = [asdict(entry) for entry in state.history]
    data["schema"] = SCHEMA_VERSION
    return data


def state_from_dict(data: Mapping[str, Any]) -> ControllerState:
    pin = data.get("pin")
    move = data.get("move")
    return ControllerState(
        nodes={
            name: NodeHealth(**{**health, "flaps": tuple(health.get("flaps") or ())})
            for name, health in (data.get("nodes") or {}).items()
        },
        association=data.get("association"),
        observed=bool(data.get("observed", False)),
        pin=Pin(**pin) if pin else None,
        drains={name: Drain(**drain) for name, drain in (data.get("drains") or {}).items()},
        move=MoveIntent(**move) if move else None,
        last_move_at=data.get("last_move_at"),
        move_failures=int(data.get("move_failures", 0)),
        last_failure_at=data.get("last_failure_at"),
        repairs=int(data.get("repairs", 0)),
        alerts=frozenset(data.get("alerts") or ()),
        history=tuple(HistoryEntry(**entry) for entry in data.get("history") or ()),
    )
