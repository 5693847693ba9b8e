"""Found nodes in the service: each cycle's instances looked up (within a bound), and the probes
aimed at them.

`FoundNodes` sits between the controller and the real prober. `refresh` returns the settings with
every found node's instance filled in (core/found_nodes.choose_instances), describing at most once
per FIND_MAX_AGE_SECONDS, or at once when the stored state names another instance than the cached
one (another container saw a replacement first: two containers never argue over a node's instance
for longer than one describe). A found node with no instance in service is probed as a failure
without a request (there is nothing to probe), so it goes down like a node that stopped answering.
A node whose instance is terminating keeps it while the address is on it (the address is then the
node's, not a foreign instance's) and fails its probes, so the address leaves it after FallThreshold
even if the lifecycle function never runs.

When a describe fails, the last resolution is kept for up to STALE_FOR_AT_MOST_SECONDS; with none,
or an older one, the cycle fails (NodeFinderError): no decision is made on a node set not known.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from nginx_eip_failover.core.config import NodeConfig, Settings
from nginx_eip_failover.core.errors import NodeFinderError
from nginx_eip_failover.core.found_nodes import (
    NO_INSTANCE,
    choose_instances,
    instances_in,
    rebase_on_instances,
    resolved_nodes,
)
from nginx_eip_failover.core.ports import NodeFinderPort, Observation, Prober, Snapshot
from nginx_eip_failover.core.state import ControllerState
from nginx_eip_failover.observability import logger

# Auto Scaling replaces an instance in minutes; a 10 s bound costs one DescribeAutoScalingGroups
# and one DescribeInstances per 10 s per container (far inside EC2's and Auto Scaling's
# describe rate limits, a few calls a second each).
FIND_MAX_AGE_SECONDS = 10.0
STALE_FOR_AT_MOST_SECONDS = 120.0


class FoundNodes:
    """The found nodes' resolution, and the prober aimed at it (a `Prober` itself)."""

    def __init__(
        self,
        finder: NodeFinderPort,
        make_prober: Callable[[Sequence[NodeConfig]], Prober],
        *,
        monotonic: Callable[[], float] = time.monotonic,
        max_age_seconds: float = FIND_MAX_AGE_SECONDS,
        observer: str = "local",
    ) -> None:
        self._observer = observer
        self._finder = finder
        self._make_prober = make_prober
        self._monotonic = monotonic
        self._max_age = max_age_seconds
        self._nodes: tuple[NodeConfig, ...] | None = None
        self._found_at = 0.0
        self._prober: Prober | None = None
        # Set by `hold`: a node kept on an instance the finder no longer lists (a lifecycle hook's
        # terminating instance, while the address is taken off it).
        self._held: dict[str, str] = {}
        # The instances the stored state's health counted, as of the last refresh with a snapshot.
        self.known: dict[str, str | None] = {}
        self._holder: str | None = None  # where the stored state last saw the address
        # Called with the settings whenever the resolution changes (the decision log's settings).
        self.on_change: list[Callable[[Settings], None]] = []
        self._announced: tuple[NodeConfig, ...] | None = None
        self._leaving: dict[str, str] = {}  # node -> its terminating instance, kept while it holds the address

    def refresh(self, settings: Settings, snapshot: Snapshot | None = None) -> Settings:
        """`settings` with every found node's instance of this cycle. `snapshot`: the container's
        copy of the stored state, whose health names the instances it counts (one other than the
        cache's forces a describe)."""
        known = instances_in(snapshot.state, settings) if snapshot is not None else None
        if known is not None:
            self.known = known
        if snapshot is not None:
            self._holder = snapshot.state.association
        now = self._monotonic()
        cached = self._nodes
        stale = cached is None or now - self._found_at > self._max_age
        mine = {node.name: node.instance_id for node in cached or () if node.finder is not None}
        disagrees = any(
            instance is not None and name in mine and mine[name] != instance and name not in self._held
            for name, instance in (known or {}).items()
        )
        if stale or disagrees:
            try:
                self._resolve(settings.nodes, known or {})
            except NodeFinderError:
                if cached is None or now - self._found_at > STALE_FOR_AT_MOST_SECONDS:
                    raise
                logger.exception("cannot look the found nodes up; keeping the last resolution")
        assert self._nodes is not None
        resolved = replace(settings, nodes=self._nodes)
        if self._nodes != self._announced:
            self._announced = self._nodes
            for listener in self.on_change:
                listener(resolved)
        return resolved

    @staticmethod
    def rebased(state: ControllerState, settings: Settings, now: float, actor: str) -> ControllerState:
        """The rise rule (core/found_nodes.rebase_on_instances) on the state a decision starts from."""
        return rebase_on_instances(state, settings, now, actor)

    def hold(self, node: str, instance_id: str) -> None:
        """Keep `node` on `instance_id` in this container's resolution (lifecycle: the terminating
        holder stays a node of the pair until the address is off it)."""
        self._held[node] = instance_id
        if self._nodes is not None:
            self._set(tuple(replace(n, instance_id=instance_id) if n.name == node else n for n in self._nodes))

    def release(self, node: str) -> None:
        """End `hold`: the next refresh describes again and the node takes what is in service."""
        self._held.pop(node, None)
        self._found_at = float("-inf")

    def _resolve(self, configured: Sequence[NodeConfig], known: Mapping[str, str | None]) -> None:
        candidates = self._finder.candidates(configured)
        previous = {node.name: node.instance_id for node in self._nodes or ()}
        previous.update({name: instance for name, instance in known.items() if instance and name not in previous})
        chosen = choose_instances(configured, candidates, previous, self._holder)
        self._leaving = {name: c.instance_id for name, c in chosen.items() if c is not None and c.leaving}
        nodes = resolved_nodes(configured, chosen)
        nodes = tuple(replace(n, instance_id=self._held[n.name]) if n.name in self._held else n for n in nodes)
        if self._nodes is not None and nodes != self._nodes:
            logger.info(
                "found nodes changed",
                extra={"nodes": {node.name: node.instance_id or None for node in nodes if node.finder is not None}},
            )
        self._set(nodes)
        self._found_at = self._monotonic()

    def _set(self, nodes: tuple[NodeConfig, ...]) -> None:
        if nodes != self._nodes or self._prober is None:
            self._prober = self._make_prober([node for node in nodes if node.instance_id != NO_INSTANCE])
        self._nodes = nodes

    def probe_all(self, budget_seconds: float | None = None) -> list[Observation]:
        """Probes of the resolved nodes; a found node with no instance in service fails without one."""
        if self._nodes is None or self._prober is None:
            raise NodeFinderError("found nodes probed before they were looked up")
        seen = {o.node: o for o in self._prober.probe_all(budget_seconds)}
        result: list[Observation] = []
        for node in self._nodes:
            if node.name in self._leaving and node.name not in self._held:
                # Its probes fail until the address is off it: it is never chosen, and it goes down
                # (the address moves) even when the lifecycle function never runs.
                result.append(
                    Observation(
                        node=node.name,
                        ok=False,
                        detail=f"instance {node.instance_id} is terminating",
                        latency_ms=0.0,
                        observer=self._observer,
                    )
                )
            elif node.instance_id == NO_INSTANCE:
                assert node.finder is not None
                result.append(
                    Observation(
                        node=node.name,
                        ok=False,
                        detail=f"no {node.finder.wanted} ({node.finder.describe()})"[:300],
                        latency_ms=0.0,
                        observer=self._observer,
                    )
                )
            elif node.name in seen:
                result.append(seen[node.name])
        return result
