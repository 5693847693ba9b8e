"""The status document every control request returns (and the CLI prints).

`StatusDocument` is its shape, as JSON: times are ISO-8601 UTC strings (`...Z`, to the millisecond).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypedDict, overload

from nginx_eip_failover.core.config import Settings
from nginx_eip_failover.core.decision import is_damped
from nginx_eip_failover.core.drill import drill_status
from nginx_eip_failover.core.ports import Association, Snapshot
from nginx_eip_failover.core.state import Health, HistoryEntry

RECENT_MOVES = 10
RECENT_HISTORY = 100  # the whole bounded history: the CLI's `history` reads it here


class EipDocument(TypedDict):
    allocation_id: str
    public_ip: str | None
    instance_id: str | None  # None: unassociated
    node: str | None  # the pair's node that holds it, if any
    foreign: bool  # associated with an instance outside the pair


class DrainDocument(TypedDict):
    reason: str
    by: str
    at: str | None


class NodeDocument(TypedDict):
    name: str
    instance_id: str
    priority: int
    health_check_url: str
    health: Health
    up: bool
    since: str | None
    last_change_reason: str
    ok_streak: int
    fail_streak: int
    rise_threshold: int
    fall_threshold: int
    holds_eip: bool
    pinned: bool
    drained: bool
    drain: DrainDocument | None
    flap_damped: bool
    recent_flaps: int


class PinDocument(TypedDict):
    node: str
    reason: str
    by: str
    at: str | None


class MoveInProgressDocument(TypedDict):
    id: str
    target: str
    started_at: str | None


class HistoryEntryDocument(TypedDict):
    at: str | None
    event: str
    reason: str
    by: str
    node: str | None
    detail: dict[str, Any]


class SettingsDocument(TypedDict):
    preempt: bool
    preempt_delay_seconds: float
    interval_seconds: float
    timeout_seconds: float
    min_seconds_between_moves: float


class StatusDocument(TypedDict):
    eip: EipDocument
    nodes: dict[str, NodeDocument]  # by node name, in the stack's order
    pin: PinDocument | None
    drill: dict[str, Any] | None  # a drill in progress, interrupted or stayed (core.drill.drill_status)
    drains: list[str]
    move_in_progress: MoveInProgressDocument | None
    alerts: list[str]
    recent_moves: list[HistoryEntryDocument]  # move_completed / move_failed / move_abandoned, oldest first
    history: list[HistoryEntryDocument]  # oldest first
    last_move_at: str | None
    state_version: int
    settings: SettingsDocument
    checked_at: str


@overload
def iso(at: float) -> str: ...
@overload
def iso(at: None) -> None: ...
@overload
def iso(at: float | None) -> str | None: ...
def iso(at: float | None) -> str | None:
    if at is None:
        return None
    return datetime.fromtimestamp(at, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _entry(entry: HistoryEntry) -> HistoryEntryDocument:
    return {
        "at": iso(entry.at),
        "event": entry.event,
        "reason": entry.reason,
        "by": entry.by,
        "node": entry.node,
        "detail": dict(entry.detail),
    }


def build_status(snapshot: Snapshot, association: Association, settings: Settings, now: float) -> StatusDocument:
    state = snapshot.state
    holder = settings.node_by_instance(association.instance_id)
    nodes: dict[str, NodeDocument] = {}
    for node in settings.nodes:
        health = state.health(node.name)
        drain = state.drains.get(node.name)
        nodes[node.name] = {
            "name": node.name,
            "instance_id": node.instance_id,
            "priority": node.priority,
            "health_check_url": node.health_check_url,
            "health": health.status,
            "up": health.status == "up",
            "since": iso(health.since),
            "last_change_reason": health.reason,
            "ok_streak": health.ok_streak,
            "fail_streak": health.fail_streak,
            "rise_threshold": settings.rise_threshold,
            "fall_threshold": settings.fall_threshold,
            "holds_eip": holder is not None and holder.name == node.name,
            "pinned": state.pin is not None and state.pin.node == node.name,
            "drained": drain is not None,
            "drain": {"reason": drain.reason, "by": drain.by, "at": iso(drain.at)} if drain else None,
            "flap_damped": is_damped(health, settings, now),
            "recent_flaps": len(health.flaps),
        }
    moves = [entry for entry in state.history if entry.event in ("move_completed", "move_failed", "move_abandoned")]
    return {
        "eip": {
            "allocation_id": association.allocation_id,
            "public_ip": association.public_ip,
            "instance_id": association.instance_id,
            "node": holder.name if holder else None,
            "foreign": association.instance_id is not None and holder is None,
        },
        "nodes": nodes,
        "pin": (
            {"node": state.pin.node, "reason": state.pin.reason, "by": state.pin.by, "at": iso(state.pin.at)}
            if state.pin
            else None
        ),
        "drill": drill_status(
            {"node": state.pin.node, "reason": state.pin.reason} if state.pin else None,
            now - state.pin.at if state.pin else None,
        ),
        "drains": sorted(state.drains),
        "move_in_progress": (
            {"id": state.move.id, "target": state.move.target, "started_at": iso(state.move.started_at)}
            if state.move
            else None
        ),
        "alerts": sorted(state.alerts),
        "recent_moves": [_entry(entry) for entry in moves[-RECENT_MOVES:]],
        "history": [_entry(entry) for entry in state.history[-RECENT_HISTORY:]],
        "last_move_at": iso(state.last_move_at),
        "state_version": snapshot.version,
        "settings": {
            "preempt": settings.preempt,
            "preempt_delay_seconds": settings.preempt_delay_seconds,
            "interval_seconds": settings.interval_seconds,
            "timeout_seconds": settings.timeout_seconds,
            "min_seconds_between_moves": settings.min_seconds_between_moves,
        },
        "checked_at": iso(now),
    }
