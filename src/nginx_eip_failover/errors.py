"""Domain errors. Adapters translate AWS and HTTP failures into these, so the core never sees botocore."""

from __future__ import annotations

import json


def _show(value: object) -> str:
    # json.dumps quotes strings and shows None as null, so an empty or missing value is visible.
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


class FailoverError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigError(FailoverError):
    """An environment variable is missing or invalid."""

    def __init__(self, variable: str, value: object, problem: str) -> None:
        self.variable = variable
        self.value = value
        super().__init__(f"configuration error: {variable}={_show(value)} {problem}")


class InvalidRequestError(FailoverError):
    """A control request or a monitor event is malformed or refused; nothing was changed."""

    def __init__(self, field: str, value: object, problem: str) -> None:
        self.field = field
        self.value = value
        super().__init__(f"invalid request: field '{field}' = {_show(value)}: {problem}")


class RefusedError(InvalidRequestError):
    """A well-formed control request that the current state does not allow (e.g. target down)."""


class ConflictError(FailoverError):
    """The stored state changed since it was read; re-read and decide again."""


class StateStoreError(FailoverError):
    """The state table could not be read or written (after botocore's retries)."""


class ElasticIpError(FailoverError):
    """EC2 refused or failed an Elastic IP call (after botocore's retries)."""


class MonitorCyclesFailedError(FailoverError):
    """Every probe cycle of a monitor invocation failed, whichever service failed them (EC2, DynamoDB,
    a conflict that never settled); the invocation fails so Lambda's Errors metric and alarm see it."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = tuple(errors)
        first = errors[0] if errors else "no cycle ran"
        super().__init__(f"all {len(errors)} probe cycles failed; first error: {first}")
