"""The monitor loop on a fake clock: one cycle when time is short, cycles every interval while
the invocation has room for another full cycle plus the margin, and always an end. Scheduled
invocations hand over to a newer one through the lease; alarm invocations probe for a bounded window."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

import pytest

from nginx_eip_failover.core.config import Settings
from nginx_eip_failover.core.decision import Decision
from nginx_eip_failover.core.errors import ConflictError, ElasticIpError, MonitorCyclesFailedError, StateStoreError
from nginx_eip_failover.core.ports import Association, MonitorLease
from nginx_eip_failover.core.state import ControllerState, NodeHealth
from nginx_eip_failover.observability import metrics
from nginx_eip_failover.service.controller import CycleReport
from nginx_eip_failover.service.monitor_events import MonitorTrigger
from nginx_eip_failover.service.monitor_loop import (
    ALARM_WINDOW_SECONDS,
    LEASE_CHECK_SECONDS,
    MARGIN_SECONDS,
    run_monitor,
)

SCHEDULE = MonitorTrigger(kind="schedule", actor="monitor:schedule")
ALARM = MonitorTrigger(kind="alarm", actor="monitor:alarm:node1-status-check", alarm_name="node1-status-check")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return 1_700_000_000.0 + self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class FakeController:
    """Each cycle takes `cycle_seconds` of fake time; `failures` lists exceptions to raise first."""

    def __init__(self, settings: Settings, clock: Clock, cycle_seconds: float = 0.2) -> None:
        self.settings = settings
        self.clock = clock
        self.cycle_seconds = cycle_seconds
        self.started: list[float] = []
        self.failures: list[Exception | None] = []
        self.moves: dict[int, str] = {}

    def failure_run_in_progress(self) -> bool:
        return False

    def run_cycle(self, actor: str, time_left: Callable[[], float] | None = None) -> CycleReport:
        assert len(self.started) < 1000, "the loop does not end"
        self.started.append(self.clock.now)
        self.clock.now += self.cycle_seconds
        failure = self.failures.pop(0) if self.failures else None
        if failure is not None:
            raise failure
        state = ControllerState(nodes={"node1": NodeHealth(status="up"), "node2": NodeHealth(status="down")})
        holder = self.settings.node("node1").instance_id
        report = CycleReport(
            decision=Decision(state, None, f"cycle {len(self.started)}"),
            observations=[],
            association=Association(self.settings.allocation_id, "198.51.100.7", holder),
        )
        report.moved_to = self.moves.get(len(self.started))
        return report


@dataclass
class FakeLease:
    """The lease item in memory. `arrivals` register newer invocations when the clock reaches them."""

    clock: Clock
    stored: MonitorLease | None = None
    arrivals: list[tuple[float, MonitorLease]] = field(default_factory=list)
    failing: bool = False
    registrations: list[float] = field(default_factory=list)
    reads: list[float] = field(default_factory=list)

    def _arrive(self) -> None:
        while self.arrivals and self.arrivals[0][0] <= self.clock.now:
            self.stored = self.arrivals.pop(0)[1]

    def register(self, lease: MonitorLease) -> MonitorLease | None:
        self._arrive()
        self.registrations.append(self.clock.now)
        if self.failing:
            raise StateStoreError("PutItem: ProvisionedThroughputExceededException")
        if self.stored is not None and not lease.newer_than(self.stored):
            return self.stored
        self.stored = lease
        return None

    def current(self) -> MonitorLease | None:
        self._arrive()
        self.reads.append(self.clock.now)
        if self.failing:
            raise StateStoreError("GetItem: InternalServerError")
        return self.stored


@pytest.fixture
def clock() -> Iterator[Clock]:
    yield Clock()
    metrics.clear_metrics()


def context_remaining(clock: Clock, total_seconds: float) -> Callable[[], int]:
    """Like Lambda's context: the time left, counting down with the clock."""
    start = clock.now
    return lambda: int(max(0.0, total_seconds - (clock.now - start)) * 1000)


def run(
    controller: FakeController,
    remaining: Callable[[], int] | None,
    clock: Clock,
    trigger: MonitorTrigger = SCHEDULE,
    lease: FakeLease | None = None,
) -> dict[str, object]:
    return run_monitor(
        controller,  # type: ignore[arg-type]
        trigger,
        remaining,
        lease=lease,
        invocation_id="me",
        sleep=clock.sleep,
        clock=clock,
    )


@pytest.mark.parametrize("remaining_seconds", [0.0, 0.5, 2.0, 2.9])
def test_one_cycle_when_the_remaining_time_is_short(settings: Settings, clock: Clock, remaining_seconds: float) -> None:
    controller = FakeController(settings, clock)
    result = run(controller, context_remaining(clock, remaining_seconds), clock)
    assert result["cycles"] == 1
    assert clock.sleeps == []


def test_one_cycle_without_a_context(settings: Settings, clock: Clock) -> None:
    controller = FakeController(settings, clock)
    assert run(controller, None, clock)["cycles"] == 1
    assert clock.sleeps == []


def test_cycles_every_interval_while_another_full_cycle_and_the_margin_fit(settings: Settings, clock: Clock) -> None:
    controller = FakeController(settings, clock, cycle_seconds=0.2)
    remaining = context_remaining(clock, 60.0)
    result = run(controller, remaining, clock)
    starts = controller.started
    assert result["cycles"] == len(starts) >= 55
    assert all(abs(b - a - settings.interval_seconds) < 1e-9 for a, b in itertools.pairwise(starts))
    assert clock.sleeps == pytest.approx([settings.interval_seconds - 0.2] * (len(starts) - 1))
    left = remaining() / 1000
    assert left >= MARGIN_SECONDS  # the last cycle ended with the margin to spare
    # ... and another interval plus a full cycle (the probe timeout) would not have fit.
    assert left < (settings.interval_seconds - 0.2) + settings.timeout_seconds + MARGIN_SECONDS


def test_fractional_intervals_are_honoured(settings: Settings, clock: Clock) -> None:
    fast = replace(settings, interval_seconds=0.25, timeout_seconds=0.2)
    controller = FakeController(fast, clock, cycle_seconds=0.05)
    result = run(controller, context_remaining(clock, 10.0), clock)
    assert clock.sleeps == pytest.approx([0.2] * (len(controller.started) - 1))
    assert 30 <= result["cycles"] <= 40  # type: ignore[operator]


def test_a_cycle_slower_than_the_interval_is_followed_at_once(settings: Settings, clock: Clock) -> None:
    controller = FakeController(settings, clock, cycle_seconds=1.5)
    run(controller, context_remaining(clock, 20.0), clock)
    assert len(controller.started) > 3
    assert set(clock.sleeps) == {0.0}


def test_it_stops_even_if_the_remaining_time_never_decreases(settings: Settings, clock: Clock) -> None:
    controller = FakeController(settings, clock)
    result = run(controller, lambda: 30_000, clock)
    assert 2 <= result["cycles"] <= 30  # type: ignore[operator]
    assert clock.now - 1000.0 <= 30.0


def test_it_stops_when_the_context_says_time_runs_out_sooner(settings: Settings, clock: Clock) -> None:
    controller = FakeController(settings, clock)
    answers = iter([60_000, 50_000, 2_000])
    result = run(controller, lambda: next(answers, 0), clock)
    assert result["cycles"] == 2


def test_a_failing_cycle_does_not_end_the_invocation(settings: Settings, clock: Clock) -> None:
    controller = FakeController(settings, clock)
    controller.failures = [ElasticIpError("DescribeAddresses: throttled"), None, ConflictError("raced")]
    result = run(controller, context_remaining(clock, 10.0), clock)
    assert len(controller.started) > 3
    assert result["cycles"] == len(controller.started) - 2
    assert result["cycle_errors"] == ["DescribeAddresses: throttled", "raced"]


@pytest.mark.parametrize(
    "failure",
    [
        StateStoreError("GetItem: AccessDenied"),
        ElasticIpError("DescribeAddresses: UnauthorizedOperation"),
        ConflictError("state kept changing"),
    ],
    ids=["dynamodb", "ec2", "conflicts"],
)
def test_when_every_cycle_fails_the_invocation_fails_with_its_own_error(
    settings: Settings, clock: Clock, failure: Exception
) -> None:
    # WHEN every cycle fails, whichever service fails it
    controller = FakeController(settings, clock)
    controller.failures = [failure] * 100
    with pytest.raises(MonitorCyclesFailedError) as raised:
        run(controller, context_remaining(clock, 5.0), clock)
    # THEN the error says so (not a DynamoDB error when EC2 refused), with the first cause and the count
    assert not isinstance(raised.value, StateStoreError | ElasticIpError)
    assert str(failure) in str(raised.value)
    assert f"all {len(controller.started)} probe cycles failed" in str(raised.value)
    assert raised.value.errors == (str(failure),) * len(controller.started)


def test_a_programming_error_is_not_swallowed(settings: Settings, clock: Clock) -> None:
    controller = FakeController(settings, clock)
    controller.failures = [RuntimeError("bug")]
    with pytest.raises(RuntimeError, match="bug"):
        run(controller, context_remaining(clock, 30.0), clock)
    assert len(controller.started) == 1


def test_the_result_summarises_the_cycles(settings: Settings, clock: Clock) -> None:
    controller = FakeController(settings, clock)
    controller.moves = {2: "node1"}
    result = run(controller, context_remaining(clock, 5.0), clock)
    assert result["eip"] == {"instance_id": settings.node("node1").instance_id, "holder": "node1"}
    assert result["nodes"] == {"node1": "up", "node2": "down"}
    assert [move["to"] for move in result["moves"]] == ["node1"]  # type: ignore[attr-defined]
    assert result["decision"] == f"cycle {len(controller.started)}"


# ------------------------------------------------------------------------ hand-off between invocations


def started_at(clock: Clock, offset: float) -> float:
    return round(clock.time() + offset, 3)


def test_a_scheduled_invocation_registers_after_its_first_cycle_and_probes_until_a_newer_one_registers(
    settings: Settings, clock: Clock
) -> None:
    controller = FakeController(settings, clock)
    start = clock.now
    # GIVEN a 150 s invocation whose successor starts (and registers) 60 s after it
    lease = FakeLease(clock, arrivals=[(start + 60.0, MonitorLease(started_at(clock, 60.0), "successor"))])
    result = run(controller, context_remaining(clock, 150.0), clock, lease=lease)
    # THEN it registered once, after its first cycle (it was probing by then) ...
    assert lease.registrations == [pytest.approx(start + 0.2)]
    # ... read the lease every LEASE_CHECK_SECONDS, no more ...
    assert all(b - a >= LEASE_CHECK_SECONDS for a, b in itertools.pairwise([*lease.registrations, *lease.reads]))
    # ... and stopped at the first read that saw the successor: probing right up to it, not past it
    assert result["ended"] == "handed_over"
    assert lease.reads[-1] >= start + 60.0
    assert lease.reads[-1] - (start + 60.0) <= LEASE_CHECK_SECONDS + settings.interval_seconds
    assert controller.started[-1] >= start + 60.0 - settings.interval_seconds
    assert len(lease.reads) <= 60 / LEASE_CHECK_SECONDS + 1


def test_without_a_successor_a_scheduled_invocation_probes_until_its_deadline(settings: Settings, clock: Clock) -> None:
    controller = FakeController(settings, clock)
    lease = FakeLease(clock)
    result = run(controller, context_remaining(clock, 150.0), clock, lease=lease)
    assert result["ended"] == "out_of_time"
    assert clock.now - 1000.0 > 150.0 - settings.interval_seconds - settings.timeout_seconds - MARGIN_SECONDS - 0.5
    assert len(lease.registrations) == 1
    assert len(lease.reads) <= 150 / LEASE_CHECK_SECONDS


def test_an_older_lease_or_its_own_never_stops_it(settings: Settings, clock: Clock) -> None:
    controller = FakeController(settings, clock)
    # GIVEN the lease of the invocation before (older), and later a stale copy of its own lease
    older = MonitorLease(started_at(clock, -60.0), "predecessor")
    mine = MonitorLease(started_at(clock, 0.0), "me")
    lease = FakeLease(clock, stored=older, arrivals=[(clock.now + 30.0, mine)])
    result = run(controller, context_remaining(clock, 100.0), clock, lease=lease)
    assert result["ended"] == "out_of_time"
    assert lease.stored == mine


def test_a_newer_invocation_already_registered_stops_it_after_one_cycle(settings: Settings, clock: Clock) -> None:
    # GIVEN a newer scheduled invocation registered before this one's first cycle ended (starts out of order)
    controller = FakeController(settings, clock)
    newer = MonitorLease(started_at(clock, 5.0), "newer")
    lease = FakeLease(clock, stored=newer)
    result = run(controller, context_remaining(clock, 150.0), clock, lease=lease)
    # THEN it ran its one cycle (an invocation always does) and left the probing to the newer one
    assert result["cycles"] == 1 and result["ended"] == "handed_over"
    assert lease.stored == newer


def test_an_unavailable_lease_costs_time_never_coverage(settings: Settings, clock: Clock) -> None:
    controller = FakeController(settings, clock)
    lease = FakeLease(clock, failing=True)
    result = run(controller, context_remaining(clock, 150.0), clock, lease=lease)
    # THEN it probed on until its deadline, trying to register again at most every LEASE_CHECK_SECONDS
    assert result["ended"] == "out_of_time" and result["cycle_errors"] == []
    assert 140 <= len(controller.started) <= 150
    assert len(lease.registrations) <= 150 / LEASE_CHECK_SECONDS + 1
    assert all(b - a >= LEASE_CHECK_SECONDS for a, b in itertools.pairwise(lease.registrations))


def test_an_alarm_invocation_probes_for_a_bounded_window_and_never_touches_the_lease(
    settings: Settings, clock: Clock
) -> None:
    controller = FakeController(settings, clock)
    lease = FakeLease(clock, arrivals=[(clock.now + 10.0, MonitorLease(started_at(clock, 10.0), "newer"))])
    result = run(controller, context_remaining(clock, 150.0), clock, trigger=ALARM, lease=lease)
    assert result["ended"] == "window_over"
    assert ALARM_WINDOW_SECONDS - 5 <= clock.now - 1000.0 <= ALARM_WINDOW_SECONDS
    assert lease.registrations == [] and lease.reads == []


def test_an_alarm_invocation_with_less_time_than_its_window_stops_in_time(settings: Settings, clock: Clock) -> None:
    controller = FakeController(settings, clock)
    result = run(controller, context_remaining(clock, 20.0), clock, trigger=ALARM)
    assert result["ended"] == "out_of_time"
    assert clock.now - 1000.0 <= 20.0 - MARGIN_SECONDS
