"""The monitor loop on a fake clock: one cycle when time is short, cycles every interval while
the invocation has room for another full cycle plus the margin, and always an end."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import replace
from types import SimpleNamespace

import pytest

from nginx_eip_failover import monitor_loop
from nginx_eip_failover.config import Settings
from nginx_eip_failover.controller import CycleReport
from nginx_eip_failover.decision import Decision
from nginx_eip_failover.errors import ConflictError, ElasticIpError, MonitorCyclesFailedError, StateStoreError
from nginx_eip_failover.monitor_loop import MARGIN_SECONDS, run_monitor
from nginx_eip_failover.observability import metrics
from nginx_eip_failover.ports import Association
from nginx_eip_failover.state import ControllerState, NodeHealth


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

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

    def run_cycle(self, actor: str) -> CycleReport:
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


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    fake = Clock()
    monkeypatch.setattr(monitor_loop, "time", SimpleNamespace(monotonic=fake.monotonic, sleep=fake.sleep))
    yield fake
    metrics.clear_metrics()


def context_remaining(clock: Clock, total_seconds: float) -> Callable[[], int]:
    """Like Lambda's context: the time left, counting down with the clock."""
    start = clock.now
    return lambda: int(max(0.0, total_seconds - (clock.now - start)) * 1000)


def run(controller: FakeController, remaining: Callable[[], int] | None, clock: Clock) -> dict[str, object]:
    return run_monitor(controller, "monitor:schedule", remaining, sleep=clock.sleep)  # type: ignore[arg-type]


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
