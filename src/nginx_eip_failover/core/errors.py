"""Domain errors. Adapters translate AWS and HTTP failures into these, so the core never sees botocore."""

from __future__ import annotations

import json
import re
from typing import Literal

# Why the current state refuses a well-formed control request. A RefusedError's message ends with
# " [refused:<code>]", so the code survives Lambda's error document {"errorType", "errorMessage"}.
RefusalCode = Literal[
    "target_down", "target_drained", "foreign_holder", "move_in_progress", "fleet_changed", "drill_unsafe"
]
_REFUSAL_MARK = re.compile(r" \[refused:([a-z_]+)\]\Z")


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
        self.problem = problem
        super().__init__(f"configuration error: {variable}={_show(value)} {problem}")


class FleetConfigError(FailoverError):
    """The fleet document is invalid; it names the group, the field and the value."""

    def __init__(self, group: str | None, field: str, value: object, problem: str) -> None:
        self.group = group
        self.field = field
        self.value = value
        where = f"group {_show(group)} " if group is not None else ""
        super().__init__(f"fleet configuration error: {where}field '{field}' = {_show(value)}: {problem}")


class InvalidRequestError(FailoverError):
    """A control request or a monitor event is malformed or refused; nothing was changed."""

    def __init__(self, field: str, value: object, problem: str) -> None:
        self.field = field
        self.value = value
        self.problem = problem
        super().__init__(self._message())

    def _message(self) -> str:
        return f"invalid request: field '{self.field}' = {_show(self.value)}: {self.problem}"


class RefusedError(InvalidRequestError):
    """A well-formed control request that the current state does not allow (e.g. target down).

    `code` says why, for programs; the message ends with it: `... anyway [refused:target_down]`.
    """

    def __init__(self, field: str, value: object, problem: str, *, code: RefusalCode) -> None:
        self.code: RefusalCode = code
        super().__init__(field, value, problem)

    def _message(self) -> str:
        return f"{super()._message()} [refused:{self.code}]"


def split_refusal(message: str) -> tuple[str | None, str]:
    """A RefusedError's message -> (its code, the message without the code); (None, message) otherwise."""
    found = _REFUSAL_MARK.search(message)
    if found is None:
        return None, message
    return found.group(1), message[: found.start()]


class ConflictError(FailoverError):
    """The stored state changed since it was read; re-read and decide again."""


class StateStoreError(FailoverError):
    """The state table could not be read or written (after botocore's retries)."""


class ElasticIpError(FailoverError):
    """EC2 refused or failed an Elastic IP call (after botocore's retries)."""


class MoveCancelledError(ElasticIpError):
    """A mover's `before_send` check said the decision no longer holds: nothing was sent."""


class MonitorCyclesFailedError(FailoverError):
    """Every probe cycle of a monitor invocation failed, whichever service failed them (EC2, DynamoDB,
    a conflict that never settled); the invocation fails so Lambda's Errors metric and alarm see it."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = tuple(errors)
        first = errors[0] if errors else "no cycle ran"
        super().__init__(f"all {len(errors)} probe cycles failed; first error: {first}")


class NodeFinderError(ElasticIpError):
    """A found node's instance could not be looked up (Auto Scaling or EC2 failed); no decision is
    made on a node set that is not known (the cycle fails as one whose EC2 call failed)."""
