"""The monitor lease adapter against moto: forward-only conditional writes, reads, errors, and the
loop handing over to a newer scheduled invocation through the real DynamoDB item."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from moto import mock_aws

from nginx_eip_failover.adapters.dynamodb.monitor_lease import MonitorLeaseStore, lease_key
from nginx_eip_failover.adapters.dynamodb.state_store import StateStore, state_key
from nginx_eip_failover.core.config import Settings
from nginx_eip_failover.core.decision import Decision
from nginx_eip_failover.core.errors import StateStoreError
from nginx_eip_failover.core.ports import Association, MonitorLease
from nginx_eip_failover.core.state import ControllerState
from nginx_eip_failover.observability import metrics
from nginx_eip_failover.service.controller import CycleReport
from nginx_eip_failover.service.monitor_events import MonitorTrigger
from nginx_eip_failover.service.monitor_loop import LEASE_CHECK_SECONDS, MonitorRun
from support.moto_tables import create_table

TABLE = "nginx-eip-failover-state"
ALLOCATION = "eipalloc-0123456789abcdef0"
KEY = {"pk": {"S": lease_key(ALLOCATION)}}


@pytest.fixture
def dynamodb(boto_session: boto3.session.Session) -> Iterator[Any]:
    with mock_aws():
        client = boto_session.client("dynamodb", region_name="us-east-1")
        create_table(client, TABLE)
        yield client


@pytest.fixture
def store(dynamodb: Any) -> MonitorLeaseStore:
    return MonitorLeaseStore(dynamodb, TABLE, ALLOCATION)


def raw_item(client: Any) -> dict[str, Any] | None:
    return client.get_item(TableName=TABLE, Key=KEY, ConsistentRead=True).get("Item")  # type: ignore[no-any-return]


def test_no_lease_until_one_registers(store: MonitorLeaseStore) -> None:
    assert store.current() is None
    first = MonitorLease(1_700_000_000.125, "request-1")
    assert store.register(first) is None
    assert store.current() == first


def test_the_item_is_small_and_keyed_beside_the_state(store: MonitorLeaseStore, dynamodb: Any) -> None:
    store.register(MonitorLease(1_700_000_000.125, "c6af9ac6-7b61-11e6-9a41-93e812345678"))
    item = raw_item(dynamodb)
    assert item == {
        "pk": {"S": "monitor#" + ALLOCATION},
        "started_at": {"N": "1700000000.125"},
        "invocation": {"S": "c6af9ac6-7b61-11e6-9a41-93e812345678"},
    }
    assert lease_key(ALLOCATION) != state_key(ALLOCATION)


def test_a_newer_invocation_takes_the_lease(store: MonitorLeaseStore) -> None:
    store.register(MonitorLease(1000.0, "request-1"))
    newer = MonitorLease(1061.5, "request-2")
    assert store.register(newer) is None
    assert store.current() == newer


@pytest.mark.parametrize(
    "late",
    [MonitorLease(1000.0, "request-0"), MonitorLease(1061.499, "request-9"), MonitorLease(1061.5, "request-1")],
    ids=["older", "a millisecond older", "same start, lower id"],
)
def test_the_lease_only_moves_forward(store: MonitorLeaseStore, dynamodb: Any, late: MonitorLease) -> None:
    # GIVEN a newer invocation holds the lease
    newer = MonitorLease(1061.5, "request-2")
    store.register(newer)
    before = raw_item(dynamodb)
    # WHEN an older one (a late start, or a tie it loses) registers
    answer = store.register(late)
    # THEN nothing is written and it learns who is newer
    assert answer == newer
    assert raw_item(dynamodb) == before


def test_a_tie_on_the_start_goes_to_the_higher_request_id(store: MonitorLeaseStore) -> None:
    store.register(MonitorLease(1061.5, "request-1"))
    assert store.register(MonitorLease(1061.5, "request-2")) is None
    assert store.current() == MonitorLease(1061.5, "request-2")


def test_a_retried_registration_that_had_already_taken_effect_is_a_success(store: MonitorLeaseStore) -> None:
    # botocore retries a write whose answer was lost; the retry fails its condition against itself
    mine = MonitorLease(1061.5, "request-2")
    assert store.register(mine) is None
    assert store.register(mine) is None
    assert store.current() == mine


def test_the_lease_and_the_state_never_conflict(store: MonitorLeaseStore, dynamodb: Any) -> None:
    states = StateStore(dynamodb, TABLE, ALLOCATION)
    assert states.save(ControllerState(observed=True), 0) == 1
    store.register(MonitorLease(1000.0, "request-1"))
    assert states.save(ControllerState(), 1) == 2
    store.register(MonitorLease(1060.0, "request-2"))
    assert states.load().version == 2
    assert store.current() == MonitorLease(1060.0, "request-2")


@pytest.mark.parametrize(
    "item",
    [
        {"started_at": {"S": "yesterday"}, "invocation": {"S": "x"}},
        {"invocation": {"S": "x"}},
        {"started_at": {"N": "12"}},
    ],
    ids=["started_at not a number", "no started_at", "no invocation"],
)
def test_an_unreadable_lease_is_an_error_not_a_successor(
    store: MonitorLeaseStore, dynamodb: Any, item: dict[str, Any]
) -> None:
    dynamodb.put_item(TableName=TABLE, Item={**KEY, **item})
    with pytest.raises(StateStoreError, match="not a valid monitor lease"):
        store.current()


def test_aws_errors_become_state_store_errors(boto_session: boto3.session.Session) -> None:
    with mock_aws():
        config = Config(retries={"mode": "standard", "total_max_attempts": 1})
        client = boto_session.client("dynamodb", region_name="us-east-1", config=config)
        missing = MonitorLeaseStore(client, "no-such-table", ALLOCATION)
        with pytest.raises(StateStoreError, match="GetItem no-such-table"):
            missing.current()
        with pytest.raises(StateStoreError, match="PutItem no-such-table"):
            missing.register(MonitorLease(1000.0, "request-1"))


# ------------------------------------------------------------------- the loop, on the real DynamoDB item


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return 1_700_000_000.0 + self.now


class QuickCycles:
    """A controller whose cycle takes 0.05 s; `on_cycle` runs at each cycle's start."""

    def __init__(self, settings: Settings, clock: Clock, on_cycle: Any) -> None:
        self.settings = settings
        self.clock = clock
        self.on_cycle = on_cycle
        self.cycles = 0
        self.report = CycleReport(
            decision=Decision(ControllerState(), None, "steady"),
            observations=[],
            association=Association(ALLOCATION, None, None),
        )

    def failure_run_in_progress(self) -> bool:
        return False

    def run_cycle(self, actor: str, time_left: Callable[[], float] | None = None) -> CycleReport:
        self.cycles += 1
        self.on_cycle(self.clock.now)
        self.clock.now += 0.05
        return self.report


def test_a_scheduled_invocation_stops_once_a_newer_one_has_registered(
    store: MonitorLeaseStore, dynamodb: Any, settings: Settings
) -> None:
    clock = Clock()
    successor = MonitorLease(round(clock.time() + 42.0, 3), "request-successor")

    def successor_starts(now: float) -> None:
        if now >= 42.0 and store.current() != successor:
            assert store.register(successor) is None  # it is newer: its forward-only write succeeds

    controller = QuickCycles(settings, clock, successor_starts)
    trigger = MonitorTrigger(kind="schedule", actor="monitor:schedule")
    run = MonitorRun(controller, trigger, lambda: int((150.0 - clock.now) * 1000), lease=store, clock=clock)
    try:
        for wait in run.steps():
            clock.now += wait
    finally:
        metrics.clear_metrics()
    # THEN it registered itself, probed until the successor registered and stopped at its next read
    assert run.ended == "handed_over"
    assert run.successor == successor
    assert 42.0 <= clock.now <= 42.0 + LEASE_CHECK_SECONDS + settings.interval_seconds
    assert store.current() == successor


def test_an_older_invocation_registering_late_stops_after_its_first_cycle(
    store: MonitorLeaseStore, settings: Settings
) -> None:
    clock = Clock()
    newer = MonitorLease(round(clock.time() + 0.5, 3), "request-newer")
    store.register(newer)
    controller = QuickCycles(settings, clock, lambda _now: None)
    trigger = MonitorTrigger(kind="schedule", actor="monitor:schedule")
    run = MonitorRun(controller, trigger, lambda: 150_000, lease=store, clock=clock)
    assert list(run.steps()) == []
    assert run.ended == "handed_over" and controller.cycles == 1
    assert run.successor == newer and store.current() == newer
