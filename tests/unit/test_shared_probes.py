"""Active/active: groups on the same nodes share one probe per node per fleet cycle."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from nginx_eip_failover.core.config import NodeConfig
from nginx_eip_failover.core.ports import Observation
from nginx_eip_failover.service.shared_probes import ProbeRounds, SharedProber

URL1, URL2, URL3 = "http://127.0.0.1:1/health", "http://127.0.0.1:2/health", "http://127.0.0.1:3/health"


class CountingProber:
    """Answers node1 ok and node2 failing (by URL), counting every probe_all."""

    def __init__(self, nodes: Sequence[NodeConfig], gate: threading.Event | None = None) -> None:
        self.nodes = tuple(nodes)
        self.calls: list[float | None] = []
        self._gate = gate

    def probe_all(self, budget_seconds: float | None = None) -> list[Observation]:
        self.calls.append(budget_seconds)
        if self._gate is not None:
            self._gate.wait(5)
        return [
            Observation(node.name, node.health_check_url != URL2, node.health_check_url, 1.0) for node in self.nodes
        ]


# Set A prefers the instance at URL1, set B the one at URL2: the same two nodes, named in each
# group's own order.
A_NODES = (NodeConfig("node1", "i-1", URL1, 101), NodeConfig("node2", "i-2", URL2, 100))
B_NODES = (NodeConfig("node1", "i-2", URL2, 101), NodeConfig("node2", "i-1", URL1, 100))


def shared(nodes: Sequence[NodeConfig], rounds: ProbeRounds, gate: threading.Event | None = None) -> SharedProber:
    return SharedProber(CountingProber(nodes, gate), nodes, rounds, observer="local", timeout_seconds=1.0)


def inner(prober: SharedProber) -> CountingProber:
    return prober._prober  # type: ignore[return-value]


def test_two_sets_on_one_pair_probe_each_node_once_per_cycle_and_read_it_under_their_own_names() -> None:
    rounds = ProbeRounds()
    gate = threading.Event()
    a, b = shared(A_NODES, rounds, gate), shared(B_NODES, rounds, gate)
    with rounds.cycle(), ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(a.probe_all), pool.submit(b.probe_all)]
        gate.set()
        seen_a, seen_b = (future.result() for future in futures)
    assert len(inner(a).calls) + len(inner(b).calls) == 1
    assert rounds.probes_sent == 2  # one per node, not one per node per set
    assert {o.node: (o.ok, o.detail) for o in seen_a} == {"node1": (True, URL1), "node2": (False, URL2)}
    assert {o.node: (o.ok, o.detail) for o in seen_b} == {"node1": (False, URL2), "node2": (True, URL1)}


def test_each_cycle_probes_again() -> None:
    rounds = ProbeRounds()
    a, b = shared(A_NODES, rounds), shared(B_NODES, rounds)
    for _ in range(3):
        with rounds.cycle():
            a.probe_all()
            b.probe_all()
    assert len(inner(a).calls) == 3
    assert inner(b).calls == []
    assert rounds.probes_sent == 6


def test_a_second_probe_in_one_cycle_is_fresh() -> None:
    # The re-check of an aged move before EC2 is called must see the node now, not the cycle's probe.
    rounds = ProbeRounds()
    a, b = shared(A_NODES, rounds), shared(B_NODES, rounds)
    with rounds.cycle():
        a.probe_all()
        b.probe_all()
        b.probe_all()
        a.probe_all()
    assert (len(inner(a).calls), len(inner(b).calls)) == (2, 1)


def test_nothing_is_shared_outside_a_cycle_or_for_a_budgeted_probe() -> None:
    rounds = ProbeRounds()
    a, b = shared(A_NODES, rounds), shared(B_NODES, rounds)
    a.probe_all()
    b.probe_all()
    with rounds.cycle():
        a.probe_all(2.5)  # an operator's request: cut to its own time
        b.probe_all(2.5)
    assert (inner(a).calls, inner(b).calls) == ([None, 2.5], [None, 2.5])


def test_groups_on_other_nodes_or_timeouts_do_not_share() -> None:
    rounds = ProbeRounds()
    a = shared(A_NODES, rounds)
    other_nodes = (NodeConfig("node1", "i-1", URL1, 101), NodeConfig("node2", "i-3", URL3, 100))
    other = shared(other_nodes, rounds)
    slower = SharedProber(CountingProber(B_NODES), B_NODES, rounds, observer="local", timeout_seconds=2.0)
    with rounds.cycle():
        for prober in (a, other, slower):
            prober.probe_all()
    assert [len(inner(p).calls) for p in (a, other, slower)] == [1, 1, 1]


def test_a_probe_that_raises_reaches_every_group_waiting_for_it() -> None:
    rounds = ProbeRounds()

    class Broken(CountingProber):
        def probe_all(self, budget_seconds: float | None = None) -> list[Observation]:
            raise RuntimeError("prober broke")

    a = SharedProber(Broken(A_NODES), A_NODES, rounds, observer="local", timeout_seconds=1.0)
    b = shared(B_NODES, rounds)
    with rounds.cycle():
        for prober in (a, b):
            try:
                prober.probe_all()
            except RuntimeError as exc:
                assert str(exc) == "prober broke"
            else:
                raise AssertionError("the failure must reach both groups")
    assert inner(b).calls == []
