"""Builders for the pure core's inputs: settings, states and probe verdicts (no I/O)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from nginx_eip_failover.core.config import NodeConfig, Settings
from nginx_eip_failover.core.decision import Context, Decision, Verdict, decide, record_probes
from nginx_eip_failover.core.state import ControllerState, NodeHealth

I1 = "i-0000000000000aaa1"
I2 = "i-0000000000000bbb2"
I3 = "i-0000000000000ccc3"
FOREIGN = "i-00000000000ffff99"


def settings(**overrides: Any) -> Settings:
    nodes = overrides.pop("nodes", None) or (
        NodeConfig("node1", I1, "http://127.0.0.1:1/health", 101),
        NodeConfig("node2", I2, "http://127.0.0.1:2/health", 100),
    )
    base = Settings(
        allocation_id="eipalloc-00000000000000001",
        nodes=tuple(nodes),
        interval_seconds=1.0,
        timeout_seconds=1.0,
        fall_threshold=3,
        rise_threshold=2,
        preempt=True,
        preempt_delay_seconds=60.0,
        min_seconds_between_moves=30.0,
        flap_window_seconds=300.0,
        flap_suppress_threshold=3,
        table_name="state",
        topic_arn=None,
        ca_bundle=None,
    )
    return replace(base, **overrides)


def three_nodes(**overrides: Any) -> Settings:
    return settings(
        nodes=(
            NodeConfig("node1", I1, "http://127.0.0.1:1/health", 150),
            NodeConfig("node2", I2, "http://127.0.0.1:2/health", 100),
            NodeConfig("node3", I3, "http://127.0.0.1:3/health", 120),
        ),
        **overrides,
    )


def up(since: float = 0.0, cfg: Settings | None = None) -> NodeHealth:
    cfg = cfg or settings()
    return NodeHealth(status="up", ok_streak=cfg.rise_threshold, since=since, reason="HTTP 200")


def down(since: float = 0.0, cfg: Settings | None = None) -> NodeHealth:
    cfg = cfg or settings()
    return NodeHealth(status="down", fail_streak=cfg.fall_threshold, since=since, reason="refused")


def state(association: str | None = I1, **nodes: NodeHealth) -> ControllerState:
    return ControllerState(nodes=nodes, association=association, observed=True)


def verdicts(**results: bool) -> dict[str, Verdict]:
    return {name: Verdict(ok, "HTTP 200" if ok else "refused") for name, ok in results.items()}


def step(
    current: ControllerState,
    association: str | None,
    cfg: Settings,
    now: float,
    results: dict[str, bool] | None = None,
    move_id: str = "m",
) -> Decision:
    """One monitor cycle of the pure core: record the probe results, then decide."""
    if results:
        current = record_probes(current, verdicts(**results), Context(cfg, now, "test"))
    return decide(current, association, Context(cfg, now, "test"), move_id=move_id)
