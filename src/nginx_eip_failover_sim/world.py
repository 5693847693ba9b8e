"""The simulated outside world, behind the ports of core/ports.py: nodes and their probes,
DynamoDB (state, lease, decision log, fleet document), EC2 (addresses and the request limit), SNS.

Every call is an I/O point: the caller hands control back for the request's latency, the effect
happens, and it hands control back again for the answer's, so a crash can land before the effect
or after it (the effect done, the caller never told). Faults are drawn from the seed's `Profile`.
"""

from __future__ import annotations

import itertools
import json
import math
import random
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from nginx_eip_failover.core import faults
from nginx_eip_failover.core.config import NodeConfig, Settings
from nginx_eip_failover.core.errors import ConflictError, ElasticIpError, MoveCancelledError, StateStoreError
from nginx_eip_failover.core.log_records import LogRecord, record_from_dict, record_json
from nginx_eip_failover.core.ports import (
    Association,
    BeforeSend,
    FleetDocument,
    MonitorLease,
    MoveResult,
    Notice,
    Observation,
    Snapshot,
)
from nginx_eip_failover.core.state import ControllerState, MoveIntent, state_from_dict, state_to_dict
from nginx_eip_failover_sim.scheduler import Scheduler
from nginx_eip_failover_sim.timeline import (
    DecisionCommitted,
    Event,
    HolderChange,
    MoveCall,
    NodeTruth,
    Note,
    ProbeFailed,
    StateWritten,
)

ARRIVAL_SECONDS = 0.001  # a probe's request reaches the node this long after it is sent
FAILING_KINDS = ("refused", "reset", "hang", "http_500", "garbage", "peers_down", "slow_timeout")
# A healthy node that refuses the probes' credentials (401: a rotated token): not failing, by the truth.
# "auth_refused" is reported as an auth failure (Observation.auth_failed); "auth_refused_counted" as a
# plain failure, as a prober that takes a 401 for the node down would (HealthCheckAuthFailureIsDown).
AUTH_KINDS = ("auth_refused", "auth_refused_counted")
AUTH_FAILED_DETAIL = "auth failed: HTTP 401, the node refused the health check's credentials"


@dataclass(frozen=True)
class Profile:
    """The seed's fault rates (each a probability per call unless named otherwise)."""

    ddb_error: float = 0.0
    ddb_throttle: float = 0.0
    ddb_slow: float = 0.0  # a call that takes 0.5-4 s
    ddb_stale_read: float = 0.0  # an eventually consistent read returns an older version
    ec2_error: float = 0.0
    ec2_slow: float = 0.0
    ec2_visibility_delay: float = 0.0  # the longest delay before an association shows (seconds)
    ec2_partial: float = 0.0  # one address of a set fails its call
    ec2_bucket: float = 20.0  # EC2's mutating-call bucket (tokens), refilled at 2 a second
    sns_error: float = 0.0
    sns_slow: float = 0.0  # a publish that takes 3-8 s (8 s: aws_clients.SNS_CONFIG's worst case)


@dataclass(frozen=True)
class Period:
    start: float
    end: float
    kind: str  # one of FAILING_KINDS or AUTH_KINDS, or "slow" (answers late but in time)
    latency: float = 0.0  # "slow"/"slow_timeout": the answer's delay


class Recorder:
    """The run's timeline and coverage counters; every event also goes to `listener` (the checker)."""

    def __init__(self, listener: Callable[[Event], None]) -> None:
        self.events: list[Event] = []
        self.coverage: Counter[str] = Counter()
        self._listener = listener

    def record(self, event: Event) -> None:
        self.events.append(event)
        self._listener(event)

    def count(self, what: str) -> None:
        self.coverage[what] += 1


class NodeScript:
    """One node's scripted behaviour: periods of failure (or slowness), known in advance."""

    def __init__(self, group: str, node: NodeConfig, periods: Sequence[Period], base_latency: float) -> None:
        self.group = group
        self.node = node
        self.periods = sorted(periods, key=lambda period: period.start)
        self._starts = [period.start for period in self.periods]
        self.base_latency = base_latency

    def at(self, when: float) -> Period | None:
        index = bisect_right(self._starts, when) - 1
        while index >= 0:
            period = self.periods[index]
            if period.start <= when < period.end:
                return period
            index -= 1
            if index >= 0 and self.periods[index].end <= when and index < len(self.periods) - 8:
                break
        return None

    def probe(self, started: float, timeout: float) -> tuple[bool, str, float, bool]:
        """(ok, detail, latency, timed out) of a probe sent at `started`: the node's state when the
        request arrives decides a refusal or a hang; its state when it answers decides the answer."""
        arrival = started + ARRIVAL_SECONDS
        period = self.at(arrival)
        if period is not None and period.kind == "refused":
            return False, "connection refused", 0.002, False
        latency = self.base_latency
        if period is not None and period.kind in ("slow", "slow_timeout"):
            latency = period.latency
        answer_at = arrival + latency
        if period is not None and period.kind == "hang":
            answer_at = period.end + latency
        if answer_at - started >= timeout:
            return False, f"no answer within {timeout:g}s", timeout, True
        answering = self.at(answer_at)
        seen = round(answer_at - started, 4)
        if answering is None or answering.kind == "slow":
            return True, "HTTP 200, 1 of 1 peers up", seen, False
        detail = {
            "refused": "connection reset by peer",
            "reset": "connection reset by peer",
            "hang": "connection reset by peer",
            "slow_timeout": "connection reset by peer",
            "http_500": "HTTP 500",
            "garbage": "HTTP 200 with a body that is not NGINX Plus API JSON: " + "\u00ff\ufffd" * 300,
            "peers_down": "HTTP 200, 0 of 3 peers up: peer1 unhealthy, peer2 unhealthy, peer3 unhealthy",
            "auth_refused": AUTH_FAILED_DETAIL,
            "auth_refused_counted": "HTTP 401",
        }[answering.kind]
        return False, detail, seen, False

    def truth_events(self, timeout: float) -> list[NodeTruth]:
        """When probes start and stop failing, for the checker: a hang's arrivals until the last that
        times out, a slow spell's if it answers later than the timeout.

        Periods may overlap; a probe meets the one `at` picks, so the truth is read from `at` over
        every stretch between two boundaries (seed 6353: a short slow spell inside an HTTP 500
        period ended, and the truth said healthy while the node still answered 500)."""
        hang_ends = {
            period.end - timeout + self.base_latency + ARRIVAL_SECONDS
            for period in self.periods
            if period.kind == "hang"
        }
        bounds = sorted({point for period in self.periods for point in (period.start, period.end)} | hang_ends)
        events: list[NodeTruth] = []
        failing = False
        for start, end in itertools.pairwise(bounds):
            kind = self._failing_kind((start + end) / 2, timeout)
            if (kind is not None) != failing:
                events.append(NodeTruth(start, self.group, self.node.name, kind is not None, kind or ""))
                failing = kind is not None
        if failing:
            events.append(NodeTruth(bounds[-1], self.group, self.node.name, False))
        return events

    def _failing_kind(self, when: float, timeout: float) -> str | None:
        period = self.at(when)
        if period is None or (period.kind == "slow" and period.latency + ARRIVAL_SECONDS < timeout):
            return None
        if period.kind in AUTH_KINDS:
            return None  # the node serves; only the credentials are refused
        if period.kind == "hang" and when >= period.end - timeout + self.base_latency + ARRIVAL_SECONDS:
            return None
        return period.kind


class SimProber:
    """The Prober port: every node of the group probed at once, each bounded by the timeout."""

    def __init__(
        self, world: World, scripts: Sequence[NodeScript], timeout: float, prober: str = "", max_gap: float = math.inf
    ) -> None:
        self._world = world
        self._scripts = scripts
        self._timeout = timeout
        # The container's own consecutive failures per node (count, first sent at, last sent at, the
        # invocation): ground truth about what this prober saw, kept outside the controller for the
        # checker. A run breaks where an alarm-started invocation begins (FleetRunner): what starts
        # one is often the failure itself (scenario short_gaps); a scheduled one may finish a run its
        # predecessor on this container began, as the controller's runs do. It also
        # breaks where the controller's own runs must (core/streaks.max_probe_gap, here `max_gap`,
        # compared on send times, so plus the timeout: a failure counts when seen, up to it later).
        self._prober = prober
        self._max_gap = max_gap
        self._runs: dict[str, tuple[int, float, float, str]] = {}

    def probe_all(self, budget_seconds: float | None = None) -> list[Observation]:
        sched = self._world.sched
        timeout = self._timeout if budget_seconds is None else max(0.001, min(self._timeout, budget_seconds))
        started = sched.now
        self._world.probe_started(started)
        results = []
        actor = sched.current().name
        current = sched.current().invocation  # a fleet group's cycle runs as an actor of its invocation
        for script in self._scripts:
            ok, detail, latency, timed_out = script.probe(started, timeout)
            self._world.recorder.count("probe:ok" if ok else f"probe:{detail.split(':')[0][:24]}")
            auth_failed = detail == AUTH_FAILED_DETAIL
            results.append(
                Observation(
                    script.node.name, ok, detail, round(latency * 1000, 1), timed_out=timed_out, auth_failed=auth_failed
                )
            )
            if ok:
                self._runs.pop(script.node.name, None)
            else:  # failed probes only: a readable trace, not one line per probe
                count, first, last, invocation = self._runs.get(script.node.name, (0, started, started, current))
                fresh = invocation != current and current in self._world.fresh_run_invocations
                if fresh or started - last > self._max_gap + timeout:
                    count, first = 0, started
                self._runs[script.node.name] = (count + 1, first, started, current)
                self._world.recorder.record(
                    ProbeFailed(
                        started + latency,
                        script.group,
                        script.node.name,
                        started,
                        actor,
                        detail[:40],
                        prober=self._prober,
                        run=count + 1,
                        run_from=first,
                    )
                )
        sched.sleep(max(observation.latency_ms for observation in results) / 1000, "probe")
        return results


class SimStore:
    """The StorePort: one group's state item, conditional writes, eventually consistent reads."""

    def __init__(self, world: World, group: str) -> None:
        self._world = world
        self.group = group
        self.versions: list[tuple[int, str, float]] = []  # (version, item text, written at)

    def load(self, *, consistent: bool = True) -> Snapshot:
        world = self._world
        world.dynamodb_call("GetItem")
        if not self.versions:
            return Snapshot(ControllerState(), 0)
        version, text, _ = self.versions[-1]
        if not consistent and world.chance(world.profile.ddb_stale_read):
            lag = world.rng.uniform(0.0, 1.0)
            older = [entry for entry in self.versions[-6:] if entry[2] <= world.sched.now - lag]
            if older and older[-1][0] != version:
                version, text, _ = older[-1]
                world.recorder.count("ddb:stale_read")
        world.sched.sleep(world.latency(0.002, 0.008), "dynamodb:GetItem:answer")
        return Snapshot(state_from_dict(json.loads(text)), version)

    def save(self, state: ControllerState, expected_version: int) -> int:
        world = self._world
        world.dynamodb_call("PutItem")
        current = self.versions[-1][0] if self.versions else 0
        if current != expected_version:
            world.recorder.count("ddb:conflict")
            world.sched.sleep(world.latency(0.002, 0.008), "dynamodb:PutItem:answer")
            raise ConflictError(f"{self.group} changed since version {expected_version}")
        text = json.dumps(state_to_dict(state), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        version = expected_version + 1
        self.versions = [*self.versions[-20:], (version, text, world.sched.now)]
        world.state_written(self.group, version, text, state)
        world.sched.sleep(world.latency(0.002, 0.008), "dynamodb:PutItem:answer")
        return version


class SimLease:
    """The LeasePort: the newest scheduled invocation's lease; reads may lag a write."""

    def __init__(self, world: World) -> None:
        self._world = world
        self._writes: list[tuple[float, MonitorLease]] = []

    def register(self, lease: MonitorLease) -> MonitorLease | None:
        self._world.dynamodb_call("PutItem lease")
        newest = self._writes[-1][1] if self._writes else None
        if newest is not None and newest.newer_than(lease):
            return newest
        self._writes = [*self._writes[-10:], (self._world.sched.now, lease)]
        return None

    def current(self) -> MonitorLease | None:
        world = self._world
        world.dynamodb_call("GetItem lease")
        lag = world.rng.uniform(0.0, 1.0) if world.chance(world.profile.ddb_stale_read) else 0.0
        visible = [lease for at, lease in self._writes if at <= world.sched.now - lag]
        return visible[-1] if visible else None


class SimDecisionLog:
    """The DecisionLog port: records kept as the table keeps them (JSON), read back decoded."""

    def __init__(self, world: World) -> None:
        self._world = world
        self._items: list[tuple[float, str, int, str]] = []

    def append(self, records: Sequence[LogRecord]) -> None:
        self._world.dynamodb_call("BatchWriteItem log")
        self._items.extend((record.at, record.writer, record.seq, record_json(record)) for record in records)

    def read(
        self, since: float, until: float | None = None, limit: int = 500, *, after: str | None = None
    ) -> list[LogRecord]:
        self._world.dynamodb_call("Query log")
        return [r for r in self.records() if since <= r.at and (until is None or r.at <= until)][:limit]

    def records(self) -> list[LogRecord]:
        """Every record, decoded, in the table's order (time, writer, sequence)."""
        return [record_from_dict(json.loads(text)) for *_, text in sorted(self._items, key=lambda item: item[:3])]


class SimFleetSource:
    def __init__(self, world: World, text: str | None) -> None:
        self._world = world
        self._text = text

    def load(self, *, consistent: bool = False) -> FleetDocument:
        self._world.dynamodb_call("GetItem fleet")
        return FleetDocument(self._text, 1 if self._text is not None else 0)

    def save(self, text: str, expected_version: int) -> int:
        # The simulated fleet document is fixed per seed: no actor applies a new one.
        raise NotImplementedError("the simulator's fleet document is read-only")


@dataclass
class _Address:
    label: str
    holder: str | None
    shown: str | None  # what DescribeAddresses answers (lags the holder)
    shown_from: float = 0.0


class SimEip:
    """The EipPort of one group: its addresses, each moved by its own call (a set can split)."""

    def __init__(self, world: World, settings: Settings, labels: Sequence[str], holder: str | None) -> None:
        self._world = world
        self.settings = settings
        self.group = settings.group
        self.addresses = [_Address(label, holder, holder) for label in labels]
        # Instances of found nodes (sim/found_nodes.py), which the settings do not name: instance -> node.
        self.aliases: dict[str, str] = {}

    def node_name(self, instance_id: str | None) -> str | None:
        node = self.settings.node_by_instance(instance_id)
        return node.name if node else self.aliases.get(instance_id or "")

    def _shown(self) -> list[str | None]:
        now = self._world.sched.now
        return [a.holder if now >= a.shown_from else a.shown for a in self.addresses]

    def describe(self) -> Association:
        self._world.ec2_call("DescribeAddresses", mutating=False)
        shown = self._shown()
        holder = shown[0]
        missing = (
            ()
            if len(shown) == 1
            else tuple(a.label for a, s in zip(self.addresses, shown, strict=True) if s != holder or s is None)
        )
        return Association(self.settings.allocation_id, "198.51.100.1", holder, missing)

    def move(
        self,
        instance_id: str,
        *,
        not_after: float | None = None,
        priority: int = 0,
        before_send: BeforeSend | None = None,
    ) -> MoveResult:
        world = self._world
        current = self.describe()
        if current.instance_id == instance_id and not current.missing:
            return MoveResult(current, 0.0, 0.0)
        started = world.sched.monotonic()
        if not_after is not None and started > not_after:
            world.recorder.count("ec2:not_sent_past_deadline")
            raise ElasticIpError(f"AssociateAddress {self.settings.allocation_id}: not sent, past its deadline")
        cancelled = before_send() if before_send is not None else None
        if cancelled is not None:
            world.recorder.count("ec2:cancelled_before_send")
            raise MoveCancelledError(f"AssociateAddress {self.settings.allocation_id}: not sent: {cancelled}")
        intent, probed_at, forced = world.intent_of_current_actor(self.group)
        target = self.node_name(instance_id)
        failures = []
        for address in self.addresses:
            if self._shown()[self.addresses.index(address)] == instance_id and address.holder == instance_id:
                continue
            sent = world.sched.now
            world.ec2_call("AssociateAddress", mutating=True, before_effect=True)
            if len(self.addresses) > 1 and world.chance(world.profile.ec2_partial):
                world.recorder.count("ec2:partial")
                failures.append(address.label)
                continue
            world.recorder.record(
                MoveCall(
                    world.sched.now,
                    self.group,
                    address.label,
                    target or instance_id,
                    intent.source if intent else None,
                    intent.id if intent else "?",
                    world.cause_of(intent),
                    probed_at,
                    world.sched.current().name,
                    forced,
                    sent_at=sent,
                )
            )
            world.associate(self, address, instance_id)
            world.sched.sleep(world.latency(0.1, 0.3), "ec2:AssociateAddress:answer")
        associated = world.sched.monotonic()
        # Verify until visible (as ElasticIpMover does), at most 10 s.
        while True:
            seen = self.describe()
            if (seen.instance_id == instance_id and not seen.missing) or world.sched.monotonic() - associated >= 10.0:
                break
            world.sched.sleep(0.25, "ec2:verify")
        if failures and len(failures) == len(self.addresses):
            raise ElasticIpError(f"{self.group}: every address failed: {', '.join(failures)}")
        return MoveResult(seen, round((associated - started) * 1000, 1), 0.0)


# The real SNS client gives up after 2 attempts of 1 s connect + 2 s read and one backoff (at most
# 2 s): aws_clients.SNS_CONFIG.
SNS_WORST_SECONDS = 8.0
# The client the stale-decision defect shipped with: 3 attempts of 2 s connect + 5 s read. Its
# re-injection (faults.STALE_DECISION_AFTER_SLOW_NOTICE) brings it back, as the code then was.
SNS_WORST_SECONDS_AS_SHIPPED = 21.0


class SimNotifier:
    def __init__(self, world: World) -> None:
        self._world = world

    def publish(self, notices: list[Notice]) -> None:
        world = self._world
        for notice in notices:
            world.recorder.count(f"notice:{notice.kind}")
            slow = world.chance(world.profile.sns_slow)
            stale = faults.active(faults.STALE_DECISION_AFTER_SLOW_NOTICE)
            worst = SNS_WORST_SECONDS_AS_SHIPPED if stale else SNS_WORST_SECONDS
            world.sched.sleep(world.rng.uniform(3.0, worst) if slow else world.latency(0.02, 0.08), "sns:Publish")
            if slow:
                world.recorder.count("sns:slow")
            if world.chance(world.profile.sns_error):
                world.recorder.count("sns:error")  # the real Notifier logs it and carries on


@dataclass
class _Bucket:
    tokens: float
    size: float
    at: float


@dataclass
class World:
    sched: Scheduler
    rng: random.Random
    profile: Profile
    recorder: Recorder
    # actor name -> (the move intent it last committed, the probes' time, forced) per group
    intents: dict[tuple[str, str], tuple[MoveIntent, float, bool]] = field(default_factory=dict)
    last_probe: dict[str, float] = field(default_factory=dict)
    forced: dict[str, bool] = field(default_factory=dict)
    instance_nodes: dict[str, dict[str, str]] = field(default_factory=dict)
    bucket: _Bucket | None = None
    seen_entries: set[tuple[str, float, str, str | None]] = field(default_factory=set)
    # The monitor invocations whose probe runs start afresh (the alarm-started ones, FleetRunner).
    fresh_run_invocations: set[str] = field(default_factory=set)

    def chance(self, probability: float) -> bool:
        return probability > 0 and self.rng.random() < probability

    def latency(self, low: float, high: float) -> float:
        return round(self.rng.uniform(low, high), 4)

    def probe_started(self, at: float) -> None:
        self.last_probe[self.sched.current().name] = at

    def dynamodb_call(self, operation: str) -> None:
        slow = self.chance(self.profile.ddb_slow)
        self.sched.sleep(self.rng.uniform(0.5, 4.0) if slow else self.latency(0.002, 0.008), f"dynamodb:{operation}")
        if slow:
            self.recorder.count("ddb:slow")
        if self.chance(self.profile.ddb_throttle):
            self.recorder.count("ddb:throttled")
            raise StateStoreError(f"{operation}: ProvisionedThroughputExceededException (after retries)")
        if self.chance(self.profile.ddb_error):
            self.recorder.count("ddb:5xx")
            raise StateStoreError(f"{operation}: InternalServerError (after retries)")

    def ec2_call(self, operation: str, *, mutating: bool, before_effect: bool = False) -> None:
        slow = self.chance(self.profile.ec2_slow)
        self.sched.sleep(self.rng.uniform(1.0, 6.0) if slow else self.latency(0.02, 0.1), f"ec2:{operation}")
        if slow:
            self.recorder.count("ec2:slow")
        if mutating:
            bucket = self.bucket or _Bucket(self.profile.ec2_bucket, self.profile.ec2_bucket, self.sched.now)
            bucket.tokens = min(bucket.size, bucket.tokens + 2.0 * (self.sched.now - bucket.at))
            bucket.at = self.sched.now
            self.bucket = bucket
            if bucket.tokens < 1:
                self.recorder.count("ec2:request_limit")
                raise ElasticIpError(f"{operation}: RequestLimitExceeded")
            bucket.tokens -= 1
        if self.chance(self.profile.ec2_error):
            self.recorder.count("ec2:error")
            raise ElasticIpError(f"{operation}: InternalError (after retries)")

    def associate(self, eip: SimEip, address: _Address, instance_id: str) -> None:
        delay = self.rng.uniform(0.0, self.profile.ec2_visibility_delay) if self.profile.ec2_visibility_delay else 0.0
        if delay > 0.5:
            self.recorder.count("ec2:visibility_delay")
        address.shown = address.holder if self.sched.now >= address.shown_from else address.shown
        address.holder = instance_id
        address.shown_from = self.sched.now + delay
        self.recorder.record(
            HolderChange(self.sched.now, eip.group, address.label, instance_id, eip.node_name(instance_id))
        )

    def state_written(self, group: str, version: int, text: str, state: ControllerState) -> None:
        try:
            decoded = state_from_dict(json.loads(text))
            decodes = decoded == replace(state, history=decoded.history) and len(decoded.history) == len(state.history)
        except (ValueError, TypeError, KeyError):
            decodes = False
        actor = self.sched.current()
        if state.move is not None:
            known = self.intents.get((actor.name, group))
            if known is None or known[0].id != state.move.id:
                probed_at = self.last_probe.get(actor.name, self.sched.now)
                self.intents[(actor.name, group)] = (state.move, probed_at, self.forced.get(actor.invocation, False))
                intent = state.move
                self.recorder.record(
                    DecisionCommitted(
                        self.sched.now,
                        group,
                        intent.id,
                        intent.target,
                        intent.source,
                        self.cause_of(intent),
                        intent.reason[:160],
                        probed_at,
                        actor.name,
                        version,
                    )
                )
        for entry in state.history[-6:]:
            key = (group, entry.at, entry.event, entry.node)
            if key in self.seen_entries:
                continue
            self.seen_entries.add(key)
            self.recorder.count(f"rule:{entry.event}")
            if entry.event.startswith("node_"):
                self.recorder.record(
                    Note(entry.at, actor.name, f"{group}/{entry.node} {entry.event}: {entry.reason[:60]}")
                )
        self.recorder.record(
            StateWritten(
                self.sched.now,
                group,
                version,
                len(text.encode("utf-8", "surrogatepass")),
                decodes,
                tuple(sorted(state.alerts)),
                tuple(sorted(name for name, health in state.nodes.items() if health.status == "up")),
                state.move is not None,
                state.pin.node if state.pin else None,
                tuple(sorted(state.drains)),
            )
        )

    def intent_of_current_actor(self, group: str) -> tuple[MoveIntent | None, float, bool]:
        known = self.intents.get((self.sched.current().name, group))
        if known is None:
            return None, self.sched.now, False
        return known

    @staticmethod
    def cause_of(intent: MoveIntent | None) -> str:
        from nginx_eip_failover_sim.invariants import move_cause

        return move_cause(intent.reason) if intent is not None else "unknown"

    def note(self, text: str) -> None:
        self.recorder.record(Note(self.sched.now, "world", text))
