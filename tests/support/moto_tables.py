"""DynamoDB tables as the template defines them, created in moto for the adapter tests."""

from __future__ import annotations

from typing import Any


def create_table(dynamodb: Any, name: str, *, sort_key: str | None = None) -> str:
    """An on-demand table keyed by `pk` (and `sort_key`, a string, if given): the state, lease and
    log tables' shape. Returns the name."""
    keys = [("pk", "HASH"), *([(sort_key, "RANGE")] if sort_key else [])]
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": key, "KeyType": kind} for key, kind in keys],
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"} for key, _ in keys],
        BillingMode="PAY_PER_REQUEST",
    )
    return name
