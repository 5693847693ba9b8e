"""The emergency stop, pure: one item in the state table that every function checks before it moves
an address (`nginx-eip-failover stop` writes it, `resume` deletes it; docs/runbook.md).

The stack's schedules and alarm actions are disabled too, but a flag is what holds when a schedule is
re-enabled by hand, an observer keeps its own schedule, or an operator invokes a function: the
monitor (and every observer) returns without probing while it is set, and a move that was decided
before it was set is refused at the mover, naming it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from nginx_eip_failover.core.bounds import bounded
from nginx_eip_failover.core.errors import ElasticIpError

# The item's key in the state table (attribute `pk`): one per stack, whatever the groups.
STOP_KEY = "emergency-stop"
MAX_REASON_BYTES = 500


@dataclass(frozen=True)
class EmergencyStop:
    reason: str
    by: str
    at: float  # epoch seconds

    def describe(self) -> str:
        when = datetime.fromtimestamp(self.at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return f"emergency stop set by {self.by} at {when}: {self.reason}"

    def refusal(self) -> str:
        """What a refused move says."""
        return f"{self.describe()}; no address moves until `nginx-eip-failover resume`"

    def as_dict(self) -> dict[str, Any]:
        return {"reason": self.reason, "by": self.by, "at": self.at, "describe": self.describe()}


class EmergencyStopError(ElasticIpError):
    """A move refused because the stop is set: nothing was sent to EC2. An ElasticIpError, so the
    controller records it as the move's outcome (decision log, status, notice), naming the stop."""


def stop_item(stop: EmergencyStop) -> dict[str, dict[str, str]]:
    """The DynamoDB item (low-level attribute values) that records `stop`."""
    return {
        "pk": {"S": STOP_KEY},
        "reason": {"S": bounded(stop.reason, MAX_REASON_BYTES) or "-"},
        "by": {"S": bounded(stop.by, 200) or "-"},
        "at": {"N": repr(float(stop.at))},
    }


def stop_from_item(item: Mapping[str, Any] | None) -> EmergencyStop | None:
    """The stop an item records, or None when there is no item (not stopped). A malformed item still
    stops: a flag someone wrote by hand means stop, whatever else it lacks."""
    if not item:
        return None

    def text(name: str) -> str:
        value = item.get(name) or {}
        return str(value.get("S", "")) if isinstance(value, Mapping) else ""

    try:
        at = float((item.get("at") or {}).get("N", "0"))
    except (TypeError, ValueError, AttributeError):
        at = 0.0
    return EmergencyStop(reason=text("reason") or "(no reason recorded)", by=text("by") or "unknown", at=at)
