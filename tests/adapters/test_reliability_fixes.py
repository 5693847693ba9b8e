"""Reliability: unit tests of the fixes the reliability suite forced (see docs/reliability.md)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import boto3
import pytest
from moto import mock_aws

from nginx_eip_failover.adapters import aws_clients
from nginx_eip_failover.adapters.dynamodb.state_store import StateStore
from nginx_eip_failover.core.config import load_settings
from nginx_eip_failover.core.errors import ConfigError, ConflictError
from nginx_eip_failover.core.state import ControllerState, MoveIntent
from support.moto_tables import create_table

TABLE = "nginx-eip-failover-state"
ALLOCATION = "eipalloc-0123456789abcdef0"
INTENT = ControllerState(
    association="i-0123456789abcdef1",
    observed=True,
    move=MoveIntent(id="m1", target="node2", source="node1", reason="failover", by="monitor", started_at=5.0),
)


@pytest.fixture
def store(boto_session: boto3.session.Session) -> Iterator[StateStore]:
    with mock_aws():
        client: Any = boto_session.client("dynamodb", region_name="us-east-1")
        create_table(client, TABLE)
        yield StateStore(client, TABLE, ALLOCATION)


def test_a_retried_write_that_had_already_taken_effect_is_a_success_not_a_conflict(store: StateStore) -> None:
    """botocore retries a PutItem whose answer was lost; the retry's condition fails on the version the
    first attempt wrote. The store recognises its own item and reports the write as done."""
    version = store.save(ControllerState(), 0)
    written = store.save(INTENT, version)
    # the retry: the same state, conditional on the same version
    assert store.save(INTENT, version) == written
    assert store.load().state == INTENT and store.load().version == written


def test_a_different_state_at_the_same_version_is_still_a_conflict(store: StateStore) -> None:
    version = store.save(ControllerState(), 0)
    store.save(INTENT, version)
    other = replace(INTENT, move=replace(INTENT.move, id="m2")) if INTENT.move else INTENT
    with pytest.raises(ConflictError):
        store.save(other, version)
    with pytest.raises(ConflictError):
        store.save(INTENT, 0)  # the first write of a fresh table, when an item exists


def test_the_move_timeout_is_configurable_and_validated(base_env: dict[str, str]) -> None:
    assert load_settings(base_env).move_timeout_seconds == 30.0
    assert load_settings({**base_env, "MOVE_TIMEOUT_SECONDS": "2.5"}).move_timeout_seconds == 2.5
    assert load_settings({**base_env, "MOVE_TIMEOUT_SECONDS": ""}).move_timeout_seconds == 30.0
    for bad, problem in [("0", "[1, 3600]"), ("3601", "[1, 3600]"), ("soon", "number"), ("nan", "finite")]:
        with pytest.raises(ConfigError, match=re.escape(f'MOVE_TIMEOUT_SECONDS="{bad}" ') + ".*" + re.escape(problem)):
            load_settings({**base_env, "MOVE_TIMEOUT_SECONDS": bad})


def test_aws_calls_make_three_attempts_in_all() -> None:
    """botocore's `max_attempts` counts retries (3 meant 4 calls); `total_max_attempts` counts calls."""
    retries = aws_clients._CONFIG.retries
    assert retries == {"mode": "standard", "total_max_attempts": 3}
