"""The decision log's records: plain immutable values and their JSON form (no I/O).

Two kinds of record are written to the log table, append-only, with a TTL:

- `ChangeRecord`: one step of the pure core that changed the stored state: a monitor cycle
  (`op="cycle"`), an operator request (`op="control"`) or a move's outcome (`op="outcome"`, the
  `complete_move` after EC2 or a re-check that cancelled the move). It carries everything the core
  was given (observations, `probed_at`, the association seen, `now`, the actor, the move id, `may_move`,
  the parsed request, the move's association and error, the settings) and what it produced (the
  reason, the move intent, the notices' kinds, the history entries it appended and a digest of the
  resulting state). It also carries the state it started from, history excluded: every record can so
  be replayed on its own, a gap in the log (a lost write) is detected and bridged, and the size stays
  bounded (the history is the core's own output, which the records' `events` already hold).
- `SteadyWindow`: the cycles that changed nothing, kept in memory (bounded) and written with the
  next change, so a log shows what led up to a move without steady cycles costing a write.

Every free-text field is bounded in bytes (`text_bounds.bounded`) before it is recorded.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from nginx_eip_failover import __version__
from nginx_eip_failover.core.bounds import MAX_DETAIL_BYTES, MAX_REASON_BYTES, bounded
from nginx_eip_failover.core.config import NodeConfig, Settings
from nginx_eip_failover.core.ports import Observation
from nginx_eip_failover.core.state import ControllerState, HistoryEntry, MoveIntent, state_from_dict, state_to_dict

LOG_SCHEMA = 1
Op = Literal["cycle", "control", "outcome"]
OutcomeCause = Literal["ec2", "recheck"]
# A steady window's share of its item (DynamoDB's limit is 400 KB): the oldest cycles go first.
WINDOW_MAX_BYTES = 96 * 1024
# Steady cycles kept per controller between two changes (a two-minute lead-in at the default 1 s).
WINDOW_MAX_CYCLES = 120


@dataclass(frozen=True)
class RequestRecord:
    """A parsed operator request, as the core was given it."""

    action: str
    node: str | None = None
    reason: str = ""
    force: bool = False


@dataclass(frozen=True)
class ChangeRecord:
    op: Op
    at: float  # the core's `now`
    writer: str  # the controller instance (container) that wrote it
    seq: int  # per writer, from 1
    version_before: int  # the stored version the core decided on ...
    version_after: int  # ... and the one its write created
    settings: Mapping[str, Any]  # settings_record(): what replay needs to rebuild Settings
    fingerprint: str
    state_before: ControllerState  # history excluded
    actor: str
    association: str | None  # cycle/control: the EIP as seen; outcome: after the move
    probed_at: float | None = None
    observations: tuple[Observation, ...] = ()
    move_id: str | None = None  # cycle/control: the id the core was given; outcome: the move's id
    may_move: bool = True
    # Labels of the group's addresses that were not on the holder (an address set left split).
    missing: tuple[str, ...] = ()
    request: RequestRecord | None = None
    error: str | None = None  # outcome: EC2's error, or why the re-check cancelled the move
    cause: OutcomeCause | None = None
    # What the core produced.
    reason: str = ""
    move: MoveIntent | None = None
    notices: tuple[str, ...] = ()
    events: tuple[HistoryEntry, ...] = ()
    state_digest: str = ""
    code_version: str = __version__

    @property
    def key(self) -> str:
        return sort_key(self.at, self.writer, self.seq)


@dataclass(frozen=True)
class SteadyCycle:
    """A monitor cycle that changed nothing: its inputs, and the reason the core gave."""

    at: float
    probed_at: float
    version: int  # the stored version it decided on
    association: str | None
    observations: tuple[Observation, ...]
    move_id: str
    may_move: bool
    actor: str
    reason: str
    missing: tuple[str, ...] = ()


@dataclass(frozen=True)
class SteadyWindow:
    writer: str
    seq: int
    fingerprint: str
    cycles: tuple[SteadyCycle, ...]
    dropped: int = 0  # steady cycles left out since the last window (count or size bound)

    @property
    def at(self) -> float:
        return self.cycles[-1].at if self.cycles else 0.0

    @property
    def key(self) -> str:
        # Keyed by its last cycle: a query from any time inside the window finds it.
        return sort_key(self.at, self.writer, self.seq)


LogRecord = ChangeRecord | SteadyWindow


def sort_key(at: float, writer: str, seq: int) -> str:
    """The table's sort key: epoch milliseconds, zero padded, then the writer and its sequence."""
    return f"{round(at * 1000):013d}#{writer}#{seq:06d}"


def key_millis(key: str) -> int:
    return int(key.split("#", 1)[0])


# -------------------------------------------------------------------------------------- settings


def settings_record(settings: Settings) -> dict[str, Any]:
    """The settings the core reads, as JSON: enough to rebuild `Settings` for a replay."""
    return {
        "allocation_id": settings.allocation_id,
        "nodes": [
            {
                "name": node.name,
                "instance_id": node.instance_id,
                "priority": node.priority,
                "health_check_url": bounded(node.health_check_url, MAX_REASON_BYTES),
            }
            for node in settings.nodes
        ],
        "interval_seconds": settings.interval_seconds,
        "timeout_seconds": settings.timeout_seconds,
        "fall_threshold": settings.fall_threshold,
        "rise_threshold": settings.rise_threshold,
        "preempt": settings.preempt,
        "preempt_delay_seconds": settings.preempt_delay_seconds,
        "min_seconds_between_moves": settings.min_seconds_between_moves,
        "flap_window_seconds": settings.flap_window_seconds,
        "flap_suppress_threshold": settings.flap_suppress_threshold,
        "history_limit": settings.history_limit,
        "move_timeout_seconds": settings.move_timeout_seconds,
        "quorum": settings.quorum,
    }


def settings_from_record(data: Mapping[str, Any]) -> Settings:
    return Settings(
        allocation_id=str(data["allocation_id"]),
        nodes=tuple(
            NodeConfig(
                name=str(node["name"]),
                instance_id=str(node["instance_id"]),
                health_check_url=str(node.get("health_check_url", "")),
                priority=int(node["priority"]),
            )
            for node in data["nodes"]
        ),
        interval_seconds=float(data["interval_seconds"]),
        timeout_seconds=float(data["timeout_seconds"]),
        fall_threshold=int(data["fall_threshold"]),
        rise_threshold=int(data["rise_threshold"]),
        preempt=bool(data["preempt"]),
        preempt_delay_seconds=float(data["preempt_delay_seconds"]),
        min_seconds_between_moves=float(data["min_seconds_between_moves"]),
        flap_window_seconds=float(data["flap_window_seconds"]),
        flap_suppress_threshold=int(data["flap_suppress_threshold"]),
        table_name="",
        topic_arn=None,
        ca_bundle=None,
        history_limit=int(data.get("history_limit", 100)),  # records written before the limit was 20
        move_timeout_seconds=float(data.get("move_timeout_seconds", 30.0)),
        quorum=int(data.get("quorum", 1)),
    )


def fingerprint(record: Mapping[str, Any]) -> str:
    return hashlib.sha256(_canonical(record).encode()).hexdigest()[:12]


# ----------------------------------------------------------------------------------------- state


def core_state(state: ControllerState) -> ControllerState:
    """The state without its history: what the core reads (it never reads the history)."""
    return replace(state, history=())


def state_digest(state: ControllerState) -> str:
    data = state_to_dict(core_state(state))
    return hashlib.sha256(_canonical(data).encode("utf-8", "surrogatepass")).hexdigest()[:16]


def appended_entries(before: ControllerState, after: ControllerState) -> tuple[HistoryEntry, ...]:
    """The history entries a step appended: the core copies old entries by reference, so an entry
    of `after` that is not (the same object) in `before` is new."""
    old = {id(entry) for entry in before.history}
    return tuple(entry for entry in after.history if id(entry) not in old)


# ------------------------------------------------------------------------------------ observations


def recorded_observation(observation: Observation) -> Observation:
    """An observation as recorded: its detail bounded as the core bounds it (so a replayed verdict is
    the same), the observer bounded too."""
    return replace(
        observation,
        detail=bounded(observation.detail, MAX_DETAIL_BYTES),
        observer=bounded(observation.observer, MAX_DETAIL_BYTES),
    )


def _observation_to_list(observation: Observation) -> list[Any]:
    fields = [observation.node, observation.ok, observation.latency_ms, observation.detail, observation.observer]
    # A timeout is recorded as a sixth element (records written before it have five), the prober's run
    # as a seventh (core/streaks; records written before per-prober runs have none), an auth failure
    # (core/probe_auth) as an eighth.
    if observation.auth_failed:
        return [*fields, observation.timed_out, list(observation.run), True]
    if observation.run:
        # Unrounded: the replay compares these times with the state's (a run's span with whole
        # intervals, its results with the newest contrary one), which are stored unrounded too.
        return [*fields, observation.timed_out, list(observation.run)]
    return [*fields, True] if observation.timed_out else fields


def _observation_from_list(data: Sequence[Any]) -> Observation:
    node, ok, latency_ms, detail, observer, *rest = data
    return Observation(
        node=str(node),
        ok=bool(ok),
        detail=str(detail),
        latency_ms=float(latency_ms),
        observer=str(observer),
        timed_out=bool(rest and rest[0]),
        run=tuple(float(at) for at in rest[1]) if len(rest) > 1 else (),
        auth_failed=len(rest) > 2 and bool(rest[2]),
    )


# ----------------------------------------------------------------------------------- (de)serialise


def record_to_dict(record: LogRecord) -> dict[str, Any]:
    if isinstance(record, SteadyWindow):
        return {
            "type": "steady",
            "schema": LOG_SCHEMA,
            "key": record.key,
            "writer": record.writer,
            "seq": record.seq,
            "fingerprint": record.fingerprint,
            "dropped": record.dropped,
            "cycles": [
                {
                    "at": cycle.at,
                    "probed_at": cycle.probed_at,
                    "version": cycle.version,
                    "association": cycle.association,
                    "observations": [_observation_to_list(o) for o in cycle.observations],
                    "move_id": cycle.move_id,
                    "may_move": cycle.may_move,
                    "missing": list(cycle.missing),
                    "actor": cycle.actor,
                    "reason": cycle.reason,
                }
                for cycle in record.cycles
            ],
        }
    state = state_to_dict(record.state_before)
    del state["history"]
    return {
        "type": "change",
        "schema": LOG_SCHEMA,
        "key": record.key,
        "op": record.op,
        "at": record.at,
        "writer": record.writer,
        "seq": record.seq,
        "version_before": record.version_before,
        "version_after": record.version_after,
        "code_version": record.code_version,
        "fingerprint": record.fingerprint,
        "settings": dict(record.settings),
        "state_before": state,
        "inputs": {
            "actor": record.actor,
            "association": record.association,
            "probed_at": record.probed_at,
            "observations": [_observation_to_list(o) for o in record.observations],
            "move_id": record.move_id,
            "may_move": record.may_move,
            "missing": list(record.missing),
            "request": asdict(record.request) if record.request is not None else None,
            "error": record.error,
            "cause": record.cause,
        },
        "output": {
            "reason": record.reason,
            "move": asdict(record.move) if record.move is not None else None,
            "notices": list(record.notices),
            "events": [asdict(entry) for entry in record.events],
            "state_digest": record.state_digest,
        },
    }


def record_from_dict(data: Mapping[str, Any]) -> LogRecord:
    """Raises ValueError naming what is wrong when `data` is not a record of a known schema."""
    try:
        if data.get("schema") != LOG_SCHEMA:
            raise ValueError(f"unknown schema {data.get('schema')!r} (this version reads {LOG_SCHEMA})")
        if data["type"] == "steady":
            return SteadyWindow(
                writer=str(data["writer"]),
                seq=int(data["seq"]),
                fingerprint=str(data["fingerprint"]),
                dropped=int(data.get("dropped", 0)),
                cycles=tuple(
                    SteadyCycle(
                        at=float(cycle["at"]),
                        probed_at=float(cycle["probed_at"]),
                        version=int(cycle["version"]),
                        association=cycle["association"],
                        observations=tuple(_observation_from_list(o) for o in cycle["observations"]),
                        move_id=str(cycle["move_id"]),
                        may_move=bool(cycle["may_move"]),
                        missing=tuple(str(label) for label in cycle.get("missing") or ()),
                        actor=str(cycle["actor"]),
                        reason=str(cycle["reason"]),
                    )
                    for cycle in data["cycles"]
                ),
            )
        if data["type"] != "change":
            raise ValueError(f"unknown record type {data['type']!r}")
        inputs = data["inputs"]
        output = data["output"]
        request = inputs.get("request")
        move = output.get("move")
        op = data["op"]
        if op not in ("cycle", "control", "outcome"):
            raise ValueError(f"unknown op {op!r}")
        return ChangeRecord(
            op=op,
            at=float(data["at"]),
            writer=str(data["writer"]),
            seq=int(data["seq"]),
            version_before=int(data["version_before"]),
            version_after=int(data["version_after"]),
            code_version=str(data.get("code_version", "")),
            fingerprint=str(data["fingerprint"]),
            settings=dict(data["settings"]),
            state_before=state_from_dict(data["state_before"]),
            actor=str(inputs["actor"]),
            association=inputs.get("association"),
            probed_at=inputs.get("probed_at"),
            observations=tuple(_observation_from_list(o) for o in inputs.get("observations") or ()),
            move_id=inputs.get("move_id"),
            may_move=bool(inputs.get("may_move", True)),
            missing=tuple(str(label) for label in inputs.get("missing") or ()),
            request=RequestRecord(**request) if request else None,
            error=inputs.get("error"),
            cause=inputs.get("cause"),
            reason=str(output.get("reason", "")),
            move=MoveIntent(**move) if move else None,
            notices=tuple(output.get("notices") or ()),
            events=tuple(HistoryEntry(**entry) for entry in output.get("events") or ()),
            state_digest=str(output.get("state_digest", "")),
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not a decision log record: {exc!r}") from exc


def record_json(record: LogRecord) -> str:
    """One record as compact UTF-8 JSON (the table's `record` attribute and a line of an export)."""
    return json.dumps(record_to_dict(record), ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def record_size(record: LogRecord) -> int:
    return len(record_json(record).encode("utf-8", "surrogatepass"))


def bounded_window(
    writer: str, seq: int, fingerprint_: str, cycles: Sequence[SteadyCycle], dropped: int = 0
) -> SteadyWindow:
    """A window of at most WINDOW_MAX_BYTES: the oldest cycles are left out (and counted) first."""
    window = SteadyWindow(writer, seq, fingerprint_, tuple(cycles), dropped)
    size = record_size(window)
    if size <= WINDOW_MAX_BYTES:
        return window
    per_cycle = max(1, size // max(1, len(cycles)))
    keep = max(0, min(len(cycles) - 1, WINDOW_MAX_BYTES // per_cycle))
    while True:
        window = SteadyWindow(
            writer, seq, fingerprint_, tuple(cycles[len(cycles) - keep :]), dropped + len(cycles) - keep
        )
        if keep == 0 or record_size(window) <= WINDOW_MAX_BYTES:
            return window
        keep -= 1


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
