"""The operator CLI: `nginx-eip-failover status | failover | unpin | drain | undrain | history`.

It builds a control request, invokes the ControlFunction (deployed: boto3 `lambda.invoke`; or the
local lab's handler in a fresh process) and prints the answer as tables, or as JSON with `--json`.

Exit codes: 0 done; 1 the function refused or failed the request, or an AWS call failed; 2 usage
error (bad options, no function to invoke). Errors go to stderr with the function's own message.

Modules: `transports` (the deployed function through boto3, its name from the stack's output, the
lab), `rendering` (tables and JSON), `commands` (options, requests, dispatch and exit codes) and
`common` (the name, version and errors they share). The transport is a plain function
(request -> `Response`), so tests pass their own; boto3 and the lab are imported only when the
chosen transport needs them.
"""

from __future__ import annotations

from .commands import (
    DEFAULT_HISTORY_LIMIT,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    FORCE_OVERRIDES,
    FUNCTION_ENV,
    STACK_ENV,
    build_parser,
    build_request,
    main,
    run,
    transport_for,
)
from .common import PROG, TransportError, UsageError
from .rendering import duration, render_action, render_history, render_json, render_status, show_time, table
from .transports import (
    FUNCTION_OUTPUT,
    READ_TIMEOUT_SECONDS,
    Response,
    Transport,
    decode_lambda_answer,
    lab_transport,
    lambda_transport,
    resolve_function_name,
)

__all__ = [
    "DEFAULT_HISTORY_LIMIT",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "FORCE_OVERRIDES",
    "FUNCTION_ENV",
    "FUNCTION_OUTPUT",
    "PROG",
    "READ_TIMEOUT_SECONDS",
    "STACK_ENV",
    "Response",
    "Transport",
    "TransportError",
    "UsageError",
    "build_parser",
    "build_request",
    "decode_lambda_answer",
    "duration",
    "lab_transport",
    "lambda_transport",
    "main",
    "render_action",
    "render_history",
    "render_json",
    "render_status",
    "resolve_function_name",
    "run",
    "show_time",
    "table",
    "transport_for",
]
