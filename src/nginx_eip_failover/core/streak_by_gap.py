"""TEST-ONLY: the shared streak bounded by a time gap, the rule that shipped until issue #25.

Kept so the model checker and the simulator can prove they catch it (`faults.STREAK_BY_TIME_GAP`);
nothing in production reaches it. The defect: one failure streak shared by every prober through the
stored state, a failure joining it when it came at most MIN_PROBE_GAP_SECONDS after the last stored
one. A success seen by a container whose cached copy shows the node up is never written, so two
blips separated by successes join into FallThreshold "consecutive" failures.
"""

from __future__ import annotations

import math
from dataclasses import replace

from nginx_eip_failover.core.config import Settings
from nginx_eip_failover.core.state import NodeHealth

MIN_PROBE_GAP_SECONDS = 5.0
SPAN_TOLERANCE = 0.95


def advance_by_gap(old: NodeHealth, ok: bool, detail: str, settings: Settings, at: float, now: float) -> NodeHealth:
    if ok:
        continues = old.ok_streak > 0
    else:
        gap = max(2 * settings.interval_seconds + settings.timeout_seconds, MIN_PROBE_GAP_SECONDS)
        recent = old.status == "down" or old.last_failed_at is None or at - old.last_failed_at <= gap
        continues = old.fail_streak > 0 and recent
    started = old.streak_started_at if continues else at
    span = math.inf if started is None else max(0.0, at - started)
    if ok:
        ok_streak, fail_streak = min(old.ok_streak + 1, settings.rise_threshold), 0
        promote = old.status == "unknown" or (
            old.status == "down"
            and ok_streak >= settings.rise_threshold
            and _spans(span, settings.rise_threshold, settings)
        )
        status = "up" if promote else old.status
        last_failed_at = None
    else:
        ok_streak, fail_streak = 0, min((old.fail_streak if continues else 0) + 1, settings.fall_threshold)
        demote = old.status in ("unknown", "up") and (
            fail_streak >= settings.fall_threshold and _spans(span, settings.fall_threshold, settings)
        )
        status = "down" if demote else old.status
        if old.status == "down":
            last_failed_at = old.last_failed_at
        else:
            last_failed_at = max(at, old.last_failed_at or at) if continues else at
    new = replace(
        old, ok_streak=ok_streak, fail_streak=fail_streak, streak_started_at=started, last_failed_at=last_failed_at
    )
    if status == old.status:
        return new
    flaps = old.flaps
    if old.status == "up" and status == "down":
        flaps = (*flaps, now)[-settings.flap_suppress_threshold :]
    return replace(new, status=status, since=now, reason=detail, flaps=flaps)


def _spans(span: float, threshold: int, settings: Settings) -> bool:
    return span >= (threshold - 1) * settings.interval_seconds * SPAN_TOLERANCE
