"""The observer board: one small DynamoDB item per observer of an EIP, holding its latest report.

Observers share verdicts through it (see service/observer_exchange): each writes its own item when a
node's verdict changes and at least every heartbeat, and reads the others' items (one BatchGetItem,
eventually consistent) only while something is wrong. The items live in the monitor lease's table
(coordination, not history: nothing in them is worth keeping after the stack) and never meet the
state item's versioned writes. An item holds per node a boolean and a detail bounded to 200 bytes:
under 1 KB, so 1 WRU per write and half an RRU per read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from nginx_eip_failover.adapters.dynamodb.errors import ConditionFailed, dynamodb_call
from nginx_eip_failover.core.bounds import bounded
from nginx_eip_failover.core.errors import StateStoreError
from nginx_eip_failover.core.ports import ObserverReport

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# Two overlapping invocations of one observer may write late: a report never replaces a newer one.
_FORWARD_ONLY = "attribute_not_exists(pk) OR #at <= :at"


def observer_key(allocation_id: str, observer: str) -> str:
    return f"observer#{allocation_id}#{observer}"


class ObserverBoardTable:
    def __init__(self, client: DynamoDBClient, table_name: str, allocation_id: str) -> None:
        self._dynamodb = client
        self._table = table_name
        self._allocation_id = allocation_id

    def publish(self, report: ObserverReport) -> None:
        key = observer_key(self._allocation_id, report.observer)
        item: dict[str, Any] = {
            "pk": {"S": key},
            "observer": {"S": report.observer},
            "at": {"N": f"{report.at:.3f}"},
            "ok": {"M": {node: {"BOOL": ok} for node, ok in report.ok.items()}},
            "details": {"M": {node: {"S": bounded(detail)} for node, detail in report.details.items()}},
            "failing_since": {"M": {node: {"N": f"{at:.3f}"} for node, at in report.failing_since.items()}},
            "seen_at": {"M": {node: {"N": f"{at:.3f}"} for node, at in report.seen_at.items()}},
            "runs": {"M": {node: {"L": [{"N": f"{at:.3f}"} for at in run]} for node, run in report.runs.items()}},
        }
        try:
            dynamodb_call(
                "PutItem",
                f"{self._table}/{key}",
                self._dynamodb.put_item,
                TableName=self._table,
                Item=item,
                ConditionExpression=_FORWARD_ONLY,
                ExpressionAttributeNames={"#at": "at"},
                ExpressionAttributeValues={":at": item["at"]},
            )
        except ConditionFailed:
            return  # a newer report of this observer is already there: nothing to add

    def read(self, observers: Sequence[str]) -> list[ObserverReport]:
        if not observers:
            return []
        keys = [{"pk": {"S": observer_key(self._allocation_id, name)}} for name in observers]
        request: dict[str, Any] = {self._table: {"Keys": keys, "ConsistentRead": False}}
        items: list[Mapping[str, Any]] = []
        # A throttled batch answers with UnprocessedKeys: ask once more, then go with what came back
        # (a report not read this cycle only counts as absent, never as a vote).
        for _attempt in range(2):
            response = dynamodb_call("BatchGetItem", self._table, self._dynamodb.batch_get_item, RequestItems=request)
            items.extend(response.get("Responses", {}).get(self._table, []))
            request = dict(response.get("UnprocessedKeys") or {})
            if not request:
                break
        return [self._report(item) for item in items]

    def _report(self, item: Mapping[str, Any]) -> ObserverReport:
        try:
            return ObserverReport(
                observer=str(item["observer"]["S"]),
                at=float(item["at"]["N"]),
                ok={node: bool(value["BOOL"]) for node, value in item["ok"]["M"].items()},
                details={
                    node: bounded(str(value["S"])) for node, value in item.get("details", {}).get("M", {}).items()
                },
                failing_since={
                    node: float(value["N"]) for node, value in item.get("failing_since", {}).get("M", {}).items()
                },
                # absent from a report an older version wrote: the quorum then counts from its `at`
                seen_at={node: float(value["N"]) for node, value in item.get("seen_at", {}).get("M", {}).items()},
                # absent from a report an older version wrote: each vote counts as a run of one
                runs={
                    node: tuple(float(at["N"]) for at in value["L"])
                    for node, value in item.get("runs", {}).get("M", {}).items()
                },
            )
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise StateStoreError(f"an item of {self._table} is not a valid observer report: {exc!r}") from exc
