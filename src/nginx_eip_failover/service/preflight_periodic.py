"""The monitor's periodic preflight: every PREFLIGHT_INTERVAL_SECONDS (default 900, 0 = off).

The monitor loop calls `tick()` after each probe cycle and `finish()` once after its last cycle.
`tick()` returns at once: when no run is due by what this container knows, it makes no AWS call at
all; when one is due, it starts the run in a background thread, so a slow AWS answer never delays a
probe cycle. What the container knows is the last run's time: from its own run, or from the claim
it lost to another container (the stored time comes back with the failed condition). So the
preflight item is touched at most once per period per container, and the checks run once per period
between all the monitor's containers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from aws_lambda_powertools.metrics import MetricUnit

from nginx_eip_failover.observability import logger, metrics

if TYPE_CHECKING:
    from nginx_eip_failover.core.preflight import NotDue, PreflightReport
    from nginx_eip_failover.service.preflight import Preflight


def due(last_run_at: float | None, now: float, interval: float) -> bool:
    """Whether a periodic preflight is due: never when `interval` is 0 (off), at once when no run is
    known, else once `interval` seconds have passed. A last run further in the future than a whole
    period (a clock that was wrong) does not hold the next run back."""
    if interval <= 0:
        return False
    if last_run_at is None or last_run_at > now + interval:
        return True
    return now - last_run_at >= interval


def record_metric(report: PreflightReport, *, every_run: bool = False) -> None:
    """PreflightFailures: the failed checks of a run, so an alarm can watch it (`>= 1`, missing data
    not breaching). Published only by a run that failed unless `every_run` (the `full` profile, which
    also pays for the 0s of the runs that passed): a metric published every hour is billed all month
    ($0.30), one published on failure only in the hours something failed (docs/cost.md)."""
    if report.failures or every_run:
        metrics.add_metric(name="PreflightFailures", unit=MetricUnit.Count, value=len(report.failures))


class PeriodicPreflight:
    def __init__(
        self,
        build: Callable[[], Preflight],
        interval_seconds: float,
        *,
        clock: Callable[[], float] = time.time,
        metric_every_run: bool = False,
    ) -> None:
        self._metric_every_run = metric_every_run
        self._build = build  # called once, in the background, on the first run: no cold-start cost
        self._preflight: Preflight | None = None
        self.interval = interval_seconds
        self._clock = clock
        self._last_run_at: float | None = None
        self._known = False  # whether _last_run_at is what the table says (or this container did)
        self._thread: threading.Thread | None = None
        self._started_at = 0.0
        self._outcome: PreflightReport | NotDue | Exception | None = None
        self.last_report: PreflightReport | None = None  # of this container's last run

    def tick(self) -> None:
        """Start a due preflight in the background; never waits, and no AWS call when none is due."""
        self._collect()
        if self.interval <= 0 or self._thread is not None:
            return
        now = self._clock()
        if self._known and not due(self._last_run_at, now, self.interval):
            return
        self._started_at = now
        self._outcome = None
        self._thread = threading.Thread(target=self._run, args=(now,), name="preflight", daemon=True)
        self._thread.start()

    def finish(self, timeout_seconds: float) -> None:
        """Wait up to `timeout_seconds` for a running preflight (before the invocation returns)."""
        if self._thread is not None:
            self._thread.join(max(0.0, timeout_seconds))
        self._collect()

    def _run(self, now: float) -> None:
        try:
            if self._preflight is None:
                self._preflight = self._build()
            self._outcome = self._preflight.run(now=now, min_age=self.interval)
        except Exception as exc:  # a preflight fault must never reach the monitor
            self._outcome = exc

    def _collect(self) -> None:
        """Take a finished run's outcome, in the caller's (the loop's) thread: metrics are not shared."""
        thread = self._thread
        if thread is None or thread.is_alive():
            return
        self._thread = None
        outcome = self._outcome
        self._known = True
        # Only once a run has finished: the monitor's cold start never imports the checks.
        from nginx_eip_failover.core.preflight import NotDue, PreflightReport

        if isinstance(outcome, NotDue):
            self._last_run_at = outcome.last_run_at
        elif isinstance(outcome, PreflightReport):
            self._last_run_at = outcome.ran_at
            self.last_report = outcome
            record_metric(outcome, every_run=self._metric_every_run)
        else:
            # It could not run (e.g. a configuration error): try again next period, not every cycle.
            self._last_run_at = self._started_at
            logger.error("preflight could not run", extra={"error": repr(outcome)})
