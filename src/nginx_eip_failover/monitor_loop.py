"""The monitor's loop: probe cycles every interval for as long as the invocation has time.

A scheduled invocation so covers the minute until the next one, and detection takes a few
seconds, not a minute. The deadline is also computed from the time left at the start, so a
context whose clock does not run (a test double) cannot make the loop endless.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from .controller import CycleReport, FailoverController
from .errors import ConflictError, ElasticIpError, MonitorCyclesFailedError, StateStoreError
from .observability import logger, metrics

MARGIN_SECONDS = 1.0


def run_monitor(
    controller: FailoverController,
    actor: str,
    remaining_ms: Callable[[], int] | None,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    settings = controller.settings
    start = time.monotonic()
    deadline = start + (remaining_ms() / 1000 if remaining_ms else 0.0)
    reports: list[CycleReport] = []
    errors: list[str] = []
    while True:
        cycle_start = time.monotonic()
        try:
            report = controller.run_cycle(actor)
        except (ElasticIpError, StateStoreError, ConflictError) as exc:
            # An AWS fault (after botocore's retries) costs this cycle, not the invocation: the
            # next cycle reads everything again and carries on.
            errors.append(str(exc))
            metrics.add_metric(name="CycleErrors", unit=MetricUnit.Count, value=1)
            logger.exception("cycle failed", extra={"error": str(exc)})
        else:
            reports.append(report)
            _log_cycle(report)
        cycle_seconds = time.monotonic() - cycle_start
        wait = max(0.0, settings.interval_seconds - cycle_seconds)
        left = deadline - time.monotonic()
        if remaining_ms is not None:
            left = min(left, remaining_ms() / 1000)
        # Room for the wait, a whole cycle (the probe timeout or the last cycle, whichever is
        # longer) and the margin; otherwise stop and let the next invocation take over.
        if left < wait + max(settings.timeout_seconds, cycle_seconds) + MARGIN_SECONDS:
            break
        sleep(wait)
    if not reports:
        raise MonitorCyclesFailedError(errors)
    last = reports[-1]
    state = last.decision.state
    return {
        "cycles": len(reports),
        "seconds": round(time.monotonic() - start, 3),
        "eip": {
            "instance_id": last.association.instance_id,
            "holder": settings.describe_association(last.association.instance_id),
        },
        "nodes": {node.name: state.health(node.name).status for node in settings.nodes},
        "moves": [
            {"to": r.moved_to, "reason": r.decision.reason, "timings_ms": r.timings_ms}
            for r in reports
            if r.moved_to is not None
        ],
        "move_errors": [r.move_error for r in reports if r.move_error],
        "cycle_errors": errors,
        "alerts": sorted(state.alerts),
        "decision": last.decision.reason,
    }


def _log_cycle(report: CycleReport) -> None:
    probes = {o.node: {"ok": o.ok, "detail": o.detail, "ms": o.latency_ms} for o in report.observations}
    changed = report.decision.move is not None or report.decision.notices or report.move_error
    # A line per cycle at INFO would dominate the bill; steady cycles log at DEBUG.
    (logger.info if changed else logger.debug)(
        "cycle", extra={"decision": report.decision.reason, "probes": probes, "timings_ms": report.timings_ms}
    )
