"""One HTTP probe per node per fleet cycle, however many groups (address sets) the node serves.

Active/active puts two or more address sets on the same nodes, each a group with its own state
item, hysteresis and decision. Each group probing its nodes on its own would multiply the probes a
node answers (and the threads and the time a cycle spends) by the number of sets. Inside one fleet
cycle (`ProbeRounds.cycle`), the first group to probe a set of node URLs probes them; every other
group probing the same URLs in that cycle waits for those results and reads them under its own node
names. Each group still counts its own runs (the controller's `ProbeRuns`), so hysteresis stays per
set, fed the same probes.

Only a cycle's first probe is shared: a group's second probe in one cycle (the re-check of an aged
move before EC2 is called) must be fresh, so it probes on its own. Outside a cycle (an operator's
request, whose probes are cut to its time) nothing is shared.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import replace

from nginx_eip_failover.core.config import NodeConfig
from nginx_eip_failover.core.ports import Observation, Prober
from nginx_eip_failover.core.probe_auth import ProbeAuth

# The results of one round, by URL: whose node name a group reads them under is its own.
_ByUrl = dict[str, Observation]
_Key = tuple[str, float, frozenset[str], ProbeAuth | None]


class ProbeRounds:
    """The probes of the fleet cycle in progress, shared by the groups that probe the same nodes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._round = 0
        self._open = False
        self._results: dict[_Key, Future[_ByUrl]] = {}
        self.probes_sent = 0  # node probes sent by rounds (tests read it: one per node per cycle)

    @contextmanager
    def cycle(self) -> Iterator[None]:
        with self._lock:
            self._round += 1
            self._open = True
            self._results = {}
        try:
            yield
        finally:
            with self._lock:
                self._open = False
                self._results = {}

    def current(self) -> int | None:
        """The open round's number, or None between cycles."""
        with self._lock:
            return self._round if self._open else None

    def shared(self, key: _Key, probe: Prober, urls: dict[str, str]) -> _ByUrl:
        """`probe`'s results by URL, probed once in this round whoever asks first."""
        with self._lock:
            future = self._results.get(key) if self._open else None
            owner = future is None
            if future is None:
                future = Future()
                if self._open:
                    self._results[key] = future
        if not owner:
            return future.result()
        try:
            observations = probe.probe_all(None)
        except BaseException as exc:
            future.set_exception(exc)
            raise
        by_url = {urls[o.node]: o for o in observations if o.node in urls}
        with self._lock:
            self.probes_sent += len(observations)
        future.set_result(by_url)
        return by_url


class SharedProber:
    """A group's Prober whose cycle probe is shared with every group probing the same node URLs."""

    def __init__(
        self,
        prober: Prober,
        nodes: Sequence[NodeConfig],
        rounds: ProbeRounds,
        *,
        observer: str,
        timeout_seconds: float,
        auth: ProbeAuth | None = None,
    ) -> None:
        self._prober = prober
        self._nodes = tuple(nodes)
        self._rounds = rounds
        self._urls = {node.name: node.health_check_url for node in self._nodes}
        # Groups share only probes that would be the same: from one observer, with one timeout (the
        # stack's today), of the same URLs, with the same credentials (a group's health_check_auth).
        self.key: _Key = (observer, timeout_seconds, frozenset(self._urls.values()), auth)
        self._used_round: int | None = None

    def probe_all(self, budget_seconds: float | None = None) -> list[Observation]:
        current = self._rounds.current()
        if budget_seconds is not None or current is None or current == self._used_round:
            return self._prober.probe_all(budget_seconds)
        self._used_round = current
        by_url = self._rounds.shared(self.key, self._prober, self._urls)
        return [replace(by_url[node.health_check_url], node=node.name) for node in self._nodes]
