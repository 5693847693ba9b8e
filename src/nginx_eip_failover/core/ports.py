"""The ports: value types and interfaces the service uses, implemented by the adapters.

The core (`decision`, `operator_requests`) and the service (`controller`, `status`) import these,
never an adapter module, so a fake for a test needs nothing from boto3 or urllib3.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

from nginx_eip_failover.core.state import ControllerState

if TYPE_CHECKING:
    from nginx_eip_failover.core.addresses import RouteSpec
    from nginx_eip_failover.core.config import NodeConfig, Settings
    from nginx_eip_failover.core.emergency_stop import EmergencyStop
    from nginx_eip_failover.core.found_nodes import Candidate
    from nginx_eip_failover.core.log_records import LogRecord
    from nginx_eip_failover.core.preflight import CheckRow, PreflightTargets

Severity = Literal["info", "warning", "critical"]

# The order EC2's API budget serves waiting moves in (EipPort.move's `priority`): lower goes first, so a
# fleet failover moves the groups whose node is down before those that merely return to their preferred one.
PRIORITY_FAILOVER = 0  # the holder is down: traffic is being lost
PRIORITY_PLACEMENT = 5  # an unassociated set: placed on the best node
PRIORITY_FAILBACK = 10  # both nodes are up: returning to the preferred node can wait


@dataclass(frozen=True)
class Observation:
    """One probe of one node by one observer (today a single observer: the function itself)."""

    node: str
    ok: bool
    detail: str
    latency_ms: float
    observer: str = "local"
    # No answer came within the timeout: the node was silent from when the probe was sent (the
    # decision counts such a failure from its start, an answered one from its answer).
    timed_out: bool = False
    # The prober's own run that this probe extends (core/streaks): the seen-at times of its
    # consecutive results of this node with this outcome, this one last. Empty: a run of one.
    run: tuple[float, ...] = ()
    # The node refused the probe's credentials (401/403, or they could not be read): `ok` is False,
    # but the node answered, so this is neither a failure that counts nor a success (core/probe_auth).
    auth_failed: bool = False


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
    # node -> when its latest failed probe saw the failure (its answer, or its start if none came):
    # the quorum counts a failure from there, as one observer's decision does (Verdict.seen_after)
    seen_at: Mapping[str, float] = field(default_factory=dict)
    # node -> this observer's own run of that node (core/streaks: seen-at times of its consecutive
    # results with the reported outcome, newest last): a quorum's failure needs a majority's full runs
    runs: Mapping[str, tuple[float, ...]] = field(default_factory=dict)


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
class FleetDocument:
    """The fleet document as stored: its JSON text and the version a conditional write replaces."""

    text: str | None  # None: no fleet, only the stack's own pair
    version: int  # 0: no item yet


@dataclass(frozen=True)
class MonitorLease:
    """A scheduled monitor invocation, as registered in the monitor lease: the newest one probes."""

    started_at: float  # when the invocation started (epoch seconds)
    invocation: str  # its request id; breaks the tie between two equal start times

    def newer_than(self, other: MonitorLease) -> bool:
        return (self.started_at, self.invocation) > (other.started_at, other.invocation)


class Clock(Protocol):
    """Where the service reads the time: the `time` module in production, one simulated clock in
    the simulator (nginx_eip_failover_sim), so nothing has to be patched to run it on virtual time."""

    def monotonic(self) -> float: ...
    def time(self) -> float: ...


class Prober(Protocol):
    def probe_all(self, budget_seconds: float | None = None) -> list[Observation]: ...


class NodeFinderPort(Protocol):
    """Where found nodes' instances are looked up (core/found_nodes; adapters/node_finder)."""

    # node name -> the instances its finder matches now (in service in its group and AZ, or running
    # with its tags), for every found node of `nodes`; raises NodeFinderError when it cannot tell.
    def candidates(self, nodes: Sequence[NodeConfig]) -> dict[str, list[Candidate]]: ...


class LifecyclePort(Protocol):
    """Auto Scaling's lifecycle actions (adapters/node_finder): the hook holds a terminating
    instance until its action is completed (or the hook's timeout)."""

    def complete(self, group: str, hook: str, instance_id: str, token: str | None, result: str) -> None: ...


BeforeSend = Callable[[], "str | None"]  # see EipPort.move


class EipPort(Protocol):
    def describe(self) -> Association: ...

    # `not_after` (time.monotonic()): the move is no longer wanted after it, so AssociateAddress is
    # not sent late (ElasticIpError instead). `priority`: lower goes first for EC2's API budget
    # (PRIORITY_FAILOVER before PRIORITY_PLACEMENT before PRIORITY_FAILBACK). `before_send`: called
    # after the mover's own reads, right before its first mutating call; a reason (not None) means
    # the decision no longer holds: nothing is sent, MoveCancelledError(reason) is raised.
    def move(
        self,
        instance_id: str,
        *,
        not_after: float | None = None,
        priority: int = 0,
        before_send: BeforeSend | None = None,
    ) -> MoveResult: ...


class StorePort(Protocol):
    def load(self, *, consistent: bool = True) -> Snapshot: ...
    def save(self, state: ControllerState, expected_version: int) -> int: ...


class FleetStorePort(Protocol):
    def load(self, *, consistent: bool = False) -> FleetDocument: ...

    def save(self, text: str, expected_version: int) -> int:
        """Replace the document if its version is still `expected_version` (ConflictError if not);
        returns the new version."""
        ...


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


@dataclass(frozen=True)
class AlertRecord:
    """Whether the preflight alert is raised, and what failed (the preflight's own item)."""

    raised: bool = False
    failures: tuple[str, ...] = ()  # "check target: why" of each failed row (bounded)
    since: float | None = None  # when the alert was raised
    changed_at: float | None = None
    by: str = ""
    version: int = 0  # 0: no item yet


class PreflightStorePort(Protocol):
    """Preflight's two items: when it last ran (claimed once per period) and its alert."""

    @property
    def run_key(self) -> str: ...
    @property
    def alert_key(self) -> str: ...

    def claim(self, now: float, not_after: float, by: str) -> float | None:
        """Record a run at `now` unless the last recorded run is later than `not_after`: None when
        recorded, else the last run's time (nothing written)."""
        ...

    def load_alert(self) -> AlertRecord: ...
    def save_alert(self, record: AlertRecord, expected_version: int) -> int: ...


class PreflightEc2Checks(Protocol):
    """The EC2 calls a move makes, each made so that it changes nothing (DryRun, or the closest
    read), answered as one preflight row."""

    def eip(self, settings: Settings) -> CheckRow: ...
    def instances(self, nodes: Sequence[NodeConfig]) -> list[CheckRow]: ...
    def associate(self, allocation_id: str, node: NodeConfig, private_ip: str | None) -> CheckRow: ...
    def secondary_ips(self, node: NodeConfig, addresses: Sequence[str]) -> CheckRow: ...
    def replace_route(self, node: NodeConfig, route: RouteSpec, table: str) -> CheckRow: ...
    def route_role(self, role_arn: str, tables: Sequence[str]) -> list[CheckRow]:
        """The role can be assumed (sts:AssumeRole), and each of `tables` described with it."""
        ...


class ProbeSecretChecks(Protocol):
    def check(self) -> list[tuple[str, str, str | None]]:
        """Read every health check secret now: (template parameter, ARN, None or the problem) each,
        never a value (adapters/probe_credentials)."""
        ...


class PreflightTriggerChecks(Protocol):
    """The stack's triggers: the schedule and the node alarms must invoke the monitor."""

    def schedule(self, targets: PreflightTargets) -> list[CheckRow]: ...
    def alarms(self, targets: PreflightTargets) -> list[CheckRow]: ...


class StopFlagPort(Protocol):
    """The emergency stop's flag (core/emergency_stop.py), read before a move."""

    def current(self) -> EmergencyStop | None:
        """The stop if one is set (a strongly consistent read), else None."""
        ...
