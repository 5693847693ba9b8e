"""Scheduled monitor invocations on a fake clock: does probing ever pause, and what is billed?

EventBridge Scheduler starts the monitor once a minute, at some second of that minute. This module
drives the real `monitor_loop.MonitorRun` (its cycle pacing, deadline and lease hand-off) for many
minutes of such starts, all on one virtual clock, deterministically from a seed:

- each invocation starts at its nominal minute plus an offset drawn from the scenario's jitter,
  spends an init time (billed) and then runs the handler's loop with the function's timeout;
- a stand-in controller records each probe cycle's start and takes a drawn cycle time;
- an in-memory lease store stands in for the DynamoDB item (`monitor_lease.py`): writes are
  conditional and only move forward, reads see a write only `read_lag_seconds` after it (as an
  eventually consistent GetItem may), and an invocation can be made to crash right after it
  registers (the documented limit).

Each invocation's steps run atomically at its own virtual time, in order of time; an invocation's
clock runs on during its cycle, and the store stamps writes with the writer's clock and hides them
from reads stamped earlier, so no invocation sees another's future.

Measured: the longest pause between two consecutive probe-cycle starts (any invocation) between the
first probe and the start of the last invocation, and the billed time of every invocation that had a
successor divided by the time from the first start to the last (one invocation a minute would be
1.0). Used by tests/unit/test_schedule_coverage.py and `python -m bench.schedule_coverage`.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from nginx_eip_failover.core.config import Settings, load_settings
from nginx_eip_failover.core.decision import Decision
from nginx_eip_failover.core.ports import Association, MonitorLease
from nginx_eip_failover.core.state import ControllerState, NodeHealth
from nginx_eip_failover.observability import logger
from nginx_eip_failover.service.controller import CycleReport
from nginx_eip_failover.service.monitor_events import MonitorTrigger
from nginx_eip_failover.service.monitor_loop import MonitorRun

PERIOD_SECONDS = 60.0
EPOCH = 1_800_000_000.0  # the virtual clock's wall time at t = 0


# A start's offset from its nominal minute, from the random source and the minute's number.
Jitter = Callable[[random.Random, int], float]


def jitter_within(seconds: float) -> Jitter:
    """Each start at a uniformly random second within +-`seconds` of its nominal minute."""
    return lambda rng, _minute: rng.uniform(-seconds, seconds)


def anywhere_in_the_minute(rng: random.Random, _minute: int) -> float:
    """Each start at a uniformly random second of its minute ("within that minute")."""
    return rng.uniform(0.0, PERIOD_SECONDS)


def alternating_extremes(seconds: float) -> Jitter:
    """The worst case for coverage: early, late, early, ... so starts are 2 x `seconds` + 60 s apart
    and then at the same second, by turns."""
    return lambda _rng, minute: seconds if minute % 2 else -seconds


@dataclass(frozen=True)
class Scenario:
    name: str
    jitter: Jitter
    minutes: int = 600
    seed: int = 1
    function_timeout_seconds: float = 150.0  # the template's MonitorFunction Timeout
    handoff: bool = True  # False: no lease, every invocation loops until its deadline (before the fix)
    interval_seconds: float = 1.0
    probe_timeout_seconds: float = 1.0
    cycle_seconds: tuple[float, float] = (0.02, 0.08)  # a cycle's duration, uniform in this range
    init_seconds: tuple[float, float] = (0.0, 1.5)  # from the start to the handler's loop (billed)
    read_lag_seconds: float = 1.0  # an eventually consistent read sees a write this much later
    crash_after_register: frozenset[int] = frozenset()  # invocations (by number) that die right then

    @property
    def bound_seconds(self) -> float:
        """The contract's limit on a pause: two intervals plus the probe timeout."""
        return 2 * self.interval_seconds + self.probe_timeout_seconds


@dataclass(frozen=True)
class Invocation:
    number: int
    started: float  # virtual seconds
    ended: float
    ended_by: str  # MonitorRun.ended, or "crashed"
    cycles: int

    @property
    def billed(self) -> float:
        return self.ended - self.started


@dataclass(frozen=True)
class Outcome:
    scenario: Scenario
    longest_pause: float
    longest_pause_at: float  # virtual seconds, where the pause began
    billed_ratio: float
    invocations: list[Invocation]
    probes: int

    @property
    def ended_by(self) -> Counter[str]:
        """How the invocations that had a successor (started before the last start) ended."""
        last = self.invocations[-1].started
        return Counter(invocation.ended_by for invocation in self.invocations if invocation.started < last)


class _Crash(Exception):
    """An invocation dies (the process is gone): raised inside its step, ends it there."""


@dataclass
class _VirtualClock:
    """One invocation's view of the virtual time; the simulation sets it before each step."""

    now: float = 0.0

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return EPOCH + self.now


@dataclass
class LeaseTable:
    """The lease item as DynamoDB would keep it: forward-only conditional writes, lagging reads."""

    read_lag_seconds: float
    crash_on_register: frozenset[str] = frozenset()
    writes: list[tuple[float, MonitorLease]] = field(default_factory=list)  # (written at, lease)

    def client(self, clock: _VirtualClock) -> _LeaseClient:
        return _LeaseClient(self, clock)

    def newest(self) -> MonitorLease | None:
        return self.writes[-1][1] if self.writes else None


@dataclass
class _LeaseClient:
    table: LeaseTable
    clock: _VirtualClock

    def register(self, lease: MonitorLease) -> MonitorLease | None:
        stored = self.table.newest()
        if stored is not None and not lease.newer_than(stored):
            return stored  # the condition failed: a newer (or the same) lease is there
        self.table.writes.append((self.clock.now, lease))
        if lease.invocation in self.table.crash_on_register:
            raise _Crash(lease.invocation)
        return None

    def current(self) -> MonitorLease | None:
        visible_until = self.clock.now - self.table.read_lag_seconds
        seen = [lease for written, lease in self.table.writes if written <= visible_until]
        return seen[-1] if seen else None


class _Controller:
    """Stands in for the FailoverController: a cycle is a recorded probe start and some time."""

    def __init__(self, settings: Settings, clock: _VirtualClock, probes: list[float], cycle: Callable[[], float]):
        self.settings = settings
        self._clock = clock
        self._probes = probes
        self._cycle = cycle
        state = ControllerState(nodes={"node1": NodeHealth(status="up"), "node2": NodeHealth(status="up")})
        holder = settings.node("node1").instance_id
        self._report = CycleReport(
            decision=Decision(state, None, "node1 holds the EIP and is up"),
            observations=[],
            association=Association(settings.allocation_id, "198.51.100.7", holder),
        )

    def failure_run_in_progress(self) -> bool:
        return False

    def run_cycle(self, actor: str, time_left: Callable[[], float] | None = None) -> CycleReport:
        self._probes.append(self._clock.now)
        self._clock.now += self._cycle()
        return self._report


def _invocation_id(number: int) -> str:
    # In start order, so that two invocations started at the same second (the alternating pattern)
    # rank by their minute, as the schedule meant them.
    return f"invocation-{number:06d}"


def settings_for(scenario: Scenario) -> Settings:
    return load_settings(
        {
            "EIP_ALLOCATION_ID": "eipalloc-0123456789abcdef0",
            "NODE1_INSTANCE_ID": "i-0123456789abcdef1",
            "NODE2_INSTANCE_ID": "i-0123456789abcdef2",
            "NODE1_HEALTH_CHECK_URL": "http://10.0.1.10:8080/health",
            "NODE2_HEALTH_CHECK_URL": "http://10.0.2.10:8080/health",
            "NODE1_PRIORITY": "101",
            "NODE2_PRIORITY": "100",
            "HEALTH_CHECK_INTERVAL_SECONDS": f"{scenario.interval_seconds:g}",
            "HEALTH_CHECK_TIMEOUT_SECONDS": f"{scenario.probe_timeout_seconds:g}",
            "STATE_TABLE_NAME": "simulated",
        }
    )


def simulate(scenario: Scenario) -> Outcome:
    """Run the scenario; the monitor's own log lines are silenced meanwhile (thousands of minutes)."""
    level = logger.log_level
    logger.setLevel("ERROR")
    try:
        return _simulate(scenario)
    finally:
        logger.setLevel(level)


def _simulate(scenario: Scenario) -> Outcome:
    rng = random.Random(scenario.seed)
    settings = settings_for(scenario)
    probes: list[float] = []
    lease_table = LeaseTable(
        scenario.read_lag_seconds, frozenset(_invocation_id(n) for n in scenario.crash_after_register)
    )
    trigger = MonitorTrigger(kind="schedule", actor="monitor:schedule")
    # Events: (virtual time, sequence, invocation number); the sequence keeps equal times in order.
    queue: list[tuple[float, int, int]] = []
    started: dict[int, float] = {}
    running: dict[int, tuple[MonitorRun, Iterator[float], _VirtualClock]] = {}
    finished: list[Invocation] = []
    sequence = 0
    for number in range(scenario.minutes + 1):
        start = number * PERIOD_SECONDS + scenario.jitter(rng, number)
        started[number] = start
        begin = start + rng.uniform(*scenario.init_seconds)
        heapq.heappush(queue, (begin, sequence, number))
        sequence += 1

    def cycle_time() -> float:
        return rng.uniform(*scenario.cycle_seconds)

    while queue:
        at, _, number = heapq.heappop(queue)
        if number not in running:
            clock = _VirtualClock(at)
            deadline = at + scenario.function_timeout_seconds

            def remaining_ms(clock: _VirtualClock = clock, deadline: float = deadline) -> int:
                return int(max(0.0, deadline - clock.now) * 1000)

            run = MonitorRun(
                _Controller(settings, clock, probes, cycle_time),
                trigger,
                remaining_ms,
                lease=lease_table.client(clock) if scenario.handoff else None,
                invocation_id=_invocation_id(number),
                clock=clock,
            )
            running[number] = (run, run.steps(), clock)
        run, steps, clock = running[number]
        clock.now = at
        try:
            wait = next(steps)
        except StopIteration:
            ended_by: str = run.ended
        except _Crash:
            ended_by = "crashed"
        else:
            heapq.heappush(queue, (clock.now + wait, sequence, number))
            sequence += 1
            continue
        del running[number]
        finished.append(Invocation(number, started[number], clock.now, ended_by, len(run.reports)))

    finished.sort(key=lambda invocation: invocation.number)
    last_start = max(invocation.started for invocation in finished)
    window = sorted(t for t in probes if t <= last_start)
    gaps = [(b - a, a) for a, b in itertools.pairwise(window)]
    gaps.append((last_start - window[-1], window[-1]))  # up to the last start, however late it probes
    longest, where = max(gaps)
    # Invocations that started before the last start had a successor to hand over to.
    billed = sum(invocation.billed for invocation in finished if invocation.started < last_start)
    return Outcome(
        scenario=scenario,
        longest_pause=longest,
        longest_pause_at=where,
        billed_ratio=billed / (last_start - finished[0].started),
        invocations=finished,
        probes=len(probes),
    )
