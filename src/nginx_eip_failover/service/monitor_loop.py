"""The monitor's loop: probe cycles every interval until the invocation hands over or runs out of time.

Scheduled invocations form a chain. The schedule starts one a minute, but "within that minute", not
on a given second, so two consecutive starts can be almost two minutes apart. Each scheduled
invocation therefore registers in the monitor lease (after its first cycle: it is probing by then)
and keeps probing until it reads that a newer scheduled invocation has registered, or until its own
time runs out. The function's timeout is longer than the longest gap between two starts, so
probing never pauses for a late start, and the overlap is only the few seconds until the older
invocation next reads the lease. Alarm invocations stay out of the chain: they probe for a bounded
window and stop.

The loop is a generator of waits (`MonitorRun.steps`): `run_monitor` paces it with real sleeps,
and a simulation can pace many invocations on one fake clock (bench/schedule_coverage.py). The
deadline is also computed from the time left at the start, so a context whose clock does not run
(a test double) cannot make the loop endless.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Literal, Protocol

from aws_lambda_powertools.metrics import MetricUnit

from nginx_eip_failover.core.config import Settings
from nginx_eip_failover.core.errors import ConflictError, ElasticIpError, MonitorCyclesFailedError, StateStoreError
from nginx_eip_failover.core.ports import Clock, LeasePort, MonitorLease
from nginx_eip_failover.observability import logger, metrics
from nginx_eip_failover.service.controller import CycleReport
from nginx_eip_failover.service.monitor_events import MonitorTrigger

if TYPE_CHECKING:
    from nginx_eip_failover.service.preflight_periodic import PeriodicPreflight

MARGIN_SECONDS = 1.0
# How long an alarm invocation probes: about a minute, by when the schedule's chain has seen it too.
ALARM_WINDOW_SECONDS = 60.0
# How often a scheduled invocation reads the lease: the overlap with its successor is at most this
# (plus one cycle), and it costs 6 eventually consistent reads a minute.
LEASE_CHECK_SECONDS = 10.0

Ended = Literal["handed_over", "out_of_time", "window_over"]


class CycleRunner(Protocol):
    """What the loop drives: the FailoverController, or a stand-in in tests and simulations."""

    settings: Settings

    def run_cycle(self, actor: str, time_left: Callable[[], float] | None = None) -> CycleReport: ...

    def failure_run_in_progress(self) -> bool: ...


class MonitorRun:
    """One invocation's probing: cycles every interval until it hands over, its window closes or
    its time runs out. `steps()` runs it, yielding each wait before the next cycle."""

    def __init__(
        self,
        controller: CycleRunner,
        trigger: MonitorTrigger,
        remaining_ms: Callable[[], int] | None,
        *,
        lease: LeasePort | None = None,
        invocation_id: str = "",
        clock: Clock = time,
        preflight: PeriodicPreflight | None = None,
    ) -> None:
        self.controller = controller
        # Runs its checks in a background thread when due; otherwise no AWS call at all.
        self._preflight = preflight
        self.trigger = trigger
        self._remaining_ms = remaining_ms
        self._clock = clock
        # Only scheduled invocations take part in the hand-off; an alarm's probing is bounded instead.
        self._lease = lease if trigger.kind == "schedule" else None
        self._window = ALARM_WINDOW_SECONDS if trigger.kind == "alarm" else None
        # Rounded as the lease item stores it, so the stored copy of this lease is never "newer".
        self.mine = MonitorLease(started_at=round(clock.time(), 3), invocation=invocation_id or uuid.uuid4().hex)
        self.reports: list[CycleReport] = []
        self.errors: list[str] = []
        self.ended: Ended = "out_of_time"
        self.successor: MonitorLease | None = None
        self.seconds = 0.0
        self._registered = False
        self._next_lease_check = float("-inf")
        self._deadline = float("inf")

    def steps(self) -> Iterator[float]:
        settings = self.controller.settings
        clock = self._clock
        start = clock.monotonic()
        deadline = start + (self._remaining_ms() / 1000 if self._remaining_ms else 0.0)
        self._deadline = deadline
        window_end = start + self._window if self._window is not None else None
        try:
            while True:
                cycle_start = clock.monotonic()
                self._cycle()
                if self._preflight is not None:
                    self._preflight.tick()
                cycle_seconds = clock.monotonic() - cycle_start
                if self._handed_over():
                    self.ended = "handed_over"
                    return
                wait = max(0.0, settings.interval_seconds - cycle_seconds)
                # Room for the wait, a whole cycle (the probe timeout or the last cycle, whichever is
                # longer) and the margin; otherwise stop.
                needed = wait + max(settings.timeout_seconds, cycle_seconds) + MARGIN_SECONDS
                now = clock.monotonic()
                left = deadline - now
                if self._remaining_ms is not None:
                    left = min(left, self._remaining_ms() / 1000)
                if left < needed:
                    self.ended = "out_of_time"
                    return
                if window_end is not None and window_end - now < needed:
                    self.ended = "window_over"
                    return
                yield wait
        finally:
            self.seconds = clock.monotonic() - start

    def _cycle(self) -> None:
        try:
            report = self.controller.run_cycle(self.trigger.actor, self._time_left if self._remaining_ms else None)
        except (ElasticIpError, StateStoreError, ConflictError) as exc:
            # An AWS fault (after botocore's retries) costs this cycle, not the invocation: the
            # next cycle reads everything again and carries on.
            self.errors.append(str(exc))
            metrics.add_metric(name="CycleErrors", unit=MetricUnit.Count, value=1)
            logger.exception("cycle failed", extra={"error": str(exc)})
        else:
            self.reports.append(report)
            _log_cycle(report)

    def _time_left(self) -> float:
        """Seconds left in the invocation: a cycle with too few commits no move (controller)."""
        left = self._deadline - self._clock.monotonic()
        return min(left, self._remaining_ms() / 1000) if self._remaining_ms is not None else left

    def _handed_over(self) -> bool:
        """After a cycle: register (once) or read the lease (every LEASE_CHECK_SECONDS); True when a
        newer scheduled invocation has registered. Any doubt (an error, no answer) keeps probing."""
        if self._lease is None:
            return False
        if self.successor is not None:
            # A successor is probing, but this invocation's own probes are part way through a failure
            # run: finish it (or see it end) first. The successor's run starts from nothing, so handing
            # over now would restart the count and delay a failover that began at the hand-off.
            return not self.controller.failure_run_in_progress()
        now = self._clock.monotonic()
        if now < self._next_lease_check:
            return False
        self._next_lease_check = now + LEASE_CHECK_SECONDS
        registering = not self._registered
        try:
            if registering:
                newer = self._lease.register(self.mine)
                self._registered = True
            else:
                newer = self._lease.current()
        except StateStoreError as exc:
            # Without the lease, probe on until the deadline: costs time, never coverage. An
            # unregistered invocation tries again at the next check.
            logger.warning("monitor lease unavailable; probing on", extra={"error": str(exc)})
            return False
        if newer is None or newer.invocation == self.mine.invocation or not newer.newer_than(self.mine):
            return False
        self.successor = newer
        if self.controller.failure_run_in_progress():
            logger.info("a newer scheduled invocation is probing; handing over once this failure run ends")
            return False
        # The routine hand-over, once a minute, logs at DEBUG like a steady cycle; finding a newer
        # invocation already registered when registering (starts out of order) is worth an INFO.
        (logger.info if registering else logger.debug)(
            "a newer scheduled invocation is probing; handing over",
            extra={"successor": newer.invocation, "successor_started_at": newer.started_at},
        )
        return True

    def result(self) -> dict[str, Any]:
        if not self.reports:
            raise MonitorCyclesFailedError(self.errors)
        settings = self.controller.settings
        last = self.reports[-1]
        state = last.decision.state
        return {
            "cycles": len(self.reports),
            "seconds": round(self.seconds, 3),
            "ended": self.ended,
            "eip": {
                "instance_id": last.association.instance_id,
                "holder": settings.describe_association(last.association.instance_id),
            },
            "nodes": {node.name: state.health(node.name).status for node in settings.nodes},
            "moves": [
                {"to": r.moved_to, "reason": r.decision.reason, "timings_ms": r.timings_ms}
                for r in self.reports
                if r.moved_to is not None
            ],
            "move_errors": [r.move_error for r in self.reports if r.move_error],
            "cycle_errors": self.errors,
            "alerts": sorted(state.alerts),
            "decision": last.decision.reason,
        }


def run_monitor(
    controller: CycleRunner,
    trigger: MonitorTrigger,
    remaining_ms: Callable[[], int] | None,
    *,
    lease: LeasePort | None = None,
    invocation_id: str = "",
    sleep: Callable[[float], None] = time.sleep,
    clock: Clock = time,
    preflight: PeriodicPreflight | None = None,
) -> dict[str, Any]:
    """Probe until handed over, the alarm window closes or the time runs out; raises
    MonitorCyclesFailedError when no cycle succeeded (so Lambda's Errors metric sees it)."""
    run = MonitorRun(
        controller, trigger, remaining_ms, lease=lease, invocation_id=invocation_id, clock=clock, preflight=preflight
    )
    for wait in run.steps():
        sleep(wait)
    if preflight is not None:
        # A run still going gets what is left of the invocation, then is abandoned (its claim
        # expires with the period; the next container's run covers it).
        preflight.finish(remaining_ms() / 1000 - MARGIN_SECONDS if remaining_ms else 0.0)
    return run.result()


def _log_cycle(report: CycleReport) -> None:
    probes = {o.node: {"ok": o.ok, "detail": o.detail, "ms": o.latency_ms} for o in report.observations}
    changed = report.decision.move is not None or report.decision.notices or report.move_error
    # A line per cycle at INFO would dominate the bill; steady cycles log at DEBUG.
    (logger.info if changed else logger.debug)(
        "cycle", extra={"decision": report.decision.reason, "probes": probes, "timings_ms": report.timings_ms}
    )
