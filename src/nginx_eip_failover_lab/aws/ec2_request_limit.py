"""EC2's request-rate limit for mutating actions, as the lab's AWS proxy enforces it (off by default).

EC2 meters mutating ("non-read") actions per account and region with a token bucket: a burst of
about 50 calls, refilled at about 5 a second. A call beyond it is answered HTTP 503 with the code
`RequestLimitExceeded`. This model is deliberately separate from the controller's own pacing
(`nginx_eip_failover.adapters.ec2.api_budget`), so a bug there cannot hide here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

MUTATING_EC2_ACTIONS = frozenset(
    {"AssociateAddress", "DisassociateAddress", "AssignPrivateIpAddresses", "ReplaceRoute", "CreateRoute"}
)
THROTTLE_STATUS = 503
THROTTLE_CODE = "RequestLimitExceeded"
THROTTLE_MESSAGE = "Request limit exceeded."


@dataclass
class Ec2RequestLimit:
    """`burst` tokens, `refill_per_second` added continuously; `throttled` counts refused calls."""

    burst: int = 50
    refill_per_second: float = 5.0
    clock: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens = float(self.burst)
        self._at = self.clock()
        self.throttled = 0

    def admits(self, service: str, action: str) -> bool:
        """Whether EC2 would accept this call now (taking its token); reads are never limited here."""
        if service != "ec2" or action not in MUTATING_EC2_ACTIONS:
            return True
        with self._lock:
            now = self.clock()
            self._tokens = min(float(self.burst), self._tokens + (now - self._at) * self.refill_per_second)
            self._at = now
            if self._tokens >= 1:
                self._tokens -= 1
                return True
            self.throttled += 1
            return False
