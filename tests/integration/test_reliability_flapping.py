"""Reliability: a primary flapping on real nginx while one monitor invocation keeps probing. The exact
counts per pattern are tested in the pure core (tests/unit/test_reliability_flapping_core.py); here the
timing is real, so only the bound is asserted: moves <= nodes x (holder failures + 1), failbacks at
least MinSecondsBetweenMoves after the move before them, one AssociateAddress per move."""

from __future__ import annotations

import itertools
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from support.lab_driving import LabFactory, cycle, loop_for, place_on_node1

pytestmark = pytest.mark.integration

MIN_BETWEEN_MOVES = 1.0


def test_a_primary_flapping_on_real_nginx_stays_within_the_bound(make_lab: LabFactory) -> None:
    lab = make_lab(PreemptDelaySeconds="2", MinSecondsBetweenMoves=f"{MIN_BETWEEN_MOVES:g}")
    place_on_node1(lab)
    cycle(lab)
    assert lab.proxy is not None
    lab.proxy.reset()
    history_from = len(lab.history())
    node1 = lab.nodes["node1"]
    # WHEN node1's nginx is stopped and started in a pattern while one invocation keeps probing every
    # 0.3 s (FallThreshold 3, RiseThreshold 2, PreemptDelaySeconds 2): three outages shorter than
    # FallThreshold probes (no move), a long one followed by more than the preempt delay up (failover,
    # failback), a long one followed by less (failover only): typically 3 moves for 2 holder failures
    with ThreadPoolExecutor(max_workers=1) as pool:
        probing = pool.submit(loop_for, lab, 11.0)
        time.sleep(1.0)  # the invocation's cold start
        for down, up in [(0.3, 0.6), (0.3, 0.6), (0.3, 0.6), (2.0, 3.5), (2.0, 0.8)]:
            node1.stop()
            time.sleep(down)
            node1.start()
            time.sleep(up)
        probing.result()
    # THEN the moves stay within the bound, computed from the history
    entries = lab.history()[history_from:]
    holder, holder_failures, completed = "node1", 0, []
    for entry in entries:
        if entry["event"] == "node_down" and entry["node"] == holder:
            holder_failures += 1
        if entry["event"] == "move_completed":
            completed.append(entry)
            holder = entry["node"]
    assert holder_failures >= 1, entries  # the long outages were noticed
    assert len(completed) <= len(lab.nodes) * (holder_failures + 1)
    # AND every failback came MinSecondsBetweenMoves or more after the move before it
    for before, after in itertools.pairwise(completed):
        if after["reason"].startswith("preempt"):
            started = next(
                e for e in entries if e["event"] == "move_started" and e["detail"]["id"] == after["detail"]["id"]
            )
            assert started["at"] - before["at"] >= MIN_BETWEEN_MOVES
    # AND each move was one AssociateAddress, and the state agrees with the EIP
    assert lab.proxy.count("AssociateAddress") == len(lab.proxy.calls("AssociateAddress")) == len(completed)
    assert len(lab.history("move_started")) == len(lab.history("move_completed"))
    state = lab.state()
    assert state["move"] is None and state["association"] == lab.eip_instance()
    assert lab.holder() == holder
