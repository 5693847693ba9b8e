"""Named invariants over a recorded timeline (timeline.py), checked after every step.

    checker = Checker({"default": CheckConfig.from_settings(settings)})
    for event in events:            # in time order
        violations += checker.observe(event)
    violations += checker.finish(end)

`observe` checks what one event can break at once; it also advances the checker's clock to the
event's time, which is when the time-based invariants (liveness, operator budgets) are looked at.
`advance(now)` does that alone, for a recorder whose clock moves without events.

The invariants (issue #17), each a `Violation.invariant` name:
1. no_move_to_down: no EC2 move towards a node after probes in the decision's window saw it fail:
   a probe by the deciding invocation sent since the decision's probes (the re-check included), or
   another invocation's, known more than the re-check grace (RECHECK_AFTER_SECONDS + the probe
   timeout) before the call while the node still fails (ground truth). An operator's force is exempt.
2. liveness: when the holder has been failing (or the address unassociated) for longer than the
   detection time plus the move bound, while another undrained node has not failed since RiseThreshold
   intervals (plus a margin) before that, the address must be on an up node.
3. no_move_off_healthy: a failover (cause "failover") off a holder whose failures around the
   decision's probes could all be one failure shorter than (FallThreshold - 1) intervals is a false
   failover. Operator requests, drains, pins and preemption explain other moves.
   no_down_without_run: a failover off the holder needs one prober (a container) whose own
   FallThreshold consecutive probes of it failed, spanning (FallThreshold - 1) intervals (issue #25):
   blips seen by different probers, with successes between them, never add up to a failover.
4. one_call_per_decision: at most one EC2 call per address per committed decision.
5. flap_damping: failbacks (cause "preempt" or "pin") towards a node: at most FlapSuppressThreshold
   decisions per FlapWindowSeconds, and none sooner than MinSecondsBetweenMoves after a move.
6. state_item: every written state item decodes and stays under its byte bound.
   alert_clears: the stored no_node_up alert does not outlive its cause for longer than
   ALERT_GRACE_SECONDS of writes (a node up, no move in progress).
7. operator_answers: every operator request answers within its time budget; an accepted pin holds
   while its node is up (no move off it that neither an operator nor its failure explains).
8. replay_exact: the decision log replays every change exactly.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from nginx_eip_failover_sim.timeline import (
    DecisionCommitted,
    Event,
    HolderChange,
    MoveCall,
    NodeTruth,
    OperatorAnswer,
    OperatorRequest,
    ProbeFailed,
    ReplayChecked,
    StateWritten,
)

INVARIANTS = (
    "no_move_to_down",
    "liveness",
    "no_move_off_healthy",
    "no_down_without_run",
    "one_call_per_decision",
    "flap_damping",
    "state_item",
    "alert_clears",
    "operator_answers",
    "replay_exact",
)
# The decision core's timer allowance (core/decision.py SPAN_TOLERANCE): a streak spans its
# intervals when its probes are at least this share of them apart.
SPAN_TOLERANCE = 0.95
ALERT_GRACE_SECONDS = 10.0
# How long a mover waits for a new association to show (ElasticIpMover's verification).
MOVE_VERIFY_SECONDS = 10.0


def move_cause(reason: str) -> str:
    """What explains a move, from its intent's reason (the core's wording in core/decision.py and
    service/operator_requests.py): failover, drain, preempt, pin, operator, placement, repair."""
    if reason.startswith("operator failover"):
        return "operator"
    if "repairing the address set" in reason:
        return "repair"
    if reason.startswith("failover:"):
        return "drain" if "is drained" in reason else "failover"
    if reason.startswith("preempt:"):
        return "preempt"
    if reason.startswith("back to pinned"):
        return "pin"
    return "placement"


@dataclass(frozen=True)
class CheckConfig:
    """What the invariants need to know of one group's settings."""

    nodes: tuple[str, ...]
    interval_seconds: float
    timeout_seconds: float
    fall_threshold: int
    rise_threshold: int
    min_seconds_between_moves: float = 0.0
    flap_window_seconds: float = 300.0
    flap_suppress_threshold: int = 3
    state_max_bytes: int = 100 * 1024
    operator_budget_seconds: float = 30.0
    # How long a committed move may take to land once the holder's failure is detected: the move's
    # own timeout, the longest back-off after failed moves, and two minutes for a scheduled
    # invocation that crashed right after taking the monitor lease (the next one starts within the
    # minute after). Generous on purpose: a controller that never moves still fails it.
    move_bound_seconds: float = 30.0 + 30.0 + 120.0
    recheck_after_seconds: float = 2.0
    rise_margin_seconds: float = 2.0

    @classmethod
    def from_settings(cls, settings: object, **overrides: float) -> CheckConfig:
        """From a `core.config.Settings` (typed loosely: a recorder may hold its own copy)."""
        get = settings.__getattribute__
        values: dict[str, object] = {
            "nodes": tuple(node.name for node in get("nodes")),
            "interval_seconds": get("interval_seconds"),
            "timeout_seconds": get("timeout_seconds"),
            "fall_threshold": get("fall_threshold"),
            "rise_threshold": get("rise_threshold"),
            "min_seconds_between_moves": get("min_seconds_between_moves"),
            "flap_window_seconds": get("flap_window_seconds"),
            "flap_suppress_threshold": get("flap_suppress_threshold"),
            "move_bound_seconds": get("move_timeout_seconds") + 30.0 + 120.0,
        }
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]

    @property
    def detection_seconds(self) -> float:
        """From a holder's failure to a committed failover: FallThreshold cycles, a timeout, a cycle's
        misalignment, and one probe pause (two intervals plus the timeout, the contract's bound)."""
        return (self.fall_threshold + 3) * self.interval_seconds + 2 * self.timeout_seconds

    @property
    def fall_span_seconds(self) -> float:
        return (self.fall_threshold - 1) * self.interval_seconds * SPAN_TOLERANCE


@dataclass(frozen=True)
class Violation:
    invariant: str
    at: float
    group: str
    message: str

    def __str__(self) -> str:
        return f"[{self.invariant}] t={self.at:.3f} group={self.group}: {self.message}"


@dataclass
class _Truth:
    """One node's failing periods, [start, end) with end None while it lasts."""

    periods: list[list[float | None]] = field(default_factory=list)

    def set(self, at: float, failing: bool) -> None:
        open_period = bool(self.periods) and self.periods[-1][1] is None
        if failing and not open_period:
            self.periods.append([at, None])
        elif not failing and open_period:
            self.periods[-1][1] = at

    def failing_since(self, at: float) -> float | None:
        """Start of the failure going on at `at`, or None."""
        for start, end in reversed(self.periods):
            assert start is not None
            if start <= at and (end is None or end > at):
                return start
        return None

    def failing_within(self, start: float, end: float) -> list[tuple[float, float]]:
        spans = []
        for begin, finish in self.periods:
            assert begin is not None
            stop = end if finish is None else finish
            if begin < end and stop > start:
                spans.append((max(begin, start), min(stop, end)))
        return spans

    def last_failure_end(self, before: float) -> float:
        """When the node last stopped failing before `before` (-inf: never failed; inf: failing)."""
        if self.failing_since(before) is not None:
            return math.inf
        ends = [end for start, end in self.periods if end is not None and start is not None and start < before]
        return max(ends, default=-math.inf)


class Checker:
    def __init__(self, configs: Mapping[str, CheckConfig]) -> None:
        self.configs = dict(configs)
        self.now = -math.inf
        self.violations: list[Violation] = []
        self._truth: dict[tuple[str, str], _Truth] = defaultdict(_Truth)
        # (group, address) -> (node or None, instance, since)
        self._holders: dict[tuple[str, str], tuple[str | None, str | None, float]] = {}
        self._calls: dict[tuple[str, str, str], int] = defaultdict(int)
        self._first_sent: dict[tuple[str, str], float] = {}  # (group, decision) -> its first call's send
        self._left: dict[tuple[str, str], bool] = {}  # (group, node) -> an address left it since its last failback
        self._failed_probes: dict[tuple[str, str], list[ProbeFailed]] = defaultdict(list)
        # Whether the recorder numbers probers' runs (the simulator does; the lab's chaos soak and
        # hand-written timelines do not): no_down_without_run is judged only where it does.
        self._records_runs = False
        self._failbacks: dict[tuple[str, str], list[tuple[float, str]]] = defaultdict(list)
        self._last_move: dict[str, float] = {}
        self._requests: dict[str, OperatorRequest] = {}
        self._pending: dict[str, OperatorRequest] = {}
        self._pins: dict[str, str] = {}
        self._pins_stored: set[str] = set()
        self._drains: dict[str, set[str]] = defaultdict(set)
        self._alert_stale_since: dict[str, float] = {}
        # (group, node) -> since when every written state item has had the node not up
        self._not_up_since: dict[tuple[str, str], float] = {}
        self._reported: set[tuple[str, ...]] = set()

    # --- driving ------------------------------------------------------------------------------

    def observe(self, event: Event) -> list[Violation]:
        found = self.advance(event.at)
        # One method per event type, named after it (_on_MoveCall ...).
        handler = getattr(self, f"_on_{type(event).__name__}", None)
        if handler is not None:
            found += handler(event)
        return self._keep(found)

    def advance(self, now: float) -> list[Violation]:
        if now <= self.now:
            return []
        self.now = now
        return self._keep(self._liveness(now) + self._overdue_answers(now))

    def finish(self, end: float) -> list[Violation]:
        return self.advance(end)

    def _keep(self, found: list[Violation]) -> list[Violation]:
        fresh = []
        for violation in found:
            if violation not in self.violations:
                self.violations.append(violation)
                fresh.append(violation)
        return fresh

    # --- events ---------------------------------------------------------------------------------

    def _on_NodeTruth(self, event: NodeTruth) -> list[Violation]:
        self._truth[(event.group, event.node)].set(event.at, event.failing)
        return []

    def _on_HolderChange(self, event: HolderChange) -> list[Violation]:
        key = (event.group, event.address)
        old = self._holders.get(key)
        if old is None or old[1] != event.instance_id:
            self._holders[key] = (event.node, event.instance_id, event.at)
            self._last_move[event.group] = event.at
            if old is not None and old[0] is not None and old[0] != event.node:
                self._left[(event.group, old[0])] = True
        return []

    def _on_DecisionCommitted(self, event: DecisionCommitted) -> list[Violation]:
        return []

    def _on_MoveCall(self, event: MoveCall) -> list[Violation]:
        config = self.configs[event.group]
        found: list[Violation] = []
        key = (event.group, event.decision_id, event.address)
        self._calls[key] += 1
        if self._calls[key] == 2:
            found.append(
                Violation(
                    "one_call_per_decision",
                    event.at,
                    event.group,
                    f"a second EC2 call for {event.address} on decision {event.decision_id} (by {event.actor})",
                )
            )
        # An address set moves as one: its later addresses follow the first call without a new
        # decision (stopping halfway would split the set), so the set is judged by its first send.
        sent = self._first_sent.setdefault(
            (event.group, event.decision_id), event.at if event.sent_at is None else event.sent_at
        )
        seen = self._failed_probe_before(event, sent, config)
        if not event.forced and seen is not None:
            found.append(
                Violation(
                    "no_move_to_down",
                    event.at,
                    event.group,
                    f"move {event.decision_id} sent towards {event.target} by {event.actor} after a probe sent at "
                    f"{seen.sent_at:.3f} by {seen.actor} saw it fail at {seen.at:.3f} ({seen.detail}); the decision's "
                    f"probes were taken at {event.probed_at:.3f}",
                )
            )
        source = event.source
        if source in config.nodes and event.cause in ("failover", "preempt", "pin"):
            assert source is not None
            # From before the holder could have gone down to the decision's probes, with room for
            # a cycle that stalled in a move's verification (10 s) and a rise not yet complete.
            window_start = event.probed_at - (
                (config.fall_threshold + config.rise_threshold + 1) * config.interval_seconds
                + config.timeout_seconds
                + MOVE_VERIFY_SECONDS
            )
            window_end = event.probed_at + config.timeout_seconds
            # A holder that has stayed down in the stored state since an outage (a failover whose
            # EC2 calls failed, retried after its backoff, with no invocation probing the holder
            # RiseThreshold times since) is failed over for that outage: look back to it (seed 834).
            down_since = self._not_up_since.get((event.group, source))
            if down_since is not None:
                window_start = min(
                    window_start,
                    down_since
                    - (config.fall_threshold * config.interval_seconds + config.timeout_seconds + MOVE_VERIFY_SECONDS),
                )
            if event.cause == "failover" and not event.forced:
                found += self._down_without_run(event, source, window_start, sent, config)
            if event.cause == "failover" and self._stayed_healthy(event.group, source, window_start, window_end):
                found.append(
                    Violation(
                        "no_move_off_healthy",
                        event.at,
                        event.group,
                        f"failover {event.decision_id} off {source}, whose failures in "
                        f"[{window_start:.3f}, {window_end:.3f}] all fit in one failure shorter than "
                        f"{config.fall_span_seconds:.2f}s: "
                        + self._failures_text(event.group, source, window_start, window_end),
                    )
                )
            pinned = self._pins.get(event.group)
            if pinned == source and event.cause in ("preempt", "pin"):
                found.append(
                    Violation(
                        "operator_answers",
                        event.at,
                        event.group,
                        f"move {event.decision_id} ({event.cause}) off {source}, pinned there by an operator",
                    )
                )
        if event.cause in ("preempt", "pin"):
            found += self._flap_damping(event, config)
        return found

    def _on_ProbeFailed(self, event: ProbeFailed) -> list[Violation]:
        self._failed_probes[(event.group, event.node)].append(event)
        self._records_runs = self._records_runs or event.run > 0
        return []

    def _down_without_run(
        self, event: MoveCall, source: str, window_start: float, sent: float, config: CheckConfig
    ) -> list[Violation]:
        """no_down_without_run: a failover needs one prober (a container) whose own FallThreshold
        consecutive probes of the holder failed, spanning (FallThreshold - 1) intervals, known
        within the decision's window; failures of several probers with successes between them
        (seen, if unwritten) never add up to one."""
        if not self._records_runs:
            return []
        for probe in reversed(self._failed_probes[(event.group, source)]):
            if probe.at < window_start:
                break
            if probe.at > sent or probe.run < config.fall_threshold:
                continue
            if probe.run_from is None or probe.sent_at - probe.run_from >= config.fall_span_seconds:
                return []
        runs = [
            f"{p.prober or p.actor}#{p.run}@{p.sent_at:.3f}"
            for p in self._failed_probes[(event.group, source)]
            if window_start <= p.at <= sent
        ]
        return [
            Violation(
                "no_down_without_run",
                event.at,
                event.group,
                f"failover {event.decision_id} off {source} by {event.actor}, though no prober saw "
                f"{config.fall_threshold} consecutive failures spanning {config.fall_span_seconds:.2f}s in "
                f"[{window_start:.3f}, {sent:.3f}]; failed probes (prober#run@sent): {', '.join(runs) or 'none'}",
            )
        ]

    def _failed_probe_before(self, event: MoveCall, sent: float, config: CheckConfig) -> ProbeFailed | None:
        """A failed probe of the target known before the call was `sent` (see no_move_to_down)."""
        grace = config.recheck_after_seconds + config.timeout_seconds
        still_failing = self._truth[(event.group, event.target)].failing_since(event.at) is not None
        for probe in reversed(self._failed_probes[(event.group, event.target)]):
            if probe.sent_at < event.probed_at:
                break
            if probe.at > sent:
                continue
            if probe.actor == event.actor or (still_failing and probe.at < sent - grace):
                return probe
        return None

    def _on_StateWritten(self, event: StateWritten) -> list[Violation]:
        config = self.configs[event.group]
        found = []
        if not event.decodes or event.size_bytes > config.state_max_bytes:
            found.append(
                Violation(
                    "state_item",
                    event.at,
                    event.group,
                    f"version {event.version}: decodes={event.decodes}, {event.size_bytes} bytes "
                    f"(bound {config.state_max_bytes})",
                )
            )
        for node in config.nodes:
            if node in event.up_nodes:
                self._not_up_since.pop((event.group, node), None)
            else:
                self._not_up_since.setdefault((event.group, node), event.at)
        # The stored pin is the truth about pins, where the recorder sees the state item.
        self._pins_stored.add(event.group)
        self._drains[event.group] = set(event.drains)
        if event.pin is None:
            self._pins.pop(event.group, None)
        else:
            self._pins[event.group] = event.pin
        stale = "no_node_up" in event.alerts and bool(event.up_nodes) and not event.move_in_progress
        if not stale:
            self._alert_stale_since.pop(event.group, None)
        else:
            since = self._alert_stale_since.setdefault(event.group, event.at)
            if event.at - since > ALERT_GRACE_SECONDS and ("alert", event.group, str(since)) not in self._reported:
                self._reported.add(("alert", event.group, str(since)))
                found.append(
                    Violation(
                        "alert_clears",
                        event.at,
                        event.group,
                        f"no_node_up still stored at version {event.version} although {', '.join(event.up_nodes)} "
                        f"is up in every write since {since:.3f}",
                    )
                )
        return found

    def _on_OperatorRequest(self, event: OperatorRequest) -> list[Violation]:
        self._requests[event.request_id] = event
        self._pending[event.request_id] = event
        return []

    def _on_OperatorAnswer(self, event: OperatorAnswer) -> list[Violation]:
        pending = self._pending.pop(event.request_id, None)
        request = pending or self._requests.get(event.request_id)
        group = request.group if request is not None else "?"
        found = []
        budget = self.configs[group].operator_budget_seconds if group in self.configs else math.inf
        # A request no longer pending was reported as unanswered already.
        if event.elapsed > budget and (pending is not None or request is None):
            found.append(
                Violation(
                    "operator_answers",
                    event.at,
                    group,
                    f"request {event.request_id} answered {event.outcome} after {event.elapsed:.1f}s "
                    f"(budget {budget:g}s)",
                )
            )
        if request is not None and event.outcome == "ok":
            self._apply_accepted(request)
        return found

    def _on_ReplayChecked(self, event: ReplayChecked) -> list[Violation]:
        if event.exact:
            return []
        return [Violation("replay_exact", event.at, event.group, f"{event.steps} steps: {event.detail}")]

    # --- helpers ------------------------------------------------------------------------------

    def _apply_accepted(self, request: OperatorRequest) -> None:
        """Pins and drains from accepted requests, for a recorder that does not see the state item
        (where it does, StateWritten is the truth and this is skipped)."""
        group = request.group
        if group in self._pins_stored:
            return
        if request.action == "failover" and request.node is not None:
            self._pins[group] = request.node
        elif request.action == "unpin":
            self._pins.pop(group, None)
        elif request.action == "drain" and request.node is not None:
            self._drains[group].add(request.node)
            if self._pins.get(group) == request.node:
                self._pins.pop(group)
        elif request.action == "undrain" and request.node is not None:
            self._drains[group].discard(request.node)

    def _stayed_healthy(self, group: str, node: str, start: float, end: float) -> bool:
        """True when every failure of `node` within [start, end] fits in one failure shorter than
        (FallThreshold - 1) intervals: the rule counts no such failure twice, whoever probes it."""
        config = self.configs[group]
        spans = self._truth[(group, node)].failing_within(start, end)
        if not spans:
            return True
        if config.fall_threshold <= 1:
            return False
        return max(stop for _, stop in spans) - min(begin for begin, _ in spans) < config.fall_span_seconds

    def _failures_text(self, group: str, node: str, start: float, end: float) -> str:
        spans = self._truth[(group, node)].failing_within(start, end)
        return ", ".join(f"[{a:.3f}, {b:.3f})" for a, b in spans) or "none"

    def _flap_damping(self, event: MoveCall, config: CheckConfig) -> list[Violation]:
        found = []
        moves = self._failbacks[(event.group, event.target)]
        # A failback that an address set completes in a second decision (the first moved only part
        # of it) is the same failback: one counts again only after an address has left the node
        # (seed 2019: one failback split over two decisions, counted twice).
        continues = bool(moves) and not self._left.get((event.group, event.target), True)
        if event.decision_id not in {decision for _, decision in moves} and not continues:
            self._left[(event.group, event.target)] = False
            last = self._last_move.get(event.group)
            if last is not None and event.at - last < config.min_seconds_between_moves:
                found.append(
                    Violation(
                        "flap_damping",
                        event.at,
                        event.group,
                        f"failback {event.decision_id} to {event.target} {event.at - last:.1f}s after the last "
                        f"move (MinSecondsBetweenMoves {config.min_seconds_between_moves:g})",
                    )
                )
            moves.append((event.at, event.decision_id))
        if config.flap_window_seconds > 0:
            recent = [at for at, _ in moves if event.at - at < config.flap_window_seconds]
            if len(recent) > config.flap_suppress_threshold:
                found.append(
                    Violation(
                        "flap_damping",
                        event.at,
                        event.group,
                        f"{len(recent)} failbacks to {event.target} within FlapWindowSeconds "
                        f"({config.flap_window_seconds:g}s; FlapSuppressThreshold {config.flap_suppress_threshold})",
                    )
                )
        return found

    def _liveness(self, now: float) -> list[Violation]:
        found = []
        for (group, address), (node, instance, since) in self._holders.items():
            config = self.configs[group]
            if node is None and instance is not None:
                continue  # a foreign holder is left alone by contract
            if node is None:
                down_since: float | None = since
            else:
                down_since = self._truth[(group, node)].failing_since(now)
            if down_since is None:
                continue
            bound = config.detection_seconds + config.move_bound_seconds
            down_since = max(down_since, since)
            late = []
            for other in config.nodes:
                if other == node or other in self._drains[group]:
                    continue
                up_since = self._truth[(group, other)].last_failure_end(now)
                if up_since == math.inf:
                    continue
                start = max(down_since, up_since + config.rise_threshold * config.interval_seconds)
                if now - start > bound + config.rise_margin_seconds:
                    late.append(other)
            if not late:
                continue
            key = ("liveness", group, address, str(down_since))
            if key in self._reported:
                continue
            self._reported.add(key)
            found.append(
                Violation(
                    "liveness",
                    now,
                    group,
                    f"{address} on {node or 'nothing'} (failing since {down_since:.3f}) for {now - down_since:.1f}s, "
                    f"over the {bound:.0f}s bound, while {', '.join(late)} stayed up",
                )
            )
        return found

    def _overdue_answers(self, now: float) -> list[Violation]:
        found = []
        for request_id, request in list(self._pending.items()):
            budget = self.configs[request.group].operator_budget_seconds if request.group in self.configs else 30.0
            if now - request.at > budget + 1.0:
                del self._pending[request_id]
                found.append(
                    Violation(
                        "operator_answers",
                        now,
                        request.group,
                        f"request {request_id} ({request.action}) unanswered after {now - request.at:.1f}s",
                    )
                )
        return found


def check_timeline(
    events: Iterable[Event], configs: Mapping[str, CheckConfig], end: float | None = None
) -> list[Violation]:
    """Every violation in a whole recorded timeline (sorted by time first)."""
    checker = Checker(configs)
    ordered = sorted(events, key=lambda event: event.at)
    for event in ordered:
        checker.observe(event)
    if end is not None or ordered:
        checker.finish(end if end is not None else ordered[-1].at)
    return checker.violations
