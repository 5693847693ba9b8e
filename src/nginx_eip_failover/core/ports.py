"""The ports: value types and interfaces the service uses, implemented by the adapters.

The core (`decision`, `operator_requests`) and the service (`controller`, `status`) import these,
never an adapter module, so a fake for a test needs nothing from boto3 or urllib3.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

from nginx_eip_failover.core.state import ControllerState

if TYPE_CHECKING:
    from nginx_eip_failover.core.log_records import LogRecord

Severity = Literal["info", "warning", "critical"]


@dataclass(frozen=True)
class Observation:
    """One probe of one node by one observer (today a single observer: the function itself)."""

    node: str
    ok: bool
    detail: str
    latency_ms: float
    observer: str = "local"


@dataclass(frozen=True)
class ObserverReport:
    """One observer's latest probe verdict per node, as it shares them with the other observers.

    Written when a verdict changes and at least every heartbeat; `at` is when its newest probe
    round was taken (the heartbeat), so a reader can tell a live observer from a dead one.
    """

    observer: str
    at: float
    ok: Mapping[str, bool]  # node -> did its latest probe succeed
    details: Mapping[str, str] = field(default_factory=dict)  # node -> that probe's detail (bounded)
    # node -> when this observer's current run of failed probes of it began (failing nodes only)
    failing_since: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Notice:
    """Something an operator should hear about (SNS and logs), sent only by the writer that won."""

    kind: str
    severity: Severity
    message: str


@dataclass(frozen=True)
class Association:
    allocation_id: str
    public_ip: str | None
    instance_id: str | None
    # An address set's labels that are not on the holder (all of them when nothing is held); a
    # single EIP has none.
    missing: tuple[str, ...] = ()


@dataclass(frozen=True)
class MoveResult:
    association: Association
    associate_ms: float  # the AssociateAddress call (0 when the EIP was already there)
    verify_ms: float  # DescribeAddresses until the new association is visible


@dataclass(frozen=True)
class Snapshot:
    state: ControllerState
    version: int  # 0: no item yet


@dataclass(frozen=True)
class MonitorLease:
    """A scheduled monitor invocation, as registered in the monitor lease: the newest one probes."""

    started_at: float  # when the invocation started (epoch seconds)
    invocation: str  # its request id; breaks the tie between two equal start times

    def newer_than(self, other: MonitorLease) -> bool:
        return (self.started_at, self.invocation) > (other.started_at, other.invocation)


class Prober(Protocol):
    def probe_all(self, budget_seconds: float | None = None) -> list[Observation]: ...


class EipPort(Protocol):
    def describe(self) -> Association: ...

    # `not_after` (time.monotonic()): the move is no longer wanted after it, so AssociateAddress is
    # not sent late (ElasticIpError instead). `priority`: lower goes first for EC2's API budget
    # (api_budget: failovers before placements before failbacks).
    def move(self, instance_id: str, *, not_after: float | None = None, priority: int = 0) -> MoveResult: ...


class StorePort(Protocol):
    def load(self, *, consistent: bool = True) -> Snapshot: ...
    def save(self, state: ControllerState, expected_version: int) -> int: ...


class NotifierPort(Protocol):
    def publish(self, notices: list[Notice]) -> None: ...


class DecisionLog(Protocol):
    """Append-only log of the core's state-changing steps (see log_records), read back by time."""

    def append(self, records: Sequence[LogRecord]) -> None: ...

    # Records whose sort key is in [since, until] (epoch seconds), oldest first, at most `limit`;
    # `after`: a sort key to continue from (exclusive), for the next page.
    def read(
        self, since: float, until: float | None = None, limit: int = 500, *, after: str | None = None
    ) -> list[LogRecord]: ...


class ObserverBoard(Protocol):
    """Where the observers of one EIP share their reports (see service/observer_exchange)."""

    def publish(self, report: ObserverReport) -> None: ...

    # The stored reports of `observers` (those that have one), eventually consistent.
    def read(self, observers: Sequence[str]) -> list[ObserverReport]: ...


class LeasePort(Protocol):
    """Where scheduled monitor invocations hand probing over to each other (see monitor_loop)."""

    def register(self, lease: MonitorLease) -> MonitorLease | None:
        """Record `lease` unless a newer one is already there: then nothing is written and the newer
        one is returned. None means `lease` is now the newest."""
        ...

    def current(self) -> MonitorLease | None:
        """The newest registered lease, if any. May lag a write by a moment (eventually consistent):
        a late answer only makes the older invocation probe a little longer."""
        ...
