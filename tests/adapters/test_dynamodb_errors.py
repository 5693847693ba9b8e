"""One DynamoDB error translation for every table adapter: a failed condition is a ConflictError,
anything else a StateStoreError naming the operation, the item and AWS's code."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from nginx_eip_failover.adapters.dynamodb.errors import ConditionFailed, dynamodb_call
from nginx_eip_failover.adapters.dynamodb.fleet_store import FleetStore
from nginx_eip_failover.adapters.dynamodb.preflight_store import PreflightStore
from nginx_eip_failover.adapters.dynamodb.state_store import StateStore
from nginx_eip_failover.core.errors import ConflictError, StateStoreError
from nginx_eip_failover.core.ports import AlertRecord
from nginx_eip_failover.core.state import ControllerState

DYNAMODB_ADAPTERS = Path(__file__).resolve().parents[2] / "src" / "nginx_eip_failover" / "adapters" / "dynamodb"


@pytest.fixture
def client() -> Any:
    return boto3.session.Session().client("dynamodb", region_name="us-east-1")


def test_a_failed_condition_is_a_conflict_carrying_the_stored_item(client: Any) -> None:
    stored = {"pk": {"S": "k"}, "version": {"N": "7"}}
    with Stubber(client) as stubber:
        # `Item`: what DynamoDB returns with the error when asked (ReturnValuesOnConditionCheckFailure).
        stubber.add_client_error(
            "put_item",
            "ConditionalCheckFailedException",
            "The conditional request failed",
            400,
            modeled_fields={"Item": stored},
        )
        with pytest.raises(ConditionFailed) as raised:
            dynamodb_call("PutItem", "t/k", client.put_item, conflict="k changed", TableName="t", Item=stored)
    assert isinstance(raised.value, ConflictError)
    assert str(raised.value) == "k changed" and raised.value.stored == stored


def test_any_other_error_names_the_operation_the_item_and_the_code(client: Any) -> None:
    with Stubber(client) as stubber:
        stubber.add_client_error("get_item", "AccessDeniedException", "not authorized to perform GetItem", 400)
        with pytest.raises(StateStoreError) as raised:
            dynamodb_call("GetItem", "t/k", client.get_item, TableName="t", Key={"pk": {"S": "k"}})
    assert str(raised.value) == "GetItem t/k: AccessDeniedException: not authorized to perform GetItem"


@pytest.mark.parametrize(
    "write",
    [
        pytest.param(lambda c: StateStore(c, "t", "eipalloc-1").save(ControllerState(), 3), id="state"),
        pytest.param(lambda c: FleetStore(c, "t").save("{}", 3), id="fleet"),
        pytest.param(lambda c: PreflightStore(c, "t", "eipalloc-1").save_alert(AlertRecord(), 3), id="preflight-alert"),
    ],
)
def test_every_versioned_write_answers_a_lost_race_with_a_conflict(client: Any, write: Any) -> None:
    with Stubber(client) as stubber:
        stubber.add_client_error("put_item", "ConditionalCheckFailedException", "The conditional request failed", 400)
        with pytest.raises(ConflictError, match="changed since version 3"):
            write(client)
        stubber.add_client_error("put_item", "ProvisionedThroughputExceededException", "slow down", 400)
        with pytest.raises(StateStoreError, match=r"^PutItem t/\S+: ProvisionedThroughputExceededException: slow down"):
            write(client)


def test_only_the_translation_reads_botocore_errors() -> None:
    readers = []
    for path in sorted(DYNAMODB_ADAPTERS.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "botocore.exceptions":
                readers.append(path.name)
    assert readers == ["errors.py"]
