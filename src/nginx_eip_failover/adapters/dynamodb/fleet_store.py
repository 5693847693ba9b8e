"""The fleet document in the state table: one item, `config#fleet`, written conditionally.

Why the state table and not SSM Parameter Store: 50 groups take about 20 KB of JSON, past SSM's
4 KB standard and 8 KB advanced parameter limits; the table already holds the stack's state under
its own KMS-encrypted, point-in-time-recovered storage and least-privilege IAM; and a conditional
write on a version stops two operators' edits from overwriting each other. One eventually
consistent read per container and refresh period costs about $0.01 a month.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nginx_eip_failover.adapters.dynamodb.errors import dynamodb_call
from nginx_eip_failover.core.errors import StateStoreError
from nginx_eip_failover.core.ports import FleetDocument

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

FLEET_KEY = "config#fleet"


class FleetStore:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._dynamodb = client
        self._table = table_name

    def load(self, *, consistent: bool = False) -> FleetDocument:
        response = dynamodb_call(
            "GetItem",
            f"{self._table}/{FLEET_KEY}",
            self._dynamodb.get_item,
            TableName=self._table,
            Key={"pk": {"S": FLEET_KEY}},
            ConsistentRead=consistent,
        )
        item = response.get("Item")
        if not item:
            return FleetDocument(None, 0)
        try:
            return FleetDocument(item["document"]["S"], int(item["version"]["N"]))
        except (KeyError, ValueError) as exc:
            raise StateStoreError(f"item {self._table}/{FLEET_KEY} is not a fleet document: {exc!r}") from exc

    def save(self, text: str, expected_version: int) -> int:
        version = expected_version + 1
        condition: dict[str, Any] = (
            {"ConditionExpression": "attribute_not_exists(pk)"}
            if expected_version == 0
            else {
                "ConditionExpression": "version = :expected",
                "ExpressionAttributeValues": {":expected": {"N": str(expected_version)}},
            }
        )
        item = {"pk": {"S": FLEET_KEY}, "version": {"N": str(version)}, "document": {"S": text}}
        dynamodb_call(
            "PutItem",
            f"{self._table}/{FLEET_KEY}",
            self._dynamodb.put_item,
            conflict=f"the fleet document changed since version {expected_version}",
            TableName=self._table,
            Item=item,
            **condition,
        )
        return version
