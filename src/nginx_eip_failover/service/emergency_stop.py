"""Moves refused while the emergency stop is set (core/emergency_stop.py).

`StopGuardedMover` wraps a group's EipPort: each move reads the flag first, and while it is set no
EC2 call is sent and `EmergencyStopError` (an ElasticIpError) names the stop, so the controller
records the refusal as the move's outcome. A flag that cannot be read refuses the move as well: the
stop exists for the moment nobody trusts the controller, and a move it could not check is not safe.
"""

from __future__ import annotations

from nginx_eip_failover.core.emergency_stop import EmergencyStopError
from nginx_eip_failover.core.errors import StateStoreError
from nginx_eip_failover.core.ports import Association, BeforeSend, EipPort, MoveResult, StopFlagPort
from nginx_eip_failover.observability import logger


class StopGuardedMover:
    def __init__(self, inner: EipPort, flag: StopFlagPort) -> None:
        self._inner = inner
        self._flag = flag

    def describe(self) -> Association:
        return self._inner.describe()

    def move(
        self,
        instance_id: str,
        *,
        not_after: float | None = None,
        priority: int = 0,
        before_send: BeforeSend | None = None,
    ) -> MoveResult:
        try:
            stop = self._flag.current()
        except StateStoreError as exc:
            raise EmergencyStopError(f"move to {instance_id} not sent: cannot read the emergency stop: {exc}") from exc
        if stop is not None:
            logger.warning("move refused: emergency stop", extra={"to": instance_id, "stop": stop.as_dict()})
            raise EmergencyStopError(f"move to {instance_id} not sent: {stop.refusal()}")
        return self._inner.move(instance_id, not_after=not_after, priority=priority, before_send=before_send)
