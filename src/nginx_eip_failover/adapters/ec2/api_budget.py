"""Client-side pacing of EC2's mutating calls: a token bucket shared by every group of a process.

EC2 throttles mutating calls (AssociateAddress, AssignPrivateIpAddresses, ReplaceRoute, ...) per
account and region with a token bucket: a burst of about 50, then about 5 calls a second. A fleet
that fails over many groups at once would otherwise spend its burst, then get
`RequestLimitExceeded` and retry blindly. Here each mutating call first takes a token:

- waiting for a token is pacing, never an error; a caller gives up only once its `not_after`
  (time.monotonic()) has passed, and then nothing is sent;
- waiters are served by priority, lower numbers first (core/ports.py: `PRIORITY_FAILOVER` before
  `PRIORITY_FAILBACK`), first come first served within a priority: a fleet failover moves the
  groups whose node is down before the ones that merely return to their preferred node.

The bucket only paces this process. Other processes of the account (another invocation, the CLI,
other tools) share EC2's bucket too, so botocore's adaptive retry mode stays on underneath.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable

from nginx_eip_failover.core.errors import FailoverError
from nginx_eip_failover.core.ports import PRIORITY_FAILOVER

# EC2's documented defaults for mutating ("non-read") actions; accounts can differ.
EC2_MUTATING_BURST = 50
EC2_MUTATING_REFILL_PER_SECOND = 5.0


# Refills are computed in floating point: a token 1e-9 short is a whole token (else a waiter could
# spin on a timeout too small to move the clock).
_EPSILON = 1e-9

Waiter = Callable[[threading.Condition, "float | None"], object]


class BudgetDeadlineError(FailoverError):
    """No token came before the caller's `not_after`: the call was not sent."""


def _wait(condition: threading.Condition, timeout: float | None) -> object:
    return condition.wait(timeout)


class ApiBudget:
    """A thread-safe token bucket: `burst` tokens at most, `refill_per_second` added continuously.

    `clock` (monotonic seconds) and `wait` (how a waiter blocks on the bucket's condition, at most
    `timeout` seconds; None: until notified) are injectable so tests can run on a fake clock.
    """

    def __init__(
        self,
        burst: int = EC2_MUTATING_BURST,
        refill_per_second: float = EC2_MUTATING_REFILL_PER_SECOND,
        *,
        clock: Callable[[], float] = time.monotonic,
        wait: Waiter = _wait,
    ) -> None:
        if burst < 1:
            raise ValueError(f"burst must be at least 1, not {burst}")
        if not refill_per_second > 0:
            raise ValueError(f"refill_per_second must be positive, not {refill_per_second}")
        self.burst = burst
        self.refill_per_second = refill_per_second
        self._clock = clock
        self._wait = wait
        self._condition = threading.Condition()
        self._tokens = float(burst)
        self._refilled_at = clock()
        self._waiters: list[tuple[int, int]] = []  # a heap of (priority, arrival)
        self._arrivals = itertools.count()

    def available(self) -> float:
        """Tokens in the bucket now (fractions count towards the next one)."""
        with self._condition:
            self._refill(self._clock())
            return self._tokens

    def waiting(self) -> int:
        """How many callers are waiting for a token."""
        with self._condition:
            return len(self._waiters)

    def try_acquire(self) -> bool:
        """Take a token if one is free and nobody waits for it; never blocks."""
        with self._condition:
            self._refill(self._clock())
            if self._waiters or self._tokens < 1 - _EPSILON:
                return False
            self._tokens = max(0.0, self._tokens - 1)
            return True

    def acquire(self, priority: int = PRIORITY_FAILOVER, not_after: float | None = None) -> float:
        """Take a token, waiting behind every waiter of a lower priority number (and earlier waiters
        of the same one). Returns the seconds waited; raises BudgetDeadlineError once the clock has
        passed `not_after` without a token."""
        with self._condition:
            started = self._clock()
            ticket = (priority, next(self._arrivals))
            heapq.heappush(self._waiters, ticket)
            try:
                while True:
                    now = self._clock()
                    self._refill(now)
                    first = self._waiters[0] == ticket
                    if first and self._tokens >= 1 - _EPSILON:
                        self._tokens = max(0.0, self._tokens - 1)
                        return now - started
                    if not_after is not None and now >= not_after:
                        raise BudgetDeadlineError(
                            f"no EC2 API token within the deadline (waited {now - started:.2f}s, "
                            f"{len(self._waiters) - 1} other caller(s) waiting)"
                        )
                    # The first waiter sleeps until its token has refilled; the others until they
                    # are woken (a waiter ahead of them left) or their deadline.
                    timeout = (1 - self._tokens) / self.refill_per_second if first else None
                    if not_after is not None:
                        left = not_after - now
                        timeout = left if timeout is None else min(timeout, left)
                    self._wait(self._condition, timeout)
            finally:
                self._waiters.remove(ticket)
                heapq.heapify(self._waiters)
                self._condition.notify_all()

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - self._refilled_at)
        self._tokens = min(float(self.burst), self._tokens + elapsed * self.refill_per_second)
        self._refilled_at = now
