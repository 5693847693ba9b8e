"""Warm containers: a handler process kept alive between invocations, as Lambda reuses a warm one.

`invoke.invoke_handler(..., warm=True)` takes an idle warm process of the same function and
environment, or starts one (`python -m nginx_eip_failover_lab.invoke FUNCTION --serve`), sends it one
invocation as a JSON line and reads its answer line (the result, and the invocation's logs). What a
container keeps between invocations is then kept here too: its clients, its cached state, and its
prober's own runs (core/streaks), which is what lets one-cycle invocations in a row count a failure
as one prober, the way a warm container invoked again does. A process is retired after
IDLE_SECONDS unused, and at most MAX_IDLE wait, so a test suite does not gather them.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import selectors
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import IO, Any

from . import processes

IDLE_SECONDS = 20.0
MAX_IDLE = 6

_lock = threading.Lock()
_idle: list[tuple[tuple[str, tuple[tuple[str, str], ...]], subprocess.Popen[str], float]] = []


def _key(function: str, env: Mapping[str, str]) -> tuple[str, tuple[tuple[str, str], ...]]:
    return function, tuple(sorted(env.items()))


def _retire(process: subprocess.Popen[str]) -> None:
    processes.unregister(process)
    processes.terminate_group(process, timeout=1.0)


def _take(function: str, env: Mapping[str, str]) -> subprocess.Popen[str] | None:
    now = time.monotonic()
    key = _key(function, env)
    found: subprocess.Popen[str] | None = None
    stale: list[subprocess.Popen[str]] = []
    with _lock:
        keep = []
        for entry in _idle:
            entry_key, process, since = entry
            if process.poll() is not None or now - since > IDLE_SECONDS:
                stale.append(process)
            elif found is None and entry_key == key:
                found = process
            else:
                keep.append(entry)
        _idle[:] = keep
    for process in stale:
        _retire(process)
    return found


def _give_back(function: str, env: Mapping[str, str], process: subprocess.Popen[str]) -> None:
    with _lock:
        _idle.append((_key(function, env), process, time.monotonic()))
        extra = _idle[:-MAX_IDLE] if len(_idle) > MAX_IDLE else []
        del _idle[: len(extra)]
    for _entry_key, old, _since in extra:
        _retire(old)


def retire_all() -> None:
    with _lock:
        idle, _idle[:] = list(_idle), []
    for _entry_key, process, _since in idle:
        _retire(process)


def invoke(
    function: str,
    event: Any,
    env: Mapping[str, str],
    remaining_ms: int,
    timeout: float,
    on_start: Callable[[subprocess.Popen[str]], None] | None,
) -> tuple[dict[str, Any] | None, str]:
    """One invocation on a warm process: (its answer, or None if the process died; its logs)."""
    process = _take(function, env)
    if process is None:
        process = subprocess.Popen(
            [sys.executable, "-m", "nginx_eip_failover_lab.invoke", function, "--serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=dict(env),
            start_new_session=True,
        )
        processes.register(process, f"warm {function} container")
    if on_start is not None:
        on_start(process)
    assert process.stdin is not None and process.stdout is not None
    try:
        process.stdin.write(json.dumps({"event": event, "remaining_ms": remaining_ms}) + "\n")
        process.stdin.flush()
        line = _read_line(process.stdout, timeout)
    except (BrokenPipeError, OSError, TimeoutError):
        _retire(process)
        return None, ""
    if not line:
        _retire(process)
        return None, ""
    answer = json.loads(line)
    _give_back(function, env, process)
    return answer, str(answer.pop("logs", ""))


def _read_line(stream: IO[str], timeout: float) -> str:
    selector = selectors.DefaultSelector()
    selector.register(stream, selectors.EVENT_READ)
    try:
        if not selector.select(timeout):
            raise TimeoutError
        return stream.readline()
    finally:
        selector.close()


class _Swappable(io.TextIOBase):
    """The stream the handler's loggers hold: each invocation's logs go to its own buffer."""

    def __init__(self) -> None:
        self.target: io.StringIO = io.StringIO()

    def write(self, text: str) -> int:
        return self.target.write(text)


def serve(function: str, handler_module: str, context_factory: Callable[[int], Any]) -> int:
    """The warm process's loop: one invocation per input line, one answer line each."""
    answers = sys.stdout
    logs = _Swappable()
    sys.stdout = sys.stderr = logs  # Powertools logs to stdout: captured per invocation
    os.environ.setdefault("AWS_LAMBDA_FUNCTION_NAME", f"{function.capitalize()}Function")
    module = __import__(handler_module, fromlist=["lambda_handler"])
    for line in sys.stdin:
        request = json.loads(line)
        logs.target = io.StringIO()
        try:
            payload = module.lambda_handler(request["event"], context_factory(int(request["remaining_ms"])))
            answer: dict[str, Any] = {"ok": True, "payload": payload}
        except Exception as exc:
            answer = {"ok": False, "errorType": type(exc).__name__, "errorMessage": str(exc)}
        answer["logs"] = logs.target.getvalue()
        with contextlib.suppress(BrokenPipeError):
            answers.write(json.dumps(answer, default=str) + "\n")
            answers.flush()
    return 0
