"""`explain`, `replay` and `log export`: the decision log, read through the ControlFunction's `log`
action (page by page) or from an exported file (`--log-file`, JSON lines: no AWS account needed)."""

from __future__ import annotations

import argparse
import json
import re
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from nginx_eip_failover.core.log_records import LogRecord, record_from_dict, record_json
from nginx_eip_failover.core.state import HistoryEntry
from nginx_eip_failover.service.incident import Timeline, build_timeline, move_rule
from nginx_eip_failover.service.replay import ReplayError, ReplayResult, parse_overrides, replay

from .common import PROG, TransportError, UsageError
from .transports import Transport

COMMANDS = ("explain", "replay", "log")
PAGE_LIMIT = 1000
DEFAULT_SINCE = "1h"
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def add_commands(command: Callable[[str, str], argparse.ArgumentParser]) -> None:
    """Add the subcommands through commands.build_parser's `command` helper."""

    def window(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--since",
            default=DEFAULT_SINCE,
            metavar="WHEN",
            help="start: a duration ago (90s, 30m, 1h, 2d), an ISO time (UTC) or epoch seconds (default 1h)",
        )
        sub.add_argument("--until", default=None, metavar="WHEN", help="end (default: now); same forms as --since")
        sub.add_argument(
            "--log-file",
            default=None,
            metavar="FILE",
            help="read an exported log (JSON lines, from `log export`) instead of the function: works offline",
        )

    explain = command("explain", "the timeline of an incident: probes, node up/down, decisions, moves and their rule")
    window(explain)
    drawing = explain.add_mutually_exclusive_group()
    drawing.add_argument("--svg", metavar="FILE", help="also draw the timeline as SVG (needs the [explain] extra)")
    drawing.add_argument("--html", metavar="FILE", help="also write an HTML page: the drawing and the timeline")
    again = command("replay", "run the logged inputs through the decision core: exact, or what other settings do")
    window(again)
    again.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="Name=Value",
        help="a template parameter to change, e.g. FallThreshold=2 PreemptDelaySeconds=120 (repeatable)",
    )
    log = command("log", "the decision log itself")
    log.add_argument("log_command", choices=["export"], help="export: the records as JSON lines on stdout")
    window(log)


def parse_when(text: str, now: float) -> float:
    """`1h` (ago), `2026-05-28T10:00:00` (UTC unless an offset is given) or epoch seconds."""
    text = text.strip()
    found = _DURATION.fullmatch(text)
    if found:
        return now - float(found.group(1)) * _UNITS[found.group(2)]
    try:
        return float(text)
    except ValueError:
        pass
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"{text!r} is not a time: give 90s, 30m, 1h, 2d, an ISO time or epoch seconds") from None
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()


def read_log_file(path: str) -> list[LogRecord]:
    records = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc}") from exc
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            records.append(record_from_dict(json.loads(line)))
        except ValueError as exc:
            raise UsageError(f"{path}:{number}: {exc}") from exc
    return records


def fetch(transport: Transport, since: float, until: float | None) -> list[LogRecord]:
    """Every record in [since, until], through the ControlFunction's `log` action, page by page."""
    records: list[LogRecord] = []
    after: str | None = None
    while True:
        request: dict[str, object] = {"action": "log", "since": since, "limit": PAGE_LIMIT}
        if until is not None:
            request["until"] = until
        if after is not None:
            request["after"] = after
        response = transport(request)
        if response.failed:
            raise TransportError(response.message or str(response.error_type))
        payload = response.payload
        if not isinstance(payload, dict) or payload.get("action") != "log":
            raise TransportError(f"unexpected answer to the log action: {json.dumps(payload)[:300]}")
        if payload.get("enabled") is False:
            raise TransportError("the decision log is off (DECISION_LOG_TABLE_NAME is empty)")
        try:
            records.extend(record_from_dict(item) for item in payload.get("records") or [])
        except ValueError as exc:
            raise TransportError(f"the function sent a record this CLI cannot read: {exc}") from exc
        after = payload.get("next")
        if not after:
            return records


def load(args: argparse.Namespace, transport: Callable[[], Transport], now: float) -> list[LogRecord]:
    since = parse_when(args.since, now)
    until = parse_when(args.until, now) if args.until else None
    if args.log_file:
        records = read_log_file(args.log_file)
        if args.since != DEFAULT_SINCE or args.until:  # a file is read whole unless a window is asked for
            records = [r for r in records if r.at >= since and (until is None or r.at <= until)]
        return records
    return fetch(transport(), since, until)


def run(args: argparse.Namespace, transport: Callable[[], Transport], out: TextIO, err: TextIO) -> int:
    records = load(args, transport, time.time())
    if args.command == "log":
        for record in records:
            print(record_json(record), file=out)
        return 0
    if not records:
        print(f"{PROG}: no decision log records in that window", file=err)
        return 1
    if args.command == "explain":
        timeline = build_timeline(records)
        print(render_timeline(timeline), file=out)
        if args.svg or args.html:
            from .incident_svg import draw_svg, write_html

            if args.svg:
                Path(args.svg).write_text(draw_svg(timeline), encoding="utf-8")
                print(f"drawn: {args.svg}", file=err)
            else:
                write_html(Path(args.html), timeline, render_timeline(timeline))
                print(f"written: {args.html}", file=err)
        return 0
    try:
        overrides = parse_overrides(args.overrides)
        result = replay(records, overrides)
    except ReplayError as exc:
        raise UsageError(str(exc)) from exc
    print(render_replay(result, overrides, records), file=out)
    return 0 if result.counterfactual or result.exact else 1


# ------------------------------------------------------------------------------------------ render


def clock(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%H:%M:%S.%f")[:-3]


def _day(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S")


def render_timeline(timeline: Timeline) -> str:
    span = timeline.end - timeline.start
    lines = [
        f"Incident timeline {_day(timeline.start)} to {clock(timeline.end)} UTC ({span:.1f} s, "
        f"{timeline.records} records)",
    ]
    if timeline.settings_summary:
        lines.append(f"settings: {timeline.settings_summary}")
    lines.append("")
    lines.append(f"{'time (UTC)':<12}  {'+s':>7}  {'what':<8} detail")
    for event in timeline.events:
        what = event.kind
        lines.append(f"{clock(event.at):<12}  {event.at - timeline.start:>+7.1f}  {what:<8} {_one_line(event.text)}")
    lines.append("")
    lines.append("EIP holder: " + ", ".join(f"{holder} from {clock(start)}" for start, _end, holder in timeline.holder))
    return "\n".join(lines)


def _one_line(text: str, width: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def render_replay(result: ReplayResult, overrides: dict[str, str], records: Sequence[LogRecord]) -> str:
    changes = [step for step in result.steps if step.op != "steady"]
    lines = []
    if not result.counterfactual:
        verdict = "EXACT" if result.exact else f"MISMATCH in {len(result.mismatches)} step(s)"
        lines.append(
            f"Replay of {len(records)} records ({len(changes)} changes) with the recorded settings: {verdict}; "
            f"{result.gaps} gap(s), {result.skipped_steady} steady cycle(s) on a stale copy skipped"
        )
        for step in result.mismatches:
            lines.append(f"  {clock(step.at)} {step.op} by {step.actor}: {step.mismatch}")
        if result.exact:
            lines.append("every decision, move intent, notice, history entry and resulting state was reproduced")
    else:
        changed = " ".join(f"{name}={value}" for name, value in overrides.items())
        lines.append(f"Replay of {len(records)} records with {changed} (assumes EC2 moves succeed unless they failed)")
    lines.append("")
    lines.append(_moves_side_by_side(result))
    refused = [step for step in result.steps if step.note and step.note.startswith("refused")]
    for step in refused:
        lines.append(f"  {clock(step.at)} {step.op}: {step.note}")
    return "\n".join(lines)


def _moves(entries: list[tuple[float, HistoryEntry]]) -> dict[float, list[str]]:
    """Move starts with their rule and outcome, keyed by start time."""
    outcome: dict[str, str] = {}
    for _at, entry in entries:
        move_id = str(entry.detail.get("id"))
        if entry.event == "move_completed":
            outcome[move_id] = "ok"
        elif entry.event in ("move_failed", "move_abandoned"):
            outcome[move_id] = entry.event.removeprefix("move_")
    rows: dict[float, list[str]] = {}
    for at, entry in entries:
        if entry.event == "move_started":
            move_id = str(entry.detail.get("id"))
            text = f"-> {entry.node} [{move_rule(entry.reason)}] {outcome.get(move_id, 'pending')}"
            rows.setdefault(at, []).append(text)
    return rows


def _moves_side_by_side(result: ReplayResult) -> str:
    recorded = _moves(result.moves("recorded"))
    replayed = _moves(result.moves("replayed"))
    times = sorted(set(recorded) | set(replayed))
    if not times:
        return "no moves"
    start = min(times)
    width = max([len("recorded")] + [len(" / ".join(v)) for v in recorded.values()])
    lines = [f"{'time (UTC)':<12}  {'+s':>7}  {'recorded':<{width}}  replayed"]
    for at in times:
        left = " / ".join(recorded.get(at, [])) or "-"
        right = " / ".join(replayed.get(at, [])) or "-"
        lines.append(f"{clock(at):<12}  {at - start:>+7.1f}  {left:<{width}}  {right}")
    return "\n".join(lines)
