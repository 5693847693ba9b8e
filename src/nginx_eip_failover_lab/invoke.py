"""Run one handler invocation in a fresh process, as Lambda would.

    python -m nginx_eip_failover_lab.invoke monitor|control [--event JSON] [--remaining-ms N]

The environment is the function's (as the template sets it). The handler's logs go to stderr; the
result goes to stdout as one JSON object: {"ok": true, "payload": ...} or
{"ok": false, "errorType": ..., "errorMessage": ...} (exit code 1), like Lambda's invoke response.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from . import processes
from . import warm as warm_containers
from .lambda_context import LambdaContextDouble

HANDLERS = {
    "monitor": "nginx_eip_failover.handlers.monitor",
    "control": "nginx_eip_failover.handlers.control",
    "lifecycle": "nginx_eip_failover.handlers.lifecycle",
}


@dataclass(frozen=True)
class InvokeResult:
    ok: bool
    payload: Any
    error_type: str | None
    error_message: str | None
    logs: str
    seconds: float


def invoke_handler(
    function: str,
    event: Mapping[str, Any] | Any,
    env: Mapping[str, str],
    *,
    remaining_ms: int = 3000,
    timeout: float | None = None,
    on_start: Callable[[subprocess.Popen[str]], None] | None = None,
    warm: bool = False,
) -> InvokeResult:
    """Invoke `function` ("monitor" or "control") in a new Python process and wait for it; with
    `warm`, in a warm one of the same function and environment if one is idle (lab/warm.py).

    The process runs in its own process group and is registered with the lab's process registry,
    so it is killed if the caller is interrupted, times out or exits. `on_start` receives the
    process (e.g. to kill it early); a killed invocation returns a Runtime.ExitError result.
    """
    started = time.monotonic()
    if warm:
        limit = timeout if timeout is not None else remaining_ms / 1000 + 30
        answer, logs = warm_containers.invoke(function, event, env, remaining_ms, limit, on_start)
        seconds = time.monotonic() - started
        if answer is None:
            return InvokeResult(False, None, "Runtime.ExitError", "the warm container died", logs, seconds)
        return InvokeResult(
            ok=bool(answer.get("ok")),
            payload=answer.get("payload"),
            error_type=answer.get("errorType"),
            error_message=answer.get("errorMessage"),
            logs=logs,
            seconds=seconds,
        )
    process = subprocess.Popen(
        [sys.executable, "-m", "nginx_eip_failover_lab.invoke", function, "--remaining-ms", str(remaining_ms)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(env),
        start_new_session=True,
    )
    processes.register(process, f"{function} invocation")
    try:
        if on_start is not None:
            on_start(process)
        stdout, stderr = process.communicate(
            json.dumps(event), timeout=timeout if timeout is not None else remaining_ms / 1000 + 30
        )
    except BaseException:
        processes.terminate_group(process, timeout=1.0)
        raise
    finally:
        processes.unregister(process)
    seconds = time.monotonic() - started
    try:
        answer = json.loads(stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return InvokeResult(False, None, "Runtime.ExitError", f"exit {process.returncode}", stderr, seconds)
    return InvokeResult(
        ok=bool(answer.get("ok")),
        payload=answer.get("payload"),
        error_type=answer.get("errorType"),
        error_message=answer.get("errorMessage"),
        logs=stderr,
        seconds=seconds,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("function", choices=sorted(HANDLERS))
    parser.add_argument("--event", help="the event as JSON (default: read from stdin)")
    parser.add_argument("--remaining-ms", type=int, default=3000, help="the invocation's time budget")
    parser.add_argument("--serve", action="store_true", help="a warm container: one invocation per stdin line")
    args = parser.parse_args(argv)
    if args.serve:
        name = f"{args.function.capitalize()}Function"
        return warm_containers.serve(
            args.function, HANDLERS[args.function], lambda ms: LambdaContextDouble(ms, function_name=name)
        )
    event = json.loads(args.event if args.event is not None else sys.stdin.read())
    result_stream = sys.stdout
    sys.stdout = sys.stderr  # Powertools logs to stdout; keep stdout for the result alone
    os.environ.setdefault("AWS_LAMBDA_FUNCTION_NAME", f"{args.function.capitalize()}Function")
    try:
        # The init phase (module imports) runs before the invocation's clock starts, as on Lambda.
        module = __import__(HANDLERS[args.function], fromlist=["lambda_handler"])
        context = LambdaContextDouble(args.remaining_ms, function_name=f"{args.function.capitalize()}Function")
        payload = module.lambda_handler(event, context)
    except Exception as exc:
        print(json.dumps({"ok": False, "errorType": type(exc).__name__, "errorMessage": str(exc)}), file=result_stream)
        return 1
    print(json.dumps({"ok": True, "payload": payload}, default=str), file=result_stream)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
