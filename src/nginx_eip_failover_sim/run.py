"""One seed end to end: draw the scenario, run the actors on the scheduler, check after every step.

Everything random comes from `random.Random(seed)`: the settings, the fault profile, each node's
script, when invocations start (EventBridge's jitter and duplicates), alarms, operator requests,
crashes, and every interleaving choice. The trace (every timeline event, in order) is the run's
fingerprint: the same seed gives the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from nginx_eip_failover.core import faults
from nginx_eip_failover.core.config import NodeConfig, Settings
from nginx_eip_failover.core.fleet_config import parse_fleet_json
from nginx_eip_failover.observability import logger, metrics
from nginx_eip_failover.service.replay import replay
from nginx_eip_failover_sim.actors import (
    MONITOR_TIMEOUT_SECONDS,
    Containers,
    Groups,
    monitor_invocation,
    operator_invocation,
)
from nginx_eip_failover_sim.found_nodes import SimNodeFinder, found_node2
from nginx_eip_failover_sim.invariants import CheckConfig, Checker, Violation
from nginx_eip_failover_sim.scheduler import EPOCH, Scheduler
from nginx_eip_failover_sim.timeline import Event, Note, ReplayChecked, describe
from nginx_eip_failover_sim.world import (
    NodeScript,
    Period,
    Profile,
    Recorder,
    SimDecisionLog,
    SimEip,
    SimLease,
    SimStore,
    World,
)

DEFAULT_MINUTES = 8.0
DEFAULT_STEPS = 60_000
QUIET_START_SECONDS = 20.0
ANSWERED_FAILURES = ("reset", "http_500", "garbage", "peers_down")


@dataclass
class RunResult:
    seed: int
    fault: str | None
    violations: list[Violation]
    trace: list[str]
    coverage: Counter[str]
    simulated_seconds: float
    steps: int
    errors: list[str] = field(default_factory=list)
    scenario: dict[str, Any] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        return hashlib.sha256("\n".join(self.trace).encode()).hexdigest()[:16]

    @property
    def ok(self) -> bool:
        return not self.violations and not self.errors


def draw_settings(rng: random.Random) -> Settings:
    interval = rng.choice((1.0, 1.0, 1.0, 2.0))
    return Settings(
        allocation_id="eipalloc-0000000000000a001",
        nodes=(
            NodeConfig("node1", "i-00000000000000001", "http://node1/health", 101),
            NodeConfig("node2", "i-00000000000000002", "http://node2/health", 100),
        ),
        interval_seconds=interval,
        timeout_seconds=rng.choice((interval, interval, interval / 2)),
        fall_threshold=rng.choice((2, 2, 2, 3)),
        rise_threshold=rng.choice((1, 2, 2, 3)),
        preempt=rng.random() < 0.7,
        preempt_delay_seconds=rng.choice((0.0, 5.0, 30.0, 60.0)),
        min_seconds_between_moves=rng.choice((0.0, 0.0, 0.0, 10.0)),
        flap_window_seconds=rng.choice((0.0, 300.0, 300.0)),
        flap_suppress_threshold=rng.choice((2, 3)),
        table_name="state",
        topic_arn="arn:aws:sns:us-east-1:123456789012:failover",
        ca_bundle=None,
        move_timeout_seconds=30.0,
        lease_table_name="lease",
        decision_log_table="log",
    )


def draw_profile(rng: random.Random) -> Profile:
    def maybe(high: float) -> float:
        return round(rng.uniform(0.0, high), 4) if rng.random() < 0.5 else 0.0

    return Profile(
        ddb_error=maybe(0.02),
        ddb_throttle=maybe(0.02),
        ddb_slow=maybe(0.02),
        ddb_stale_read=maybe(0.5),
        ec2_error=maybe(0.1),
        ec2_slow=maybe(0.1),
        ec2_visibility_delay=maybe(3.0),
        ec2_partial=maybe(0.2),
        ec2_bucket=rng.choice((2.0, 5.0, 20.0)),
        sns_error=maybe(0.3),
        sns_slow=maybe(0.6),
    )


def draw_pair_outage(rng: random.Random, duration: float) -> tuple[list[Period], list[Period]]:
    """Both nodes down at once; the first back stays up only briefly, then fails again (a recovery
    whose move races its next failure: notices, alerts cleared, re-checks)."""
    start = rng.uniform(QUIET_START_SECONDS, duration)
    first_back = start + rng.uniform(5.0, 40.0)
    up_for = rng.uniform(2.0, 10.0)
    first = [
        Period(start, first_back, "refused"),
        Period(first_back + up_for, first_back + up_for + rng.uniform(20.0, 90.0), rng.choice(("refused", "hang"))),
    ]
    second = [Period(start + rng.uniform(0.0, 5.0), first_back + rng.uniform(5.0, 60.0), "refused")]
    return (first, second) if rng.random() < 0.5 else (second, first)


def draw_periods(
    rng: random.Random, duration: float, interval: float, starts: list[float], extra: list[Period]
) -> list[Period]:
    """A node's script: sub-interval blips (many at invocation starts, where probers overlap),
    outages of every kind, flapping, slow spells."""
    periods: list[Period] = list(extra)

    def blip(at: float) -> None:
        length = rng.uniform(0.3, 0.92) * interval
        periods.append(Period(at, at + length, rng.choice(ANSWERED_FAILURES)))
        if rng.random() < 0.5:  # answers slowly around it: a probe sent before it is answered in it
            periods.append(Period(at - 0.6 * interval, at, "slow", rng.uniform(0.3, 0.6) * interval))

    for start in starts:
        if rng.random() < 0.4:
            blip(start + rng.uniform(-0.5, 1.5))
    for _ in range(rng.randint(0, 6)):
        blip(rng.uniform(0, duration))
    for _ in range(rng.randint(0, 2)):
        at = rng.uniform(0, duration)
        kind = rng.choice(("refused", "reset", "hang", "http_500", "garbage", "peers_down", "slow_timeout"))
        length = rng.choice((rng.uniform(1.0, 8.0), rng.uniform(8.0, 150.0)))
        periods.append(Period(at, at + length, kind, 5.0 if kind == "slow_timeout" else 0.0))
    if rng.random() < 0.2:  # flapping: down and up again, several times
        at = rng.uniform(0, duration)
        for _ in range(rng.randint(3, 8)):
            down = rng.uniform(1.0, 6.0) * interval
            periods.append(Period(at, at + down, rng.choice(("refused", "http_500"))))
            at += down + rng.uniform(2.0, 40.0)
    if rng.random() < 0.2:
        at = rng.uniform(0, duration)
        periods.append(Period(at, at + rng.uniform(5, 60), "slow", rng.uniform(0.2, 0.9) * interval))
    # A node with no history takes its first verdict (core/decision.py, by design): the first
    # invocation starts within 5 s on a quiet network, so every node has a status before any fault.
    return _without_overlaps([period for period in periods if period.start > QUIET_START_SECONDS])


BLIP_TRAIN_KINDS = ("refused", "hang", "reset", "http_500")


def draw_blip_train(rng: random.Random, duration: float, interval: float) -> tuple[list[Period], list[float]]:
    """Issue #25's world: blips of 0.2-2 intervals (refusals or timeouts) at random gaps, several in
    a row, and the fresh invocations started at blip starts (where a cold prober's first probe
    meets the blip while a warm container's cached state makes its successes go unwritten).
    Returns the periods and the fresh invocations' start times (a time twice: two at once)."""
    at = rng.uniform(QUIET_START_SECONDS, max(QUIET_START_SECONDS + 1.0, duration - 60.0))
    kind = rng.choice(BLIP_TRAIN_KINDS)
    periods: list[Period] = []
    fresh: list[float] = []
    for _ in range(rng.randint(3, 8)):
        length = rng.uniform(0.2, 2.0) * interval
        periods.append(Period(at, at + length, kind))
        if rng.random() < 0.6:
            # Started up to a cold start (1-3 s) before the blip, or at its start: the first probe
            # of many of them lands inside it.
            fresh.extend([at - rng.choice((0.0, rng.uniform(0.0, 3.0)))] * rng.choice((1, 1, 1, 2, 3)))
        at += length + rng.uniform(0.3, 6.0) * interval
    return periods, fresh


def _without_overlaps(periods: list[Period]) -> list[Period]:
    """Failures win over slow spells; a later failure starts where an earlier one ends."""
    kept: list[Period] = []
    for period in sorted(periods, key=lambda p: (p.kind == "slow", p.start)):
        start = period.start
        for other in kept:
            if other.start <= start < other.end:
                start = other.end
        ends = [other.start for other in kept if start < other.start < period.end]
        end = min([period.end, *ends])
        if end - start > 0.05:
            kept.append(Period(start, end, period.kind, period.latency))
    return sorted(kept, key=lambda p: p.start)


def fleet_text(rng: random.Random) -> str | None:
    if rng.random() < 0.7:
        return None
    group = {
        "name": "web",
        "nodes": [
            {"instance_id": "i-00000000000000011", "health_check_url": "http://web1/health", "priority": 101},
            {"instance_id": "i-00000000000000012", "health_check_url": "http://web2/health", "priority": 100},
        ],
        "elastic_ips": [
            {"allocation_id": "eipalloc-0000000000000b001"},
            {"allocation_id": "eipalloc-0000000000000b002"},
        ],
    }
    return json.dumps({"groups": [group]})


@dataclass(frozen=True)
class Scripted:
    """A named scenario's world (scenarios.py): fixed settings, node1's failures, when the schedule
    and the extra invocations start (seconds from the start); no AWS faults, crashes, operators or
    fleet. The seed still picks every interleaving, latency and cold start."""

    fall_threshold: int
    interval_seconds: float
    timeout_seconds: float
    node1: tuple[Period, ...]
    schedule: tuple[float, ...]
    invocations: tuple[tuple[float, str], ...] = ()
    rise_threshold: int = 2
    # Found nodes (docs/found-nodes.md): node2 is found in an Auto Scaling group, and its instance is
    # replaced at this second (the new one answers at once; it must rise before it may take the EIP).
    replace_node2_at: float | None = None
    # Failback on: Preempt with this PreemptDelaySeconds (None: no preemption).
    preempt_delay_seconds: float | None = None
    # Active/active: a second address set (fleet group "b") on the same two instances with opposite
    # priorities; node1's failures are its instance's, so they reach both sets.
    second_set: bool = False
    # Which of the stack's nodes the `node1` periods are (0: node1; 1: node2, for active/active).
    failing_node: int = 0
    # The `invocations`' time left when each starts (None: the function's 150 s timeout). Issue #25's
    # fresh invocations as the lab runs them (tests/integration/test_lab_blips.py: 2 s, room for one
    # probe cycle; the model checker's fresh probers likewise end after any probe): each ends after
    # probing its blip, so nobody who knows of the failure it wrote sees the successes after it.
    fresh_seconds: float | None = None
    # The drawn world's AWS faults (slow, throttled and failing calls, stale reads, EC2's limits) and
    # crashes of an invocation at any I/O point. The liveness scenarios keep AWS healthy: their bound
    # (FallThreshold x interval + 6 s) assumes it.
    aws_faults: bool = False


SECOND_SET = "b"


def active_active_text(base: Settings) -> str:
    """The fleet document of an active/active pair: group "b" on the stack's own two instances, its
    own EIP by ENI + private IP (the primary private IPs hold the pair's EIP), priorities reversed."""
    nodes = [
        {
            "instance_id": node.instance_id,
            "network_interface_id": f"eni-{index:017x}",
            "health_check_url": node.health_check_url,
            "priority": low.priority,
        }
        for index, (node, low) in enumerate(zip(base.nodes, reversed(base.nodes), strict=True), start=1)
    ]
    eip = {"allocation_id": "eipalloc-0000000000000b0a1", "private_ips": {"node1": "10.0.1.30", "node2": "10.0.2.30"}}
    return json.dumps({"groups": [{"name": SECOND_SET, "nodes": nodes, "elastic_ips": [eip]}]})


def _scripted_settings(rng: random.Random, scripted: Scripted) -> Settings:
    return replace(
        draw_settings(rng),
        interval_seconds=scripted.interval_seconds,
        timeout_seconds=scripted.timeout_seconds,
        fall_threshold=scripted.fall_threshold,
        rise_threshold=scripted.rise_threshold,
        preempt=scripted.preempt_delay_seconds is not None,
        preempt_delay_seconds=scripted.preempt_delay_seconds or 0.0,
        min_seconds_between_moves=0.0,
        flap_window_seconds=0.0,
    )


def run_seed(
    seed: int,
    *,
    minutes: float = DEFAULT_MINUTES,
    steps: int = DEFAULT_STEPS,
    fault: str | None = None,
    scripted: Scripted | None = None,
    on_event: Callable[[Event], None] | None = None,
) -> RunResult:
    """Run seed `seed` for `minutes` of simulated time (at most `steps` scheduler steps); with
    `scripted`, in that scenario's world instead of a drawn one."""
    logger.setLevel("CRITICAL")  # the service's logs: thousands of lines a run, none needed here
    rng = random.Random(seed)
    base = draw_settings(rng) if scripted is None else _scripted_settings(rng, scripted)
    # A named scenario's world has AWS healthy unless it says otherwise (`Scripted.aws_faults`).
    drawn_aws = scripted is None or scripted.aws_faults
    profile = draw_profile(rng) if drawn_aws else Profile()
    duration = minutes * 60.0
    checker_box: list[Checker] = []
    found: list[Violation] = []

    def listen(event: Event) -> None:
        if on_event is not None:
            on_event(event)
        if checker_box:
            found.extend(checker_box[0].observe(event))

    recorder = Recorder(listen)
    crash_probability = rng.choice((0.0, 0.0, 0.0005, 0.002)) if drawn_aws else 0.0
    sched = Scheduler(rng, crash_probability=crash_probability)
    world = World(sched, rng, profile, recorder)
    drawn_fleet = fleet_text(rng) if scripted is None else None
    text = active_active_text(base) if scripted is not None and scripted.second_set else drawn_fleet
    all_settings = (base, *(parse_fleet_json(text, base) if text else ()))
    checker_box.append(Checker({s.group: CheckConfig.from_settings(s) for s in all_settings}))

    minutes_count = int(minutes) + 1
    starts = [rng.uniform(0.0, 5.0)] + [m * 60.0 + rng.uniform(0.0, 60.0) for m in range(1, minutes_count)]
    if scripted is not None:
        starts = list(scripted.schedule)
    groups = Groups(base, text, {}, {}, {}, {}, SimLease(world))
    alarms: list[float] = []
    fresh: list[tuple[float, str]] = []  # issue #25: invocations started inside blips
    if scripted is not None and scripted.replace_node2_at is not None:
        base = groups.base = found_node2(base)
        all_settings = (base,)
        checker_box[0] = Checker({base.group: CheckConfig.from_settings(base)})
    for settings in all_settings:
        if scripted is not None:
            scripts = [
                NodeScript(
                    settings.group,
                    node,
                    [Period(EPOCH + p.start, EPOCH + p.end, p.kind, p.latency) for p in scripted.node1]
                    if node.instance_id == base.nodes[scripted.failing_node].instance_id  # in every set
                    else [],
                    base_latency=rng.uniform(0.002, 0.03),
                )
                for node in settings.nodes
            ]
            fresh = list(scripted.invocations)
            _install(world, groups, settings, scripts)
            if scripted.replace_node2_at is not None:
                finder = SimNodeFinder(world, EPOCH + scripted.replace_node2_at)
                groups.finders[settings.group] = finder
                groups.eips[settings.group].aliases.update(finder.aliases)
            continue
        pair_outage = draw_pair_outage(rng, duration) if rng.random() < 0.35 else ([], [])
        for period in pair_outage[0][:1]:  # CloudWatch's status-check alarms fire during it
            for _ in range(rng.randint(0, 3)):
                alarms.append(period.start + rng.uniform(5.0, 60.0))
        if rng.random() < 0.5:  # on the holder (the first node), whose false failover would cost
            train, fresh_at = draw_blip_train(rng, duration, settings.interval_seconds)
            pair_outage = ([*pair_outage[0], *train], pair_outage[1])
            fresh += [(at, rng.choice(("schedule", "alarm", "alarm"))) for at in fresh_at]
        scripts = [
            NodeScript(
                settings.group,
                node,
                [
                    Period(EPOCH + p.start, EPOCH + p.end, p.kind, p.latency)
                    for p in draw_periods(rng, duration, settings.interval_seconds, starts, pair_outage[index])
                ],
                base_latency=rng.uniform(0.002, 0.03),
            )
            for index, node in enumerate(settings.nodes)
        ]
        _install(world, groups, settings, scripts)

    containers = Containers(world, groups)
    ids = iter(range(1, 1_000_000))

    def invoke(kind: str, seconds: float = MONITOR_TIMEOUT_SECONDS) -> None:
        invocation = f"{kind[0]}{next(ids)}"
        body = monitor_invocation(world, containers, groups, kind, invocation, seconds)
        sched.spawn(invocation, body, invocation=invocation, kind="monitor")

    for start in starts:
        at = EPOCH + start
        sched.at(at, lambda: invoke("schedule"))
        if scripted is None and rng.random() < 0.05:  # at-least-once delivery: the same minute's event twice
            sched.at(at + rng.uniform(0.0, 5.0), lambda: invoke("schedule"))
            recorder.count("eventbridge:duplicate")
    if scripted is None:
        alarms += [rng.uniform(0, duration) for _ in range(rng.randint(0, 4))]
    for at in alarms:
        sched.at(EPOCH + at, lambda: invoke("alarm"))
    for at, kind in fresh:
        # A scenario's fresh invocations may have less time than the function's timeout (Scripted.fresh_seconds).
        seconds = (
            MONITOR_TIMEOUT_SECONDS if scripted is None or scripted.fresh_seconds is None else scripted.fresh_seconds
        )
        sched.at(EPOCH + at, lambda kind=kind, seconds=seconds: invoke(kind, seconds))  # type: ignore[misc]
        recorder.count(f"fresh_in_blip:{kind}")
    for _ in range(rng.randint(0, int(minutes)) if scripted is None else 0):
        event = _operator_event(rng, all_settings)
        request_id = f"op{next(ids)}"
        body = operator_invocation(world, containers, event, request_id)
        sched.at(EPOCH + rng.uniform(0, duration), _spawner(sched, request_id, body, "control"))

    end = EPOCH + duration
    errors: list[str] = []
    with faults.injected(*((fault,) if fault else ())):
        checker = checker_box[0]
        try:
            while sched.steps < steps and not found and sched.step(end):
                # The service's metrics are buffered per invocation in production; here nobody flushes.
                metrics.clear_metrics()
                found.extend(checker.advance(sched.now))
                if sched.errors:
                    errors.extend(sched.errors)
                    break
            if not found and not errors:
                for settings in all_settings:
                    records = groups.logs[settings.group].records()
                    if not records:
                        continue
                    result = replay(records)
                    first = result.mismatches[0] if result.mismatches else None
                    detail = "" if first is None else f"at {first.at:.3f} ({first.op}): {first.mismatch}"
                    recorder.coverage.update({"replay:steps": len(result.steps)})
                    recorder.record(ReplayChecked(sched.now, settings.group, result.exact, len(result.steps), detail))
                found.extend(checker.finish(sched.now))
        finally:
            sched.stop_all()
    recorder.record(Note(sched.now, "sim", f"end after {sched.steps} steps"))
    return RunResult(
        seed=seed,
        fault=fault,
        violations=found,
        trace=[describe(event) for event in recorder.events],
        coverage=recorder.coverage,
        simulated_seconds=sched.now - EPOCH,
        steps=sched.steps,
        errors=errors,
        scenario={"settings": base, "profile": profile, "fleet": bool(text)},
    )


def _install(world: World, groups: Groups, settings: Settings, scripts: list[NodeScript]) -> None:
    """One group's simulated AWS side: its nodes, state item, decision log and addresses (on its
    highest-priority node: node1, or, for an active/active pair's second set, node2)."""
    groups.scripts[settings.group] = scripts
    groups.stores[settings.group] = SimStore(world, settings.group)
    groups.logs[settings.group] = SimDecisionLog(world)
    labels = settings.address_set.labels()
    primary = max(settings.nodes, key=lambda node: node.priority).instance_id
    groups.eips[settings.group] = SimEip(world, settings, labels, primary)
    for script in scripts:
        for truth in script.truth_events(settings.timeout_seconds):
            world.sched.at(truth.at, lambda truth=truth: world.recorder.record(truth))  # type: ignore[misc]
    for address in groups.eips[settings.group].addresses:
        world.associate(groups.eips[settings.group], address, primary)


def _spawner(sched: Scheduler, name: str, body: Callable[[], None], kind: str) -> Callable[[], None]:
    def spawn() -> None:
        sched.spawn(name, body, invocation=name, kind=kind)

    return spawn


def _operator_event(rng: random.Random, all_settings: tuple[Settings, ...]) -> dict[str, Any]:
    settings = rng.choice(all_settings)
    node = rng.choice(settings.nodes).name
    action = rng.choice(("failover", "failover", "unpin", "drain", "undrain", "undrain", "plan", "status"))
    event: dict[str, Any] = {"action": action}
    if len(all_settings) > 1:
        event["group"] = settings.group
    if action == "failover":
        event.update(target=node, reason=rng.choice(("maintenance", "ünïcödé " * 80, "")))
        if rng.random() < 0.1:
            event["force"] = True
        if rng.random() < 0.1:
            event["dry_run"] = True
    elif action in ("drain", "undrain"):
        event.update(node=node)
    return event
