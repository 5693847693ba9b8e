"""The EC2 API budget: burst, refill, priority order among waiters and the caller's deadline."""

from __future__ import annotations

import threading
import time

import pytest

from nginx_eip_failover.adapters.ec2.api_budget import ApiBudget, BudgetDeadlineError
from nginx_eip_failover.core.ports import PRIORITY_FAILBACK, PRIORITY_FAILOVER, PRIORITY_PLACEMENT


class FakeClock:
    """Time moves only when a waiter waits (by its timeout) or the test advances it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.waits: list[float | None] = []

    def __call__(self) -> float:
        return self.now

    def wait(self, condition: threading.Condition, timeout: float | None) -> None:
        self.waits.append(timeout)
        assert timeout is not None, "a lone waiter must never wait without a timeout"
        self.now += timeout


def test_a_burst_is_served_at_once_then_calls_are_paced_by_the_refill() -> None:
    clock = FakeClock()
    budget = ApiBudget(burst=3, refill_per_second=5.0, clock=clock, wait=clock.wait)
    waited = [budget.acquire() for _ in range(3)]
    assert waited == [0.0, 0.0, 0.0]
    assert clock.waits == []
    # The fourth call waits one refill interval (0.2 s), never fails: pacing, not an error.
    assert budget.acquire() == pytest.approx(0.2)
    assert budget.acquire() == pytest.approx(0.2)
    assert clock.now == pytest.approx(1000.4)


def test_the_bucket_refills_up_to_its_burst_only() -> None:
    clock = FakeClock()
    budget = ApiBudget(burst=2, refill_per_second=5.0, clock=clock, wait=clock.wait)
    budget.acquire()
    budget.acquire()
    assert budget.available() == 0
    clock.now += 0.1
    assert budget.available() == pytest.approx(0.5)
    clock.now += 60
    assert budget.available() == 2.0
    assert budget.try_acquire() and budget.try_acquire()
    assert not budget.try_acquire()


def test_a_caller_gives_up_only_past_its_deadline_and_takes_no_token() -> None:
    clock = FakeClock()
    budget = ApiBudget(burst=1, refill_per_second=1.0, clock=clock, wait=clock.wait)
    budget.acquire()
    with pytest.raises(BudgetDeadlineError, match="no EC2 API token within the deadline"):
        budget.acquire(not_after=clock.now + 0.4)
    assert clock.now == pytest.approx(1000.4)  # it waited until the deadline, not less
    assert budget.waiting() == 0
    # The token it did not get is still there for the next caller, 0.6 s later.
    assert budget.acquire() == pytest.approx(0.6)


def test_a_deadline_already_past_with_a_token_free_still_gets_the_token() -> None:
    clock = FakeClock()
    budget = ApiBudget(burst=1, clock=clock, wait=clock.wait)
    assert budget.acquire(not_after=clock.now - 1) == 0.0


def test_waiters_are_served_by_priority_then_by_arrival() -> None:
    clock = FakeClock()
    # Real waits on the condition, short, with the fake clock frozen: order comes from the bucket.
    budget = ApiBudget(
        burst=1, refill_per_second=1.0, clock=clock, wait=lambda condition, timeout: condition.wait(0.01)
    )
    budget.acquire()  # empty now
    served: list[str] = []
    lock = threading.Lock()

    def caller(name: str, priority: int) -> None:
        budget.acquire(priority)
        with lock:
            served.append(name)

    threads = []
    arrivals = [
        ("failback-1", PRIORITY_FAILBACK),
        ("failover-1", PRIORITY_FAILOVER),
        ("placement", PRIORITY_PLACEMENT),
        ("failback-2", PRIORITY_FAILBACK),
        ("failover-2", PRIORITY_FAILOVER),
    ]
    for name, priority in arrivals:
        thread = threading.Thread(target=caller, args=(name, priority))
        thread.start()
        threads.append(thread)
        deadline = time.monotonic() + 5
        while budget.waiting() < len(threads) and time.monotonic() < deadline:
            time.sleep(0.001)
    assert budget.waiting() == 5
    clock.now += 10  # tokens for all (capped at the burst, 1: they are handed out one by one)
    for _ in range(5):
        before = len(served)
        deadline = time.monotonic() + 5
        while len(served) == before and time.monotonic() < deadline:
            time.sleep(0.001)
        clock.now += 1
    for thread in threads:
        thread.join(5)
    assert served == ["failover-1", "failover-2", "placement", "failback-1", "failback-2"]


def test_try_acquire_never_jumps_the_queue() -> None:
    clock = FakeClock()
    budget = ApiBudget(burst=1, refill_per_second=1.0, clock=clock, wait=lambda c, t: c.wait(0.01))
    budget.acquire()
    thread = threading.Thread(target=budget.acquire)
    thread.start()
    deadline = time.monotonic() + 5
    while budget.waiting() == 0 and time.monotonic() < deadline:
        time.sleep(0.001)
    clock.now += 1
    assert not budget.try_acquire()  # the waiter's token
    thread.join(5)
    assert not thread.is_alive()


@pytest.mark.parametrize(("burst", "refill"), [(0, 5.0), (50, 0.0), (50, -1.0)])
def test_bad_parameters_are_refused(burst: int, refill: float) -> None:
    with pytest.raises(ValueError, match=r"burst|refill"):
        ApiBudget(burst=burst, refill_per_second=refill)
