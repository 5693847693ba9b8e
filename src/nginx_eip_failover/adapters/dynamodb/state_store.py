"""The DynamoDB adapter: one item per Elastic IP, every write conditional on the version read."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from nginx_eip_failover.adapters.dynamodb.errors import ConditionFailed, dynamodb_call
from nginx_eip_failover.core.errors import StateStoreError
from nginx_eip_failover.core.ports import Snapshot
from nginx_eip_failover.core.state import ControllerState, state_from_dict, state_to_dict

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def state_key(allocation_id: str) -> str:
    # One item per EIP group, so one table serves several groups when the stack grows to them.
    return f"eip#{allocation_id}"


class StateStore:
    def __init__(self, client: DynamoDBClient, table_name: str, allocation_id: str) -> None:
        self._dynamodb = client
        self._table = table_name
        self._key = state_key(allocation_id)

    def load(self, *, consistent: bool = True) -> Snapshot:
        """Read the state; `consistent=False` halves the read's cost where staleness is harmless."""
        response = dynamodb_call(
            "GetItem",
            f"{self._table}/{self._key}",
            self._dynamodb.get_item,
            TableName=self._table,
            Key={"pk": {"S": self._key}},
            ConsistentRead=consistent,
        )
        item = response.get("Item")
        if not item:
            return Snapshot(ControllerState(), 0)
        try:
            version = int(item["version"]["N"])
            state = state_from_dict(json.loads(item["state"]["S"]))
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            # Never overwrite what we cannot read: an operator has to look at it.
            raise StateStoreError(f"item {self._table}/{self._key} is not a valid state: {exc!r}") from exc
        return Snapshot(state, version)

    def save(self, state: ControllerState, expected_version: int) -> int:
        """Write `state` if the stored version is still `expected_version`; returns the new version."""
        version = expected_version + 1
        condition: dict[str, Any]
        if expected_version == 0:
            condition = {"ConditionExpression": "attribute_not_exists(pk)"}
        else:
            condition = {
                "ConditionExpression": "version = :expected",
                "ExpressionAttributeValues": {":expected": {"N": str(expected_version)}},
            }
        item = {
            "pk": {"S": self._key},
            "version": {"N": str(version)},
            # UTF-8, not \u escapes: a non-ASCII character costs 1-4 bytes of the 400 KB item, not 6-12.
            "state": {"S": json.dumps(state_to_dict(state), sort_keys=True, separators=(",", ":"), ensure_ascii=False)},
        }
        try:
            dynamodb_call(
                "PutItem",
                f"{self._table}/{self._key}",
                self._dynamodb.put_item,
                conflict=f"{self._key} changed since version {expected_version}",
                TableName=self._table,
                Item=item,
                # The item as it is on a failed condition, at no extra cost: see below.
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
                **condition,
            )
        except ConditionFailed as exc:
            # botocore retries a write whose answer was lost (5xx, throttling or a dropped
            # connection after DynamoDB applied it); the retry then fails its own condition.
            # If the stored item is exactly ours, our write took effect: report success, or
            # the caller would re-decide on top of its own move intent, take it for another
            # invocation's move in progress and leave the EIP alone until the move timeout.
            if exc.stored == item:
                return version
            raise
        return version
