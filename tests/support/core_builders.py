"""Builders for the pure core's inputs: settings, states and probe verdicts (no I/O)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from nginx_eip_failover.core.config import NodeConfig, Settings
from nginx_eip_failover.core.decision import Context, Decision, Verdict, decide, failing_in, record_probes
from nginx_eip_failover.core.state import ControllerState, NodeHealth
from nginx_eip_failover.core.streaks import ProbeRuns

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


# Each actor of a test is one prober (a container) with its own runs (core/streaks), as the controller
# keeps them; tests/conftest.py clears them before every test.
PROBERS: dict[str, ProbeRuns] = {}


def new_world() -> None:
    """Forget every prober's runs: each hypothesis example is a world of its own (the autouse fixture
    runs once per test, not per example)."""
    PROBERS.clear()


def primed(actor: str, cfg: Settings, node: str, failures: int, last_at: float) -> None:
    """`actor` has already seen `failures` failed probes of `node`, an interval apart, the last one
    at `last_at` (a prober that is partway through a run of its own)."""
    runs = PROBERS.get(actor, ProbeRuns())
    for index in range(failures):
        at = last_at - (failures - 1 - index) * cfg.interval_seconds
        runs, _ = runs.extend_verdicts({node: Verdict(False, "refused")}, at, cfg)
    PROBERS[actor] = runs


def recorded(
    current: ControllerState, results: Mapping[str, Verdict], ctx: Context, probed_at: float | None = None
) -> ControllerState:
    """`record_probes` as the prober named `ctx.actor` records a round: its own runs extended first."""
    at = ctx.now if probed_at is None else probed_at
    runs, attached = PROBERS.get(ctx.actor, ProbeRuns()).extend_verdicts(results, at, ctx.settings)
    PROBERS[ctx.actor] = runs
    return record_probes(current, attached, ctx, probed_at)


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
    """One monitor cycle of the pure core: record the probe results, then decide (as the controller
    does: the nodes this round saw fail never receive the EIP)."""
    round_verdicts = verdicts(**results) if results else {}
    ctx = Context(cfg, now, "test", failing_in(round_verdicts))
    if results:
        current = recorded(current, round_verdicts, ctx)
    return decide(current, association, ctx, move_id=move_id)
