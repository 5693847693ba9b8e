"""The soak's view of the recorded timeline: node truth as failing stretches, moves as EC2 saw them,
operator requests, and the invariants of issue #17 checked over them.

Everything is judged from outside the functions: what the lab did to the nodes (not what the
functions' probes said), the association as DescribeAddresses and the proxy saw it, and the
requests' answers. The controller's own history is used only to pair an EC2 move with the
committed decision that made it (invariant 4).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .aws_proxy import Call
from .chaos_actors import ChaosSettings
from .chaos_record import ChaosRecord, InvocationRecord
from .replay_check import LabReplay

# The controller re-checks a decision older than this before calling EC2 (controller.RECHECK_AFTER_SECONDS).
RECHECK_AFTER_SECONDS = 2.0
STATE_ITEM_MAX_BYTES = 100 * 1024  # the documented bound (docs/reliability.md, "Huge upstream")
CLEAN_ERRORS = ("InvalidRequestError", "RefusedError")
CONTROL_COLD_START_ALLOWANCE = 5.0  # a fresh process's imports, before the invocation's clock starts
MOVE_BOUND_SECONDS = 10.0  # EC2 retries and the monitor's backoff (1 + 2 + 4 s) after injected faults
COLD_START_SECONDS = 2.0  # a fresh process's imports before its first probe, on a loaded machine


@dataclass(frozen=True)
class Violation:
    invariant: str
    at: float
    text: str


@dataclass(frozen=True)
class Move:
    """An AssociateAddress that took effect and changed the EIP's node."""

    sent_at: float  # when the proxy received it
    at: float  # when its answer went back
    source: str | None
    target: str
    call: Call


@dataclass
class CheckReport:
    violations: list[Violation] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)  # invariant -> how many cases it judged
    moves: list[Move] = field(default_factory=list)
    effective_associations: int = 0
    replay_line: str = ""
    failover_seconds: list[float] = field(default_factory=list)  # holder failing -> EIP on the other node

    def judge(self, invariant: str, ok: bool, at: float, text: str) -> None:
        self.checked[invariant] = self.checked.get(invariant, 0) + 1
        if not ok:
            self.violations.append(Violation(invariant, at, text))


class NodeTruths:
    """Each node's failing stretches [start, end) as the lab made them."""

    def __init__(self, record: ChaosRecord, settings: ChaosSettings) -> None:
        self.settings = settings
        end = record.ended_at or max((t.at for t in record.truths), default=record.started_at)
        self.stretches: dict[str, list[tuple[float, float]]] = {}
        for node in {truth.node for truth in record.truths}:
            stretches: list[tuple[float, float]] = []
            failing_since: float | None = None
            for truth in sorted((t for t in record.truths if t.node == node), key=lambda t: t.at):
                if not truth.healthy and failing_since is None:
                    failing_since = truth.at
                elif truth.healthy and failing_since is not None:
                    stretches.append((failing_since, truth.at))
                    failing_since = None
            if failing_since is not None:
                stretches.append((failing_since, end))
            self.stretches[node] = stretches

    def merged(self, node: str) -> list[tuple[float, float]]:
        """Stretches joined across healthy gaps shorter than one interval, which a prober may miss."""
        merged: list[tuple[float, float]] = []
        for start, end in self.stretches.get(node, []):
            if merged and start - merged[-1][1] < self.settings.interval:
                merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
            else:
                merged.append((start, end))
        return merged

    def significant(self, node: str) -> list[tuple[float, float]]:
        """Failures long enough for FallThreshold probes one interval apart to all fail."""
        shortest = (self.settings.fall - 1) * self.settings.interval - 0.05
        return [(start, end) for start, end in self.merged(node) if end - start >= shortest]

    def failing_throughout(self, node: str, start: float, end: float) -> bool:
        return any(a <= start and end <= b for a, b in self.stretches.get(node, []))

    def healthy_throughout(self, node: str, start: float, end: float) -> bool:
        return not any(a < end and start < b for a, b in self.stretches.get(node, []))

    def failed_significantly(self, node: str, start: float, end: float) -> bool:
        return any(a < end and start < b for a, b in self.significant(node))


def moves_of(record: ChaosRecord, node_of: dict[str, str]) -> tuple[list[Move], int]:
    """The moves as EC2 saw them: effective AssociateAddress calls that changed the node."""
    calls = sorted(
        (
            call
            for call in record.calls
            if call.action == "AssociateAddress" and call.upstream_status is not None and call.upstream_status < 300
        ),
        key=lambda call: call.received_at or call.at,
    )
    moves: list[Move] = []
    current: str | None = None
    for call in calls:
        target = node_of.get(call.param("InstanceId") or "", f"foreign:{call.param('InstanceId')}")
        if target != current:
            moves.append(Move(call.received_at or call.at, call.at, current, target, call))
            current = target
    return moves, len(calls)


@dataclass(frozen=True)
class OperatorWindow:
    """An accepted operator request, from its start until its answer (plus a grace for its move)."""

    request: dict[str, Any]
    started_at: float
    ended_at: float

    @property
    def action(self) -> str:
        return str(self.request.get("action"))


def accepted_operator_requests(record: ChaosRecord) -> list[OperatorWindow]:
    windows = []
    for invocation in record.invocations:
        if invocation.function != "control" or not invocation.ok or invocation.ended_at is None:
            continue
        payload = invocation.payload if isinstance(invocation.payload, dict) else {}
        if payload.get("ok", True) and isinstance(invocation.request, dict):
            windows.append(OperatorWindow(invocation.request, invocation.started_at, invocation.ended_at))
    return windows


class Checker:
    def __init__(self, record: ChaosRecord, settings: ChaosSettings, instance_ids: dict[str, str]) -> None:
        self.record = record
        self.settings = settings
        self.node_of = {instance: node for node, instance in instance_ids.items()}
        self.truth = NodeTruths(record, settings)
        self.report = CheckReport()
        self.report.moves, self.report.effective_associations = moves_of(record, self.node_of)
        self.operators = accepted_operator_requests(record)
        self._holder_times = [sample.at for sample in record.holders]

    def run(self, replay: LabReplay | None = None) -> CheckReport:
        self.no_move_to_a_down_node()
        self.liveness()
        self.no_move_off_a_healthy_holder()
        self.one_ec2_move_per_decision()
        self.moves_within_the_bound()
        self.state_item_decodes_and_is_bounded()
        self.operator_requests_answer_in_budget()
        self.accepted_pins_hold()
        if replay is not None:
            self.decision_log_replays(replay)
        return self.report

    # -- helpers -------------------------------------------------------------------------------------
    def holder_at(self, at: float) -> str | None:
        index = bisect.bisect_right(self._holder_times, at) - 1
        return self.record.holders[index].holder if index >= 0 else None

    def operator_in(self, actions: Iterable[str], start: float, end: float, grace: float = 1.5) -> list[OperatorWindow]:
        wanted = set(actions)
        return [w for w in self.operators if w.action in wanted and w.started_at <= end and start <= w.ended_at + grace]

    def drained_at(self, node: str, at: float) -> bool:
        drained = False
        for window in self.operators:
            if window.started_at > at:
                break
            if window.request.get("node") == node and window.action in ("drain", "undrain"):
                drained = window.action == "drain"
        return drained

    def pinned_at(self, at: float) -> str | None:
        pin: str | None = None
        for window in self.operators:
            if window.started_at > at:
                break
            if window.action == "failover":
                pin = str(window.request.get("target"))
            elif window.action == "unpin":
                pin = None
        return pin

    def monitored(self, start: float, end: float) -> bool:
        """Some monitor invocation (neither killed nor failed) was probing throughout [start, end]."""
        spans = sorted(
            (inv.started_at + COLD_START_SECONDS, inv.ended_at)
            for inv in self.record.invocations
            if inv.function == "monitor" and inv.ok and inv.ended_at is not None
        )
        reached = start
        for begin, finish in spans:
            if begin > reached + self.settings.interval:
                break  # a stretch nobody probed
            reached = max(reached, finish)
        return reached >= end

    def disturbed(self, start: float, end: float) -> bool:
        """An AWS fault or a kill was injected in [start, end]: moves may take their retries and backoff."""
        return any(
            start <= fault.at <= end and fault.kind.startswith(("aws:", "kill:")) for fault in self.record.faults
        )

    # -- the invariants --------------------------------------------------------------------------------
    def no_move_to_a_down_node(self) -> None:
        """1. No move towards a node that was failing throughout the window its decision was made in."""
        s = self.settings
        window = (s.rise - 1) * s.interval + s.timeout + RECHECK_AFTER_SECONDS + s.interval + 0.5
        for move in self.report.moves:
            down = self.truth.failing_throughout(move.target, move.sent_at - window, move.sent_at)
            self.report.judge(
                "no_move_to_a_down_node",
                not down,
                move.sent_at,
                f"AssociateAddress to {move.target}, which had been failing for the whole {window:.1f} s before",
            )

    def liveness(self) -> None:
        """2. A holder failing longer than detection plus the move time, with the other node up, not
        drained and a monitor probing: the EIP reaches the up node within that bound (longer by the
        retries and backoff when AWS faults or kills were injected around it)."""
        s = self.settings
        base = s.fall * s.interval + s.timeout + COLD_START_SECONDS
        for node in self.truth.stretches:
            other = "node2" if node == "node1" else "node1"
            for start, end in self.truth.significant(node):
                if self.holder_at(start) != node:
                    continue
                bound = base + (MOVE_BOUND_SECONDS if self.disturbed(start - 10.0, start + base) else 0.0)
                deadline = start + bound
                judged = (
                    end >= deadline
                    and self.truth.healthy_throughout(other, start - s.rise * s.interval - 1.0, deadline)
                    and not self.drained_at(other, deadline)
                    and not self.operator_in(("failover", "drain", "undrain", "unpin"), start, deadline)
                    and self.monitored(start, deadline)
                )
                if not judged:
                    continue
                reached = next((m.at for m in self.report.moves if start <= m.sent_at and m.target == other), None)
                self.report.judge(
                    "liveness",
                    reached is not None and reached <= deadline,
                    start,
                    f"{node} (the holder) failing from here, {other} up: the EIP reached {other} "
                    + (f"{reached - start:.1f} s later" if reached else "never")
                    + f", bound {bound:.1f} s",
                )
                if reached is not None:
                    self.report.failover_seconds.append(reached - start)

    def no_move_off_a_healthy_holder(self) -> None:
        """3. No move off a holder that stayed healthy, unless an operator request or preemption explains it."""
        s = self.settings
        window = s.fall * s.interval + s.timeout + RECHECK_AFTER_SECONDS + 1.0
        for move in self.report.moves:
            source = move.source
            if source not in self.truth.stretches:
                continue  # the first placement, or from a foreign instance
            if self.truth.failed_significantly(source, move.sent_at - window, move.sent_at + 0.1):
                continue
            explained = (
                bool(self.operator_in(("failover", "drain", "unpin", "undrain"), move.sent_at - 1.0, move.sent_at))
                or self.drained_at(source, move.sent_at)
                or self.pinned_at(move.sent_at) == move.target
                or (move.target == "node1" and self.preempt_explains(move))
            )
            self.report.judge(
                "no_move_off_a_healthy_holder",
                explained,
                move.sent_at,
                f"moved {source} -> {move.target} while {source} stayed healthy "
                f"(no failure of {(s.fall - 1) * s.interval:g} s or more in the {window:.1f} s before)",
            )

    def preempt_explains(self, move: Move) -> bool:
        """Preemption: the higher-priority target had been healthy for about the preempt delay."""
        s = self.settings
        return self.truth.healthy_throughout(move.target, move.sent_at - s.preempt_delay + 0.5, move.sent_at)

    def one_ec2_move_per_decision(self) -> None:
        """4. Every move EC2 made answers to its own committed decision (a move_started intent)."""
        started = sorted(
            (entry for entry in self.record.history if entry.get("event") == "move_started"), key=lambda e: e["at"]
        )
        used: set[str] = set()
        for move in self.report.moves:
            if move.source is None and not used and move is self.report.moves[0]:
                pass  # the first placement is a decision like any other
            candidates = [
                e
                for e in started
                if e.get("node") == move.target
                and e["at"] <= move.sent_at + 0.05
                and str(e["detail"].get("id")) not in used
            ]
            decision = candidates[-1] if candidates else None
            if decision is not None:
                used.add(str(decision["detail"].get("id")))
            self.report.judge(
                "one_ec2_move_per_decision",
                decision is not None,
                move.sent_at,
                f"EC2 moved the EIP {move.source} -> {move.target} with no committed decision of its own left",
            )

    def moves_within_the_bound(self) -> None:
        """5. moves <= nodes x (holder failures + operator changes + 1) (docs/reliability.md, the bound)."""
        failures = 0
        for node in self.truth.stretches:
            failures += sum(1 for start, _ in self.truth.significant(node) if self.holder_at(start) == node)
        operator_changes = sum(1 for w in self.operators if w.action in ("failover", "drain", "undrain", "unpin"))
        nodes = len(self.truth.stretches)
        bound = nodes * (failures + operator_changes + 1)
        self.report.judge(
            "moves_within_the_bound",
            len(self.report.moves) <= bound,
            self.record.ended_at or 0.0,
            f"{len(self.report.moves)} moves > {nodes} x ({failures} holder failures + {operator_changes} "
            "operator changes + 1)",
        )

    def state_item_decodes_and_is_bounded(self) -> None:
        """6. The state item always decodes and stays under its byte bound."""
        for sample in self.record.states:
            self.report.judge(
                "state_item_bounded",
                sample.decodes and sample.size_bytes <= STATE_ITEM_MAX_BYTES,
                sample.at,
                f"state item version {sample.version}: {sample.size_bytes} bytes, "
                + ("decodes" if sample.decodes else f"does not decode: {sample.error}"),
            )

    def operator_requests_answer_in_budget(self) -> None:
        """7a. Every operator request answers (a result, or a clean error naming the field) within its budget."""
        for invocation in self.record.invocations:
            if invocation.function != "control":
                continue
            self.report.judge("operator_answers_in_budget", *self._answered(invocation))

    def _answered(self, invocation: InvocationRecord) -> tuple[bool, float, str]:
        if invocation.ended_at is None:
            return False, invocation.started_at, f"{invocation.request} never answered"
        elapsed = invocation.ended_at - invocation.started_at
        in_time = elapsed <= invocation.budget_seconds + CONTROL_COLD_START_ALLOWANCE
        clean = invocation.ok or invocation.error.split(":", 1)[0] in CLEAN_ERRORS
        return (
            in_time and bool(clean),
            invocation.started_at,
            f"{invocation.request} -> {'ok' if invocation.ok else invocation.error} after {elapsed:.1f} s",
        )

    def accepted_pins_hold(self) -> None:
        """7b. An accepted failover's pin holds while its node is up, until the next operator request."""
        for index, window in enumerate(self.operators):
            if window.action != "failover":
                continue
            target = str(window.request.get("target"))
            following = [w.started_at for w in self.operators[index + 1 :]]
            later = [
                inv.started_at
                for inv in self.record.invocations
                if inv.function == "control" and inv.started_at > window.ended_at
            ]
            end = min([*following, *later, self.record.ended_at or window.ended_at])
            start = window.ended_at + 1.0
            for sample in self.record.holders:
                if not start <= sample.at <= end:
                    continue
                if self.truth.failed_significantly(target, window.started_at, sample.at):
                    break  # the pinned node failed: a failover away is allowed from here on
                self.report.judge(
                    "accepted_pin_holds",
                    sample.holder == target,
                    sample.at,
                    f"pinned to {target} by {window.request}, the EIP is on {sample.holder}",
                )
                if sample.holder != target:
                    break

    def decision_log_replays(self, replay: LabReplay) -> None:
        """8. The decision log replays every change exactly. A gap (a change whose record was never
        written) is allowed only for an invocation killed between its write and the log's flush."""
        at = self.record.ended_at or 0.0
        result = replay.result
        if result is None:
            self.report.judge("decision_log_replays", False, at, f"the decision log: {replay.error}")
            return
        killed = sum(1 for inv in self.record.invocations if inv.killed)
        for step in result.steps:
            self.report.judge(
                "decision_log_replays",
                step.mismatch is None,
                step.at,
                f"replayed step at version {step.version} differs: {step.mismatch}",
            )
        self.report.judge(
            "decision_log_replays",
            result.gaps <= killed,
            at,
            f"{result.gaps} gap(s) in {replay.changes} change records, more than the {killed} killed invocations",
        )
        self.report.replay_line = (
            f"{replay.changes} change records, {len(result.steps)} steps replayed, "
            f"{len(result.mismatches)} mismatches, {result.gaps} gaps ({killed} invocations killed)"
        )
