"""Reliability: a primary that flaps, in deterministic patterns, through the pure decision core.

The bound (docs/decision-rules.md): every failover needs a holder that went down and every
failback needs a failover (or the first placement) before it, so for any probe sequence
    moves <= nodes x (holder failures + 1)
and failbacks are at least MinSecondsBetweenMoves after the move before them. Damping (a node that
went down FlapSuppressThreshold times within FlapWindowSeconds is never a failback target) stops
the failback/failover pairs of a node that keeps flapping. Random sequences are checked by
test_properties.py::test_moves_are_bounded_by_holder_failures; these are the named patterns, with
the exact number of moves each one makes.
"""

from __future__ import annotations

import itertools

import pytest
from test_properties import Run, _simulate

from nginx_eip_failover.core.config import Settings
from support.core_builders import settings, three_nodes

F, T = False, True
CYCLE = 1.0  # seconds between probe cycles (HealthCheckIntervalSeconds at its default)
DEFAULTS = settings()  # fall 3, rise 2, preempt delay 60 s, 30 s between moves, damping 3 in 300 s


def pattern(node1: list[bool], repeat: int, *, steady: int = 3) -> list[tuple[float, list[bool], None]]:
    """`steady` good cycles (the EIP is placed on node1), then node1's probe results `node1` repeated
    `repeat` times; every other node answers every probe."""
    sequence = [(CYCLE, [T, T, T], None)] * steady
    for _ in range(repeat):
        sequence += [(CYCLE, [ok, T, T], None) for ok in node1]
    return sequence


def assert_within_bound(cfg: Settings, run: Run) -> None:
    assert len(run.moves) <= len(cfg.nodes) * (run.holder_downs + 1)
    for (before, _, _), (at, kind, _) in itertools.pairwise(run.moves):
        if kind == "preempt":
            assert at - before >= cfg.min_seconds_between_moves
    failovers = sum(1 for _, kind, _ in run.moves if kind == "failover")
    assert failovers <= run.holder_downs


# (id, settings, node1's probe pattern, repetitions, expected moves, expected holder failures)
PATTERNS = [
    # every probe flips: node1 never fails FallThreshold probes in a row, so it never goes down
    ("every-probe", DEFAULTS, [F, T], 300, 1, 0),
    # every probe flips with FallThreshold 1: down at once, and never RiseThreshold good probes in a row
    ("every-probe-fall-1", settings(fall_threshold=1), [F, T], 300, 2, 1),
    # bursts of failures shorter than FallThreshold: never down
    ("bursts-shorter-than-fall", DEFAULTS, [F, F, T], 200, 1, 0),
    ("bursts-shorter-than-fall-3-nodes", three_nodes(), [F, F, T, T], 150, 1, 0),
    # bursts longer than FallThreshold, up again sooner than the preempt delay: one failover, no failback
    ("bursts-longer-than-fall", DEFAULTS, [F, F, F, F, T, T, T, T, T, T], 60, 2, 1),
    # down for long, then good probes in bursts shorter than RiseThreshold: never up again, no failback
    ("bursts-shorter-than-rise", DEFAULTS, [F] * 4 + [T, F] * 100, 1, 2, 1),
    # slow oscillation: up for just under the preempt delay (58 s) each time: never a failback
    ("slow-just-under-preempt-delay", DEFAULTS, [F] * 5 + [T] * 58, 10, 2, 1),
    # just over it (up 70 s): failback, failover, ... until node1 has flapped 3 times in 300 s: damped
    ("slow-just-over-preempt-delay", DEFAULTS, [F] * 5 + [T] * 70, 10, 6, 3),
    # the same without damping: a failback and a failover per period, still within the bound
    ("slow-just-over-no-damping", settings(flap_window_seconds=0.0), [F] * 5 + [T] * 70, 10, 21, 10),
    # a short preempt delay but MinSecondsBetweenMoves 30 s: each failback waits 30 s after the failover
    (
        "preempt-delay-shorter-than-min-between-moves",
        settings(preempt_delay_seconds=10.0, min_seconds_between_moves=30.0, flap_window_seconds=0.0),
        [F] * 4 + [T] * 20,
        20,
        21,
        10,
    ),
    # without Preempt: the first failover is the last move
    ("slow-oscillation-no-preempt", settings(preempt=False), [F] * 5 + [T] * 70, 10, 2, 1),
    # three nodes: node1 (150) flaps, node3 (120) takes over, node2 (100) never gets it
    ("slow-just-over-three-nodes", three_nodes(), [F] * 5 + [T] * 70, 10, 6, 3),
]


@pytest.mark.parametrize(
    ("cfg", "node1", "repeat", "moves", "holder_downs"),
    [case[1:] for case in PATTERNS],
    ids=[case[0] for case in PATTERNS],
)
def test_a_flapping_primary_moves_the_eip_a_bounded_number_of_times(
    cfg: Settings, node1: list[bool], repeat: int, moves: int, holder_downs: int
) -> None:
    run = _simulate(cfg, pattern(node1, repeat), None)  # asserts invariants 1, 2, 3 and 5 on every move
    assert (len(run.moves), run.holder_downs) == (moves, holder_downs), run.moves
    assert run.moves[0][1:] == ("place", "node1")
    assert_within_bound(cfg, run)


def test_damping_caps_failbacks_however_long_the_primary_keeps_flapping() -> None:
    """Flapping for 10 hours (up 70 s, down 5 s): with damping the failbacks stop after the third
    flap and never resume while node1 keeps flapping; without damping there is one pair per period."""
    period = [F] * 5 + [T] * 70
    repeat = 10 * 3600 // len(period)
    damped = _simulate(DEFAULTS, pattern(period, repeat), None)
    undamped = _simulate(settings(flap_window_seconds=0.0), pattern(period, repeat), None)
    assert len(damped.moves) == 6
    assert len(undamped.moves) == 2 * repeat + 1
    assert_within_bound(DEFAULTS, damped)
    assert_within_bound(DEFAULTS, undamped)


def test_the_standby_flapping_never_moves_the_eip() -> None:
    """node2 (the standby) flaps in every pattern above while node1 holds the EIP: no move at all."""
    for _, cfg, node2, repeat, _, _ in PATTERNS:
        sequence = [(CYCLE, [T, T, T], None)] * 3
        sequence += [(CYCLE, [T, ok, T], None) for _ in range(repeat) for ok in node2]
        run = _simulate(cfg, sequence, None)
        assert [kind for _, kind, _ in run.moves] == ["place"]
