"""The DynamoDB adapter of the decision log: append-only items with a TTL, in their own table.

Item: `pk` (the group's state key, as in the state table), `sk` (`<epoch ms, 13 digits>#<writer>#<seq>`,
so a Query by time range is a key condition), `expires_at` (epoch seconds; the table's TTL
attribute) and `record` (the record's UTF-8 JSON, see log_records). Nothing here is on the path of
a move: the controller writes after EC2, and a failure is its to count, never to propagate.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from nginx_eip_failover.adapters.dynamodb.errors import dynamodb_call
from nginx_eip_failover.adapters.dynamodb.state_store import state_key
from nginx_eip_failover.core.errors import StateStoreError
from nginx_eip_failover.core.log_records import LogRecord, record_from_dict, record_json
from nginx_eip_failover.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

BATCH_SIZE = 25  # BatchWriteItem's limit
# UnprocessedItems (throttling) are sent again this many times, with a short pause.
MAX_UNPROCESSED_RETRIES = 3
DAY_SECONDS = 86400


class DecisionLogTable:
    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        allocation_id: str,
        *,
        retention_days: float = 14,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._dynamodb = client
        self._table = table_name
        self.key = state_key(allocation_id)
        self._retention_seconds = retention_days * DAY_SECONDS
        self._clock = clock
        self._sleep = sleep

    def append(self, records: Sequence[LogRecord]) -> None:
        expires_at = str(math.ceil(self._clock() + self._retention_seconds))
        requests: list[Any] = [
            {
                "PutRequest": {
                    "Item": {
                        "pk": {"S": self.key},
                        "sk": {"S": record.key},
                        "expires_at": {"N": expires_at},
                        "record": {"S": record_json(record)},
                    }
                }
            }
            for record in records
        ]
        for start in range(0, len(requests), BATCH_SIZE):
            self._write(requests[start : start + BATCH_SIZE])

    def _write(self, batch: list[Any]) -> None:
        pending = batch
        for attempt in range(MAX_UNPROCESSED_RETRIES + 1):
            response = dynamodb_call(
                "BatchWriteItem", self._table, self._dynamodb.batch_write_item, RequestItems={self._table: pending}
            )
            pending = list((response.get("UnprocessedItems") or {}).get(self._table) or [])
            if not pending:
                return
            if attempt < MAX_UNPROCESSED_RETRIES:
                self._sleep(0.05 * 2**attempt)
        raise StateStoreError(f"BatchWriteItem {self._table}: {len(pending)} item(s) left unprocessed")

    def read(
        self, since: float, until: float | None = None, limit: int = 500, *, after: str | None = None
    ) -> list[LogRecord]:
        low = f"{max(0, math.floor(since * 1000)):013d}"
        high = f"{math.floor((until if until is not None else self._clock() + DAY_SECONDS) * 1000):013d}~"
        query: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :low AND :high",
            "ExpressionAttributeValues": {":pk": {"S": self.key}, ":low": {"S": low}, ":high": {"S": high}},
            "ScanIndexForward": True,
        }
        if after is not None:
            query["ExclusiveStartKey"] = {"pk": {"S": self.key}, "sk": {"S": after}}
        records: list[LogRecord] = []
        while len(records) < limit:
            response = dynamodb_call(
                "Query", f"{self._table}/{self.key}", self._dynamodb.query, **query, Limit=limit - len(records)
            )
            for item in response.get("Items", []):
                try:
                    records.append(record_from_dict(json.loads(item["record"]["S"])))
                except (KeyError, ValueError) as exc:
                    # A record this version cannot read (another schema): skipped, said once.
                    logger.warning(
                        "unreadable decision log item skipped", extra={"sk": str(item.get("sk")), "error": str(exc)}
                    )
            last = response.get("LastEvaluatedKey")
            if not last:
                break
            query["ExclusiveStartKey"] = last
        return records
