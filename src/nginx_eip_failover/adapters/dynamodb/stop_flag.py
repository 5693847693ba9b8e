"""The emergency stop's item in the state table (`pk = emergency-stop`, core/emergency_stop.py).

The functions only read it (GetItem, which they are already granted on the table); the operator CLI
writes and deletes it with the operator's own credentials.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nginx_eip_failover.adapters.dynamodb.errors import dynamodb_call
from nginx_eip_failover.core.emergency_stop import STOP_KEY, EmergencyStop, stop_from_item

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class StopFlagTable:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._dynamodb = client
        self._table = table_name

    def current(self) -> EmergencyStop | None:
        """The stop if set. Strongly consistent: a stop written a moment ago is seen. A failed read
        raises StateStoreError (the caller moves nothing it could not check)."""
        answer = dynamodb_call(
            "GetItem",
            f"{self._table}/{STOP_KEY}",
            self._dynamodb.get_item,
            TableName=self._table,
            Key={"pk": {"S": STOP_KEY}},
            ConsistentRead=True,
        )
        return stop_from_item(answer.get("Item"))
