"""The DynamoDB adapter against moto: versions, conditional writes, conflicts, corrupt items."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from moto import mock_aws

from nginx_eip_failover.adapters.dynamodb.state_store import StateStore, state_key
from nginx_eip_failover.core.errors import ConflictError, StateStoreError
from nginx_eip_failover.core.state import ControllerState, Drain, HistoryEntry, MoveIntent, NodeHealth, Pin
from support.moto_tables import create_table

TABLE = "nginx-eip-failover-state"
ALLOCATION = "eipalloc-0123456789abcdef0"
KEY = {"pk": {"S": state_key(ALLOCATION)}}

RICH = ControllerState(
    nodes={
        "node1": NodeHealth(status="down", fail_streak=3, since=12.5, reason="HTTP 500", flaps=(1.0, 7.25)),
        "node2": NodeHealth(status="up", ok_streak=2, since=3.0, reason="HTTP 200, 1/1 peers up"),
    },
    association="i-0123456789abcdef2",
    observed=True,
    pin=Pin(node="node2", reason="patching", by="operator", at=20.0),
    drains={"node1": Drain(reason="kernel", by="operator", at=21.0)},
    move=MoveIntent(id="m1", target="node2", source="node1", reason="failover", by="monitor", started_at=22.0),
    last_move_at=19.0,
    alerts=frozenset({"move_failing", "no_node_up"}),
    history=(
        HistoryEntry(at=1.0, event="node_up", reason="HTTP 200", by="monitor", node="node1"),
        HistoryEntry(at=2.0, event="move_started", reason="x", by="monitor", node="node1", detail={"id": "m0"}),
    ),
)


@pytest.fixture
def dynamodb(boto_session: boto3.session.Session) -> Iterator[Any]:
    with mock_aws():
        client = boto_session.client("dynamodb", region_name="us-east-1")
        create_table(client, TABLE)
        yield client


def raw_item(client: Any) -> dict[str, Any] | None:
    return client.get_item(TableName=TABLE, Key=KEY, ConsistentRead=True).get("Item")  # type: ignore[no-any-return]


def test_an_empty_table_loads_the_initial_state_at_version_zero(dynamodb: Any) -> None:
    snapshot = StateStore(dynamodb, TABLE, ALLOCATION).load()
    assert snapshot.version == 0
    assert snapshot.state == ControllerState()


def test_a_saved_state_loads_back_equal_and_versions_increment(dynamodb: Any) -> None:
    store = StateStore(dynamodb, TABLE, ALLOCATION)
    assert store.save(ControllerState(observed=True), 0) == 1
    assert store.save(RICH, 1) == 2
    snapshot = store.load()
    assert snapshot.version == 2
    assert snapshot.state == RICH
    assert int(raw_item(dynamodb)["version"]["N"]) == 2  # type: ignore[index]


def test_writing_at_a_stale_version_is_a_conflict_and_changes_nothing(dynamodb: Any) -> None:
    store = StateStore(dynamodb, TABLE, ALLOCATION)
    store.save(RICH, 0)
    store.save(ControllerState(), 1)
    before = raw_item(dynamodb)
    for stale in (0, 1, 3):
        with pytest.raises(ConflictError):
            store.save(RICH, stale)
    assert raw_item(dynamodb) == before


def test_two_invocations_racing_from_the_same_version_one_wins(dynamodb: Any) -> None:
    first, second = StateStore(dynamodb, TABLE, ALLOCATION), StateStore(dynamodb, TABLE, ALLOCATION)
    first.save(ControllerState(), 0)
    a, b = first.load(), second.load()
    assert a.version == b.version == 1
    first.save(RICH, a.version)
    with pytest.raises(ConflictError):
        second.save(ControllerState(observed=True), b.version)
    assert second.load().state == RICH


def test_the_first_write_is_conditional_too(dynamodb: Any) -> None:
    first, second = StateStore(dynamodb, TABLE, ALLOCATION), StateStore(dynamodb, TABLE, ALLOCATION)
    first.save(RICH, 0)
    with pytest.raises(ConflictError):
        second.save(ControllerState(), 0)
    assert first.load().state == RICH


def test_each_elastic_ip_has_its_own_item(dynamodb: Any) -> None:
    StateStore(dynamodb, TABLE, ALLOCATION).save(RICH, 0)
    other = StateStore(dynamodb, TABLE, "eipalloc-0000000000000beef")
    assert other.load().version == 0
    assert other.save(ControllerState(), 0) == 1
    assert StateStore(dynamodb, TABLE, ALLOCATION).load().state == RICH


def test_a_missing_table_is_a_state_store_error_not_a_conflict(dynamodb: Any) -> None:
    store = StateStore(dynamodb, "no-such-table", ALLOCATION)
    with pytest.raises(StateStoreError, match="no-such-table"):
        store.load()
    with pytest.raises(StateStoreError) as raised:
        store.save(ControllerState(), 0)
    assert not isinstance(raised.value, ConflictError)


def test_an_unreachable_endpoint_is_a_state_store_error() -> None:
    client = boto3.client(
        "dynamodb",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        config=Config(retries={"max_attempts": 1}, connect_timeout=1),
    )
    store = StateStore(client, TABLE, ALLOCATION)
    with pytest.raises(StateStoreError):
        store.load()
    with pytest.raises(StateStoreError):
        store.save(ControllerState(), 0)


CORRUPT: list[dict[str, Any]] = [
    {"version": {"N": "3"}, "state": {"S": "not json"}},
    {"version": {"N": "3"}, "state": {"S": "[]"}},
    {"version": {"N": "3"}, "state": {"S": '"a string"'}},
    {"version": {"N": "3"}, "state": {"S": json.dumps({"nodes": ["node1"]})}},
    {"version": {"N": "3"}, "state": {"S": json.dumps({"nodes": {"node1": "up"}})}},
    {"version": {"N": "3"}, "state": {"S": json.dumps({"nodes": {"node1": {"bogus": 1}}})}},
    {"version": {"N": "3"}, "state": {"S": json.dumps({"pin": "node1"})}},
    {"version": {"N": "3"}, "state": {"S": json.dumps({"history": [1]})}},
    {"version": {"N": "3"}, "state": {"S": json.dumps({"drains": ["node1"]})}},
    {"version": {"N": "3"}},
    {"state": {"S": "{}"}},
    {"version": {"S": "three"}, "state": {"S": "{}"}},
    {"version": {"N": "3"}, "state": {"N": "1"}},
]


@pytest.mark.parametrize("attributes", CORRUPT, ids=[str(i) for i in range(len(CORRUPT))])
def test_a_corrupt_item_is_a_state_store_error_and_is_never_overwritten(
    dynamodb: Any, attributes: dict[str, Any]
) -> None:
    dynamodb.put_item(TableName=TABLE, Item={**KEY, **attributes})
    before = raw_item(dynamodb)
    store = StateStore(dynamodb, TABLE, ALLOCATION)
    with pytest.raises(StateStoreError, match="not a valid state"):
        store.load()
    # A writer that could not read has no version to write at; the conditional write refuses it.
    with pytest.raises(ConflictError):
        store.save(ControllerState(), 0)
    assert raw_item(dynamodb) == before
