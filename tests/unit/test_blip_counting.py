"""A blip shorter than one interval never counts twice, whoever probes it (issue #17, part 5).

Each failed probe counts at a moment the node was failing: when its answer came, or when it was sent
if no answer came. And a failure long after the streak's last one starts a new streak, because the
success in between may never have been written (a container deciding on its cached copy writes
nothing when it sees the node up). Both cases were found by the simulator (seeds 37 and 93 of
`python -m nginx_eip_failover_sim`); these tests fail on the code before the fix."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from nginx_eip_failover.core.config import Settings
from nginx_eip_failover.core.decision import Context, node_verdicts
from nginx_eip_failover.core.ports import Observation
from nginx_eip_failover.core.state import ControllerState
from support.core_builders import new_world, recorded, state, up
from support.core_builders import settings as make_settings

NODE2_OK = Observation("node2", True, "HTTP 200", 5.0)


def fall2(**overrides: float) -> Settings:
    return make_settings(fall_threshold=2, interval_seconds=1.0, timeout_seconds=1.0, **overrides)


def observe(
    current: ControllerState,
    cfg: Settings,
    probed_at: float,
    *,
    ok: bool,
    latency: float,
    timed_out: bool = False,
    recorded_at: float | None = None,
    actor: str = "monitor",
) -> ControllerState:
    """One cycle's probes of node1 (node2 fine), committed at `recorded_at` (default: when they ended)."""
    detail = "HTTP 200" if ok else ("no answer within 1s" if timed_out else "connection reset by peer")
    node1 = Observation("node1", ok, detail, latency * 1000, timed_out=timed_out)
    now = probed_at + latency if recorded_at is None else recorded_at
    ctx = Context(cfg, now, actor)
    return recorded(current, node_verdicts([node1, NODE2_OK]), ctx, probed_at)


def steady(cfg: Settings) -> ControllerState:
    return state(node1=up(cfg=cfg), node2=up(cfg=cfg))


def test_a_slow_probe_answered_inside_a_blip_counts_when_it_was_answered() -> None:
    # Blip [93.328, 94.227): a slow probe sent at 93.060 is answered inside it, the next probe too.
    cfg = fall2()
    current = observe(steady(cfg), cfg, 93.060, ok=False, latency=0.371)
    current = observe(current, cfg, 94.064, ok=False, latency=0.030)
    assert current.health("node1").status == "up"


def test_two_overlapping_probers_do_not_count_one_blip_twice() -> None:
    # Blip [0.55, 1.45): the old invocation's slow probe (sent at 0.0) and the new one's (sent at 1.2).
    cfg = fall2()
    current = observe(steady(cfg), cfg, 0.0, ok=False, latency=0.6)
    current = observe(current, cfg, 1.2, ok=False, latency=0.01)
    assert current.health("node1").status == "up"


def test_a_failure_long_after_an_unwritten_success_starts_a_new_streak() -> None:
    # Interval 2 s: one invocation's failure is written at 133.6; the next invocation's successes
    # (134.8 ... 142.8) changed nothing on its cached copy and were never written; a second blip
    # at 144.8 must not join the first.
    cfg = make_settings(fall_threshold=2, interval_seconds=2.0, timeout_seconds=1.0)
    current = observe(steady(cfg), cfg, 133.588, ok=False, latency=0.005)
    current = observe(current, cfg, 144.771, ok=False, latency=0.005)
    assert current.health("node1").status == "up"


def test_a_node_that_stops_answering_is_down_after_fall_threshold_probes() -> None:
    cfg = fall2()
    current = observe(steady(cfg), cfg, 10.0, ok=False, latency=1.0, timed_out=True)
    assert current.health("node1").status == "up"
    current = observe(current, cfg, 11.0, ok=False, latency=1.0, timed_out=True)
    assert current.health("node1").status == "down"


def test_a_refusing_node_is_down_after_fall_threshold_probes_even_from_two_probers() -> None:
    cfg = replace(fall2(), fall_threshold=3)
    current = steady(cfg)
    # Two overlapping invocations, half an interval apart: the first one's run of three completes.
    for probed_at, actor in ((10.0, "old"), (10.5, "new"), (11.0, "old"), (11.5, "new"), (12.0, "old")):
        current = observe(current, cfg, probed_at, ok=False, latency=0.002, actor=actor)
    assert current.health("node1").status == "down"


@st.composite
def probes_of_one_blip(draw: st.DrawFn) -> tuple[Settings, list[tuple[float, float, bool, bool, float]]]:
    """Settings, and probes (sent at, latency, ok, timed out, committed at) of a node whose only
    failure is one blip shorter than (FallThreshold - 1) intervals, in any commit order."""
    fall = draw(st.sampled_from((2, 3)))
    interval = draw(st.sampled_from((1.0, 2.0)))
    timeout = draw(st.sampled_from((interval, interval / 2)))
    cfg = make_settings(fall_threshold=fall, interval_seconds=interval, timeout_seconds=timeout)
    blip = draw(st.floats(0.05, 0.94)) * (fall - 1) * interval * 0.999
    probes = []
    for _ in range(draw(st.integers(2, 10))):
        if draw(st.booleans()):  # the blip drops requests: no answer within the timeout
            sent = draw(st.floats(-timeout, blip + 0.5 * interval))
            dropped = 0.0 <= sent < blip
            probes.append((sent, timeout if dropped else 0.01, not dropped, dropped))
        else:  # answered (a slow answer may have been sent long before the blip)
            answered = draw(st.floats(-0.5 * interval, blip + 0.5 * interval))
            latency = draw(st.floats(0.001, timeout * 0.99))
            probes.append((answered - latency, latency, not 0.0 <= answered < blip, False))
    ordered = draw(st.permutations(probes))
    committed = []
    clock = -3.0 * interval
    for sent, latency, ok, timed_out in ordered:
        clock = max(clock, sent + latency) + draw(st.floats(0.0, 0.5))
        committed.append((sent, latency, ok, timed_out, clock))
    return cfg, committed


@settings(max_examples=300, deadline=None)
@given(probes_of_one_blip())
def test_one_short_blip_never_takes_a_node_down_whoever_probes_it(
    case: tuple[Settings, list[tuple[float, float, bool, bool, float]]],
) -> None:
    cfg, probes = case
    new_world()
    current = steady(cfg)
    for sent, latency, ok, timed_out, committed_at in probes:
        current = observe(current, cfg, sent, ok=ok, latency=latency, timed_out=timed_out, recorded_at=committed_at)
        assert current.health("node1").status == "up", probes
