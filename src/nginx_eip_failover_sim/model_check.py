"""An exhaustive small-scope check of the decision core, in the style of TLC: every interleaving, up to a bound.

The world: node1 holds the EIP, node2 is always up. Time runs in ticks of half an interval. Its health
changes at chosen ticks (any pattern, up to `changes` changes). Probers probe every interval (two
ticks) from their start: the long-running monitor (from tick 0 or 1), fresh cold invocations started
at any tick (up to `fresh`), an observer on the other half-interval. Each prober extends its own runs
(`core.streaks.ProbeRuns`, the controller's code) and commits through the controller's protocol:
decide on its cached copy or a fresh read (a choice), write conditionally on the version, and on a
conflict read again and decide again; a commit may also be deferred to the next tick (a slow write),
and a fresh prober may end after any probe (its window closed, a hand-off, a crash). The decision is
the real core (`record_probes`, `decide`, `complete_move`); only the I/O is the model's.

Invariants, checked on every transition (a spec written from the probes, not from the code's streaks):
- fall: node1 goes down only when the deciding prober's own last FallThreshold probes failed, each
  after every success recorded in the state it decided on, spanning (FallThreshold - 1) intervals;
- blips: while every failure lasted less than (FallThreshold - 1) intervals and every success between
  two failures at least one interval, node1 never goes down, whoever probed (issue #25's scenario);
- live: once node1 has failed for FallThreshold intervals plus one cold start (two ticks), it is down
  (a monitor hands over only once its failure run has ended);
- one move: at most one move starts per decision epoch (between two changes of the node statuses).
It also counts "unseen contradictions": downs where some prober's success fell inside the decider's
window but was never written (nobody can know of it; reported, not a violation of the rule).

`python -m nginx_eip_failover_sim.model_check` runs the CI bound; `--deep` (make model-check) a deeper one;
`--fault streak_by_time_gap` re-injects the rule of issue #25 and prints the shortest violating trace.
Breadth-first by tick, so the first violation found has the fewest ticks.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from itertools import permutations, product

from nginx_eip_failover.core import faults
from nginx_eip_failover.core.config import NodeConfig, Settings
from nginx_eip_failover.core.decision import Context, Verdict, complete_move, decide, failing_in, record_probes
from nginx_eip_failover.core.state import ControllerState, NodeHealth
from nginx_eip_failover.core.streaks import SPAN_TOLERANCE, ProbeRuns

TICK = 0.5  # seconds; the interval is two ticks
I1, I2 = "i-0000000000000aaa1", "i-0000000000000bbb2"


@dataclass(frozen=True)
class Bound:
    fall: int
    ticks: int
    changes: int  # health changes of node1 at most
    fresh: int  # fresh cold probers at most
    observer: bool
    stale: bool = True  # whether a prober may decide on its cached copy


# Sized for CI (about a minute on a quiet 2-CPU machine: 122k + 11k + 120k states) and by hand.
CI_BOUNDS = (
    Bound(fall=2, ticks=8, changes=3, fresh=1, observer=False),
    Bound(fall=2, ticks=8, changes=3, fresh=0, observer=True),
    Bound(fall=3, ticks=10, changes=2, fresh=1, observer=False),
)
DEEP_BOUNDS = (
    Bound(fall=2, ticks=10, changes=3, fresh=1, observer=False),
    Bound(fall=2, ticks=7, changes=2, fresh=1, observer=True),
    Bound(fall=2, ticks=7, changes=3, fresh=2, observer=False),
    Bound(fall=3, ticks=12, changes=3, fresh=1, observer=False),
)
# The smallest bound that holds issue #25's scenario (two blips, a fresh prober, a success in flight).
FAULT_BOUND = Bound(fall=2, ticks=7, changes=3, fresh=1, observer=False)


def settings_for(bound: Bound) -> Settings:
    return Settings(
        allocation_id="eipalloc-00000000000000001",
        nodes=(
            NodeConfig("node1", I1, "http://127.0.0.1:1/health", 101),
            NodeConfig("node2", I2, "http://127.0.0.1:2/health", 100),
        ),
        interval_seconds=2 * TICK,
        timeout_seconds=TICK,
        fall_threshold=bound.fall,
        rise_threshold=2,
        preempt=True,
        preempt_delay_seconds=2.0,
        min_seconds_between_moves=0.0,
        flap_window_seconds=0.0,
        flap_suppress_threshold=3,
        table_name="state",
        topic_arn=None,
        ca_bundle=None,
    )


@dataclass(frozen=True)
class Prober:
    name: str
    start: int
    runs: ProbeRuns = field(default_factory=ProbeRuns)
    # The cached copy: (state, version, newest recorded success of node1 in it), None before a read.
    cache: tuple[ControllerState, int, float] | None = None
    pending: tuple[int, bool] | None = None  # a probe (tick, ok) not committed yet
    probes: tuple[tuple[int, bool], ...] = ()  # its last probes, the spec's record (not the code's runs)
    ended: bool = False
    chain: bool = False  # the scheduled successor the monitor handed over to: it probes on


@dataclass(frozen=True)
class World:
    tick: int
    healthy: bool
    changes: int
    store: ControllerState
    version: int
    association: str
    probers: tuple[Prober, ...]
    # Spec bookkeeping (bounded): every prober's recent probes, the blip-world flags, failure length.
    recent: tuple[tuple[int, bool], ...]
    blip_world: bool
    period: int  # ticks in node1's current health period
    epoch: tuple[str, str]
    moves_in_epoch: int

    def key(self) -> tuple[object, ...]:
        probers = tuple(
            (
                p.name,
                p.start,
                tuple(sorted((n, r.ok, r.times) for n, r in p.runs.runs.items())),
                None if p.cache is None else (_state_key(p.cache[0]), p.cache[1] == self.version, p.cache[2]),
                p.pending,
                p.probes,
                p.ended,
                p.chain,
            )
            for p in self.probers
        )
        return (
            self.tick,
            self.healthy,
            self.changes,
            _state_key(self.store),
            self.association,
            probers,
            self.recent,
            self.blip_world,
            self.period,
            self.epoch,
            self.moves_in_epoch,
        )


def _state_key(state: ControllerState) -> tuple[object, ...]:
    """A hashable image of a state without its history (history feeds no decision: states that
    differ only in it behave alike)."""
    return (
        tuple(sorted(state.nodes.items())),
        state.association,
        state.observed,
        state.pin,
        tuple(sorted(state.drains.items())),
        state.move,
        state.last_move_at,
        state.move_failures,
        state.last_failure_at,
        state.repairs,
        state.alerts,
    )


class Violation(Exception):
    """An invariant broken: `kind` names it (fall, blips, live, one-move, move, settle); `steps`, the
    actions of the tick that broke it, up to the breaking one."""

    def __init__(self, kind: str, message: str, steps: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.kind = kind
        self.steps = steps


@dataclass
class Checker:
    bound: Bound
    settings: Settings
    unseen: int = 0

    def initial(self) -> Iterator[tuple[str, World]]:
        nodes = {
            "node1": NodeHealth(status="up", ok_streak=2, since=-100.0, reason="HTTP 200", last_ok_at=-100.0),
            "node2": NodeHealth(status="up", ok_streak=2, since=-100.0, reason="HTTP 200", last_ok_at=-100.0),
        }
        store = ControllerState(nodes=nodes, association=I1, observed=True)
        for phase, stale in product((0, 1), (False, True) if self.bound.stale else (False,)):
            # A long-running monitor whose cached copy is (stale) or is not yet (a read) the store's.
            monitor = Prober("monitor", phase, cache=(store, 1, -100.0) if stale else None)
            probers = (monitor,) + ((Prober("observer", 1 - phase),) if self.bound.observer else ())
            for healthy in (True, False):
                world = World(0, healthy, 0, store, 1, I1, probers, (), True, 0, ("up", "up"), 0)
                yield f"monitor phase {phase}, {'cached' if stale else 'no'} copy, node1 {_h(healthy)}", world

    def successors(self, world: World) -> Iterator[tuple[str, World]]:
        """Everything that can happen in tick `world.tick`, then the world at the next tick."""
        for start_fresh in (
            (False, True) if sum(p.name.startswith("fresh") for p in world.probers) < self.bound.fresh else (False,)
        ):
            probers = world.probers
            label = []
            if start_fresh:
                probers = (*probers, Prober(f"fresh{len(probers)}", world.tick))
                label.append(f"fresh prober starts (cold) at tick {world.tick}")
            probed = []
            new_recent = list(world.recent)
            for index, prober in enumerate(probers):
                if prober.ended or world.tick < prober.start or (world.tick - prober.start) % 2:
                    continue
                at = world.tick * TICK
                verdicts = {
                    "node1": Verdict(world.healthy, "HTTP 200" if world.healthy else "refused"),
                    "node2": Verdict(True, "HTTP 200"),
                }
                runs, _ = prober.runs.extend_verdicts(verdicts, at, self.settings)
                probes = (*prober.probes, (world.tick, world.healthy))[-(self.bound.fall + 1) :]
                probers = _put(probers, index, replace(prober, runs=runs, probes=probes))
                probed.append(index)
                new_recent.append((world.tick, world.healthy))
            recent = tuple(sorted(new_recent))[-6:]
            base = replace(world, probers=probers, recent=recent)
            due = [i for i, p in enumerate(probers) if p.pending is not None] + probed
            for order in permutations(due):
                for defers in product((False, True), repeat=len(order)):
                    if any(d and i not in probed for i, d in zip(order, defers, strict=True)):
                        continue  # a deferred commit is not deferred twice
                    for stales in product((False, True) if self.bound.stale else (False,), repeat=len(order)):
                        yield from self._commits(base, order, defers, stales, probed, label)

    def _commits(
        self,
        world: World,
        order: tuple[int, ...],
        defers: tuple[bool, ...],
        stales: tuple[bool, ...],
        probed: list[int],
        label: list[str],
    ) -> Iterator[tuple[str, World]]:
        steps = list(label)
        for index, defer, stale in zip(order, defers, stales, strict=True):
            prober = world.probers[index]
            probe = (world.tick, world.healthy) if index in probed else prober.pending
            assert probe is not None
            if defer:
                world = replace(world, probers=_put(world.probers, index, replace(prober, pending=probe)))
                steps.append(f"{prober.name} probes node1 {_h(probe[1])}, commits next tick")
                continue
            if stale and (prober.cache is None or prober.cache[1] == world.version):
                return  # nothing cached, or the cache is the store's version: the fresh read's branch
            action = (
                f"{prober.name} commits its probe of tick {probe[0]} (node1 {_h(probe[1])}) "
                f"on {'its cached copy' if stale else 'a fresh read'}"
            )
            try:
                world = self._commit(world, index, probe, stale)
            except Violation as violation:
                raise Violation(violation.kind, str(violation), (*steps, action)) from None
            steps.append(
                f"{prober.name} commits its probe of tick {probe[0]} (node1 {_h(probe[1])}) "
                f"on {'its cached copy' if stale else 'a fresh read'}"
            )
        yield from self._end_tick(world, steps)

    def _commit(self, world: World, index: int, probe: tuple[int, bool], stale: bool) -> World:
        prober = replace(world.probers[index], pending=None)
        tick, healthy = probe
        verdicts = {"node1": Verdict(healthy, "HTTP 200" if healthy else "refused"), "node2": Verdict(True, "HTTP 200")}
        # The runs as they were extended at the probe (the controller attaches them right after probing).
        attached = {node: replace(v, run=prober.runs.runs[node].times) for node, v in verdicts.items()}
        cache = prober.cache if stale and prober.cache is not None else (world.store, world.version, _ok_at(world))
        now = world.tick * TICK
        for _attempt in range(10):
            state, version, ok_at = cache
            ctx = Context(self.settings, now, prober.name, failing_in(attached))
            recorded = record_probes(state, attached, ctx, tick * TICK)
            decision = decide(recorded, world.association, ctx, move_id=f"{prober.name}@{world.tick}")
            if decision.state == state:
                break
            if version != world.version:
                cache = (world.store, world.version, _ok_at(world))  # conflict: read again, decide again
                continue
            self._check_fall(world, state, decision.state, prober, ok_at, tick)
            world = self._write(world, decision.state)
            if decision.move is not None:
                world = self._move(world, decision.move.id, decision.move.target, prober.name)
            cache = (world.store, world.version, _ok_at(world))
            break
        else:
            raise Violation("settle", f"{prober.name}: the commit never settled")
        return replace(world, probers=_put(world.probers, index, replace(prober, cache=cache)))

    def _write(self, world: World, state: ControllerState) -> World:
        epoch = (state.health("node1").status, state.health("node2").status)
        moves = world.moves_in_epoch if epoch == world.epoch else 0
        return replace(world, store=state, version=world.version + 1, epoch=epoch, moves_in_epoch=moves)

    def _move(self, world: World, move_id: str, target: str, actor: str) -> World:
        holder = "node1" if world.association == I1 else "node2"
        if world.store.health(holder).status != "down" and target != holder:
            status = world.store.health(holder).status
            if not (world.store.health(target).status == "up" and world.store.health(holder).status == "up"):
                raise Violation("move", f"{actor} moved the EIP off {holder} ({status}) to {target}")
        if world.moves_in_epoch >= 1:
            raise Violation("one-move", f"{actor} started a second move in one decision epoch {world.epoch}")
        association = I1 if target == "node1" else I2
        state, _ = complete_move(
            world.store, move_id, association, None, Context(self.settings, world.tick * TICK, actor)
        )
        world = replace(world, association=association, moves_in_epoch=world.moves_in_epoch + 1)
        return replace(self._write(world, state), moves_in_epoch=world.moves_in_epoch)

    def _check_fall(
        self, world: World, before: ControllerState, after: ControllerState, prober: Prober, ok_at: float, tick: int
    ) -> None:
        if not (before.health("node1").status == "up" and after.health("node1").status == "down"):
            return
        fall = self.bound.fall
        if world.blip_world:
            raise Violation(
                "blips", f"{prober.name} took node1 down in a world of blips shorter than {fall - 1} interval(s)"
            )
        own = [p for p in prober.probes if p[0] <= tick][-fall:]
        if len(own) < fall or not all(not ok for _, ok in own):
            raise Violation("fall", f"{prober.name} took node1 down without {fall} failures of its own: {own}")
        if any(t * TICK <= ok_at for t, _ in own):
            raise Violation(
                "fall", f"{prober.name} took node1 down counting failures older than a recorded success at {ok_at}"
            )
        span = (own[-1][0] - own[0][0]) * TICK
        if span < (fall - 1) * self.settings.interval_seconds * SPAN_TOLERANCE:
            raise Violation("fall", f"{prober.name} took node1 down on failures spanning {span}s")
        first = own[0][0]
        if any(ok and first < t < tick for t, ok in world.recent):
            self.unseen += 1

    def _end_tick(self, world: World, steps: list[str]) -> Iterator[tuple[str, World]]:
        fall_ticks = 2 * (self.bound.fall - 1)
        lasted = world.period + 1
        if not world.healthy and lasted >= 2 * self.bound.fall + 2 and world.store.health("node1").status != "down":
            raise Violation(
                "live", f"node1 failing for {world.period + 1} ticks and still {world.store.health('node1').status}"
            )
        # The fresh probers that may end now (after at least one probe), in every combination, and the
        # monitor's hand-off to a scheduled successor.
        endable = [
            i
            for i, p in enumerate(world.probers)
            if p.name.startswith("fresh") and not p.ended and not p.chain and p.probes and p.pending is None
        ]
        for ends, handoff in product(product((False, True), repeat=len(endable)), self._handoffs(world)):
            probers = world.probers
            ended = []
            if handoff is not None:
                if handoff in [i for i, end in zip(endable, ends, strict=True) if end]:
                    continue
                probers = _put(probers, handoff, replace(probers[handoff], chain=True))
                probers = _put(probers, 0, replace(probers[0], ended=True))
                ended.append(f"monitor (handing over to {probers[handoff].name})")
            for index, end in zip(endable, ends, strict=True):
                if end:
                    probers = _put(probers, index, replace(probers[index], ended=True))
                    ended.append(probers[index].name)
            for healthy in (world.healthy, not world.healthy):
                changes = world.changes + (healthy != world.healthy)
                if changes > self.bound.changes:
                    continue
                period = world.period + 1 if healthy == world.healthy else 0
                blip = world.blip_world
                if healthy == world.healthy:
                    if not healthy and period >= fall_ticks:
                        blip = False  # a failure of (FallThreshold - 1) intervals: a real one
                elif not healthy and world.period + 1 < 2 and world.changes > 0:
                    blip = False  # a success shorter than one interval between two failures
                nxt = replace(
                    world,
                    tick=world.tick + 1,
                    healthy=healthy,
                    changes=changes,
                    probers=probers,
                    period=period,
                    blip_world=blip,
                )
                words = steps + ([f"{', '.join(ended)} end(s)"] if ended else [])
                words.append(f"tick {world.tick + 1}: node1 {_h(healthy)}")
                yield "; ".join(words), nxt

    def _handoffs(self, world: World) -> list[int | None]:
        """None (no hand-off), or each fresh prober the monitor may hand over to now: one that has
        committed (registered), while the monitor has no failure run in progress (monitor_loop)."""
        monitor = world.probers[0]
        if monitor.ended or monitor.pending is not None:
            return [None]
        seen = monitor.cache[0] if monitor.cache is not None else None
        failing = monitor.runs.falling("node1", self.bound.fall) and (
            seen is None or seen.health("node1").status != "down"
        )
        if failing and not faults.active(faults.STREAK_BY_TIME_GAP):
            return [None]
        return [None] + [
            i
            for i, p in enumerate(world.probers)
            if p.name.startswith("fresh") and not p.ended and p.cache is not None and p.pending is None
        ]


def _ok_at(world: World) -> float:
    return world.store.health("node1").last_ok_at or float("-inf")


def _put(probers: tuple[Prober, ...], index: int, prober: Prober) -> tuple[Prober, ...]:
    return (*probers[:index], prober, *probers[index + 1 :])


def _h(healthy: bool) -> str:
    return "answers" if healthy else "fails"


@dataclass
class Result:
    bound: Bound
    states: int
    seconds: float
    unseen: int
    # invariant -> (what broke, the shortest trace to it): the first found of each kind, breadth-first
    violations: dict[str, tuple[str, list[str]]]


def check(bound: Bound, *, every_kind: bool = False) -> Result:
    """Breadth-first over ticks: every reachable world up to `bound.ticks`, deduplicated. Stops at the
    first violation, or with `every_kind` goes on to find the shortest trace of each invariant broken."""
    checker = Checker(bound, settings_for(bound))
    started = time.monotonic()
    parents: dict[tuple[object, ...], tuple[tuple[object, ...] | None, str]] = {}
    frontier: dict[tuple[object, ...], World] = {}
    for label, world in checker.initial():
        key = world.key()
        parents[key] = (None, label)
        frontier[key] = world
    states = len(frontier)
    violations: dict[str, tuple[str, list[str]]] = {}
    for _tick in range(bound.ticks):
        nxt: dict[tuple[object, ...], World] = {}
        for key, world in frontier.items():
            try:
                for label, child in checker.successors(world):
                    child_key = child.key()
                    if child_key not in parents:
                        parents[child_key] = (key, label)
                        nxt[child_key] = child
            except Violation as violation:
                if violation.kind not in violations:
                    trace = [*_trace(parents, key), "; ".join(violation.steps)]
                    violations[violation.kind] = (str(violation), trace)
                if not every_kind:
                    return Result(bound, states, time.monotonic() - started, checker.unseen, violations)
        frontier = nxt
        states += len(nxt)
    return Result(bound, states, time.monotonic() - started, checker.unseen, violations)


def _trace(
    parents: dict[tuple[object, ...], tuple[tuple[object, ...] | None, str]], key: tuple[object, ...] | None
) -> list[str]:
    steps: list[str] = []
    while key is not None:
        parent, label = parents[key]
        steps.append(label)
        key = parent
    return steps[::-1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m nginx_eip_failover_sim.model_check", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--deep", action="store_true", help="the deeper bound (make model-check)")
    parser.add_argument("--fault", choices=faults.KNOWN, help="re-inject a past defect; expect a violation")
    args = parser.parse_args(argv)
    bounds = (FAULT_BOUND,) if args.fault else DEEP_BOUNDS if args.deep else CI_BOUNDS
    failed = False
    with faults.injected(*([args.fault] if args.fault else [])):
        for bound in bounds:
            result = check(bound, every_kind=bool(args.fault))
            print(
                f"{'VIOLATION' if result.violations else 'ok'}: FallThreshold {bound.fall}, {bound.ticks} ticks of "
                f"{TICK}s, <= {bound.changes} health changes, <= {bound.fresh} fresh probers"
                f"{', an observer' if bound.observer else ''}: {result.states} states in {result.seconds:.1f}s; "
                f"downs with an unwritten success inside their window: {result.unseen}"
            )
            for kind, (message, trace) in sorted(result.violations.items()):
                failed = True
                print(f"  [{kind}] {message}\n  shortest trace ({len(trace)} ticks):")
                for step in trace:
                    print(f"    - {step}")
            if failed and args.fault:
                break
    if args.fault:
        print("the re-injected fault was caught" if failed else "the re-injected fault was NOT caught")
        return 0 if failed else 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
