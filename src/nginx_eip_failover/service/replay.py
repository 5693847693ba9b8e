"""Replay the decision log through the pure core: prove the log is complete, or ask "what if".

`replay(records)` (recorded settings) starts from the state the first change record started from and
runs `record_probes`/`decide`, `apply_control` and `complete_move` with each record's recorded inputs
and settings. Every step must reproduce what was recorded EXACTLY: the reason, the move intent, the
notices' kinds, the history entries appended and the digest of the resulting state (history
excluded). Steady cycles must change nothing. Any difference is a mismatch: the log is incomplete,
or the code that wrote it decided differently (`code_version` is in every record).

`replay(records, overrides={"FallThreshold": "2"})` (other settings, named as template parameters)
runs the same inputs through the core under changed settings and chains its own state, and reports
the moves that would have happened beside the real ones. Assumptions, since the log holds what was,
not what would have been:
- the EIP is where the replay put it: a move succeeds (the association becomes the target) unless
  the recorded outcome of that same move (same step, same move id) failed, in which case that
  failure is replayed; changes made by hand (drift) are not modelled;
- the inputs are the recorded ones: the same probes at the same times, the same operator requests
  (a request refused under the other settings is shown as refused and changes nothing);
- the replay sees the cycles the log holds: every change, and the steady cycles written with each
  change (at most WINDOW_MAX_CYCLES before it), not steady cycles after the last change.

Order: a step's place is the stored version it decided on (the state item's version counts every
write), then its time. A gap in the versions (a write whose record was lost) is reported; in a
replay with the recorded settings the chain is re-synchronised from the next record's state.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from nginx_eip_failover.core.bounds import MAX_REASON_BYTES, bounded
from nginx_eip_failover.core.config import Settings, load_settings
from nginx_eip_failover.core.decision import (
    Context,
    Decision,
    complete_move,
    decide,
    node_verdicts,
    record_probes,
    round_context,
)
from nginx_eip_failover.core.errors import ConfigError, InvalidRequestError
from nginx_eip_failover.core.log_records import (
    ChangeRecord,
    LogRecord,
    SteadyCycle,
    SteadyWindow,
    appended_entries,
    core_state,
    settings_from_record,
    settings_record,
    state_digest,
)
from nginx_eip_failover.core.state import ControllerState, HistoryEntry
from nginx_eip_failover.service.operator_requests import ControlRequest, apply_control

# Template parameter -> the environment variable load_settings reads (NodeNPriority: any N).
PARAMETERS: dict[str, str] = {
    "HealthCheckIntervalSeconds": "HEALTH_CHECK_INTERVAL_SECONDS",
    "HealthCheckTimeoutSeconds": "HEALTH_CHECK_TIMEOUT_SECONDS",
    "FallThreshold": "FALL_THRESHOLD",
    "RiseThreshold": "RISE_THRESHOLD",
    "Preempt": "PREEMPT",
    "PreemptDelaySeconds": "PREEMPT_DELAY_SECONDS",
    "MinSecondsBetweenMoves": "MIN_SECONDS_BETWEEN_MOVES",
    "FlapWindowSeconds": "FLAP_WINDOW_SECONDS",
    "FlapSuppressThreshold": "FLAP_SUPPRESS_THRESHOLD",
}
_NODE_PRIORITY = re.compile(r"^Node(\d+)Priority$")
MOVE_EVENTS = ("move_started", "move_completed", "move_failed", "move_abandoned")


class ReplayError(ValueError):
    """The replay cannot run: an unknown setting, a bad value, or no change record to start from."""


@dataclass(frozen=True)
class StepResult:
    at: float
    op: str  # cycle, control, outcome, steady
    actor: str
    version: int  # the stored version the step decided on
    recorded_reason: str
    replayed_reason: str
    recorded_events: tuple[HistoryEntry, ...]
    replayed_events: tuple[HistoryEntry, ...]
    mismatch: str | None = None
    note: str | None = None  # a gap, a refusal under other settings, a simulated EC2 outcome


@dataclass
class ReplayResult:
    counterfactual: bool
    steps: list[StepResult] = field(default_factory=list)
    gaps: int = 0
    skipped_steady: int = 0  # steady cycles that decided on a stale copy of the state
    duplicates: int = 0  # a second record of one identical write (two racers, one state)

    @property
    def mismatches(self) -> list[StepResult]:
        return [step for step in self.steps if step.mismatch is not None]

    @property
    def exact(self) -> bool:
        return not self.counterfactual and not self.mismatches

    def moves(self, which: str) -> list[tuple[float, HistoryEntry]]:
        """`recorded` or `replayed`: every move event (started, completed, failed, abandoned)."""
        found = []
        for step in self.steps:
            for entry in step.recorded_events if which == "recorded" else step.replayed_events:
                if entry.event in MOVE_EVENTS:
                    found.append((entry.at, entry))
        return found


# ---------------------------------------------------------------------------------------- settings


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment load_settings would need to build `settings` (the decision's part)."""
    env = {
        "EIP_ALLOCATION_ID": settings.allocation_id,
        "HEALTH_CHECK_INTERVAL_SECONDS": repr(settings.interval_seconds),
        "HEALTH_CHECK_TIMEOUT_SECONDS": repr(settings.timeout_seconds),
        "FALL_THRESHOLD": str(settings.fall_threshold),
        "RISE_THRESHOLD": str(settings.rise_threshold),
        "PREEMPT": "true" if settings.preempt else "false",
        "PREEMPT_DELAY_SECONDS": repr(settings.preempt_delay_seconds),
        "MIN_SECONDS_BETWEEN_MOVES": repr(settings.min_seconds_between_moves),
        "FLAP_WINDOW_SECONDS": repr(settings.flap_window_seconds),
        "FLAP_SUPPRESS_THRESHOLD": str(settings.flap_suppress_threshold),
        "MOVE_TIMEOUT_SECONDS": repr(settings.move_timeout_seconds),
        "STATE_TABLE_NAME": "replay",
    }
    for index, node in enumerate(settings.nodes, start=1):
        env[f"NODE{index}_INSTANCE_ID"] = node.instance_id
        env[f"NODE{index}_HEALTH_CHECK_URL"] = node.health_check_url or f"http://{node.name}.invalid/"
        env[f"NODE{index}_PRIORITY"] = str(node.priority)
    return env


def settings_with(settings: Settings, overrides: Mapping[str, str]) -> Settings:
    """`settings` with template parameters changed, validated as a deployment would validate them."""
    env = settings_env(settings)
    for name, value in overrides.items():
        variable = PARAMETERS.get(name)
        node = _NODE_PRIORITY.fullmatch(name)
        if node is not None and 1 <= int(node.group(1)) <= len(settings.nodes):
            variable = f"NODE{int(node.group(1))}_PRIORITY"
        if variable is None:
            known = [*PARAMETERS, *(f"Node{i}Priority" for i in range(1, len(settings.nodes) + 1))]
            raise ReplayError(f"--set {name}: not a setting replay can change; one of {', '.join(known)}")
        env[variable] = value
    try:
        changed = load_settings(env)
    except ConfigError as exc:
        raise ReplayError(f"--set: {exc}") from None
    return replace(
        changed,
        nodes=tuple(
            replace(new, health_check_url=old.health_check_url)
            for new, old in zip(changed.nodes, settings.nodes, strict=True)
        ),
        table_name=settings.table_name,
        history_limit=settings.history_limit,
        quorum=settings.quorum,
    )


def parse_overrides(pairs: Iterable[str]) -> dict[str, str]:
    """`["FallThreshold=2", ...]` -> {"FallThreshold": "2", ...}."""
    overrides: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise ReplayError(f"--set {pair!r}: expected Name=Value, e.g. FallThreshold=2")
        overrides[name.strip()] = value.strip()
    return overrides


# ------------------------------------------------------------------------------------------ replay


@dataclass(frozen=True)
class _Step:
    version: int
    at: float
    order: int  # change records before steady cycles at the same version and time
    change: ChangeRecord | None = None
    steady: SteadyCycle | None = None
    fingerprint: str = ""


def ordered_steps(records: Iterable[LogRecord]) -> list[_Step]:
    """Change records and steady cycles, deduplicated, in the order the core saw them."""
    steps: dict[tuple[object, ...], _Step] = {}
    for record in records:
        if isinstance(record, ChangeRecord):
            steps[("change", record.writer, record.seq)] = _Step(record.version_before, record.at, 0, change=record)
        elif isinstance(record, SteadyWindow):
            for cycle in record.cycles:
                steps[("steady", record.writer, cycle.at, cycle.move_id)] = _Step(
                    cycle.version, cycle.at, 1, steady=cycle, fingerprint=record.fingerprint
                )
    return sorted(steps.values(), key=lambda step: (step.version, step.at, step.order))


def replay(records: Sequence[LogRecord], overrides: Mapping[str, str] | None = None) -> ReplayResult:
    steps = ordered_steps(records)
    changes = [step.change for step in steps if step.change is not None]
    if not changes:
        raise ReplayError("no change record in the log to start from (steady cycles alone hold no state)")
    counterfactual = bool(overrides)
    recorded_settings = {c.fingerprint: settings_from_record(c.settings) for c in changes}
    chosen: dict[str, Settings] = {}

    def settings_for(fingerprint: str) -> Settings:
        base = recorded_settings.get(fingerprint) or settings_from_record(changes[0].settings)
        if not counterfactual:
            return base
        if fingerprint not in chosen:
            chosen[fingerprint] = settings_with(base, overrides or {})
        return chosen[fingerprint]

    outcomes = {c.move_id: c for c in changes if c.op == "outcome" and c.move_id is not None}
    first = changes[0]
    state = first.state_before
    version = first.version_before
    eip = first.association if first.op != "outcome" else first.state_before.association
    result = ReplayResult(counterfactual=counterfactual)
    last_digest: str | None = None
    for step in steps:
        if step.steady is not None:
            if step.version != version:
                result.skipped_steady += 1
                continue
            state, eip = _replay_steady(step, state, eip, settings_for(step.fingerprint), outcomes, result)
            continue
        change = step.change
        assert change is not None
        if change.version_after == version and change.state_digest == last_digest:
            # Two racers that computed byte-identical states both count the write as theirs (the
            # state store's lost-answer rule): the second record is the same write, not a new step.
            result.duplicates += 1
            continue
        last_digest = change.state_digest
        note = None
        if change.version_before != version or (not counterfactual and core_state(state) != change.state_before):
            result.gaps += 1
            note = f"gap: replay was at version {version}, the record decided on version {change.version_before}"
            if not counterfactual:
                state = change.state_before
        version = change.version_after
        settings = settings_for(change.fingerprint)
        if counterfactual:
            state, eip = _replay_counterfactual(change, state, eip, settings, outcomes, result, note)
        else:
            state = _replay_faithful(change, state, settings, result, note)
    return result


def run_change(state: ControllerState, change: ChangeRecord, settings: Settings, association: str | None) -> Decision:
    """One recorded step through the pure core, with the recorded inputs (the association given)."""
    if change.op == "outcome":
        assert change.move_id is not None
        ctx = Context(settings, change.at, change.actor)
        new, notices = complete_move(state, change.move_id, association, change.error, ctx)
        return Decision(new, None, "", notices)
    assert change.move_id is not None
    verdicts = node_verdicts(change.observations, settings.quorum)
    ctx = (
        round_context(settings, change.at, change.actor, verdicts)
        if change.op != "control"
        else Context(settings, change.at, change.actor)
    )
    recorded = record_probes(state, verdicts, ctx, change.probed_at)
    if change.op == "control":
        assert change.request is not None
        request = ControlRequest(
            action=change.request.action,  # type: ignore[arg-type]
            node=settings.node(change.request.node) if change.request.node else None,
            reason=change.request.reason,
            force=change.request.force,
        )
        return apply_control(recorded, request, association, ctx, move_id=change.move_id)
    return decide(recorded, association, ctx, move_id=change.move_id, may_move=change.may_move, missing=change.missing)


def run_steady(state: ControllerState, cycle: SteadyCycle, settings: Settings, association: str | None) -> Decision:
    verdicts = node_verdicts(cycle.observations, settings.quorum)
    ctx = round_context(settings, cycle.at, cycle.actor, verdicts)
    recorded = record_probes(state, verdicts, ctx, cycle.probed_at)
    return decide(recorded, association, ctx, move_id=cycle.move_id, may_move=cycle.may_move, missing=cycle.missing)


def _replay_faithful(
    change: ChangeRecord, state: ControllerState, settings: Settings, result: ReplayResult, note: str | None
) -> ControllerState:
    decision = run_change(state, change, settings, change.association)
    events = appended_entries(state, decision.state)
    problems = []
    reason = bounded(decision.reason, MAX_REASON_BYTES) if change.op != "outcome" else ""
    if reason != change.reason:
        problems.append(f"reason {reason!r} != recorded {change.reason!r}")
    if decision.move != change.move:
        problems.append(f"move {decision.move} != recorded {change.move}")
    kinds = tuple(notice.kind for notice in decision.notices)
    if kinds != change.notices:
        problems.append(f"notices {list(kinds)} != recorded {list(change.notices)}")
    if events != change.events:
        problems.append(f"history {[e.event for e in events]} != recorded {[e.event for e in change.events]}")
    if state_digest(decision.state) != change.state_digest:
        problems.append("resulting state differs from the recorded one")
    if settings_record(settings) != dict(change.settings):
        problems.append("settings do not round-trip")
    result.steps.append(
        StepResult(
            at=change.at,
            op=change.op,
            actor=change.actor,
            version=change.version_before,
            recorded_reason=change.reason,
            replayed_reason=reason,
            recorded_events=change.events,
            replayed_events=events,
            mismatch="; ".join(problems) or None,
            note=note,
        )
    )
    return decision.state


def _replay_steady(
    step: _Step,
    state: ControllerState,
    eip: str | None,
    settings: Settings,
    outcomes: Mapping[str, ChangeRecord],
    result: ReplayResult,
) -> tuple[ControllerState, str | None]:
    cycle = step.steady
    assert cycle is not None
    association = eip if result.counterfactual else cycle.association
    decision = run_steady(state, cycle, settings, association)
    reason = bounded(decision.reason, MAX_REASON_BYTES)
    events = appended_entries(state, decision.state)
    if not result.counterfactual:
        problems = []
        if core_state(decision.state) != core_state(state) or events:
            problems.append(f"a steady cycle changed the state ({[e.event for e in events]})")
        if reason != cycle.reason:
            problems.append(f"reason {reason!r} != recorded {cycle.reason!r}")
        if problems:
            result.steps.append(
                StepResult(
                    cycle.at,
                    "steady",
                    cycle.actor,
                    cycle.version,
                    cycle.reason,
                    reason,
                    (),
                    events,
                    "; ".join(problems),
                )
            )
        return state, eip
    if core_state(decision.state) == core_state(state) and not events:
        return state, eip
    state, eip, more, note = _simulate_move(decision, cycle.at, cycle.actor, eip, settings, outcomes)
    result.steps.append(
        StepResult(cycle.at, "steady", cycle.actor, cycle.version, cycle.reason, reason, (), events + more, note=note)
    )
    return state, eip


def _replay_counterfactual(
    change: ChangeRecord,
    state: ControllerState,
    eip: str | None,
    settings: Settings,
    outcomes: Mapping[str, ChangeRecord],
    result: ReplayResult,
    note: str | None,
) -> tuple[ControllerState, str | None]:
    if change.op == "outcome":
        # Outcomes were simulated when the replay's own move started (see _simulate_move).
        result.steps.append(
            StepResult(change.at, change.op, change.actor, change.version_before, "", "", change.events, (), note=note)
        )
        return state, eip
    try:
        decision = run_change(state, change, settings, eip)
    except InvalidRequestError as exc:
        result.steps.append(
            StepResult(
                change.at,
                change.op,
                change.actor,
                change.version_before,
                change.reason,
                "",
                change.events,
                (),
                note=f"refused under these settings: {exc}",
            )
        )
        return state, eip
    events = appended_entries(state, decision.state)
    state, eip, more, simulated = _simulate_move(decision, change.at, change.actor, eip, settings, outcomes)
    result.steps.append(
        StepResult(
            change.at,
            change.op,
            change.actor,
            change.version_before,
            change.reason,
            bounded(decision.reason, MAX_REASON_BYTES),
            change.events,
            events + more,
            note="; ".join(n for n in (note, simulated) if n) or None,
        )
    )
    return state, eip


def _simulate_move(
    decision: Decision,
    at: float,
    actor: str,
    eip: str | None,
    settings: Settings,
    outcomes: Mapping[str, ChangeRecord],
) -> tuple[ControllerState, str | None, tuple[HistoryEntry, ...], str | None]:
    """The EC2 outcome of a replayed move: success, unless the same move's recorded outcome failed."""
    move = decision.move
    if move is None:
        return decision.state, eip, (), None
    target = settings.node(move.target).instance_id
    recorded = outcomes.get(move.id)
    if recorded is not None and recorded.association != target:
        association, error, when, note = recorded.association, recorded.error, recorded.at, "recorded failure replayed"
    else:
        association, error, when, note = target, None, recorded.at if recorded else at, "EC2 assumed to succeed"
    state, _notices = complete_move(decision.state, move.id, association, error, Context(settings, when, actor))
    return state, association, appended_entries(decision.state, state), note
