"""The pure decision core: (state, observations, configuration, now) -> (new state, action).

No I/O happens here. The contract's invariants live in `decide`:
1. the EIP is never moved to a node that is not up;
2. it leaves its holder only when the holder is down or drained and another node is up;
3. failback to a higher priority waits for the preempt delay, and never happens without Preempt;
4. with no node up the EIP stays where it is, and an alert is raised;
5. an unassociated EIP is put on the desired node, one on a foreign instance is left alone;
6. a move is committed as an intent in the state before EC2 is called, so one decision makes one
   move however many invocations race (the state store's conditional write picks the winner).
Nothing here assumes two nodes or one observer.

Size: over 500 lines on purpose: every rule of the decision reads in one place, in the order `decide`
applies them; splitting it would scatter one function's cases across files.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from nginx_eip_failover.core import faults, streaks
from nginx_eip_failover.core.bounds import MAX_ENTRY_REASON_BYTES, bounded
from nginx_eip_failover.core.config import NodeConfig, Settings
from nginx_eip_failover.core.ports import Notice, Observation
from nginx_eip_failover.core.state import ControllerState, Health, HistoryEntry, MoveIntent, NodeHealth
from nginx_eip_failover.core.streak_by_gap import advance_by_gap

ALERT_NO_NODE_UP = "no_node_up"
ALERT_FOREIGN_HOLDER = "foreign_holder"
ALERT_MOVE_FAILING = "move_failing"
ALERT_ADDRESSES_MISSING = "addresses_missing"
ALERT_OBSERVER_ISOLATED = "observer_isolated"
ALERT_PROBE_AUTH_FAILED = "probe_auth_failed"
# After a failed move the next attempt waits 1, 2, 4 ... seconds, at most this long, so an EC2
# outage or a missing permission does not turn every probe cycle into another failing call.
MAX_MOVE_BACKOFF_SECONDS = 30.0


def move_backoff_seconds(failures: int) -> float:
    return 0.0 if failures <= 0 else min(MAX_MOVE_BACKOFF_SECONDS, 2.0 ** (failures - 1))


@dataclass(frozen=True)
class Verdict:
    ok: bool
    detail: str
    # Seconds after the probes' start at which a failure was seen: an answer's latency (a refusal,
    # a 5xx, a bad body), or 0 for a probe that got no answer (the node was silent since then).
    seen_after: float = 0.0
    # The prober's own run that this verdict ends (core/streaks: seen-at times, oldest first, this
    # verdict's last). Empty: a run of this verdict alone (a prober that keeps no runs).
    run: tuple[float, ...] = ()
    # Every probe of the node was refused its credentials (Observation.auth_failed): `ok` is False so
    # that the node is not sent the addresses, but the node's health does not change (record_probes).
    auth_failed: bool = False


@dataclass(frozen=True)
class Context:
    """What every step of one decision shares: who decides, when, under which settings."""

    settings: Settings
    now: float
    actor: str
    # The nodes the deciding invocation's own probes of this round saw fail (`failing_in`). The
    # stored state may already hold a newer success by another prober, which leaves such a failure
    # uncounted; the addresses are still never sent to a node after the decider saw it fail
    # (simulator seed 11: a preempt towards a node whose failed probe was the decision's own).
    seen_failing: frozenset[str] = frozenset()
    # The nodes whose probes of this round were refused their credentials (`auth_failing_in`): the
    # probe_auth_failed alert is raised while there are any.
    auth_failing: frozenset[str] = frozenset()

    def entry(self, event: str, reason: str, node: str | None = None, **detail: object) -> HistoryEntry:
        # Every entry's text is bounded in bytes here, whatever a node or EC2 answered.
        detail = {key: bounded(value) if isinstance(value, str) else value for key, value in detail.items()}
        return HistoryEntry(
            at=self.now,
            event=event,
            reason=bounded(reason, MAX_ENTRY_REASON_BYTES),
            by=bounded(self.actor),
            node=node,
            detail=detail,
        )


@dataclass(frozen=True)
class Decision:
    state: ControllerState
    # The intent committed in `state`: the controller carries it out once the write has won.
    move: MoveIntent | None
    reason: str
    notices: tuple[Notice, ...] = ()


Notices = tuple[Notice, ...]


def failing_in(verdicts: Mapping[str, Verdict]) -> frozenset[str]:
    """The nodes whose verdict is a failure (what `Context.seen_failing` holds)."""
    return frozenset(node for node, verdict in verdicts.items() if not verdict.ok)


def auth_failing_in(verdicts: Mapping[str, Verdict]) -> frozenset[str]:
    """The nodes whose verdict is an auth failure (what `Context.auth_failing` holds)."""
    return frozenset(node for node, verdict in verdicts.items() if verdict.auth_failed)


def round_context(settings: Settings, now: float, actor: str, verdicts: Mapping[str, Verdict]) -> Context:
    """The context of a decision on one probe round: the nodes it saw failing, and those that refused
    its credentials (the monitor's cycle, a plan and their replays build it the same way)."""
    return Context(settings, now, actor, failing_in(verdicts), auth_failing_in(verdicts))


def node_verdicts(observations: Iterable[Observation], quorum: int = 1) -> dict[str, Verdict]:
    """Combine observations into one verdict per node.

    A node fails only when at least `quorum` observers saw it fail, so a partition between one
    observer and a node is not taken for a node failure. The verdict carries the prober's run
    (`Observation.run`, the same on every observation of a node in one round).
    """
    by_node: dict[str, list[Observation]] = {}
    for observation in observations:
        by_node.setdefault(observation.node, []).append(observation)
    verdicts: dict[str, Verdict] = {}
    for node, probes in by_node.items():
        # A probe refused its credentials says nothing of the node's health: it does not vote. When
        # no probe of the node got past them, the verdict is an auth failure (record_probes).
        seen = [o for o in probes if not o.auth_failed]
        if not seen:
            verdicts[node] = Verdict(ok=False, detail=bounded(probes[0].detail), auth_failed=True)
            continue
        failed = [o for o in seen if not o.ok]
        ok = len(failed) < min(quorum, len(seen))
        first = seen[0] if ok else failed[0]
        verdicts[node] = Verdict(
            ok=ok,
            detail=bounded(first.detail),
            seen_after=0.0 if ok or failed[0].timed_out else failed[0].latency_ms / 1000,
            run=first.run,
        )
    return verdicts


def record_probes(
    state: ControllerState, verdicts: Mapping[str, Verdict], ctx: Context, probed_at: float | None = None
) -> ControllerState:
    """Advance each node's health with one prober's verdicts on probes taken at `probed_at` (default: now).

    A node goes down when the deciding prober's own run of failures (`Verdict.run`) holds
    FallThreshold failures spanning (FallThreshold - 1) intervals, none older than the newest
    success recorded in the state; up again likewise with RiseThreshold successes, none older than
    the newest recorded failure (core/streaks says why per prober). A node with no history is up on
    its first success and fails like an up node.

    A failure counts at a moment the node was failing: when its answer came, or when it was sent if
    no answer came (streaks.seen_at). So a blip shorter than (FallThreshold - 1) intervals never
    completes a run, however many probers see it and however late their answers arrive.

    An auth failure (the node refused the probe's credentials: `Verdict.auth_failed`) changes nothing
    here: the node answered, so it is not failing, and it did not pass its check, so it does not rise.
    It does stay in `Context.seen_failing`, so no address is sent to it (`decide`), and it raises the
    probe_auth_failed alert. (HealthCheckAuthFailureIsDown makes a 401/403 a plain failure instead.)
    """
    settings = ctx.settings
    at = ctx.now if probed_at is None else probed_at
    nodes = dict(state.nodes)
    for node in settings.nodes:
        verdict = verdicts.get(node.name)
        if verdict is None or verdict.auth_failed:
            continue
        old = state.health(node.name)
        seen = at + _failure_offset(verdict)
        if faults.active(faults.STREAK_BY_TIME_GAP):  # test-only re-injection: the shared streak of #25
            new = advance_by_gap(old, verdict.ok, verdict.detail, settings, seen, ctx.now)
        else:
            new = _advance(old, verdict, settings, seen, ctx.now)
        nodes[node.name] = new
        if new.status != old.status:
            entry = ctx.entry(f"node_{new.status}", verdict.detail, node.name)
            state = state.with_history(entry, settings.history_limit)
    return replace(state, nodes=nodes)


def _failure_offset(verdict: Verdict) -> float:
    """When, after the probes' start, a failed probe saw its failure (see record_probes)."""
    if verdict.ok or faults.active(faults.BLIP_COUNTED_TWICE):  # test-only re-injection: the probe's start
        return 0.0
    return verdict.seen_after


def _advance(old: NodeHealth, verdict: Verdict, settings: Settings, at: float, now: float) -> NodeHealth:
    """`at`: when the result was seen (runs); `now`: when the change is decided and recorded
    (`since`, flaps): the same clock as the history entry, so "up for PreemptDelaySeconds" counts
    from the recorded node_up, never from an earlier probe.

    What is written stays what a steady pair never changes: a success on an up node with no failure
    streak changes nothing (no write), and a failure on a down node with no rise under way neither.
    Every other result is written, and with it the newest success (`last_ok_at`) or failure
    (`last_failed_at`) that the other probers' runs are counted after."""
    run = verdict.run or (at,)
    if verdict.ok:
        ok_run = streaks.counted(run, old.last_failed_at)
        # The longest rise run recorded since the last recorded failure (status shows it).
        ok_streak = max(old.ok_streak, min(len(ok_run), settings.rise_threshold))
        last_ok_at = max(at, old.last_ok_at or at)
        # A found node's new instance (core/found_nodes) starts "unknown" and must rise like a down node.
        joining = old.status == "unknown" and old.instance_id is not None
        if old.status != "down" and not joining:
            if old.status == "up" and old.fail_streak == 0:
                return old  # steady: nothing to write
            # The first success (a new node), or one that contradicts a stored failure streak: written,
            # so that every prober's failure run is counted after it.
            return _changed(old, "up", verdict.detail, now, settings, ok_streak, 0, last_ok_at=last_ok_at)
        promote = streaks.completes(ok_run, settings.rise_threshold, settings)
        if not promote and ok_streak == old.ok_streak and old.last_ok_at is not None and at <= old.last_ok_at:
            return old  # nothing new (the same probe decided again after a conflict)
        status: Health = "up" if promote else old.status
        return _changed(old, status, verdict.detail, now, settings, ok_streak, 0, last_ok_at=last_ok_at)
    fail_run = streaks.counted(run, old.last_ok_at)
    last_failed_at = max(at, old.last_failed_at or at)
    if old.status == "down":
        if old.ok_streak == 0:
            return old  # a down node's failures change nothing: no write a cycle per outage
        # A failure that breaks a rise under way: written, so every prober's success run counts after it.
        return _changed(old, "down", verdict.detail, now, settings, 0, 0, last_failed_at=last_failed_at)
    # A node with no history fails like an up node: a blip on a new group's (or a fresh stack's)
    # first probe must not move the EIP off its holder (simulator seed 1558).
    demote = streaks.completes(fail_run, settings.fall_threshold, settings)
    # The longest failure run recorded since the last recorded success (status shows it; any
    # non-zero value makes the node ineligible to receive the EIP).
    fail_streak = max(old.fail_streak, min(len(fail_run), settings.fall_threshold))
    if demote:
        return _changed(old, "down", verdict.detail, now, settings, 0, fail_streak, last_failed_at=last_failed_at)
    if fail_streak == old.fail_streak and old.last_failed_at is not None and at <= old.last_failed_at:
        return old  # nothing new (the same probe decided again after a conflict)
    return _changed(old, old.status, verdict.detail, now, settings, 0, fail_streak, last_failed_at=last_failed_at)


def _changed(
    old: NodeHealth,
    status: Health,
    detail: str,
    now: float,
    settings: Settings,
    ok_streak: int,
    fail_streak: int,
    *,
    last_ok_at: float | None = None,
    last_failed_at: float | None = None,
) -> NodeHealth:
    new = replace(
        old,
        ok_streak=ok_streak,
        fail_streak=fail_streak,
        last_ok_at=old.last_ok_at if last_ok_at is None else last_ok_at,
        last_failed_at=old.last_failed_at if last_failed_at is None else last_failed_at,
    )
    if status == old.status:
        return new
    flaps = old.flaps
    if old.status == "up" and status == "down":
        flaps = (*flaps, now)[-settings.flap_suppress_threshold :]
    return replace(new, status=status, since=now, reason=detail, flaps=flaps)


def is_damped(health: NodeHealth, settings: Settings, now: float) -> bool:
    """A node that went down FlapSuppressThreshold times within the flap window is damped."""
    if settings.flap_window_seconds <= 0:
        return False
    recent = [at for at in health.flaps if now - at < settings.flap_window_seconds]
    return len(recent) >= settings.flap_suppress_threshold


def is_eligible(state: ControllerState, node: str) -> bool:
    """May receive the addresses: up, undrained, and its latest probe did not fail (a node whose
    failures have not yet spanned FallThreshold is still up, but the EIP is never sent to a node
    after probes saw it fail)."""
    health = state.health(node)
    return health.status == "up" and health.fail_streak == 0 and node not in state.drains


def decide(
    state: ControllerState,
    association: str | None,
    ctx: Context,
    *,
    move_id: str,
    may_move: bool = True,
    missing: tuple[str, ...] = (),
) -> Decision:
    """Choose where the EIP belongs, given what the EIP is associated with right now.

    `may_move=False`: the caller has no time left to carry a move out, so none is committed; the
    next cycle (or the next invocation) decides again on fresh probes.
    `missing`: the addresses of the group's set that are not on the holder (a partial move, or an
    address moved by hand); a holder that stays gets them back, as a move to itself.
    """
    settings = ctx.settings
    state, notices = settle_move(state, association, ctx)
    if state.move is not None:
        return Decision(state, None, f"move {state.move.id} to {state.move.target} in progress", notices)
    state, seen = _observe_association(state, association, ctx)
    notices += seen

    holder = settings.node_by_instance(association)
    if association is not None and holder is None:
        state, raised = _set_alert(
            state,
            ALERT_FOREIGN_HOLDER,
            True,
            Notice(
                "refused_move",
                "critical",
                f"EIP {settings.allocation_id} is on {association}, outside the pair; left there "
                '(an operator failover with "force": true takes it back)',
            ),
        )
        return Decision(state, None, f"EIP on foreign instance {association}: left alone", notices + raised)
    state, cleared = _set_alert(state, ALERT_FOREIGN_HOLDER, False)
    notices += cleared

    any_up = any(state.health(node.name).status == "up" for node in settings.nodes)
    state, changed = _set_alert(
        state,
        ALERT_NO_NODE_UP,
        not any_up,
        Notice(
            "no_node_up",
            "critical",
            f"no node is up; EIP {settings.allocation_id} stays {settings.describe_association(association)}",
        ),
    )
    notices += changed
    state, refused = record_auth_failures(state, ctx)
    notices += refused
    target, reason = _desired_node(state, holder, settings, ctx.now, ctx.seen_failing)
    state, split = _set_alert(
        state,
        ALERT_ADDRESSES_MISSING,
        bool(missing) and holder is not None,
        Notice(
            "addresses_missing",
            "critical",
            f"group {settings.group}: not on {settings.describe_association(association)}: {', '.join(missing)}",
        ),
    )
    notices += split
    if holder is not None and target is not None and target.name == holder.name:
        if missing and is_eligible(state, holder.name) and holder.name not in ctx.seen_failing:
            # The set is split: the holder gets the stragglers back (only they are sent), after
            # the same back-off as any failed move.
            why = f"{reason}; repairing the address set: {', '.join(missing)} not on {holder.name}"
            if state.repairs and state.last_move_at is not None:
                wait = state.last_move_at + move_backoff_seconds(state.repairs) - ctx.now
                if wait > 0:
                    return Decision(state, None, bounded(f"{why}; retrying in {wait:.1f}s"), notices)
            if not may_move:
                return Decision(state, None, f"{why}; deferred: no time left in this invocation to move", notices)
            state = replace(state, repairs=state.repairs + 1)
            return start_move(state, holder, association, bounded(why), ctx, move_id=move_id, notices=notices)
        # The EIP is where it belongs, whoever put it there (a verification that lagged, an
        # operator by hand): a failing move is over, and so is its back-off.
        state = replace(state, move_failures=0, last_failure_at=None, repairs=0 if not missing else state.repairs)
        state, cleared = _set_alert(state, ALERT_MOVE_FAILING, False)
        return Decision(state, None, reason, notices + cleared)
    if target is None:
        return Decision(state, None, reason, notices)

    if state.move_failures and state.last_failure_at is not None:
        wait = state.last_failure_at + move_backoff_seconds(state.move_failures) - ctx.now
        if wait > 0:
            return Decision(
                state, None, f"{reason}; retrying after {state.move_failures} failed move(s) in {wait:.1f}s", notices
            )
    if not may_move:
        return Decision(state, None, f"{reason}; deferred: no time left in this invocation to move", notices)
    return start_move(state, target, association, reason, ctx, move_id=move_id, notices=notices)


def start_move(
    state: ControllerState,
    target: NodeConfig,
    association: str | None,
    reason: str,
    ctx: Context,
    *,
    move_id: str,
    notices: Notices = (),
) -> Decision:
    """Commit the intent to move the EIP to `target`: the one way every move (automatic or an
    operator's) starts, so they record the same intent and history."""
    source = ctx.settings.source_of(association)
    reason = bounded(reason, MAX_ENTRY_REASON_BYTES)
    intent = MoveIntent(id=move_id, target=target.name, source=source, reason=reason, by=ctx.actor, started_at=ctx.now)
    state = replace(state, move=intent).with_history(
        ctx.entry("move_started", reason, target.name, id=move_id, **{"from": source}), ctx.settings.history_limit
    )
    return Decision(state, intent, reason, notices)


def _desired_node(
    state: ControllerState, holder: NodeConfig | None, settings: Settings, now: float, seen_failing: frozenset[str]
) -> tuple[NodeConfig | None, str]:
    eligible = [node for node in settings.nodes if is_eligible(state, node.name) and node.name not in seen_failing]
    if holder is not None:
        health = state.health(holder.name)
        drained = holder.name in state.drains
        if not drained and health.status != "down":
            return _keep_or_preempt(state, holder, eligible, settings, now, seen_failing)
        why_leave = "drained" if drained else f"down ({health.reason})"
        if not eligible:
            return None, f"{holder.name} is {why_leave} but no other node is up and undrained: EIP stays"
        target = _pick(state, eligible, settings, now)
        return target, f"failover: {holder.name} is {why_leave}; {target.name} is up"
    if not eligible:
        return None, "no node is up and undrained: EIP stays unassociated"
    target = _pick(state, eligible, settings, now)
    return target, f"EIP unassociated; {target.name} is up"


def _keep_or_preempt(
    state: ControllerState,
    holder: NodeConfig,
    eligible: Sequence[NodeConfig],
    settings: Settings,
    now: float,
    seen_failing: frozenset[str],
) -> tuple[NodeConfig, str]:
    """The holder stays unless preemption is due; the reason says which rule kept it."""
    if state.health(holder.name).status != "up":
        return holder, f"{holder.name} holds the EIP and is not known to be down"
    if state.pin is not None:
        if state.pin.node == holder.name:
            return holder, f"pinned to {state.pin.node}: no priority moves until unpin"
        # The pin is the operator's wish: once the pinned node is back (and has stayed up for the
        # preempt delay), the EIP returns to it, Preempt or not.
        pinned = next((node for node in eligible if node.name == state.pin.node), None)
        if pinned is None:
            return holder, f"pinned to {state.pin.node}, which is not up: {holder.name} keeps the EIP"
        if is_damped(state.health(pinned.name), settings, now):
            return holder, f"pinned to {pinned.name}, damped after flapping: {holder.name} keeps the EIP"
        target, reason = _failback_due(state, pinned, settings, now, why=f"back to pinned {pinned.name}")
        return target or holder, reason
    if not any(node.priority > holder.priority for node in eligible):
        return holder, f"{holder.name} holds the EIP and is up"
    if not settings.preempt:
        return holder, f"{holder.name} is up; Preempt is off, so no failback on priority alone"
    target, reason = preemption_target(state, holder, settings, now, seen_failing)
    return target or holder, reason


def _pick(state: ControllerState, eligible: Sequence[NodeConfig], settings: Settings, now: float) -> NodeConfig:
    """Best node to receive the EIP: a pinned node, then undamped before damped, then priority."""
    if state.pin is not None:
        for node in eligible:
            if node.name == state.pin.node:
                return node
    order = {node.name: index for index, node in enumerate(settings.nodes)}
    return min(
        eligible,
        key=lambda node: (
            is_damped(state.health(node.name), settings, now),
            -node.priority,
            order[node.name],
        ),
    )


def preemption_target(
    state: ControllerState,
    holder: NodeConfig,
    settings: Settings,
    now: float,
    seen_failing: frozenset[str] = frozenset(),
) -> tuple[NodeConfig | None, str]:
    """The higher-priority node to fail back to now, or None with the reason to wait."""
    candidates = [
        node
        for node in settings.nodes
        if is_eligible(state, node.name)
        and node.name not in seen_failing
        and node.priority > holder.priority
        and not is_damped(state.health(node.name), settings, now)
    ]
    if not candidates:
        return None, f"{holder.name} holds the EIP; higher-priority nodes are damped after flapping"
    best = max(candidates, key=lambda node: node.priority)
    return _failback_due(state, best, settings, now, why=f"preempt: {best.name} (priority {best.priority})")


def _failback_due(
    state: ControllerState, target: NodeConfig, settings: Settings, now: float, *, why: str
) -> tuple[NodeConfig | None, str]:
    """`target` once it has been up for PreemptDelaySeconds (and MinSecondsBetweenMoves since the
    last move), else None with how long is left."""
    since = state.health(target.name).since
    up_for = now - since if since is not None else 0.0
    if up_for < settings.preempt_delay_seconds:
        wait = settings.preempt_delay_seconds - up_for
        return (
            None,
            f"{target.name} up for {up_for:.1f}s; failback after PreemptDelaySeconds ({wait:.1f}s left)",
        )
    if state.last_move_at is not None:
        since_move = now - state.last_move_at
        if since_move < settings.min_seconds_between_moves:
            wait = settings.min_seconds_between_moves - since_move
            return None, f"failback to {target.name} waits for MinSecondsBetweenMoves ({wait:.1f}s left)"
    return target, f"{why} up for {up_for:.1f}s"


def settle_move(state: ControllerState, association: str | None, ctx: Context) -> tuple[ControllerState, Notices]:
    """Finish a committed move whose EIP change is visible, or drop one whose invocation died."""
    settings = ctx.settings
    intent = state.move
    if intent is None:
        return state, ()
    if association == settings.node(intent.target).instance_id:
        return complete_move(state, intent.id, association, None, ctx)
    if ctx.now - intent.started_at < settings.move_timeout_seconds:
        return state, ()
    notice = Notice("move_abandoned", "warning", f"move {intent.id} to {intent.target} never completed; deciding again")
    state = replace(state, move=None).with_history(
        ctx.entry(
            "move_abandoned",
            "the invocation that started it did not finish; reconciled from the EIP's association",
            intent.target,
            id=intent.id,
            association=association,
        ),
        settings.history_limit,
    )
    return state, (notice,)


def complete_move(
    state: ControllerState, move_id: str, association: str | None, error: str | None, ctx: Context
) -> tuple[ControllerState, Notices]:
    """Record the outcome of move `move_id`; a no-op if another invocation already recorded it."""
    settings = ctx.settings
    intent = state.move
    if intent is None or intent.id != move_id:
        return state, ()
    target_instance = settings.node(intent.target).instance_id
    duration = round(ctx.now - intent.started_at, 3)
    # The EIP's association is the truth: a call that timed out after EC2 acted still moved it.
    if association == target_instance:
        moved = Notice(
            "move",
            "warning",
            f"EIP {settings.allocation_id} moved from {intent.source or 'unassociated'} to {intent.target}: "
            f"{intent.reason}",
        )
        state = replace(
            state,
            move=None,
            association=association,
            observed=True,
            last_move_at=ctx.now,
            move_failures=0,
            last_failure_at=None,
        )
        state, cleared = _set_alert(state, ALERT_MOVE_FAILING, False)
        entry = ctx.entry(
            "move_completed",
            intent.reason,
            intent.target,
            id=move_id,
            seconds=duration,
            **{"from": intent.source},
            **({"error": error} if error else {}),
        )
        return state.with_history(entry, settings.history_limit), (moved, *cleared)
    problem = bounded(error or f"EIP is on {settings.describe_association(association)} after the call")
    state, raised = _set_alert(
        replace(state, move=None, move_failures=state.move_failures + 1, last_failure_at=ctx.now),
        ALERT_MOVE_FAILING,
        True,
        Notice("move_failed", "critical", f"moving EIP {settings.allocation_id} to {intent.target} failed: {problem}"),
    )
    entry = ctx.entry("move_failed", problem, intent.target, id=move_id, seconds=duration, **{"from": intent.source})
    return state.with_history(entry, settings.history_limit), raised


def _observe_association(
    state: ControllerState, association: str | None, ctx: Context
) -> tuple[ControllerState, Notices]:
    settings = ctx.settings
    if state.observed and association == state.association:
        return state, ()
    notices: Notices = ()
    if state.observed:
        was = settings.describe_association(state.association)
        now_on = settings.describe_association(association)
        notices = (
            Notice(
                "drift", "warning", f"EIP {settings.allocation_id} changed outside the controller: {was} -> {now_on}"
            ),
        )
        state = state.with_history(
            ctx.entry("drift", f"EIP was {was}, found {now_on}", was=state.association, now=association),
            settings.history_limit,
        )
        # The EIP moved, whoever moved it (a hand, or our own call that EC2 carried out after
        # answering with an error): MinSecondsBetweenMoves counts from here (simulator seed 2306:
        # a failback 8 s after such a move, with MinSecondsBetweenMoves 10).
        state = replace(state, last_move_at=ctx.now)
    return replace(state, association=association, observed=True), notices


def record_isolation(
    state: ControllerState, isolated: frozenset[str], message: str, ctx: Context
) -> tuple[ControllerState, Notices]:
    """Raise `observer_isolated` while the quorum discounts an observer's votes (core/quorum), and
    clear it once every observer reaches a node again; the history records both changes."""
    state, notices = _set_alert(
        state, ALERT_OBSERVER_ISOLATED, bool(isolated), Notice(ALERT_OBSERVER_ISOLATED, "warning", message)
    )
    if notices:
        event = ALERT_OBSERVER_ISOLATED if isolated else f"{ALERT_OBSERVER_ISOLATED}_cleared"
        reason = message if isolated else "every observer reaches a node again"
        entry = ctx.entry(event, reason, observers=",".join(sorted(isolated)))
        state = state.with_history(entry, ctx.settings.history_limit)
    return state, notices


def record_auth_failures(state: ControllerState, ctx: Context) -> tuple[ControllerState, Notices]:
    """Raise `probe_auth_failed` while the deciding round's probes of a node are refused their
    credentials, clear it once none is; the history records both changes, naming the nodes."""
    failing = ctx.auth_failing
    nodes = ", ".join(sorted(failing))
    message = (
        f"{nodes} refused the health check's credentials (401/403): counted neither as down nor as up; "
        "check HealthCheckAuthSecretArn and the nodes' auth"
    )
    notice = Notice(ALERT_PROBE_AUTH_FAILED, "warning", f"group {ctx.settings.group}: {message}")
    state, notices = _set_alert(state, ALERT_PROBE_AUTH_FAILED, bool(failing), notice)
    if notices:
        event = ALERT_PROBE_AUTH_FAILED if failing else f"{ALERT_PROBE_AUTH_FAILED}_cleared"
        reason = message if failing else "every node accepts the health check's credentials again"
        state = state.with_history(ctx.entry(event, reason, nodes=nodes), ctx.settings.history_limit)
    return state, notices


def _set_alert(
    state: ControllerState, alert: str, active: bool, notice: Notice | None = None
) -> tuple[ControllerState, Notices]:
    """Raise or clear an alert; notify only on the change, not on every cycle it persists."""
    if active == (alert in state.alerts):
        return state, ()
    if not active and alert == ALERT_NO_NODE_UP and faults.active(faults.ALERT_NOT_CLEARED):
        return state, ()  # test-only: a past defect, re-injected by the simulator's mutation check
    if active:
        return replace(state, alerts=state.alerts | {alert}), (notice,) if notice is not None else ()
    cleared = Notice(f"{alert}_cleared", "info", f"cleared: {alert.replace('_', ' ')}")
    return replace(state, alerts=state.alerts - {alert}), (cleared,)
