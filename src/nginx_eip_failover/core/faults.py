"""TEST-ONLY fault seam: re-inject past defects so the simulator can prove it would catch them.

Empty in production, and nothing in the package sets it: only the simulator's mutation check
(nginx_eip_failover_sim, `--fault NAME`) does, one defect at a time, in its own process. Each name
below switches the real code path back to a defect that once shipped; `active` is read at that
place only.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

# A failed probe counted at its probe's start: one sub-interval blip seen by two overlapping probers
# (a slow first answer) spans an interval, and the EIP leaves a healthy node.
BLIP_COUNTED_TWICE = "blip_counted_twice"
# Notices published between the committed move and its EC2 call, and no re-check of an aged move: a
# slow SNS makes the move act on a stale decision. (The simulator also brings back the SNS client of
# that time, up to 21 s a publish; today's gives up within 8 s.)
STALE_DECISION_AFTER_SLOW_NOTICE = "stale_decision_after_slow_notice"
# The no_node_up alert is raised but never cleared.
ALERT_NOT_CLEARED = "alert_not_cleared"
# One failure streak shared by every prober through the stored state, a failure joining it when it came
# at most MIN_PROBE_GAP_SECONDS after the last stored one (core/streak_by_gap): successes that a cached
# copy made nobody write let blips separated by successes add up to a failover (issue #25).
STREAK_BY_TIME_GAP = "streak_by_time_gap"
KNOWN = (BLIP_COUNTED_TWICE, STALE_DECISION_AFTER_SLOW_NOTICE, ALERT_NOT_CLEARED, STREAK_BY_TIME_GAP)

_active: frozenset[str] = frozenset()


def active(name: str) -> bool:
    return name in _active


@contextmanager
def injected(*names: str) -> Iterator[None]:
    """Re-inject `names` for the duration of the block (the simulator's mutation check only)."""
    global _active
    unknown = sorted(set(names) - set(KNOWN))
    if unknown:
        raise ValueError(f"fault: {unknown[0]!r} is not a known fault; known: {', '.join(KNOWN)}")
    previous, _active = _active, frozenset(names)
    try:
        yield
    finally:
        _active = previous
