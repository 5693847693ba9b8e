"""The soak's record as the simulator's timeline (`nginx_eip_failover_sim.timeline`), checked by the
simulator's own `invariants.Checker`: one checker for both, so the lab cannot grade itself softer.

What each event is made from, all of it seen from outside the functions:
- `NodeTruth`: what the actors did to nginx (before the change takes effect when it breaks a node,
  after the node answers again when it heals it: the recorded failure covers the real one);
- `HolderChange`: the DescribeAddresses poll against moto, dated when the poll that first saw the
  new association was sent (the earliest the change can be proved);
- `MoveCall`: each logical AssociateAddress the proxy saw (botocore's retries of one call share an
  invocation id and are one call), dated when its first attempt reached the proxy, paired with the
  committed decision that explains it: the latest `move_started` towards that node before the call;
- `DecisionCommitted`: the `move_started` entries the state item held (polled), with the probe time
  and version from the decision log when its record was written;
- `StateWritten`: each version of the state item the poll saw;
- `OperatorRequest` / `OperatorAnswer`: the ControlFunction invocations;
- `ReplayChecked`: the decision log replayed through the pure core;
- `Note`: faults and invocations, for the traces.

A call that no committed decision explains cannot be a `MoveCall` (it has no decision id): it is
reported here, under the checker's own invariant name `one_call_per_decision`.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nginx_eip_failover.core.log_records import ChangeRecord, SteadyWindow
from nginx_eip_failover_lab.aws.proxy import Call
from nginx_eip_failover_lab.scenarios.replay_check import LabReplay
from nginx_eip_failover_sim.invariants import INVARIANTS, CheckConfig, Checker, Violation, move_cause
from nginx_eip_failover_sim.timeline import (
    DecisionCommitted,
    Event,
    HolderChange,
    MoveCall,
    NodeTruth,
    Note,
    OperatorAnswer,
    OperatorRequest,
    ProbeFailed,
    ReplayChecked,
    StateWritten,
    describe,
)

from .record import ChaosRecord, InvocationRecord

GROUP = "default"  # the stack's own pair
CLEAN_ERRORS = {"InvalidRequestError": "invalid", "RefusedError": "refused", "Runtime.ExitError": "crashed"}
# The soak's node conditions in the checker's words ("how" a node fails).
# An association changes after the call that makes it reached EC2 (here: the proxy); this keeps the
# change after its call in time order.
CALL_TO_EFFECT_SECONDS = 0.001
HOW = {"stopped": "refused", "hung": "hang", "peers down": "peers_down", "garbage": "garbage"}


@dataclass(frozen=True)
class Decision:
    id: str
    at: float
    target: str
    source: str | None
    reason: str
    actor: str
    probed_at: float
    version: int
    writer: str  # the deciding invocation (its container), when its log record was written


@dataclass
class CheckedTimeline:
    events: list[Event]
    violations: list[Violation]
    judged: dict[str, int]  # invariant -> how many events or instants it was judged on
    move_calls: list[MoveCall]
    sent_calls: int  # AssociateAddress HTTP attempts, retries included


class TimelineBuilder:
    def __init__(
        self,
        record: ChaosRecord,
        *,
        allocation_id: str,
        instance_ids: Mapping[str, str],
        replay: LabReplay | None,
    ) -> None:
        self.record = record
        self.address = allocation_id
        self.node_of = {instance: node for node, instance in instance_ids.items()}
        self.replay = replay
        self.unexplained: list[Violation] = []

    def events(self) -> list[Event]:
        decisions = self.decisions()
        events: list[Event] = [
            *self.truths(),
            *self.failed_probes(),
            *self.holder_changes(),
            *(
                DecisionCommitted(
                    d.at,
                    GROUP,
                    d.id,
                    d.target,
                    d.source,
                    move_cause(d.reason),
                    d.reason,
                    d.probed_at,
                    d.actor,
                    d.version,
                )
                for d in decisions
            ),
            *self.move_calls(decisions),
            *self.states(),
            *self.operators(),
            *self.notes(),
        ]
        if self.replay is not None:
            events.append(self.replay_checked(self.replay))
        return sorted(events, key=lambda event: event.at)

    # -- each kind -------------------------------------------------------------------------------------
    def truths(self) -> list[NodeTruth]:
        return [
            NodeTruth(t.at, GROUP, t.node, not t.healthy, "" if t.healthy else HOW.get(t.condition, t.condition))
            for t in self.record.truths
        ]

    def holder_changes(self) -> list[HolderChange]:
        """Each association the poll saw, dated the earliest it can have happened: after the poll
        before it was sent, and after the AssociateAddress that made it reached the proxy (so a move's
        own change never comes before its call, which would make it look like the move before)."""
        effective = sorted(
            (
                (_sent(call), call.param("InstanceId"))
                for call in self.record.calls
                if call.action == "AssociateAddress" and call.upstream_status is not None and call.upstream_status < 300
            ),
            key=lambda item: item[0],
        )
        changes: list[HolderChange] = []
        previous_asked: float | None = None
        current: object = object()
        for sample in self.record.holders:
            if sample.instance_id != current:
                current = sample.instance_id
                at = previous_asked if previous_asked is not None else sample.asked_at
                caused = [sent for sent, instance in effective if instance == sample.instance_id and sent <= sample.at]
                if caused:
                    at = max(at, caused[-1] + CALL_TO_EFFECT_SECONDS)
                node = self.node_of.get(sample.instance_id or "")
                changes.append(HolderChange(at, GROUP, self.address, sample.instance_id, node))
            previous_asked = sample.asked_at
        return changes

    def decisions(self) -> list[Decision]:
        """Every committed move intent: the `move_started` entries, with the log's probe time."""
        logged: dict[str, ChangeRecord] = {}
        for log_record in self.replay.records if self.replay is not None else ():
            if isinstance(log_record, ChangeRecord) and log_record.move is not None:
                logged.setdefault(log_record.move.id, log_record)
        found: dict[str, Decision] = {}
        for entry in self.record.history:
            if entry.get("event") != "move_started":
                continue
            detail = entry.get("detail") or {}
            move_id = str(detail.get("id"))
            change = logged.get(move_id)
            at = float(entry["at"])
            found.setdefault(
                move_id,
                Decision(
                    move_id,
                    at,
                    str(entry.get("node")),
                    detail.get("from"),
                    str(entry.get("reason") or ""),
                    str(entry.get("by") or ""),
                    # Without its log record (the writer was killed before its flush), the decision's
                    # own time: the probes were taken just before it.
                    change.probed_at if change is not None and change.probed_at is not None else at,
                    change.version_after if change is not None else 0,
                    change.writer if change is not None else str(entry.get("by") or ""),
                ),
            )
        return sorted(found.values(), key=lambda d: d.at)

    def logical_calls(self) -> list[list[Call]]:
        """AssociateAddress calls (dry runs excluded), one list of attempts per botocore call."""
        calls: dict[str, list[Call]] = {}
        for index, call in enumerate(self.record.calls):
            if call.action != "AssociateAddress" or (call.param("DryRun") or "").lower() == "true":
                continue
            calls.setdefault(call.sdk_invocation or f"attempt {index}", []).append(call)
        return sorted(calls.values(), key=lambda attempts: _sent(attempts[0]))

    def move_calls(self, decisions: list[Decision]) -> list[MoveCall]:
        moves: list[MoveCall] = []
        for attempts in self.logical_calls():
            first = attempts[0]
            sent = _sent(first)
            instance = first.param("InstanceId") or ""
            target = self.node_of.get(instance, f"foreign:{instance}")
            decision = next((d for d in reversed(decisions) if d.target == target and d.at <= sent), None)
            if decision is None:
                self.unexplained.append(
                    Violation(
                        "one_call_per_decision",
                        sent,
                        GROUP,
                        f"AssociateAddress to {target} ({len(attempts)} attempts) that no committed decision explains",
                    )
                )
                continue
            moves.append(
                MoveCall(
                    sent,
                    GROUP,
                    self.address,
                    target,
                    decision.source,
                    decision.id,
                    move_cause(decision.reason),
                    decision.probed_at,
                    decision.writer,
                )
            )
        return moves

    def failed_probes(self) -> list[ProbeFailed]:
        """The failed probes the functions logged in the decision log (every change record, and the
        steady cycles' windows), by writer: the functions' own account, the only one of their probes
        there is; an invocation killed before its log's flush leaves none."""
        probes: list[ProbeFailed] = []
        for log_record in self.replay.records if self.replay is not None else ():
            if isinstance(log_record, ChangeRecord):
                cycles = [(log_record.probed_at, log_record.observations)]
            elif isinstance(log_record, SteadyWindow):
                cycles = [(cycle.probed_at, cycle.observations) for cycle in log_record.cycles]
            else:
                continue
            for probed_at, observations in cycles:
                if probed_at is None:
                    continue
                for seen in observations:
                    if not seen.ok:
                        known = probed_at + seen.latency_ms / 1000
                        probes.append(ProbeFailed(known, GROUP, seen.node, probed_at, log_record.writer, seen.detail))
        return probes

    def states(self) -> list[StateWritten]:
        return [
            StateWritten(
                s.at,
                GROUP,
                s.version,
                s.size_bytes,
                s.decodes,
                s.alerts,
                s.up_nodes,
                s.move_in_progress,
                s.pin,
                s.drains,
            )
            for s in self.record.states
        ]

    def operators(self) -> list[OperatorRequest | OperatorAnswer]:
        events: list[OperatorRequest | OperatorAnswer] = []
        for inv in self.record.invocations:
            if inv.function != "control":
                continue
            request = inv.request if isinstance(inv.request, dict) else {}
            named = request.get("target", request.get("node"))
            events.append(
                OperatorRequest(
                    inv.started_at,
                    str(inv.number),
                    GROUP,
                    str(request.get("action")),
                    named if isinstance(named, str) else None,
                    request.get("force") is True,
                )
            )
            if inv.ended_at is not None:
                outcome, detail = _outcome(inv)
                events.append(
                    OperatorAnswer(inv.ended_at, str(inv.number), outcome, inv.ended_at - inv.started_at, detail)
                )
        return events

    def replay_checked(self, replay: LabReplay) -> ReplayChecked:
        """Exact: every replayed step reproduces its record; a gap (a change whose record was never
        written) only where an invocation was killed between its write and the log's flush."""
        at = self.record.ended_at or 0.0
        result = replay.result
        if result is None:
            return ReplayChecked(at, GROUP, False, 0, f"cannot read the decision log: {replay.error}")
        killed = sum(1 for inv in self.record.invocations if inv.killed)
        mismatches = result.mismatches
        exact = not mismatches and result.gaps <= killed
        detail = (
            f"{replay.changes} change records, {len(result.steps)} steps, {len(mismatches)} mismatches, "
            f"{result.gaps} gaps ({killed} invocations killed)"
            + (f"; first mismatch: {mismatches[0].mismatch}" if mismatches else "")
        )
        return ReplayChecked(at, GROUP, exact, len(result.steps), detail)

    def notes(self) -> list[Note]:
        notes = [Note(fault.at, "chaos", f"{fault.kind}: {fault.detail}") for fault in self.record.faults]
        for inv in self.record.invocations:
            what = f"{inv.function} #{inv.number} ({inv.trigger})"
            notes.append(Note(inv.started_at, "lab", f"invoked {what}"))
            if inv.ended_at is not None:
                outcome = "killed" if inv.killed else ("ok" if inv.ok else inv.error[:120])
                moves = inv.payload.get("moves") if isinstance(inv.payload, dict) else None
                notes.append(Note(inv.ended_at, "lab", f"{what} ended: {outcome}{f'; moves {moves}' if moves else ''}"))
        for entry in self.record.history:
            notes.append(
                Note(
                    float(entry["at"]),
                    str(entry.get("by") or "?"),
                    f"history {entry.get('event')} {entry.get('node') or ''}: {str(entry.get('reason') or '')[:120]}",
                )
            )
        for call in self.record.calls:
            if call.action == "AssociateAddress":
                notes.append(
                    Note(
                        _sent(call),
                        "ec2",
                        f"AssociateAddress {call.param('InstanceId')} -> {call.status} (moto {call.upstream_status})"
                        + (f", fault {call.fault}" if call.fault else ""),
                    )
                )
        return notes


def _sent(call: Call) -> float:
    return call.received_at if call.received_at is not None else call.at


def _outcome(inv: InvocationRecord) -> tuple[Any, str]:
    if inv.ok:
        payload = inv.payload if isinstance(inv.payload, dict) else {}
        return ("ok" if payload.get("ok", True) else "refused"), str(payload.get("result", ""))[:120]
    kind = inv.error.split(":", 1)[0]
    return CLEAN_ERRORS.get(kind, "error"), inv.error[:200]


def check(events: list[Event], config: CheckConfig, end: float, unexplained: list[Violation]) -> CheckedTimeline:
    """Run the simulator's checker over the events, in time order, then to `end`."""
    checker = Checker({GROUP: config})
    for event in events:
        checker.observe(event)
    checker.finish(end)
    kinds = Counter(type(event).__name__ for event in events)
    move_calls = [event for event in events if isinstance(event, MoveCall)]
    replays = [event for event in events if isinstance(event, ReplayChecked)]
    judged = {
        "no_move_to_down": kinds["MoveCall"],
        "liveness": len({event.at for event in events}),
        "no_move_off_healthy": sum(1 for m in move_calls if m.cause == "failover"),
        # The decision log does not carry probers' runs, so the lab's timeline cannot be judged on
        # it (the simulator's is); counted only when its probes carry them.
        "no_down_without_run": (
            sum(1 for m in move_calls if m.cause == "failover" and not m.forced)
            if any(isinstance(event, ProbeFailed) and event.run > 0 for event in events)
            else 0
        ),
        "one_call_per_decision": kinds["MoveCall"] + len(unexplained),
        "flap_damping": sum(1 for m in move_calls if m.cause in ("preempt", "pin")),
        "state_item": kinds["StateWritten"],
        "alert_clears": kinds["StateWritten"],
        "operator_answers": kinds["OperatorAnswer"] + kinds["MoveCall"],
        "replay_exact": sum(event.steps for event in replays),
    }
    assert set(judged) == set(INVARIANTS), "a new invariant of the checker needs its count here"
    violations = sorted([*checker.violations, *unexplained], key=lambda v: v.at)
    sent = sum(1 for event in events if isinstance(event, Note) and event.actor == "ec2")
    return CheckedTimeline(events, violations, judged, move_calls, sent)


def trace(events: list[Event], violation: Violation, seconds: float = 6.0) -> list[str]:
    """The events within `seconds` of the violation, one readable line each, times from the first event."""
    t0 = events[0].at if events else 0.0
    lines = [f"{violation}  (+{violation.at - t0:.2f} s)"]
    for event in events:
        if abs(event.at - violation.at) <= seconds and not isinstance(event, StateWritten):
            lines.append(f"  +{event.at - t0:8.2f}  {describe(event)[15:]}")
    return lines


def failover_seconds(events: list[Event]) -> list[float]:
    """For each failure of the holder that outlasted the move: seconds until the EIP was seen elsewhere."""
    failing: dict[str, float] = {}
    holder: str | None = None
    measured: list[float] = []
    for event in events:
        if isinstance(event, NodeTruth):
            if event.failing:
                failing.setdefault(event.node, event.at)
            else:
                failing.pop(event.node, None)
        elif isinstance(event, HolderChange):
            previous, holder = holder, event.node
            since = failing.get(previous or "", math.inf)
            if previous is not None and holder is not None and holder != previous and since < event.at:
                measured.append(event.at - since)
    return measured
