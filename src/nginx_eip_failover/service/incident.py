"""An incident's timeline from the decision log (pure): what the probes saw, what the core decided,
where the EIP went and which rule moved it. `explain` prints it; `explain --svg` draws it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from nginx_eip_failover.core.log_records import ChangeRecord, LogRecord, SteadyWindow, settings_from_record
from nginx_eip_failover.core.ports import Observation
from nginx_eip_failover.core.state import HistoryEntry

Kind = Literal["probe", "node", "drift", "control", "decide", "move"]
_ORDER = {"probe": 0, "node": 1, "drift": 2, "control": 3, "decide": 4, "move": 5}


@dataclass(frozen=True)
class TimelineEvent:
    at: float
    kind: Kind
    text: str
    node: str | None = None
    rule: str | None = None  # moves: the rule that fired
    ok: bool | None = None  # probes and moves: success or failure


@dataclass
class Timeline:
    start: float
    end: float
    nodes: tuple[str, ...]
    events: list[TimelineEvent] = field(default_factory=list)
    # (from, to, status) per node, and (from, to, holder) for the EIP.
    health: dict[str, list[tuple[float, float, str]]] = field(default_factory=dict)
    holder: list[tuple[float, float, str]] = field(default_factory=list)
    settings_summary: str = ""
    records: int = 0


def move_rule(reason: str) -> str:
    """The rule that started a move, from its reason (decision._desired_node and friends)."""
    for prefix, rule in (
        ("failover:", "failover"),
        ("preempt:", "preempt"),
        ("back to pinned", "pin"),
        ("operator failover", "operator"),
        ("EIP unassociated", "placement"),
    ):
        if reason.startswith(prefix):
            return rule
    return "other"


@dataclass(frozen=True)
class _Cycle:
    at: float
    observations: tuple[Observation, ...]


def build_timeline(records: Sequence[LogRecord]) -> Timeline:
    changes = sorted((r for r in records if isinstance(r, ChangeRecord)), key=lambda r: (r.version_before, r.at))
    cycles: list[_Cycle] = []
    for record in records:
        if isinstance(record, SteadyWindow):
            cycles.extend(_Cycle(cycle.probed_at, cycle.observations) for cycle in record.cycles)
        elif record.op != "outcome":
            cycles.append(_Cycle(record.probed_at if record.probed_at is not None else record.at, record.observations))
    times = [c.at for c in cycles] + [c.at for c in changes]
    if not times:
        return Timeline(0.0, 0.0, ())
    settings = settings_from_record(changes[0].settings) if changes else None
    nodes = settings.node_names if settings else tuple(sorted({o.node for c in cycles for o in c.observations}))
    timeline = Timeline(min(times), max(times), nodes, records=len(records))
    if settings is not None:
        timeline.settings_summary = (
            f"FallThreshold {settings.fall_threshold}, RiseThreshold {settings.rise_threshold}, "
            f"interval {settings.interval_seconds:g}s, Preempt {str(settings.preempt).lower()}, "
            f"PreemptDelaySeconds {settings.preempt_delay_seconds:g}"
        )
    timeline.events.extend(_probe_events(sorted(cycles, key=lambda c: c.at)))
    last_reason = ""
    for change in changes:
        if change.op == "control" and change.request is not None:
            request = change.request
            target = f" {request.node}" if request.node else ""
            forced = " (force)" if request.force else ""
            said = f': "{request.reason}"' if request.reason else ""
            timeline.events.append(
                TimelineEvent(
                    change.at, "control", f"{change.actor}: {request.action}{target}{forced}{said}", request.node
                )
            )
        for entry in change.events:
            event = _history_event(entry)
            if event is not None:
                timeline.events.append(event)
        if change.op != "outcome" and change.reason and change.reason != last_reason:
            last_reason = change.reason
            timeline.events.append(TimelineEvent(change.at, "decide", change.reason))
    # At one instant: what was seen, then what was decided, then what was done.
    timeline.events.sort(key=lambda e: (e.at, _ORDER[e.kind]))
    _lanes(timeline, changes, settings)
    return timeline


def _probe_events(cycles: Iterable[_Cycle]) -> list[TimelineEvent]:
    """Probe transitions and failures, not every steady probe."""
    events: list[TimelineEvent] = []
    last: dict[str, tuple[bool, str]] = {}
    runs: dict[str, int] = {}
    for cycle in cycles:
        for observation in cycle.observations:
            node = observation.node
            before = last.get(node)
            if before is None:
                state = "ok" if observation.ok else "FAILED"
                events.append(
                    TimelineEvent(cycle.at, "probe", f"{node} {state}: {observation.detail}", node, ok=observation.ok)
                )
                runs[node] = 1
            elif before[0] != observation.ok:
                if observation.ok:
                    text = f"{node} ok again after {runs[node]} failed probe(s): {observation.detail}"
                else:
                    text = f"{node} FAILED after {runs[node]} ok probe(s): {observation.detail}"
                events.append(TimelineEvent(cycle.at, "probe", text, node, ok=observation.ok))
                runs[node] = 1
            else:
                runs[node] += 1
                if not observation.ok and observation.detail != before[1]:
                    events.append(
                        TimelineEvent(cycle.at, "probe", f"{node} FAILED: {observation.detail}", node, ok=False)
                    )
            last[node] = (observation.ok, observation.detail)
    return events


def _history_event(entry: HistoryEntry) -> TimelineEvent | None:
    detail = entry.detail
    if entry.event in ("node_up", "node_down"):
        status = entry.event.removeprefix("node_")
        return TimelineEvent(entry.at, "node", f"{entry.node} {status}: {entry.reason}", entry.node)
    if entry.event == "move_started":
        rule = move_rule(entry.reason)
        source = detail.get("from") or "unassociated"
        text = f"{source} -> {entry.node} started [{rule}] {entry.reason} (move {detail.get('id')})"
        return TimelineEvent(entry.at, "move", text, entry.node, rule=rule)
    if entry.event == "move_completed":
        text = f"EIP on {entry.node} (move {detail.get('id')}, {detail.get('seconds')} s)"
        return TimelineEvent(entry.at, "move", text, entry.node, ok=True)
    if entry.event == "move_failed":
        text = f"move {detail.get('id')} to {entry.node} FAILED: {entry.reason}"
        return TimelineEvent(entry.at, "move", text, entry.node, ok=False)
    if entry.event == "move_abandoned":
        return TimelineEvent(
            entry.at, "move", f"move {detail.get('id')} abandoned: {entry.reason}", entry.node, ok=False
        )
    if entry.event == "drift":
        return TimelineEvent(entry.at, "drift", entry.reason)
    return None  # control_* entries: shown from the request itself


def _lanes(timeline: Timeline, changes: Sequence[ChangeRecord], settings: object) -> None:
    if not changes:
        return
    first = changes[0].state_before
    status: dict[str, str] = {node: first.health(node).status for node in timeline.nodes}
    since = dict.fromkeys(timeline.nodes, timeline.start)
    instance_to_node = {}
    if settings is not None:
        from nginx_eip_failover.core.config import Settings

        assert isinstance(settings, Settings)
        instance_to_node = {node.instance_id: node.name for node in settings.nodes}
    seen = changes[0].association if changes[0].op != "outcome" else first.association

    def name(instance: str | None) -> str:
        if instance is None:
            return "unassociated"
        return instance_to_node.get(instance, f"foreign {instance}")

    holder, holder_since = name(seen), timeline.start
    for change in changes:
        for entry in change.events:
            if entry.event in ("node_up", "node_down") and entry.node in status:
                node = entry.node
                timeline.health.setdefault(node, []).append((since[node], entry.at, status[node]))
                status[node], since[node] = entry.event.removeprefix("node_"), entry.at
            if entry.event == "move_completed" and entry.node is not None and entry.node != holder:
                timeline.holder.append((holder_since, entry.at, holder))
                holder, holder_since = entry.node, entry.at
            if entry.event == "drift":
                now = name(entry.detail.get("now"))
                timeline.holder.append((holder_since, entry.at, holder))
                holder, holder_since = now, entry.at
    for node in timeline.nodes:
        timeline.health.setdefault(node, []).append((since[node], timeline.end, status[node]))
    timeline.holder.append((holder_since, timeline.end, holder))
