"""The application service: probes, the decision core and the adapters wired into one cycle.

Every state change goes through `_commit`: read (or reuse the last version this container wrote),
look at the EIP, decide, write conditionally; on a conflict, read again and decide again. A move is
committed as an intent before EC2 is called and its outcome is committed after, so a crash between
the steps is reconciled by the next cycle from the EIP's real association.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from aws_lambda_powertools.metrics import MetricUnit

from nginx_eip_failover.core import faults
from nginx_eip_failover.core.config import Settings
from nginx_eip_failover.core.decision import (
    Context,
    Decision,
    complete_move,
    decide,
    is_eligible,
    node_verdicts,
    record_probes,
    round_context,
)
from nginx_eip_failover.core.errors import ConflictError, ElasticIpError, MoveCancelledError, RefusedError
from nginx_eip_failover.core.ports import (
    Association,
    EipPort,
    Notice,
    NotifierPort,
    Observation,
    Prober,
    Snapshot,
    StorePort,
)
from nginx_eip_failover.core.state import ControllerState, MoveIntent
from nginx_eip_failover.core.streaks import ProbeRuns
from nginx_eip_failover.observability import add_node_metric, logger, metrics, report_refused_probes
from nginx_eip_failover.service.decision_journal import DecisionJournal
from nginx_eip_failover.service.observer_exchange import ObserverExchange
from nginx_eip_failover.service.plan import Plan

if TYPE_CHECKING:
    from nginx_eip_failover.core.log_records import OutcomeCause
    from nginx_eip_failover.service.found_nodes import FoundNodes
    from nginx_eip_failover.service.operator_requests import ControlRequest
    from nginx_eip_failover.service.status import StatusDocument

MAX_CONFLICT_RETRIES = 25
# A committed move needs this long to send AssociateAddress (it answers in 100-300 ms). A cycle
# with less time left in its invocation (a slow write ate the loop's 1 s margin) commits no move:
# it could not carry it out, and the intent would block every other invocation until
# MOVE_TIMEOUT_SECONDS. (Verification and the outcome's record need no reserve: the next cycle
# completes a move whose association it sees.)
MOVE_TIME_RESERVE_SECONDS = 0.5
# A control request answers with the status after its move: what its probes leave for the rest.
CONTROL_TIME_AFTER_PROBES_SECONDS = 15.0
# A committed move whose probes are older than this is checked again before EC2 is called: the
# intent must still be ours (consistent read) and the target must still answer.
RECHECK_AFTER_SECONDS = 2.0
# An operator's request publishes a notice only with this much of its invocation left: one SNS
# publish takes at most 8 s (aws_clients.SNS_CONFIG: 2 attempts of 1 s connect + 2 s read, one
# backoff), and the answer must still fit. A notice not sent is still logged (and counted:
# NoticesNotSent). (It was 25 s against the 30 s ControlFunction timeout: an operator failover that
# reached its move after 5 s, e.g. with 19 cold starts sharing two CPUs, sent no move notice.)
NOTIFY_RESERVE_SECONDS = 10.0
# How long a container reuses the state it last read or wrote. Staleness never causes a wrong move
# (every move is a conditional write first), but operator changes (unpin, undrain) should reach a
# long-running monitor loop without waiting for its next write: within 30 s, two eventually
# consistent reads a scheduled minute (15 s cost four). An operator's failover and drain move the
# EIP themselves; what waits is the failback after an unpin or undrain, up to 30 s.
SNAPSHOT_MAX_AGE_SECONDS = 30.0


@dataclass
class CycleReport:
    decision: Decision
    observations: list[Observation]
    association: Association
    moved_to: str | None = None
    move_error: str | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)


class FailoverController:
    def __init__(
        self,
        settings: Settings,
        store: StorePort,
        eip: EipPort,
        prober: Prober,
        notifier: NotifierPort,
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        new_id: Callable[[], str] = lambda: uuid.uuid4().hex[:12],
        per_node_metrics: bool = True,
        journal: DecisionJournal | None = None,
        observers: ObserverExchange | None = None,
        found_nodes: FoundNodes | None = None,
    ) -> None:
        self.settings = settings
        self._store = store
        self._eip = eip
        self._prober = prober
        self._notifier = notifier
        self._clock = clock
        # Durations, the snapshot's age and EC2's not_after deadline (the simulator's virtual clock).
        self._monotonic = monotonic
        self._new_id = new_id
        # Metrics with a Node dimension cost $0.30 a month each: a fleet keeps them to its own pair
        # (the stack's dashboard) and reports the other groups in its logs and fleet metrics.
        self._per_node_metrics = per_node_metrics
        # The last version this container read or wrote. Reusing it saves a read per cycle; it
        # cannot cause a wrong move, because every move is first a conditional write of it.
        self._snapshot: Snapshot | None = None
        self._snapshot_at = 0.0
        # This container's own consecutive results per node (core/streaks): what a node's fall counts.
        self.runs = ProbeRuns()
        # Set while an operator's request runs: notices must not outlast its invocation.
        self._request_time_left: Callable[[], float] | None = None
        # The decision log (off unless given one): inputs and outputs of every state change.
        self.journal = journal or DecisionJournal(None, settings)
        # The quorum of observers (off unless OBSERVERS names several): shares and counts verdicts.
        self.observers = observers or ObserverExchange(settings, None, clock=clock)
        self.found_nodes = found_nodes  # nodes found by Auto Scaling group or tags; None: fixed InstanceIds

    def _find_nodes(self) -> None:
        self.settings = self.found_nodes.refresh(self.settings, self._snapshot) if self.found_nodes else self.settings

    def probe(self, budget_seconds: float | None = None) -> list[Observation]:
        observations = self._prober.probe_all(budget_seconds)
        report_refused_probes(self.settings.group, {o.node: o.detail for o in observations if o.auth_failed})
        if self._per_node_metrics:
            for observation in observations:
                add_node_metric(observation.node, "ProbeLatency", MetricUnit.Milliseconds, observation.latency_ms)
        return observations

    def run_cycle(self, actor: str, time_left: Callable[[], float] | None = None) -> CycleReport:
        """One monitor cycle: probe every node, record the results, move the EIP if it must.

        `time_left()`: seconds left in the invocation; no move is committed without
        MOVE_TIME_RESERVE_SECONDS to carry it out.
        """
        self._find_nodes()
        started = self._monotonic()
        probed_at = self._clock()
        # The loop starts a cycle only with room for a whole probe timeout: no budget to cut here.
        observations = self._with_runs(self.probe(), probed_at)
        probed = self._monotonic()
        self.observers.share(observations, probed_at)
        settings = self.settings

        round_verdicts = node_verdicts(observations, settings.quorum)

        def build(state: ControllerState, seen: Association, now: float) -> Decision:
            ctx = round_context(settings, now, actor, round_verdicts)
            may_move = time_left is None or time_left() >= MOVE_TIME_RESERVE_SECONDS
            move_id = self._new_id()
            missing = seen.missing  # an address set's stragglers
            self.journal.attempt(
                state,
                seen.instance_id,
                ctx,
                probed_at=probed_at,
                observations=observations,
                move_id=move_id,
                may_move=may_move,
                missing=missing,
            )
            recorded, heard = self.observers.record(state, observations, ctx, probed_at)
            decision = decide(recorded, seen.instance_id, ctx, move_id=move_id, may_move=may_move, missing=missing)
            return replace(decision, notices=heard + decision.notices) if heard else decision

        report = self._commit(build, actor, probed_at)
        report.observations = observations
        report.timings_ms = {"probe": _ms(started, probed), **report.timings_ms}
        if self._per_node_metrics:
            metrics.add_metric(name="MonitorCycles", unit=MetricUnit.Count, value=1)
            for node in settings.nodes:
                up = report.decision.state.health(node.name).status == "up"
                add_node_metric(node.name, "NodeUp", MetricUnit.Count, 1 if up else 0)
        if "no_node_up" in report.decision.state.alerts:
            metrics.add_metric(name="NoHealthyNode", unit=MetricUnit.Count, value=1)
        return report

    def run_control(
        self, request: ControlRequest, actor: str, time_left: Callable[[], float] | None = None
    ) -> CycleReport:
        """Apply an operator request on fresh probe results; raises (changing nothing) if refused.

        Probes are cut so that the move and the status still fit in the invocation's time.
        """
        from nginx_eip_failover.service.operator_requests import (
            apply_control,  # only the ControlFunction needs it: not on the monitor's cold path
        )

        probed_at, observations = self._probe_for_operator(time_left)
        verdicts = node_verdicts(observations, self.settings.quorum)
        settings = self.settings

        def build(state: ControllerState, seen: Association, now: float) -> Decision:
            ctx = Context(settings, now, actor)
            move_id = self._new_id()
            self.journal.attempt(
                state,
                seen.instance_id,
                ctx,
                probed_at=probed_at,
                observations=observations,
                move_id=move_id,
                request=request,
            )
            recorded = record_probes(state, verdicts, ctx, probed_at)
            return apply_control(recorded, request, seen.instance_id, ctx, move_id=move_id)

        self._snapshot = None  # an operator acts on what is stored now, not on a cached copy
        self._request_time_left = time_left
        try:
            report = self._commit(build, actor, probed_at)
        finally:
            self._request_time_left = None
        report.observations = observations
        return report

    def plan(self, request: ControlRequest | None, actor: str, time_left: Callable[[], float] | None = None) -> Plan:
        """What a cycle (request None) or an operator request would do now, and why: the same
        probes and the same pure core on the stored state, but nothing is written, moved,
        published or logged."""
        from nginx_eip_failover.service.operator_requests import apply_control

        probed_at, observations = self._probe_for_operator(time_left)
        snapshot = self._store.load(consistent=True)
        snapshot = Snapshot(self._rebased(snapshot.state, actor), snapshot.version)
        seen = self._eip.describe()
        verdicts = node_verdicts(observations, self.settings.quorum)
        # As run_cycle decides (an operator's request decides as run_control does: without it).
        now = self._clock()
        ctx = Context(self.settings, now, actor) if request else round_context(self.settings, now, actor, verdicts)
        recorded = record_probes(snapshot.state, verdicts, ctx, probed_at)
        try:
            if request is None:
                decision = decide(recorded, seen.instance_id, ctx, move_id="plan", missing=seen.missing)
            else:
                decision = apply_control(recorded, request, seen.instance_id, ctx, move_id="plan")
        except RefusedError as refused:
            return Plan(would="refuse", reason=str(refused), observations=observations, decision=None)
        would = "move" if decision.move is not None else "nothing"
        return Plan(would=would, reason=decision.reason, observations=observations, decision=decision)

    def _probe_for_operator(self, time_left: Callable[[], float] | None) -> tuple[float, list[Observation]]:
        """Probes for an operator's request, cut so that the rest of it fits in the invocation."""
        self._find_nodes()
        probed_at = self._clock()
        budget = max(0.1, time_left() - CONTROL_TIME_AFTER_PROBES_SECONDS) if time_left else None
        return probed_at, self._with_runs(self.probe(budget), probed_at)

    def _with_runs(self, observations: list[Observation], probed_at: float) -> list[Observation]:
        """This container's runs (core/streaks) extended with a probe round and attached to it."""
        self.runs, attached = self.runs.extend(observations, probed_at, self.settings)
        return attached

    def start_invocation(self) -> None:
        """Runs start afresh: a container frozen between invocations saw nothing, however briefly (sim short_gaps)."""
        self.runs = ProbeRuns()

    def failure_run_in_progress(self) -> bool:
        """This container's probes are part way through a failure run of a node not known down: a
        scheduled monitor hands over only once it ends (monitor_loop), so one prober counts it."""
        state = self._snapshot.state if self._snapshot is not None else None
        down = {node for node in self.settings.node_names if state is not None and state.health(node).status == "down"}
        undecided = [node for node in self.settings.node_names if node not in down]
        return any(self.runs.falling(node, self.settings.fall_threshold) for node in undecided)

    def status(self) -> StatusDocument:
        from nginx_eip_failover.service.status import build_status  # only the ControlFunction needs it

        snapshot = self._store.load()
        self._remember(snapshot)
        self._find_nodes()
        return build_status(snapshot, self._eip.describe(), self.settings, self._clock())

    def _rebased(self, state: ControllerState, actor: str) -> ControllerState:  # found nodes' rise rule
        return self.found_nodes.rebased(state, self.settings, self._clock(), actor) if self.found_nodes else state

    def _cached_or_loaded(self) -> Snapshot:
        if self._snapshot is None:
            self._remember(self._store.load())
        elif self._monotonic() - self._snapshot_at > SNAPSHOT_MAX_AGE_SECONDS:
            # A refresh only looks for operator changes; a stale answer is caught by the
            # conditional write, so an eventually consistent read (half the price) is enough.
            self._remember(self._store.load(consistent=False))
        assert self._snapshot is not None
        return self._snapshot

    def _remember(self, snapshot: Snapshot | None) -> None:
        self._snapshot = snapshot
        self._snapshot_at = self._monotonic()

    def _commit(
        self, build: Callable[[ControllerState, Association, float], Decision], actor: str, probed_at: float
    ) -> CycleReport:
        for _attempt in range(MAX_CONFLICT_RETRIES):
            snapshot = self._cached_or_loaded()
            decide_started = self._monotonic()
            association = self._eip.describe()
            decision = build(self._rebased(snapshot.state, actor), association, self._clock())
            if decision.state != snapshot.state:
                try:
                    version = self._store.save(decision.state, snapshot.version)
                except ConflictError:
                    metrics.add_metric(name="StateConflicts", unit=MetricUnit.Count, value=1)
                    logger.info("state changed under us; reading it again", extra={"version": snapshot.version})
                    self._snapshot = None
                    continue
                self.journal.committed(decision, snapshot.version, version)
                snapshot = Snapshot(decision.state, version)
                # Only a read or a write makes the cached copy fresh; an unchanged cycle must not
                # extend its life, or operator changes would never reach a running loop.
                self._remember(snapshot)
            else:
                self.journal.unchanged(decision, snapshot.version)
            decided = self._monotonic()
            report = CycleReport(decision=decision, observations=[], association=association)
            report.timings_ms["decide"] = _ms(decide_started, decided)
            if decision.move is not None and faults.active(faults.STALE_DECISION_AFTER_SLOW_NOTICE):
                # test-only: a past defect, re-injected by the simulator's mutation check
                self._publish(list(decision.notices))
                decision = replace(decision, notices=())
                probed_at = self._clock()  # and no re-check of the aged move
            if decision.move is not None:
                self._execute(decision, report, actor, probed_at)
            # After EC2, never between the committed intent and its call: a slow SNS (retries for
            # seconds) must not make the move act on a stale decision.
            self._publish(list(decision.notices))
            # The decision log too: after EC2, and a failed write never fails the cycle.
            self.journal.flush()
            return report
        raise ConflictError(f"state kept changing: gave up after {MAX_CONFLICT_RETRIES} conflicting writes")

    def _execute(self, decision: Decision, report: CycleReport, actor: str, probed_at: float) -> None:
        move = decision.move
        assert move is not None
        logger.info(
            "moving EIP",
            extra={"move_id": move.id, "from": move.source, "to": move.target, "reason": move.reason},
        )
        checked_at = probed_at
        if self._clock() - checked_at > RECHECK_AFTER_SECONDS:
            if not self._still_wanted(move, report, actor):
                return
            checked_at = self._clock()

        def before_send() -> str | None:
            # The mover's own reads (a DescribeAddresses slow with retries) can age the decision
            # again: check it once more right before the send (simulator seed 2567: sent 5.5 s
            # after its probes, 3.5 s after another invocation had seen the target fail).
            if self._clock() - checked_at <= RECHECK_AFTER_SECONDS or self._still_wanted(move, report, actor):
                return None
            return report.move_error or "the decision no longer holds"

        # Another invocation abandons this intent after MOVE_TIMEOUT_SECONDS: the call must be
        # sent well before that, or not at all.
        not_after = self._monotonic() + (move.started_at + self.settings.move_timeout_seconds / 2 - self._clock())
        error: str | None = None
        association: str | None
        try:
            target_instance = self.settings.node(move.target).instance_id
            result = self._eip.move(
                target_instance, not_after=not_after, priority=self._priority(move), before_send=before_send
            )
            association = result.association.instance_id
            report.association = result.association
            report.timings_ms.update(associate=result.associate_ms, verify=result.verify_ms)
        except MoveCancelledError:
            return  # _still_wanted recorded why (or another invocation owns the move now)
        except ElasticIpError as exc:
            error = str(exc)
            association = self._association_after_failure()
        recorded = self._record_outcome(move.id, association, error, actor)
        if recorded is not None:
            # The report (the monitor's result: alerts, nodes) shows the state after the outcome,
            # e.g. the move_failing alert the failed move raised, not the intent's state before it.
            report.decision = replace(report.decision, state=recorded)
        if association == self.settings.node(move.target).instance_id:
            report.moved_to = move.target
            metrics.add_metric(name="EipMoves", unit=MetricUnit.Count, value=1)
            logger.info("EIP moved", extra={"move_id": move.id, "to": move.target, "timings_ms": report.timings_ms})
        else:
            report.move_error = error or f"EIP on {association} after the move"
            metrics.add_metric(name="MoveFailures", unit=MetricUnit.Count, value=1)
            # Every failed attempt, with EC2's error: the SNS notice (and its log line) is sent only
            # when the move_failing alert is raised, not for the retries after it.
            logger.error("move failed", extra={"move_id": move.id, "to": move.target, "error": report.move_error})

    def _priority(self, move: MoveIntent) -> int:
        """Failovers (and repairs) before placements before failbacks, when a fleet's moves queue
        for EC2's API budget: the group whose holder died waits least."""
        from nginx_eip_failover.core.ports import PRIORITY_FAILBACK, PRIORITY_FAILOVER, PRIORITY_PLACEMENT

        if move.source is None or move.source.startswith("foreign:"):
            return PRIORITY_PLACEMENT
        state = self._snapshot.state if self._snapshot is not None else None
        source_fine = state is not None and is_eligible(state, move.source) and move.source != move.target
        return PRIORITY_FAILBACK if source_fine else PRIORITY_FAILOVER

    def _still_wanted(self, move: MoveIntent, report: CycleReport, actor: str) -> bool:
        """An aged decision (the intent's write was slow) is checked again before EC2 is called:
        the intent must still be ours, and the target must still pass a probe."""
        snapshot = self._store.load(consistent=True)
        self._remember(snapshot)
        if snapshot.state.move is None or snapshot.state.move.id != move.id:
            logger.warning(
                "move taken over or settled by another invocation; not calling EC2", extra={"move_id": move.id}
            )
            report.move_error = f"move {move.id} was taken over by another invocation before EC2 was called"
            return False
        seen = {o.node: o for o in self._with_runs(self.probe(), self._clock())}
        target = seen.get(move.target)
        if target is not None and target.ok:
            return True
        detail = target.detail if target is not None else "not probed"
        error = f"{move.target} failed its re-check probe before EC2 was called ({detail})"
        logger.warning("move cancelled: target failed its re-check", extra={"move_id": move.id, "error": error})
        report.move_error = error
        recorded = self._record_outcome(move.id, self._association_after_failure(), error, actor, cause="recheck")
        if recorded is not None:
            report.decision = replace(report.decision, state=recorded)
        return False

    def _association_after_failure(self) -> str | None:
        try:
            return self._eip.describe().instance_id
        except ElasticIpError:
            logger.exception("cannot read the EIP after a failed move")
            return None

    def _record_outcome(
        self, move_id: str, association: str | None, error: str | None, actor: str, cause: OutcomeCause = "ec2"
    ) -> ControllerState | None:
        for _attempt in range(MAX_CONFLICT_RETRIES):
            snapshot = self._cached_or_loaded()
            ctx = Context(self.settings, self._clock(), actor)
            state, notices = complete_move(snapshot.state, move_id, association, error, ctx)
            if state == snapshot.state:
                return state  # another invocation already recorded it
            try:
                version = self._store.save(state, snapshot.version)
            except ConflictError:
                self._snapshot = None
                continue
            self._remember(Snapshot(state, version))
            self.journal.outcome(
                snapshot.state,
                state,
                notices,
                ctx,
                move_id=move_id,
                association=association,
                error=error,
                cause=cause,
                version_before=snapshot.version,
                version_after=version,
            )
            self._publish(list(notices))
            return state
        # The next cycle reconciles the intent from the EIP's association; nothing is lost.
        logger.error("could not record the move's outcome", extra={"move_id": move_id})
        return None

    def _publish(self, notices: list[Notice]) -> None:
        if not notices:
            return
        for notice in notices:
            if notice.kind == "drift":
                metrics.add_metric(name="DriftDetected", unit=MetricUnit.Count, value=1)
        time_left = self._request_time_left
        if time_left is None:
            self._notifier.publish(notices)
            return
        for notice in notices:  # one at a time: each must leave the request time to answer
            if time_left() < NOTIFY_RESERVE_SECONDS:
                metrics.add_metric(name="NoticesNotSent", unit=MetricUnit.Count, value=1)
                logger.warning(
                    "no time left in the request to notify; logged only",
                    extra={"notice": notice.kind, "severity": notice.severity, "notice_message": notice.message},
                )
                continue
            self._notifier.publish([notice])


def _ms(start: float, end: float) -> float:
    return round((end - start) * 1000, 1)
