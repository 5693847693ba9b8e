"""Found nodes in the simulator (docs/found-nodes.md): node2 named by an Auto Scaling group instead of
an InstanceId, and its instance replaced at a scripted second while node1 serves.

The new instance answers at once (its node's script goes on: the same nginx behaviour, as the lab
restarts the node's nginx for it); the controllers find it through the real service/found_nodes.py
(cached lookups) and the real rise rule decides when it may take the EIP. The scenario expects the
EIP to stay on node1 throughout and, once node1 dies, to reach the new instance only (scenarios.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from nginx_eip_failover.core.config import NodeConfig, Settings
from nginx_eip_failover.core.found_nodes import Candidate
from nginx_eip_failover.core.node_finders import NodeFinder
from nginx_eip_failover.core.ports import Observation, Prober
from nginx_eip_failover_sim.timeline import Note

if TYPE_CHECKING:
    from nginx_eip_failover_sim.world import World

GROUP = "sim-node2"
OLD_INSTANCE = "i-00000000000000002"
NEW_INSTANCE = "i-000000000000000e2"
FIRST_FOUND = f"first lookup to find node2's new instance {NEW_INSTANCE}"


def found_node2(settings: Settings) -> Settings:
    """`settings` with node2 found in GROUP (its InstanceId left empty, as the template's parameters do)."""
    node1, node2, *rest = settings.nodes
    found = replace(
        node2, instance_id="", finder=NodeFinder(auto_scaling_group=GROUP), url_template=node2.health_check_url
    )
    return replace(settings, nodes=(node1, found, *rest))


class SimNodeFinder:
    """The NodeFinderPort: node2's instance in service, the old one until `replaced_at`, then the new."""

    def __init__(self, world: World, replaced_at: float) -> None:
        self._world = world
        self.replaced_at = replaced_at
        self.aliases = {OLD_INSTANCE: "node2", NEW_INSTANCE: "node2"}
        self._announced = False

    def candidates(self, nodes: Sequence[NodeConfig]) -> dict[str, list[Candidate]]:
        self._world.ec2_call("DescribeInstances", mutating=False)  # and DescribeAutoScalingGroups
        instance = NEW_INSTANCE if self._world.sched.now >= self.replaced_at else OLD_INSTANCE
        if instance == NEW_INSTANCE and not self._announced:
            # No controller can probe the new instance before this lookup: the rise counts from here.
            self._announced = True
            self._world.recorder.record(Note(self._world.sched.now, "finder", FIRST_FOUND))
        return {node.name: [Candidate(instance, None)] for node in nodes if node.finder is not None}


class GoneWithItsInstance:
    """A node's prober for the found nodes: a probe of node2's old instance after the replacement
    fails (the instance is terminated), whatever node2's script says of the new one."""

    def __init__(self, world: World, inner: Prober, nodes: Sequence[NodeConfig], replaced_at: float) -> None:
        self._world = world
        self._inner = inner
        self._instances = {node.name: node.instance_id for node in nodes}
        self._replaced_at = replaced_at

    def probe_all(self, budget_seconds: float | None = None) -> list[Observation]:
        observations = self._inner.probe_all(budget_seconds)
        if self._world.sched.now < self._replaced_at:
            return observations
        return [
            replace(o, ok=False, detail="refused: the instance is terminated")
            if self._instances.get(o.node) == OLD_INSTANCE
            else o
            for o in observations
        ]
