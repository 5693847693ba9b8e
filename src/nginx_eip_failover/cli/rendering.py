"""What the CLI prints: the status document (`status.StatusDocument`) and answers as tables, or JSON.

Times are shown in UTC, to the second. Every lookup tolerates a missing key (a function of another
version may send a little more or less), so a table never fails on an answer it can read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from nginx_eip_failover.service.status import HistoryEntryDocument, NodeDocument, StatusDocument

RECENT_MOVES_SHOWN = 5


def render_json(value: Any) -> str:
    """`--json`: the function's answer as it came, indented."""
    return json.dumps(value, indent=2)


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def show_time(value: object) -> str:
    """ISO-8601 UTC from the status document -> `2025-06-01 10:00:03` (UTC, to the second)."""
    at = _parse_time(value)
    return at.strftime("%Y-%m-%d %H:%M:%S") if at else "-"


def duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def _since(value: object, now: datetime | None) -> str:
    at = _parse_time(value)
    if at is None:
        return "-"
    age = f" ({duration((now - at).total_seconds())})" if now is not None else ""
    return show_time(value) + age


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns two spaces apart, no trailing spaces."""
    widths = [len(header) for header in headers]
    for row in rows:
        for index, cell in enumerate(row):
            widths[index] = max(widths[index], len(cell))
    lines = []
    for row in (headers, *rows):
        cells = [cell.ljust(widths[index]) for index, cell in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _text(value: object) -> str:
    if value is None or value == "":
        return "-"
    return " ".join(str(value).split())  # one line per row, whatever the reason contains


def _eip_line(status: StatusDocument) -> str:
    eip = status.get("eip") or {}
    where: str
    if eip.get("instance_id") is None:
        where = "UNASSOCIATED"
    elif eip.get("foreign"):
        where = f"on {eip['instance_id']}, OUTSIDE THE PAIR (left there; `failover --to NODE` takes it back)"
    else:
        where = f"on {eip.get('node')} ({eip['instance_id']})"
    return f"Elastic IP  {eip.get('public_ip') or '-'}  {eip.get('allocation_id') or '-'}  {where}"


def _flags(node: NodeDocument) -> str:
    flags = [
        flag for flag, key in (("pinned", "pinned"), ("drained", "drained"), ("damped", "flap_damped")) if node.get(key)
    ]
    return ",".join(flags) or "-"


def _node_rows(status: StatusDocument, now: datetime | None) -> list[list[str]]:
    rows = []
    for name, node in (status.get("nodes") or {}).items():
        rows.append(
            [
                name,
                _text(node.get("instance_id")),
                _text(node.get("priority")),
                _text(node.get("health")),
                _since(node.get("since"), now),
                f"{node.get('ok_streak', 0)}/{node.get('rise_threshold', '?')}",
                f"{node.get('fail_streak', 0)}/{node.get('fall_threshold', '?')}",
                _flags(node),
                "yes" if node.get("holds_eip") else "-",
                _text(node.get("last_change_reason")),
            ]
        )
    return rows


def _pin_line(status: StatusDocument) -> str:
    pin = status.get("pin")
    if not pin:
        return "Pin         none"
    return (
        f"Pin         {pin.get('node')}  (by {pin.get('by')} at {show_time(pin.get('at'))}: {_text(pin.get('reason'))})"
    )


def _drains_line(status: StatusDocument) -> str:
    nodes = status.get("nodes") or {}
    drained = [name for name, node in nodes.items() if node.get("drained")]
    if not drained:
        return "Drains      none"
    parts = []
    for name in drained:
        drain = nodes[name].get("drain")
        by, at, reason = (drain.get("by"), drain.get("at"), drain.get("reason")) if drain else (None, None, None)
        parts.append(f"{name} (by {by} at {show_time(at)}: {_text(reason)})")
    return "Drains      " + "; ".join(parts)


def _settings_line(status: StatusDocument) -> str:
    settings = status.get("settings")
    if not settings:
        return ""
    preempt = (
        f"preempt after {duration(settings.get('preempt_delay_seconds', 0))} up"
        if settings.get("preempt")
        else "no preempt"
    )
    return (
        f"Policy      {preempt}, at least {duration(settings.get('min_seconds_between_moves', 0))} between moves; "
        f"probes every {settings.get('interval_seconds')}s, timeout {settings.get('timeout_seconds')}s"
    )


def _move_rows(entries: Sequence[HistoryEntryDocument]) -> list[list[str]]:
    rows = []
    for entry in entries:
        detail = entry.get("detail") or {}
        seconds = detail.get("seconds")
        rows.append(
            [
                show_time(entry.get("at")),
                _text(entry.get("event")),
                _text(detail.get("from") or "unassociated"),
                _text(entry.get("node")),
                f"{seconds:.2f}" if isinstance(seconds, int | float) else "-",
                _text(entry.get("by")),
                _text(entry.get("reason")),
            ]
        )
    return rows


def render_status(status: StatusDocument) -> str:
    now = _parse_time(status.get("checked_at"))
    lines = [_eip_line(status)]
    lines.append(
        table(
            ["NODE", "INSTANCE", "PRIORITY", "HEALTH", "SINCE (UTC)", "OK", "FAIL", "FLAGS", "EIP", "LAST CHANGE"],
            _node_rows(status, now),
        )
    )
    lines.append(_pin_line(status))
    drill = status.get("drill")
    if isinstance(drill, Mapping):
        lines.append(f"Drill       {drill.get('id')} {drill.get('state')}: {_text(drill.get('advice'))}")
    lines.append(_drains_line(status))
    alerts = status.get("alerts") or []
    lines.append("Alerts      " + (", ".join(alerts) if alerts else "none"))
    move = status.get("move_in_progress")
    if move:
        lines.append(
            f"Moving      {move.get('id')} to {move.get('target')}, started {show_time(move.get('started_at'))}"
        )
    settings = _settings_line(status)
    if settings:
        lines.append(settings)
    lines.append(f"Checked     {show_time(status.get('checked_at'))} UTC, state version {status.get('state_version')}")
    moves = list(status.get("recent_moves") or [])[-RECENT_MOVES_SHOWN:]
    if moves:
        lines.append("")
        lines.append("Recent moves")
        lines.append(table(["TIME (UTC)", "EVENT", "FROM", "TO", "SECONDS", "BY", "REASON"], _move_rows(moves)))
    else:
        lines.append("Recent moves: none")
    return "\n".join(lines)


def render_history(entries: Sequence[HistoryEntryDocument]) -> str:
    if not entries:
        return "No history recorded yet."
    rows = [
        [
            show_time(entry.get("at")),
            _text(entry.get("event")),
            _text(entry.get("node")),
            _text(entry.get("by")),
            _text(entry.get("reason")),
        ]
        for entry in entries
    ]
    return table(["TIME (UTC)", "EVENT", "NODE", "BY", "REASON"], rows)


def render_action(request: Mapping[str, Any], payload: Mapping[str, Any]) -> str:
    """What an accepted change did, then the resulting status."""
    subject = request.get("target") or request.get("node") or ""
    words = [str(request.get("action")), *([str(subject)] if subject else [])]
    if request.get("force"):
        words.append("(forced)")
    lines = [f"Request     {' '.join(words)}: {'accepted' if payload.get('ok') else 'accepted, but the move failed'}"]
    lines.append(f"Decision    {_text(payload.get('result'))}")
    if payload.get("moved_to"):
        lines.append(f"Moved       the EIP to {payload['moved_to']}")
    if payload.get("error"):
        lines.append(f"Error       {_text(payload.get('error'))}")
    status = payload.get("status")
    if isinstance(status, Mapping):
        lines.extend(["", render_status(cast("StatusDocument", status))])
    return "\n".join(lines)


def render_fleet(rows: Sequence[Mapping[str, Any]]) -> str:
    """The fleet table: one row a group."""
    body = []
    for row in rows:
        if "error" in row:
            body.append([str(row.get("group")), "?", "?", "?", f"error: {row['error']}"])
            continue
        nodes = row.get("nodes") or {}
        up = sum(1 for health in nodes.values() if health == "up")
        notes = [f"pinned {row['pin']}"] if row.get("pin") else []
        notes += [f"drained {', '.join(row.get('drains') or [])}"] if row.get("drains") else []
        notes += [f"ALERT {alert}" for alert in row.get("alerts") or []]
        body.append(
            [
                str(row.get("group")),
                _text(row.get("holder")),
                _text(row.get("public_ip")),
                f"{up}/{len(nodes)} up",
                "; ".join(notes) or "-",
            ]
        )
    return table(["GROUP", "HOLDER", "PUBLIC IP", "NODES", "NOTES"], body)


def render_plan(payload: Mapping[str, Any]) -> str:
    """A dry run's answer: what would happen, why, and on which probes (nothing was changed)."""
    action = payload.get("action")
    would = payload.get("would")
    move = payload.get("move") or {}
    headline = {
        "move": f"would move the addresses from {move.get('from') or 'unassociated'} to {move.get('to')}",
        "nothing": "would move nothing",
        "refuse": "would refuse the request",
    }.get(str(would), str(would))
    lines = [f"dry run of {action} (group {payload.get('group')}): {headline}", f"  why: {payload.get('reason')}"]
    probes = payload.get("probes") or {}
    for node, probe in sorted(probes.items()):
        lines.append(f"  probe {node}: {'ok' if probe.get('ok') else 'FAILED'} ({probe.get('detail')})")
    nodes = payload.get("nodes") or {}
    if nodes:
        lines.append("  nodes after these probes: " + ", ".join(f"{n} {h}" for n, h in sorted(nodes.items())))
    for label, key in (("pin", "pin"), ("drains", "drains"), ("alerts", "alerts"), ("notices", "notices")):
        value = payload.get(key)
        if value:
            lines.append(f"  {label}: {', '.join(value) if isinstance(value, list) else value}")
    lines.append("  (nothing was written or moved)")
    return "\n".join(lines)
