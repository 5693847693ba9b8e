"""Preflight's own two items in the state table (never the state item `eip#<allocation id>`).

- `preflight-run#<allocation id>`: when the preflight last ran. Each run claims it with a conditional
  PutItem (`last_run_at <= now - period`), which is also the proof that the function may write the
  table. A monitor that loses the claim gets the stored time back from the failed condition
  (`ReturnValuesOnConditionCheckFailure`), so it learns when to try again without a read.
- `preflight#<allocation id>`: whether the preflight alert is raised and what fails, versioned and
  written (conditionally) only when that result changes.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from nginx_eip_failover.adapters.dynamodb.errors import ConditionFailed, dynamodb_call
from nginx_eip_failover.core.errors import StateStoreError
from nginx_eip_failover.core.ports import AlertRecord

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def run_key(allocation_id: str) -> str:
    return f"preflight-run#{allocation_id}"


def alert_key(allocation_id: str) -> str:
    return f"preflight#{allocation_id}"


class PreflightStore:
    def __init__(self, client: DynamoDBClient, table_name: str, allocation_id: str) -> None:
        self._dynamodb = client
        self._table = table_name
        self.run_key = run_key(allocation_id)
        self.alert_key = alert_key(allocation_id)

    def claim(self, now: float, not_after: float, by: str) -> float | None:
        """Record a run at `now` unless the last recorded run is later than `not_after`.

        Returns None when recorded, else the last run's time (nothing written). A denied or failed
        write raises StateStoreError naming the action, the table and the item.
        """
        try:
            dynamodb_call(
                "PutItem",
                f"{self._table}/{self.run_key}",
                self._dynamodb.put_item,
                TableName=self._table,
                Item={"pk": {"S": self.run_key}, "last_run_at": {"N": _number(now)}, "by": {"S": by[:100]}},
                ConditionExpression="attribute_not_exists(pk) OR last_run_at <= :not_after",
                ExpressionAttributeValues={":not_after": {"N": _number(not_after)}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ConditionFailed as exc:
            stored = (exc.stored or {}).get("last_run_at", {}).get("N")
            return float(stored) if stored is not None else now
        return None

    def load_alert(self) -> AlertRecord:
        response = dynamodb_call(
            "GetItem",
            f"{self._table}/{self.alert_key}",
            self._dynamodb.get_item,
            TableName=self._table,
            Key={"pk": {"S": self.alert_key}},
            ConsistentRead=True,
        )
        item = response.get("Item")
        if not item:
            return AlertRecord()
        try:
            return AlertRecord(
                raised=bool(item["raised"]["BOOL"]),
                failures=tuple(str(text) for text in json.loads(item["failures"]["S"])),
                since=float(item["since"]["N"]) if "since" in item else None,
                changed_at=float(item["changed_at"]["N"]) if "changed_at" in item else None,
                by=str(item.get("by", {}).get("S", "")),
                version=int(item["version"]["N"]),
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise StateStoreError(f"item {self._table}/{self.alert_key} is not a preflight record: {exc!r}") from exc

    def save_alert(self, record: AlertRecord, expected_version: int) -> int:
        """Write `record` if the stored version is still `expected_version`; returns the new version."""
        version = expected_version + 1
        item: dict[str, Any] = {
            "pk": {"S": self.alert_key},
            "version": {"N": str(version)},
            "raised": {"BOOL": record.raised},
            "failures": {"S": json.dumps(list(record.failures), separators=(",", ":"))},
            "by": {"S": record.by[:100]},
        }
        if record.since is not None:
            item["since"] = {"N": _number(record.since)}
        if record.changed_at is not None:
            item["changed_at"] = {"N": _number(record.changed_at)}
        condition: dict[str, Any] = (
            {"ConditionExpression": "attribute_not_exists(pk)"}
            if expected_version == 0
            else {
                "ConditionExpression": "version = :expected",
                "ExpressionAttributeValues": {":expected": {"N": str(expected_version)}},
            }
        )
        dynamodb_call(
            "PutItem",
            f"{self._table}/{self.alert_key}",
            self._dynamodb.put_item,
            conflict=f"{self.alert_key} changed since version {expected_version}",
            TableName=self._table,
            Item=item,
            **condition,
        )
        return version


def _number(value: float) -> str:
    return f"{value:.3f}"
