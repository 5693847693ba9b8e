"""The controller's side of the decision log: collect what the core was given and produced, write it
with the next change.

The controller calls, for each cycle or control request:
- `attempt(...)` inside its decision function, with every input the core is given (the last call
  before a successful write is the one that counts: a conflict makes the controller decide again);
- `committed(decision, version_before, version_after)` once its conditional write won, or
  `unchanged(decision, version)` when the core changed nothing (a steady cycle: kept in a bounded
  in-memory window, never written on its own);
- `outcome(...)` when a move's outcome (EC2's, or a re-check's cancellation) was written;
- `flush()` at the end of the cycle, after EC2 and the notices: one BatchWriteItem for what the
  cycle produced, never between a committed move intent and its EC2 call.

A failed write is logged and counted (`DecisionLogErrors`) and never fails the cycle; the records
stay queued (bounded) for the next flush.
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aws_lambda_powertools.metrics import MetricUnit

from nginx_eip_failover.core.bounds import MAX_REASON_BYTES, bounded
from nginx_eip_failover.observability import logger, metrics

if TYPE_CHECKING:
    from nginx_eip_failover.core.config import Settings
    from nginx_eip_failover.core.decision import Context, Decision
    from nginx_eip_failover.core.log_records import LogRecord, OutcomeCause, RequestRecord, SteadyCycle
    from nginx_eip_failover.core.ports import DecisionLog, Notice, Observation
    from nginx_eip_failover.core.state import ControllerState
    from nginx_eip_failover.service.operator_requests import ControlRequest

# Records kept for the next flush when writing fails (the oldest are dropped beyond it).
MAX_QUEUED_RECORDS = 50


@dataclass(frozen=True)
class _Attempt:
    state: ControllerState
    association: str | None
    now: float
    actor: str
    probed_at: float | None
    observations: tuple[Observation, ...]
    move_id: str
    may_move: bool
    missing: tuple[str, ...]
    request: RequestRecord | None


class DecisionJournal:
    def __init__(self, log: DecisionLog | None, settings: Settings, *, writer: str | None = None) -> None:
        from nginx_eip_failover.core.log_records import WINDOW_MAX_CYCLES, fingerprint, settings_record

        self._log = log
        self._settings_record = settings_record(settings)
        self._fingerprint = fingerprint(self._settings_record)
        self.writer = writer or uuid.uuid4().hex[:8]
        self._seq = 0
        self._attempt: _Attempt | None = None
        self._window: deque[SteadyCycle] = deque(maxlen=WINDOW_MAX_CYCLES)
        self._dropped = 0
        self._queue: list[LogRecord] = []

    @property
    def enabled(self) -> bool:
        return self._log is not None

    def use_settings(self, settings: Settings) -> None:
        """The settings of the records from now on: a found node's instance (service/found_nodes)
        changes them, and a replay must see the instance each decision saw."""
        from nginx_eip_failover.core.log_records import fingerprint, settings_record

        record = settings_record(settings)
        if record == self._settings_record:
            return
        self._take_window()  # the steady cycles so far were decided under the settings before
        self._settings_record = record
        self._fingerprint = fingerprint(record)

    def attempt(
        self,
        state: ControllerState,
        association: str | None,
        ctx: Context,
        *,
        probed_at: float | None,
        observations: Sequence[Observation],
        move_id: str,
        may_move: bool = True,
        missing: tuple[str, ...] = (),
        request: ControlRequest | None = None,
    ) -> None:
        from nginx_eip_failover.core.log_records import recorded_observation

        if self._log is None:
            return
        self._attempt = _Attempt(
            state=state,
            association=association,
            now=ctx.now,
            actor=ctx.actor,
            probed_at=probed_at,
            observations=tuple(recorded_observation(o) for o in observations),
            move_id=move_id,
            may_move=may_move,
            missing=missing,
            request=_request_record(request) if request is not None else None,
        )

    def unchanged(self, decision: Decision, version: int) -> None:
        from nginx_eip_failover.core.log_records import SteadyCycle

        attempt, self._attempt = self._attempt, None
        if attempt is None or attempt.request is not None or attempt.probed_at is None:
            return
        if len(self._window) == self._window.maxlen:
            self._dropped += 1
        self._window.append(
            SteadyCycle(
                at=attempt.now,
                probed_at=attempt.probed_at,
                version=version,
                association=attempt.association,
                observations=attempt.observations,
                move_id=attempt.move_id,
                may_move=attempt.may_move,
                missing=attempt.missing,
                actor=bounded(attempt.actor, MAX_REASON_BYTES),
                reason=bounded(decision.reason, MAX_REASON_BYTES),
            )
        )

    def committed(self, decision: Decision, version_before: int, version_after: int) -> None:
        from nginx_eip_failover.core.log_records import ChangeRecord, appended_entries, core_state, state_digest

        attempt, self._attempt = self._attempt, None
        if attempt is None:
            return
        self._take_window()
        self._queue.append(
            ChangeRecord(
                op="control" if attempt.request is not None else "cycle",
                at=attempt.now,
                writer=self.writer,
                seq=self._next_seq(),
                version_before=version_before,
                version_after=version_after,
                settings=self._settings_record,
                fingerprint=self._fingerprint,
                state_before=core_state(attempt.state),
                actor=bounded(attempt.actor, MAX_REASON_BYTES),
                association=attempt.association,
                probed_at=attempt.probed_at,
                observations=attempt.observations,
                move_id=attempt.move_id,
                may_move=attempt.may_move,
                missing=attempt.missing,
                request=attempt.request,
                reason=bounded(decision.reason, MAX_REASON_BYTES),
                move=decision.move,
                notices=tuple(notice.kind for notice in decision.notices),
                events=appended_entries(attempt.state, decision.state),
                state_digest=state_digest(decision.state),
            )
        )

    def outcome(
        self,
        before: ControllerState,
        after: ControllerState,
        notices: Sequence[Notice],
        ctx: Context,
        *,
        move_id: str,
        association: str | None,
        error: str | None,
        cause: OutcomeCause,
        version_before: int,
        version_after: int,
    ) -> None:
        from nginx_eip_failover.core.log_records import ChangeRecord, appended_entries, core_state, state_digest

        if self._log is None:
            return
        self._take_window()
        self._queue.append(
            ChangeRecord(
                op="outcome",
                at=ctx.now,
                writer=self.writer,
                seq=self._next_seq(),
                version_before=version_before,
                version_after=version_after,
                settings=self._settings_record,
                fingerprint=self._fingerprint,
                state_before=core_state(before),
                actor=bounded(ctx.actor, MAX_REASON_BYTES),
                association=association,
                move_id=move_id,
                # Recorded exactly as the core was given it: `complete_move` bounds it itself.
                error=error,
                cause=cause,
                notices=tuple(notice.kind for notice in notices),
                events=appended_entries(before, after),
                state_digest=state_digest(after),
            )
        )

    def flush(self) -> None:
        """Write what is queued; a failure is logged and counted, never raised."""
        if self._log is None or not self._queue:
            return
        records, self._queue = self._queue, []
        try:
            self._log.append(records)
        except Exception as exc:
            metrics.add_metric(name="DecisionLogErrors", unit=MetricUnit.Count, value=1)
            logger.warning("decision log write failed; kept for the next change", extra={"error": str(exc)[:500]})
            self._queue = records[-MAX_QUEUED_RECORDS:]

    def _take_window(self) -> None:
        from nginx_eip_failover.core.log_records import bounded_window

        if not self._window:
            return
        window = bounded_window(self.writer, self._next_seq(), self._fingerprint, list(self._window), self._dropped)
        self._window.clear()
        self._dropped = 0
        self._queue.append(window)

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq


def _request_record(request: ControlRequest) -> RequestRecord:
    from nginx_eip_failover.core.log_records import RequestRecord

    return RequestRecord(
        action=request.action,
        node=request.node.name if request.node is not None else None,
        reason=request.reason,
        force=request.force,
    )
