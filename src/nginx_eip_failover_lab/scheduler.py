"""Drives the MonitorFunction the way EventBridge and Lambda would, in the lab.

The schedule: one invocation at a time in a fresh process, with the template's schedule input and a
bounded time budget (`remaining_ms`, the lab's stand-in for the function's timeout), immediately
followed by the next one - a scheduled invocation covers the time until the next. Alarm actions:
`send_alarm` starts an extra invocation at once, concurrently with the schedule, as Lambda does.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from . import processes
from .invoke import InvokeResult, invoke_handler


@dataclass(frozen=True)
class Invocation:
    number: int
    trigger: str  # "schedule" or "alarm"
    started_at: float  # time.time()
    result: InvokeResult

    @property
    def ended_at(self) -> float:
        return self.started_at + self.result.seconds


class MonitorScheduler:
    def __init__(
        self,
        env: Mapping[str, str],
        schedule_input: Mapping[str, Any],
        *,
        remaining_ms: int,
        on_result: Callable[[Invocation], None] | None = None,
    ) -> None:
        self._env = dict(env)
        self._schedule_input = dict(schedule_input)
        self.remaining_ms = remaining_ms
        self._on_result = on_result
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._running: set[subprocess.Popen[str]] = set()
        self._threads: list[threading.Thread] = []
        self._counter = 0
        self.invocations: list[Invocation] = []

    def start(self) -> MonitorScheduler:
        thread = threading.Thread(target=self._loop, name="monitor-schedule", daemon=True)
        self._threads.append(thread)
        thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the schedule; an invocation still running is ended (its process group killed)."""
        self._stopping.set()
        with self._lock:
            running = list(self._running)
        for process in running:
            processes.terminate_group(process, timeout=1.0)
        for thread in self._threads:
            thread.join(timeout)

    def send_alarm(self, event: Mapping[str, Any]) -> threading.Thread:
        """Invoke the monitor with an alarm action event now, beside the schedule."""
        thread = threading.Thread(target=self._invoke, args=("alarm", dict(event)), name="monitor-alarm", daemon=True)
        self._threads.append(thread)
        thread.start()
        return thread

    def last(self, trigger: str | None = None) -> Invocation | None:
        with self._lock:
            matching = [item for item in self.invocations if trigger is None or item.trigger == trigger]
        return matching[-1] if matching else None

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self._invoke("schedule", self._schedule_input)

    def _invoke(self, trigger: str, event: Mapping[str, Any]) -> None:
        if self._stopping.is_set():
            return
        with self._lock:
            self._counter += 1
            number = self._counter
        started = time.time()

        def track(process: subprocess.Popen[str]) -> None:
            with self._lock:
                self._running.add(process)

        try:
            result = invoke_handler("monitor", event, self._env, remaining_ms=self.remaining_ms, on_start=track)
        except Exception as exc:  # a hung invocation (timeout) must not end the schedule
            result = InvokeResult(False, None, type(exc).__name__, str(exc), "", time.time() - started)
        finally:
            with self._lock:
                self._running = {process for process in self._running if process.poll() is None}
        if self._stopping.is_set():
            return  # killed on purpose; not a result
        invocation = Invocation(number, trigger, started, result)
        with self._lock:
            self.invocations.append(invocation)
        if self._on_result is not None:
            self._on_result(invocation)
