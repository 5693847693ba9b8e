"""Found nodes: a node named by an Auto Scaling group (and AZ) or by tags instead of an InstanceId.

Pure: which instance each found node is this cycle (`choose_instances`, from the candidates the
node finder adapter described), the nodes with it filled in (`resolved_nodes`), and the rise rule
(`rebase_on_instances`): a node whose instance changed starts over with status "unknown", and an
unknown node that names an instance comes up only after RiseThreshold successes of that instance
(decision._advance), so a replacement never takes the address on its first answer, and nothing a
prober saw of the instance before counts for the one after.

Choice: a node keeps the instance it had while that one is still a candidate (in service), so a
group scaling out does not swap a healthy node's instance; otherwise it takes the oldest candidate
(by launch time, then ID) that no other node of the pair has, so two nodes of one group get two
instances. A terminating instance is kept only by its node, and only while it holds the address.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from nginx_eip_failover.core.config import NodeConfig, Settings
from nginx_eip_failover.core.node_finders import PRIVATE_IP_PLACEHOLDER
from nginx_eip_failover.core.state import ControllerState, HistoryEntry, NodeHealth

# A found node with no instance in service: its instance_id ("" never matches an association).
NO_INSTANCE = ""


@dataclass(frozen=True)
class Candidate:
    """An instance that may be a found node's: in service in its group (and AZ), or running with its tags."""

    instance_id: str
    private_ip: str | None
    launched_at: float = 0.0
    # Terminating (Terminating:Wait while a lifecycle hook holds it): never taken, only kept by the
    # node it was while it still holds the address, so the address on it is the node's, not a
    # foreign instance's, and its probes fail until the address is off it (service/found_nodes).
    leaving: bool = False


def choose_instances(
    nodes: Sequence[NodeConfig],
    candidates: Mapping[str, Sequence[Candidate]],
    previous: Mapping[str, str | None],
    holder: str | None = None,
) -> dict[str, Candidate | None]:
    """node name -> its instance this cycle (None: no candidate left for it), for every found node.

    `candidates[node]`: what its finder found now; `previous[node]`: the instance it had (the
    container's last resolution or the stored state's); `holder`: the instance the address was
    last seen on (a leaving instance is kept only while it holds it)."""
    found = [node for node in nodes if node.finder is not None]
    taken = {node.instance_id for node in nodes if node.finder is None}
    chosen: dict[str, Candidate | None] = {}
    for node in found:  # first every node that keeps its instance: nobody may take it from it
        keep = next(
            (
                c
                for c in candidates.get(node.name, ())
                if c.instance_id == previous.get(node.name) and (not c.leaving or c.instance_id == holder)
            ),
            None,
        )
        if keep is not None and keep.instance_id not in taken:
            chosen[node.name] = keep
            taken.add(keep.instance_id)
    for node in found:
        if node.name in chosen:
            continue
        free = sorted(
            (c for c in candidates.get(node.name, ()) if c.instance_id not in taken and not c.leaving),
            key=lambda c: (c.launched_at, c.instance_id),
        )
        chosen[node.name] = free[0] if free else None
        if free:
            taken.add(free[0].instance_id)
    return chosen


def resolved_nodes(nodes: Sequence[NodeConfig], chosen: Mapping[str, Candidate | None]) -> tuple[NodeConfig, ...]:
    """The nodes with each found node's instance (and its URL's {private_ip}) filled in."""
    result = []
    for node in nodes:
        if node.finder is None or node.name not in chosen:
            result.append(node)
            continue
        candidate = chosen[node.name]
        template = node.url_template or node.health_check_url
        if candidate is None:
            result.append(replace(node, instance_id=NO_INSTANCE, health_check_url=template))
            continue
        url = template.replace(PRIVATE_IP_PLACEHOLDER, candidate.private_ip or "") if candidate.private_ip else template
        result.append(replace(node, instance_id=candidate.instance_id, health_check_url=url))
    return tuple(result)


def instances_in(state: ControllerState, settings: Settings) -> dict[str, str | None]:
    """node name -> the instance the stored health of each found node counts (None: none recorded)."""
    return {node.name: state.health(node.name).instance_id for node in settings.nodes if node.finder is not None}


def rebase_on_instances(state: ControllerState, settings: Settings, now: float, actor: str) -> ControllerState:
    """Each found node whose resolved instance differs from the one its stored health counts starts
    over: status "unknown", no streaks, and every result seen before `now` cut off (last_failed_at),
    so it must pass RiseThreshold on the new instance before it may take the address. A fixed node,
    and a found node whose instance is the one recorded, is left exactly as it was."""
    nodes = dict(state.nodes)
    changed = False
    for node in settings.nodes:
        if node.finder is None:
            continue
        old = state.health(node.name)
        if old.instance_id == node.instance_id:
            continue
        nodes[node.name] = NodeHealth(
            status="unknown",
            since=now,
            reason=_reason(old.instance_id, node.instance_id, node),
            last_failed_at=now,
            instance_id=node.instance_id,
            # A node that keeps flapping through replacements is still damped.
            flaps=old.flaps,
        )
        state = state.with_history(
            HistoryEntry(
                at=now,
                event="node_instance_changed",
                reason=_reason(old.instance_id, node.instance_id, node),
                by=actor[:200],
                node=node.name,
                detail={"from": old.instance_id, "to": node.instance_id or None},
            ),
            settings.history_limit,
        )
        changed = True
    return replace(state, nodes=nodes) if changed else state


def _reason(old: str | None, new: str, node: NodeConfig) -> str:
    assert node.finder is not None
    where = node.finder.describe()[:300]
    if not new:
        return f"no {node.finder.wanted} ({where}); was {old or 'none'}"
    if not old:
        return f"found {new} ({where}); must pass RiseThreshold"
    return f"instance {old} replaced by {new} ({where}); must pass RiseThreshold"
