"""Per-prober runs: each prober's own consecutive probe results of each node, and what counts of them.

The rule (docs/decision-rules.md, "Rise and fall"): a node goes down only when ONE prober has seen
FallThreshold consecutive failures of it that span (FallThreshold - 1) intervals, none of them older
than a success recorded in the stored state; it comes up likewise with RiseThreshold successes.

Why per prober, and not one streak shared through the stored state: a prober that sees a success
writes nothing when its cached copy of the state shows the node up with no failure streak (that is
what keeps a steady pair at zero writes), so a streak shared through the store cannot tell "no
success in between" from "a success nobody wrote", and no bound on the time between two failures
can either (issue #25: 0.9 s blips 3.5 s apart, each seen by a fresh invocation, joined into a
streak of two). A prober's own probes have no such gap: it knows every result it saw. What other
probers did write (a success written because it contradicted a stored failure streak, a failure
that broke a stored rise) still cuts the run: see `counted`.

A run breaks when the prober's own probes of the node are further apart than its loop ever pauses
(`max_probe_gap`), and the controller starts every alarm-started invocation's runs afresh
(`start_invocation`): what starts one is often the failure itself, and a container frozen between two
invocations did not see what happened meanwhile, however briefly.

Pure: no I/O; the controller keeps one `ProbeRuns` per container.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from nginx_eip_failover.core import faults
from nginx_eip_failover.core.config import Settings
from nginx_eip_failover.core.ports import Observation

if TYPE_CHECKING:
    from nginx_eip_failover.core.decision import Verdict

# Timer jitter allowance when a run's span is compared with whole intervals: one prober's probes are
# at least an interval apart by its own clock, but the seen-at times add answer latencies.
SPAN_TOLERANCE = 0.95
# Slack on top of the loop's own longest pause (two intervals plus the timeout) before a prober's run
# breaks: a slow state write or a GC pause inside one invocation is not a frozen container.
GAP_SLACK_SECONDS = 1.0


def max_probe_gap(settings: Settings) -> float:
    """The longest pause between two of one prober's probes of a node that keeps its run going: the
    monitor loop never pauses for longer than two intervals plus the probe timeout (the contract)."""
    return 2 * settings.interval_seconds + settings.timeout_seconds + GAP_SLACK_SECONDS


def seen_at(observation: Observation, probed_at: float) -> float:
    """When a probe's result was true of the node: a failure when its answer came (a refusal, a 5xx, a
    bad body), or when it was sent if no answer came; a success when it was sent."""
    if observation.ok or observation.timed_out or faults.active(faults.BLIP_COUNTED_TWICE):
        return probed_at
    return probed_at + observation.latency_ms / 1000


@dataclass(frozen=True)
class Run:
    """One prober's consecutive results of one node that were all `ok` (or all failures)."""

    ok: bool
    times: tuple[float, ...]  # seen-at times, oldest first, at most `keep` of them


@dataclass(frozen=True)
class ProbeRuns:
    """A prober's runs, one per node. Immutable: `extend` returns the next value."""

    runs: Mapping[str, Run] = field(default_factory=dict)

    def extend(
        self, observations: Sequence[Observation], probed_at: float, settings: Settings
    ) -> tuple[ProbeRuns, list[Observation]]:
        """Add one probe round (all taken at `probed_at`); returns the new runs and the observations
        with each one's run attached (`Observation.run`), which is what the decision counts."""
        keep = max(settings.fall_threshold, settings.rise_threshold)
        gap = max_probe_gap(settings)
        by_node: dict[str, list[Observation]] = {}
        for observation in observations:
            by_node.setdefault(observation.node, []).append(observation)
        runs = dict(self.runs)
        for node, probes in by_node.items():
            seen = [o for o in probes if not o.auth_failed]
            if not seen:
                # Refused its credentials: the prober did not see the node's health, so its run of
                # either outcome is no longer consecutive (a failure, an auth failure, a failure is
                # not two failures in a row, nor are two successes around one).
                runs.pop(node, None)
                continue
            failed = [o for o in seen if not o.ok]
            # One round's outcome per node, by the same quorum rule as `decision.node_verdicts`.
            ok = len(failed) < min(settings.quorum, len(seen))
            at = probed_at if ok else seen_at(failed[0], probed_at)
            runs[node] = _extended(runs.get(node), ok, at, gap, keep)
        attached = [replace(o, run=runs[o.node].times) if o.node in runs else o for o in observations]
        return ProbeRuns(runs), attached

    def extend_verdicts(
        self, verdicts: Mapping[str, Verdict], probed_at: float, settings: Settings
    ) -> tuple[ProbeRuns, dict[str, Verdict]]:
        """`extend` for a round already reduced to one verdict per node (tests, the model checker)."""
        keep = max(settings.fall_threshold, settings.rise_threshold)
        gap = max_probe_gap(settings)
        runs = dict(self.runs)
        attached: dict[str, Verdict] = {}
        for node, verdict in verdicts.items():
            at = probed_at if verdict.ok else probed_at + verdict.seen_after
            runs[node] = _extended(runs.get(node), verdict.ok, at, gap, keep)
            attached[node] = replace(verdict, run=runs[node].times)
        return ProbeRuns(runs), attached

    def falling(self, node: str, threshold: int) -> bool:
        """A failure run of `node` part way: failing, and fewer than `threshold` results long. (A run
        that is complete and did not take the node down gains nothing from more of this prober's
        probes: e.g. an observer alone in seeing a failure, with no quorum behind it.)"""
        run = self.runs.get(node)
        return run is not None and not run.ok and len(run.times) < threshold


def _extended(previous: Run | None, ok: bool, at: float, gap: float, keep: int) -> Run:
    if previous is None or previous.ok != ok or not previous.times or at - previous.times[-1] > gap:
        return Run(ok, (at,))
    # A result older than the run's newest (clocks of one container do not run backwards, but be
    # safe) still counts once, in order.
    return Run(ok, tuple(sorted((*previous.times, at)))[-keep:])


def counted(run: Sequence[float], contradicted_at: float | None) -> tuple[float, ...]:
    """The part of a run that counts: the results seen after the newest contrary result recorded in
    the stored state (another prober's written success cuts a failure run, and vice versa)."""
    if contradicted_at is None:
        return tuple(run)
    return tuple(at for at in run if at > contradicted_at)


def completes(run: Sequence[float], threshold: int, settings: Settings) -> bool:
    """Whether a counted run holds `threshold` results spanning (threshold - 1) intervals."""
    if len(run) < threshold:
        return False
    span = run[-1] - run[-threshold]
    return span >= (threshold - 1) * settings.interval_seconds * SPAN_TOLERANCE
