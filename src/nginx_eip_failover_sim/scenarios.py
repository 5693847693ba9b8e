"""Named simulator scenarios: issue #25's black-box scenario, its variants, and the hand-off liveness case.

    python -m nginx_eip_failover_sim --scenario blips_with_fresh_invocations [--seeds 1..20] [--fault NAME]

Each scenario fixes the world (settings, node1's failures, which invocations start when); the seed
still picks every interleaving, probe latency and cold start. Besides the simulator's invariants
(no_down_without_run among them), a scenario states what it expects: `moves=0` (node1 never failed
over), or `fails_over_within` seconds of node1's death (liveness).

The blip scenarios' world is issue #25's as the lab runs it (tests/integration/test_lab_blips.py)
and the model checker explores it: each fresh invocation has room for one probe cycle
(FRESH_INVOCATION_SECONDS), so it writes the failure it saw in its blip and ends, and nobody who
knows of that failure sees the successes after it; AWS is the drawn world's (slow, throttled and
failing calls, stale reads) and an invocation may crash at any I/O point. Until 2026-12-07 their
fresh invocations ran for the function's whole 150 s and AWS was healthy: each fresh invocation then
wrote the success after its own failure, which ended the shared streak, and the scenarios could not
fail on the rule the issue was filed for (`--fault streak_by_time_gap`: 0 of 60 seeds of
blips_with_fresh_invocations). The arithmetic was never the obstacle: blips 0.9 s long every 4.4 s
put the next blip's failures 3.5-5.3 s after a stored one, inside the old rule's 5 s gap
(max(2 x interval + timeout, MIN_PROBE_GAP_SECONDS)); blips_fall_3 repeats every 4.4 s too and
short_gaps every 1.7 s. tests/sim/test_scenarios.py::BLIP_CATCHES says within how many seeds each
catches the fault now. The liveness scenarios keep AWS healthy and their fresh invocations whole:
their bound assumes both.
"""

from __future__ import annotations

from dataclasses import dataclass

from nginx_eip_failover.core.streaks import SPAN_TOLERANCE
from nginx_eip_failover.service.found_nodes import FIND_MAX_AGE_SECONDS
from nginx_eip_failover_sim.invariants import Violation
from nginx_eip_failover_sim.run import RunResult, Scripted, run_seed
from nginx_eip_failover_sim.scheduler import EPOCH
from nginx_eip_failover_sim.timeline import Event, HolderChange, MoveCall, Note
from nginx_eip_failover_sim.world import Period

# After the quiet start (every node has a status before any fault).
BLIPS_FROM = 25.0
# How late the liveness case may lose the EIP beyond FallThreshold x interval (issue #25: one cold start).
LIVENESS_SLACK_SECONDS = 6.0
# A blip scenario's fresh invocation's time left at its start: room for one probe cycle (the lab's
# `remaining_ms=2000`), after which the loop stops (monitor_loop: no room for a wait, a cycle and the
# margin). A cold start comes before it, as Lambda's init comes before the invocation's timeout.
FRESH_INVOCATION_SECONDS = 2.0


@dataclass(frozen=True)
class Scenario:
    name: str
    what: str
    world: Scripted
    minutes: float
    dies_at: float | None = None  # liveness: node1 fails for good at this second
    # Found nodes: node2's replacement is looked up (up to 10 s) and must rise before it takes the EIP.
    extra_seconds: float = 0.0
    back_at: float | None = None  # active/active: node1 answers again at this second

    @property
    def active_active(self) -> bool:
        return self.world.second_set

    @property
    def fails_over_within(self) -> float | None:
        if self.dies_at is None:
            return None
        return self.world.fall_threshold * self.world.interval_seconds + LIVENESS_SLACK_SECONDS + self.extra_seconds


def blip_train(
    *, count: int, down: float, up: float, kind: str = "refused", fresh: tuple[str, ...] = ("schedule",)
) -> tuple[tuple[Period, ...], tuple[tuple[float, str], ...]]:
    """`count` times node1 fails (`kind`) for `down` s then answers for `up` s, from BLIPS_FROM; each
    invocation kind in `fresh` starts once at the start of each blip."""
    periods, invocations = [], []
    at = BLIPS_FROM
    for _ in range(count):
        periods.append(Period(at, at + down, kind))
        invocations += [(at, invocation) for invocation in fresh]
        at += down + up
    return tuple(periods), tuple(invocations)


def _blips(
    name: str,
    what: str,
    *,
    fall: int = 2,
    kind: str = "refused",
    fresh: tuple[str, ...] = ("schedule",),
    down: float = 0.9,
    up: float = 3.5,
    count: int = 6,
) -> Scenario:
    periods, invocations = blip_train(count=count, down=down, up=up, kind=kind, fresh=fresh)
    # One MonitorFunction long-running from the start (the 40 s one; a scheduled invocation
    # probes for up to its 150 s timeout), fresh ones beside it, each probing one cycle; AWS as drawn.
    world = Scripted(
        fall,
        1.0,
        0.5,
        periods,
        schedule=(1.0,),
        invocations=invocations,
        fresh_seconds=FRESH_INVOCATION_SECONDS,
        aws_faults=True,
    )
    return Scenario(name, what, world, minutes=(BLIPS_FROM + count * (down + up) + 20.0) / 60.0)


def _hand_off(name: str, what: str, *, fall: int, after_successor: float) -> Scenario:
    # The schedule's second invocation starts at 61 s; it registers in the lease after its cold start
    # and first cycle, and the first reads the lease every 10 s: node1 dies `after_successor` seconds
    # after the successor starts, a sweep over the offsets covering the hand-off itself.
    dies = 61.0 + after_successor
    world = Scripted(fall, 1.0, 0.5, (Period(dies, dies + 600.0, "refused"),), schedule=(1.0, 61.0))
    return Scenario(name, what, world, minutes=(dies + 40.0) / 60.0, dies_at=dies)


def _found_node2_replaced(name: str, what: str, *, dies: float) -> Scenario:
    # node2 is found in an Auto Scaling group (sim/found_nodes.py); its instance is replaced at 30 s.
    world = Scripted(
        2,
        1.0,
        0.5,
        (Period(dies, dies + 600.0, "refused"),),
        schedule=(1.0, 61.0),
        rise_threshold=3,
        replace_node2_at=30.0,
    )
    # The lookup bound (10 s) and the rise (RiseThreshold intervals) come before the EIP can reach it.
    extra = FIND_MAX_AGE_SECONDS + world.rise_threshold * world.interval_seconds
    return Scenario(name, what, world, minutes=(dies + 40.0) / 60.0, dies_at=dies, extra_seconds=extra)


# Active/active: node1 dies this long, then the failback waits this PreemptDelaySeconds.
ACTIVE_ACTIVE_DEAD_SECONDS = 30.0
ACTIVE_ACTIVE_PREEMPT_DELAY = 10.0
# How late a failback may come beyond RiseThreshold x interval + PreemptDelaySeconds (a cold start,
# the decision's write and the move).
FAILBACK_SLACK_SECONDS = 6.0


def _active_active(name: str, what: str, *, dies: float, fall: int = 2, failing_node: int = 0) -> Scenario:
    back = dies + ACTIVE_ACTIVE_DEAD_SECONDS
    world = Scripted(
        fall,
        1.0,
        0.5,
        (Period(dies, back, "refused"),),
        schedule=(1.0, 61.0, 121.0),
        preempt_delay_seconds=ACTIVE_ACTIVE_PREEMPT_DELAY,
        second_set=True,
        failing_node=failing_node,
    )
    end = back + ACTIVE_ACTIVE_PREEMPT_DELAY + 30.0
    return Scenario(name, what, world, minutes=end / 60.0, dies_at=dies, back_at=back)


def _auth_refused(name: str, what: str, *, kind: str) -> Scenario:
    # node1 (the holder) refuses the probes' credentials for 90 s from BLIPS_FROM: a token rotated on
    # the node before the secret. Fresh scheduled and alarm-started invocations start inside it.
    periods = (Period(BLIPS_FROM, BLIPS_FROM + 90.0, kind),)
    invocations = tuple((BLIPS_FROM + offset, kind_) for offset in (0.5, 20.0, 45.0) for kind_ in ("schedule", "alarm"))
    world = Scripted(3, 1.0, 0.5, periods, schedule=(1.0, 61.0), invocations=invocations)
    return Scenario(name, what, world, minutes=(BLIPS_FROM + 110.0) / 60.0)


SCENARIOS: dict[str, Scenario] = {
    scenario.name: scenario
    for scenario in (
        _blips(
            "blips_with_fresh_invocations",
            "issue #25 as filed: FallThreshold 2, interval 1 s, timeout 0.5 s; node1 refuses for 0.9 s then "
            "answers for 3.5 s, six times; a fresh scheduled invocation (room for one probe cycle) starts at each "
            "blip beside the long one; AWS slow, throttled or failing at times",
        ),
        _blips("blips_fall_3", "as filed, FallThreshold 3: 1.4 s blips every 4.4 s", fall=3, down=1.4, up=3.0),
        _blips("timeout_blips", "as filed, node1 hangs (probes time out) instead of refusing", kind="hang"),
        _blips("alarm_fresh_invocations", "as filed, the fresh invocations alarm-started", fresh=("alarm",)),
        _blips(
            "several_fresh_at_once",
            "as filed, three fresh invocations (scheduled and alarm-started) at each blip",
            fresh=("schedule", "alarm", "alarm"),
        ),
        _blips(
            "short_gaps",
            "blips of 0.5 s with 1.2 s of successes between them, eight times, FallThreshold 3",
            fall=3,
            down=0.5,
            up=1.2,
            count=8,
            fresh=("alarm",),
        ),
        *(
            _hand_off(
                f"dies_at_hand_off_{offset}s",
                f"node1 dies {offset} s after the schedule's successor starts (the lease hand-off happens in that "
                "sweep); the EIP must leave it within FallThreshold x interval + 6 s",
                fall=2,
                after_successor=float(offset),
            )
            for offset in range(0, 13, 2)
        ),
        _auth_refused(
            "auth_refused_holder",
            "node1 (the holder) answers 401 to the probes' credentials for 90 s while it serves: auth failures, "
            "neither down nor up; the EIP must stay on node1",
            kind="auth_refused",
        ),
        _hand_off(
            "dies_at_hand_off_fall_3",
            "as dies_at_hand_off_4s with FallThreshold 3",
            fall=3,
            after_successor=4.0,
        ),
        _found_node2_replaced(
            "found_node2_replaced",
            "node2 found in an Auto Scaling group; its instance replaced at 30 s while node1 serves (the EIP must stay "
            "on node1), then node1 dies at 70 s (the EIP must reach node2's new instance)",
            dies=70.0,
        ),
        _found_node2_replaced(
            "found_node2_replaced_as_node1_dies",
            "as found_node2_replaced, node1 dying at 30 s as node2 is replaced: the EIP reaches the new instance "
            "only after RiseThreshold probes of it",
            dies=30.0,
        ),
        _active_active(
            "active_active",
            "two address sets on one pair, opposite priorities (the pair's EIP prefers node1, set b's node2): "
            f"node1 dies for {ACTIVE_ACTIVE_DEAD_SECONDS:g} s; both sets end on node2's instance, set b never "
            f"moves, the pair's set fails back after PreemptDelaySeconds {ACTIVE_ACTIVE_PREEMPT_DELAY:g} s",
            dies=40.0,
        ),
        _active_active(
            "active_active_at_hand_off",
            "as active_active, node1 dying 4 s after the schedule's successor starts",
            dies=65.0,
        ),
        _active_active(
            "active_active_node2_dies",
            "as active_active, node2 dying instead: set b moves to node1 and back, the pair's set never moves",
            dies=40.0,
            failing_node=1,
        ),
    )
}


def expectations(scenario: Scenario, events: list[Event]) -> list[Violation]:
    """What the scenario expects beyond the invariants, as violations (names `scenario_*`)."""
    found: list[Violation] = []
    moves = [e for e in events if isinstance(e, MoveCall) and e.source == "node1" and e.cause == "failover"]
    if scenario.dies_at is None:
        found += [
            Violation("scenario_no_move", move.at, move.group, f"failover {move.decision_id} off node1 by {move.actor}")
            for move in moves
        ]
        return found
    if scenario.active_active:
        return found + _active_active_expectations(scenario, events)
    died = EPOCH + scenario.dies_at
    if scenario.world.replace_node2_at is not None:
        from nginx_eip_failover_sim.found_nodes import FIRST_FOUND, NEW_INSTANCE

        reached = [e for e in events if isinstance(e, HolderChange) and e.node == "node2"]
        found += [
            Violation("scenario_found_node", e.at, e.group, f"the EIP reached node2's instance {e.instance_id}")
            for e in reached
            if e.instance_id != NEW_INSTANCE or e.at < died
        ]
        # No controller probes the new instance before the first lookup that found it; RiseThreshold
        # successes spanning (RiseThreshold - 1) intervals come after it (core/streaks.completes).
        first = next((e.at for e in events if isinstance(e, Note) and e.text == FIRST_FOUND), None)
        span = (scenario.world.rise_threshold - 1) * scenario.world.interval_seconds * SPAN_TOLERANCE
        found += [
            Violation("scenario_found_node_rise", e.at, e.group, f"the EIP reached {e.instance_id} before it rose")
            for e in reached
            if first is None or e.at < first + span
        ]
    bound = scenario.fails_over_within
    assert bound is not None
    left = [
        e.at
        for e in events
        if isinstance(e, HolderChange) and e.group == "default" and e.at >= died and e.node == "node2"
    ]
    if not left or left[0] - died > bound:
        took = f"{left[0] - died:.1f}s" if left else "never"
        found.append(
            Violation(
                "scenario_liveness",
                died,
                "default",
                f"node1 died at {died:.3f}; the EIP left it {took} (bound {bound:g}s)",
            )
        )
    return found


def _active_active_expectations(scenario: Scenario, events: list[Event]) -> list[Violation]:
    """Each set on its own primary while both nodes are up; the set whose primary died on the
    survivor within FallThreshold x interval + 6 s, and both sets there while it is dead; the other
    set never moved (its holder never failed: only the other set's decision, or a stale one, could
    move it); the moved set back on its primary only after PreemptDelaySeconds of it up, within the
    failback bound; each on its own primary at the end."""
    from nginx_eip_failover_sim.run import SECOND_SET

    assert scenario.dies_at is not None and scenario.back_at is not None
    world = scenario.world
    died, back = EPOCH + scenario.dies_at, EPOCH + scenario.back_at
    instances = ("i-00000000000000001", "i-00000000000000002")
    primary = {"default": instances[0], SECOND_SET: instances[1]}  # the pair prefers node1, set b node2
    dead, survivor = instances[world.failing_node], instances[1 - world.failing_node]
    moving = next(group for group, instance in primary.items() if instance == dead)
    staying = next(group for group in primary if group != moving)
    found: list[Violation] = []
    holders: dict[str, list[tuple[float, str | None]]] = {group: [] for group in primary}
    for event in events:
        if isinstance(event, HolderChange) and event.group in holders:
            holders[event.group].append((event.at, event.instance_id))
        if isinstance(event, MoveCall) and event.group == staying:
            found.append(
                Violation(
                    "scenario_other_set_moved",
                    event.at,
                    staying,
                    f"set {staying} moved to {event.target} by {event.decision_id} ({event.cause}); "
                    "its primary never failed",
                )
            )

    def holder(group: str, at: float) -> str | None:
        seen = [instance for when, instance in holders[group] if when <= at]
        return seen[-1] if seen else None

    end = EPOCH + scenario.minutes * 60.0
    checks = [
        *((died - 0.1, group, primary[group], "before the node died, on its own primary") for group in primary),
        *((back - 0.1, group, survivor, "while the node is dead, on the survivor") for group in primary),
        *((end, group, primary[group], "at the end, back on its own primary") for group in primary),
    ]
    for at, group, expected, what in checks:
        if holder(group, at) != expected:
            found.append(Violation("scenario_active_active", at, group, f"{what}: on {holder(group, at)}"))
    bound = scenario.fails_over_within
    assert bound is not None
    left = [when for when, instance in holders[moving] if when >= died and instance == survivor]
    if not left or left[0] - died > bound:
        took = f"{left[0] - died:.1f}s" if left else "never"
        found.append(
            Violation("scenario_liveness", died, moving, f"set {moving} left {dead} {took} (bound {bound:g}s)")
        )
    returned = [when for when, instance in holders[moving] if when >= back and instance == dead]
    earliest = (
        back + world.rise_threshold * world.interval_seconds + ACTIVE_ACTIVE_PREEMPT_DELAY - world.interval_seconds
    )
    latest = earliest + world.interval_seconds + FAILBACK_SLACK_SECONDS
    if returned and not earliest <= returned[0] <= latest:
        found.append(
            Violation(
                "scenario_failback",
                returned[0],
                moving,
                f"failback {returned[0] - back:.1f}s after the node came back; expected "
                f"{earliest - back:.1f}-{latest - back:.1f}s (RiseThreshold x interval + PreemptDelaySeconds)",
            )
        )
    return found


def run_scenario(name: str, seed: int, *, fault: str | None = None) -> RunResult:
    """One seed of scenario `name`; its expectations join the result's violations."""
    scenario = SCENARIOS[name]
    recorded: list[Event] = []
    result = run_seed(seed, minutes=scenario.minutes, fault=fault, scripted=scenario.world, on_event=recorded.append)
    result.violations += expectations(scenario, recorded)
    result.scenario["name"] = name
    return result
