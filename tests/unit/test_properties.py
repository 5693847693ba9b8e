"""Properties of the decision core over random probe sequences, drift and racing deciders."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace

from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from nginx_eip_failover.core.config import Settings
from nginx_eip_failover.core.decision import Context, Verdict, complete_move, decide, is_eligible
from nginx_eip_failover.core.state import ControllerState
from support.core_builders import FOREIGN, I1, I2, PROBERS, new_world, primed, recorded, settings, three_nodes

configs = st.builds(
    lambda fall, rise, preempt, delay, gap, window, three: (three_nodes if three else settings)(
        fall_threshold=fall,
        rise_threshold=rise,
        preempt=preempt,
        preempt_delay_seconds=delay,
        min_seconds_between_moves=gap,
        flap_window_seconds=window,
    ),
    fall=st.integers(1, 4),
    rise=st.integers(1, 4),
    preempt=st.booleans(),
    delay=st.sampled_from([0.0, 1.0, 5.0, 30.0]),
    gap=st.sampled_from([0.0, 2.0, 10.0]),
    window=st.sampled_from([0.0, 20.0, 300.0]),
    three=st.booleans(),
)
cycles = st.lists(
    st.tuples(
        st.sampled_from([0.25, 1.0, 3.0]),  # time since the previous cycle
        st.lists(st.booleans(), min_size=3, max_size=3),  # probe result per node
        st.sampled_from([None, None, None, None, None, None, None, "unassociate", I1, I2, FOREIGN]),  # drift
    ),
    min_size=1,
    max_size=80,
)


@dataclass
class Run:
    moves: list[tuple[float, str, str]] = field(default_factory=list)  # (time, kind, target)
    holder_downs: int = 0


def _simulate(cfg: Settings, sequence: list, association: str | None) -> Run:
    new_world()
    run = Run()
    current = ControllerState()
    now = 1000.0
    for dt, oks, drift in sequence:
        now += dt
        if drift is not None:
            association = None if drift == "unassociate" else drift
        verdicts = {node.name: Verdict(ok, "ok" if ok else "fail") for node, ok in zip(cfg.nodes, oks, strict=False)}
        before = recorded(current, verdicts, Context(cfg, now, "t"))
        holder = cfg.node_by_instance(association)
        if holder and current.health(holder.name).status == "up" and before.health(holder.name).status == "down":
            run.holder_downs += 1
        decision = decide(before, association, Context(cfg, now, "t"), move_id=f"m{now}")
        current = decision.state
        if decision.move is None:
            continue
        target = decision.move.target
        # Invariant 1: only to an up, undrained node.
        assert before.health(target).status == "up"
        assert is_eligible(before, target)
        # Invariant 5: never away from a foreign instance on the monitor's own initiative.
        assert association is None or holder is not None
        kind = "place" if holder is None else "failover"
        # A holder that is up and undrained leaves only by preemption (its latest probe may have failed:
        # it is then not eligible to *receive* the EIP, but it is not down either).
        if holder is not None and before.health(holder.name).status == "up" and holder.name not in before.drains:
            kind = "preempt"
            # Invariants 2 and 3: an up holder loses the EIP only to a higher priority, with Preempt,
            # after the preempt delay and the minimum time between moves.
            assert cfg.preempt
            assert cfg.node(target).priority > holder.priority
            since = before.health(target).since
            assert since is not None
            assert now - since >= cfg.preempt_delay_seconds
            if before.last_move_at is not None:
                assert now - before.last_move_at >= cfg.min_seconds_between_moves
        run.moves.append((now, kind, target))
        association = cfg.node(decision.move.target).instance_id
        current = complete_move(current, decision.move.id, association, None, Context(cfg, now, "t"))[0]
    return run


@hyp_settings(max_examples=400, deadline=None)
@given(cfg=configs, sequence=cycles, start=st.sampled_from([None, I1, I2]))
def test_random_probe_sequences_respect_the_invariants(cfg: Settings, sequence: list, start: str | None) -> None:
    _simulate(cfg, sequence, start)


@hyp_settings(max_examples=300, deadline=None)
@given(
    cfg=configs,
    sequence=st.lists(
        st.tuples(st.sampled_from([0.25, 1.0, 3.0]), st.lists(st.booleans(), min_size=3, max_size=3), st.none()),
        max_size=80,
    ),
)
def test_moves_are_bounded_by_holder_failures(cfg: Settings, sequence: list) -> None:
    """Without drift: every failover needs a holder that went down, and every preemption needs a
    holder that is not the best node, which only a failover (or the first placement) creates. With
    n nodes a chain of preemptions climbs the priorities, so moves <= n * (holder downs + 1)."""
    run = _simulate(cfg, sequence, None)
    failovers = sum(1 for _, kind, _ in run.moves if kind == "failover")
    assert failovers <= run.holder_downs
    assert len(run.moves) <= len(cfg.nodes) * (run.holder_downs + 1)
    preemptions = [at for at, kind, _ in run.moves if kind == "preempt"]
    assert all(b - a >= cfg.min_seconds_between_moves for a, b in itertools.pairwise(preemptions))


@dataclass
class VersionedStore:
    """An in-memory conditional-write store, the semantics the DynamoDB adapter gives."""

    state: ControllerState
    version: int = 1

    def save(self, new: ControllerState, expected: int) -> bool:
        if expected != self.version:
            return False
        self.state, self.version = new, self.version + 1
        return True


@hyp_settings(max_examples=200, deadline=None)
@given(racers=st.integers(2, 16), order=st.randoms(use_true_random=False))
def test_racing_deciders_make_one_move_per_decision(racers: int, order) -> None:
    cfg = settings()
    failing = ControllerState(
        nodes={"node1": replace(_up(cfg), fail_streak=cfg.fall_threshold - 1), "node2": _up(cfg)},
        association=I1,
        observed=True,
    )
    new_world()
    store = VersionedStore(failing)
    snapshots = [(store.state, store.version) for _ in range(racers)]
    moves = 0
    pending = list(range(racers))
    order.shuffle(pending)
    while pending:
        racer = pending.pop(0)
        seen, version = snapshots[racer]
        # Each racer is a prober that saw the stored failures itself and now sees the last one.
        actor = f"r{racer}"
        if actor not in PROBERS:
            primed(actor, cfg, "node1", cfg.fall_threshold - 1, 10.0 - cfg.interval_seconds)
        after = recorded(
            seen, {"node1": Verdict(False, "refused"), "node2": Verdict(True, "ok")}, Context(cfg, 10.0, actor)
        )
        decision = decide(after, I1, Context(cfg, 10.0, f"r{racer}"), move_id=f"m{racer}")
        if decision.state == seen:
            continue
        if store.save(decision.state, version):
            moves += decision.move is not None
        else:
            snapshots[racer] = (store.state, store.version)  # re-read and decide again
            pending.append(racer)
    assert moves == 1
    assert store.state.move is not None


def _up(cfg: Settings):
    from support.core_builders import up

    return up(0.0, cfg)
