"""One translation of DynamoDB's errors for every table adapter here.

A failed condition becomes our ConflictError (a `ConditionFailed` carrying the item DynamoDB returned
when the write asked for it with `ReturnValuesOnConditionCheckFailure`); any other error, after
botocore's retries, a StateStoreError naming the operation, the table and item, and AWS's code. The
service sees only these two, never botocore.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from nginx_eip_failover.adapters.aws_errors import aws_error
from nginx_eip_failover.core.errors import ConflictError, StateStoreError

CONDITIONAL_CHECK_FAILED = "ConditionalCheckFailedException"

T = TypeVar("T")


class ConditionFailed(ConflictError):
    """A conditional write's condition failed; `stored` is the item as it is, when DynamoDB returned it."""

    def __init__(self, message: str, stored: Mapping[str, Any] | None) -> None:
        super().__init__(message)
        self.stored = stored


def dynamodb_call(operation: str, where: str, method: Callable[..., T], *, conflict: str = "", **kwargs: Any) -> T:
    """One DynamoDB call. `where` is "table/key" (or the table); `conflict` is what a failed condition
    means, for the ConflictError's message."""
    try:
        return method(**kwargs)
    except ClientError as exc:
        code, text = aws_error(exc)
        if code == CONDITIONAL_CHECK_FAILED:
            stored = exc.response.get("Item")
            message = conflict or f"{operation} {where}: the condition failed"
            raise ConditionFailed(message, stored if isinstance(stored, Mapping) else None) from exc
        raise StateStoreError(f"{operation} {where}: {text}") from exc
    except BotoCoreError as exc:
        raise StateStoreError(f"{operation} {where}: {aws_error(exc)[1]}") from exc
