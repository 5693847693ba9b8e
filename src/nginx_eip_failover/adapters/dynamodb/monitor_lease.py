"""The monitor lease: one small DynamoDB item per EIP naming the newest scheduled monitor invocation.

Scheduled invocations hand probing over to each other through it (see monitor_loop): each registers
once, with a write that only moves forward in time, and stops once it reads that a newer invocation
has registered. The item lives in its own table (the template's MonitorLeaseTable), apart from the
failover state: it is coordination, not history, and it never meets the state item's versioned
writes. It stays under 100 bytes: 1 WRU per write, half an RRU per eventually consistent read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from nginx_eip_failover.adapters.dynamodb.errors import ConditionFailed, dynamodb_call
from nginx_eip_failover.core.errors import StateStoreError
from nginx_eip_failover.core.ports import MonitorLease

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# Written only when the stored lease is older: by start time, then by request id for equal starts.
_FORWARD_ONLY = (
    "attribute_not_exists(pk) OR started_at < :started OR (started_at = :started AND invocation < :invocation)"
)


def lease_key(allocation_id: str, observer: str = "local") -> str:
    # Each observer's scheduled invocations hand over among themselves; "local" keeps today's key.
    return f"monitor#{allocation_id}" if observer == "local" else f"monitor#{allocation_id}#{observer}"


class MonitorLeaseStore:
    def __init__(self, client: DynamoDBClient, table_name: str, allocation_id: str, observer: str = "local") -> None:
        self._dynamodb = client
        self._table = table_name
        self._key = lease_key(allocation_id, observer)

    def register(self, lease: MonitorLease) -> MonitorLease | None:
        item: dict[str, Any] = {
            "pk": {"S": self._key},
            "started_at": {"N": f"{lease.started_at:.3f}"},
            "invocation": {"S": lease.invocation},
        }
        try:
            dynamodb_call(
                "PutItem",
                f"{self._table}/{self._key}",
                self._dynamodb.put_item,
                TableName=self._table,
                Item=item,
                ConditionExpression=_FORWARD_ONLY,
                ExpressionAttributeValues={":started": item["started_at"], ":invocation": item["invocation"]},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ConditionFailed as exc:
            if exc.stored == item:
                # botocore retried a write whose answer was lost; the first attempt took effect.
                return None
            newer = self._lease(exc.stored)
            if newer is None:
                raise StateStoreError(f"item {self._table}/{self._key} refused the lease and is unreadable") from exc
            return newer
        return None

    def current(self) -> MonitorLease | None:
        response = dynamodb_call(
            "GetItem",
            f"{self._table}/{self._key}",
            self._dynamodb.get_item,
            TableName=self._table,
            Key={"pk": {"S": self._key}},
            ConsistentRead=False,
        )
        return self._lease(response.get("Item"))

    def _lease(self, item: Mapping[str, Any] | None) -> MonitorLease | None:
        if not item:
            return None
        try:
            return MonitorLease(started_at=float(item["started_at"]["N"]), invocation=str(item["invocation"]["S"]))
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise StateStoreError(f"item {self._table}/{self._key} is not a valid monitor lease: {exc!r}") from exc
