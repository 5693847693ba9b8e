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
from typing import TYPE_CHECKING, Protocol

from aws_lambda_powertools.metrics import MetricUnit

from .config import Settings
from .decision import Decision, Notice, Observation, complete_move, decide, node_verdicts, record_probes
from .elastic_ip import Association, MoveResult
from .errors import ConflictError, ElasticIpError
from .observability import add_node_metric, logger, metrics
from .state import ControllerState
from .state_store import Snapshot

if TYPE_CHECKING:
    from .control import ControlRequest
    from .status import StatusDocument

MAX_CONFLICT_RETRIES = 25
# How long a container reuses the state it last read or wrote. Staleness never causes a wrong move
# (every move is a conditional write first), but operator changes (unpin, undrain) should reach a
# long-running monitor loop without waiting for its next write.
SNAPSHOT_MAX_AGE_SECONDS = 15.0


class Prober(Protocol):
    def probe_all(self) -> list[Observation]: ...


class EipPort(Protocol):
    def describe(self) -> Association: ...
    def move(self, instance_id: str) -> MoveResult: ...


class StorePort(Protocol):
    def load(self, *, consistent: bool = True) -> Snapshot: ...
    def save(self, state: ControllerState, expected_version: int) -> int: ...


class NotifierPort(Protocol):
    def publish(self, notices: list[Notice]) -> None: ...


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
        new_id: Callable[[], str] = lambda: uuid.uuid4().hex[:12],
    ) -> None:
        self.settings = settings
        self._store = store
        self._eip = eip
        self._prober = prober
        self._notifier = notifier
        self._clock = clock
        self._new_id = new_id
        # The last version this container read or wrote. Reusing it saves a read per cycle; it
        # cannot cause a wrong move, because every move is first a conditional write of it.
        self._snapshot: Snapshot | None = None
        self._snapshot_at = 0.0

    def probe(self) -> list[Observation]:
        observations = self._prober.probe_all()
        for observation in observations:
            add_node_metric(observation.node, "ProbeLatency", MetricUnit.Milliseconds, observation.latency_ms)
        return observations

    def run_cycle(self, actor: str) -> CycleReport:
        """One monitor cycle: probe every node, record the results, move the EIP if it must."""
        started = time.monotonic()
        observations = self.probe()
        probed = time.monotonic()
        verdicts = node_verdicts(observations, self.settings.quorum)
        settings = self.settings

        def build(state: ControllerState, association: str | None, now: float) -> Decision:
            state = record_probes(state, verdicts, settings, now, actor)
            return decide(state, association, settings, now, actor=actor, move_id=self._new_id())

        report = self._commit(build, actor)
        report.observations = observations
        report.timings_ms = {"probe": _ms(started, probed), **report.timings_ms}
        metrics.add_metric(name="MonitorCycles", unit=MetricUnit.Count, value=1)
        for node in settings.nodes:
            up = report.decision.state.health(node.name).status == "up"
            add_node_metric(node.name, "NodeUp", MetricUnit.Count, 1 if up else 0)
        if "no_node_up" in report.decision.state.alerts:
            metrics.add_metric(name="NoHealthyNode", unit=MetricUnit.Count, value=1)
        return report

    def run_control(self, request: ControlRequest, actor: str) -> CycleReport:
        """Apply an operator request on fresh probe results; raises (changing nothing) if refused."""
        from .control import apply_control  # only the ControlFunction needs it: not on the monitor's cold path

        observations = self.probe() if request.action != "status" else []
        verdicts = node_verdicts(observations, self.settings.quorum)
        settings = self.settings

        def build(state: ControllerState, association: str | None, now: float) -> Decision:
            state = record_probes(state, verdicts, settings, now, actor)
            return apply_control(state, request, association, settings, now, actor=actor, move_id=self._new_id())

        self._snapshot = None  # an operator acts on what is stored now, not on a cached copy
        report = self._commit(build, actor)
        report.observations = observations
        return report

    def status(self) -> StatusDocument:
        from .status import build_status  # only the ControlFunction needs it

        snapshot = self._store.load()
        self._remember(snapshot)
        return build_status(snapshot, self._eip.describe(), self.settings, self._clock())

    def _cached_or_loaded(self) -> Snapshot:
        if self._snapshot is None:
            self._remember(self._store.load())
        elif time.monotonic() - self._snapshot_at > SNAPSHOT_MAX_AGE_SECONDS:
            # A refresh only looks for operator changes; a stale answer is caught by the
            # conditional write, so an eventually consistent read (half the price) is enough.
            self._remember(self._store.load(consistent=False))
        assert self._snapshot is not None
        return self._snapshot

    def _remember(self, snapshot: Snapshot | None) -> None:
        self._snapshot = snapshot
        self._snapshot_at = time.monotonic()

    def _commit(self, build: Callable[[ControllerState, str | None, float], Decision], actor: str) -> CycleReport:
        for _attempt in range(MAX_CONFLICT_RETRIES):
            snapshot = self._cached_or_loaded()
            decide_started = time.monotonic()
            association = self._eip.describe()
            decision = build(snapshot.state, association.instance_id, self._clock())
            if decision.state != snapshot.state:
                try:
                    version = self._store.save(decision.state, snapshot.version)
                except ConflictError:
                    metrics.add_metric(name="StateConflicts", unit=MetricUnit.Count, value=1)
                    logger.info("state changed under us; reading it again", extra={"version": snapshot.version})
                    self._snapshot = None
                    continue
                snapshot = Snapshot(decision.state, version)
                # Only a read or a write makes the cached copy fresh; an unchanged cycle must not
                # extend its life, or operator changes would never reach a running loop.
                self._remember(snapshot)
            decided = time.monotonic()
            self._publish(list(decision.notices))
            report = CycleReport(decision=decision, observations=[], association=association)
            report.timings_ms["decide"] = _ms(decide_started, decided)
            if decision.move is not None:
                self._execute(decision, report, actor)
            return report
        raise ConflictError(f"state kept changing: gave up after {MAX_CONFLICT_RETRIES} conflicting writes")

    def _execute(self, decision: Decision, report: CycleReport, actor: str) -> None:
        move = decision.move
        assert move is not None
        logger.info(
            "moving EIP",
            extra={"move_id": move.id, "from": move.source, "to": move.target, "reason": move.reason},
        )
        error: str | None = None
        association: str | None
        try:
            result = self._eip.move(move.target_instance)
            association = result.association.instance_id
            report.association = result.association
            report.timings_ms.update(associate=result.associate_ms, verify=result.verify_ms)
        except ElasticIpError as exc:
            error = str(exc)
            association = self._association_after_failure()
        recorded = self._record_outcome(move.id, association, error, actor)
        if recorded is not None:
            # The report (the monitor's result: alerts, nodes) shows the state after the outcome,
            # e.g. the move_failing alert the failed move raised, not the intent's state before it.
            report.decision = replace(report.decision, state=recorded)
        if association == move.target_instance:
            report.moved_to = move.target
            metrics.add_metric(name="EipMoves", unit=MetricUnit.Count, value=1)
            logger.info("EIP moved", extra={"move_id": move.id, "to": move.target, "timings_ms": report.timings_ms})
        else:
            report.move_error = error or f"EIP on {association} after the move"
            metrics.add_metric(name="MoveFailures", unit=MetricUnit.Count, value=1)
            # Every failed attempt, with EC2's error: the SNS notice (and its log line) is sent only
            # when the move_failing alert is raised, not for the retries after it.
            logger.error("move failed", extra={"move_id": move.id, "to": move.target, "error": report.move_error})

    def _association_after_failure(self) -> str | None:
        try:
            return self._eip.describe().instance_id
        except ElasticIpError:
            logger.exception("cannot read the EIP after a failed move")
            return None

    def _record_outcome(
        self, move_id: str, association: str | None, error: str | None, actor: str
    ) -> ControllerState | None:
        for _attempt in range(MAX_CONFLICT_RETRIES):
            snapshot = self._cached_or_loaded()
            notices: list[Notice] = []
            state = complete_move(
                snapshot.state, move_id, association, error, self.settings, self._clock(), actor, notices
            )
            if state == snapshot.state:
                return state  # another invocation already recorded it
            try:
                version = self._store.save(state, snapshot.version)
            except ConflictError:
                self._snapshot = None
                continue
            self._remember(Snapshot(state, version))
            self._publish(notices)
            return state
        # The next cycle reconciles the intent from the EIP's association; nothing is lost.
        logger.error("could not record the move's outcome", extra={"move_id": move_id})
        return None

    def _publish(self, notices: list[Notice]) -> None:
        if notices:
            for notice in notices:
                if notice.kind == "drift":
                    metrics.add_metric(name="DriftDetected", unit=MetricUnit.Count, value=1)
            self._notifier.publish(notices)


def _ms(start: float, end: float) -> float:
    return round((end - start) * 1000, 1)
