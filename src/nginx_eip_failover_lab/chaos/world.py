"""The chaos soak's machinery, shared by its actors: the settings, the invoker that runs the real
functions in fresh processes and keeps the running ones for the killer, the seeded actor thread, and
the world they all act on."""

from __future__ import annotations

import random
import signal
import subprocess
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nginx_eip_failover_lab import processes
from nginx_eip_failover_lab.environment import LabEnvironment
from nginx_eip_failover_lab.invoke import invoke_handler

from .record import InvocationRecord, Recorder


@dataclass(frozen=True)
class ChaosSettings:
    """The stack's settings for the soak (template parameters), and the actors' pace."""

    seed: int
    seconds: float
    interval: float = 0.5
    timeout: float = 0.4
    fall: int = 3
    rise: int = 2
    preempt_delay: float = 4.0
    min_between_moves: float = 1.0
    move_timeout: float = 3.0  # MOVE_TIMEOUT_SECONDS: a killed mover's intent is abandoned after this
    schedule_period: float = 10.0  # the lab's "minute"
    alarm_budget: float = 5.0
    settle_seconds: float = 14.0  # faults off, schedule on, before the final look

    def lab_settings(self) -> dict[str, str]:
        return {
            "HealthCheckIntervalSeconds": f"{self.interval:g}",
            "HealthCheckTimeoutSeconds": f"{self.timeout:g}",
            "FallThreshold": str(self.fall),
            "RiseThreshold": str(self.rise),
            "Preempt": "true",
            "PreemptDelaySeconds": f"{self.preempt_delay:g}",
            "MinSecondsBetweenMoves": f"{self.min_between_moves:g}",
            "PreflightIntervalSeconds": "0",  # its dry runs would add EC2 calls unrelated to moves
        }

    def extra_env(self) -> dict[str, str]:
        """Variables the template sets as literals, which the lab gives the functions directly."""
        return {"MOVE_TIMEOUT_SECONDS": f"{self.move_timeout:g}"}

    @property
    def schedule_budget(self) -> float:
        """A scheduled invocation's time budget: two periods (starts may be that far apart) and a margin."""
        return 2 * self.schedule_period + 3.0


class Invoker:
    """Starts the functions in fresh processes (as the lab's `invoke` does), records each invocation,
    and keeps the running monitor processes so the killer can pick one."""

    def __init__(self, lab: LabEnvironment, recorder: Recorder) -> None:
        self.lab = lab
        self.recorder = recorder
        self._lock = threading.Lock()
        self._running: dict[int, tuple[InvocationRecord, subprocess.Popen[str]]] = {}
        self._threads: list[threading.Thread] = []
        self.accepting = True

    def monitor(self, trigger: str, event: Mapping[str, Any], budget_seconds: float) -> None:
        """A monitor invocation in the background (the schedule, an alarm)."""
        if not self.accepting:
            return
        record = self.recorder.invocation("monitor", trigger, dict(event), budget_seconds)
        thread = threading.Thread(
            target=self._run,
            args=(record, "monitor", event, {**self.lab.monitor_env, **self.lab.extra_env}),
            name=f"chaos-monitor-{record.number}",
            daemon=True,
        )
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def control(self, request: Any, budget_seconds: float = 30.0) -> InvocationRecord:
        """A ControlFunction request, answered before this returns."""
        record = self.recorder.invocation("control", "operator", request, budget_seconds)
        self._run(record, "control", request, {**self.lab.control_env, **self.lab.extra_env})
        return record

    def running_monitors(self) -> list[InvocationRecord]:
        with self._lock:
            return [
                record
                for record, process in self._running.values()
                if record.function == "monitor" and process.poll() is None
            ]

    def kill(self, record: InvocationRecord) -> bool:
        """SIGKILL the invocation's process group, as Lambda ends a function that ran out of time."""
        with self._lock:
            found = self._running.get(record.number)
        if found is None or found[1].poll() is not None:
            return False
        record.killed = True
        return processes.signal_group(found[1].pid, signal.SIGKILL)

    def kill_all(self) -> None:
        for record in self.running_monitors():
            self.kill(record)

    def join(self, timeout: float) -> None:
        give_up = time.monotonic() + timeout
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(max(0.0, give_up - time.monotonic()))

    def _run(self, record: InvocationRecord, function: str, event: Any, env: Mapping[str, str]) -> None:
        def track(process: subprocess.Popen[str]) -> None:
            with self._lock:
                self._running[record.number] = (record, process)

        try:
            result = invoke_handler(
                function, event, env, remaining_ms=int(record.budget_seconds * 1000), on_start=track
            )
        except Exception as exc:  # a hung invocation past its budget + 30 s: recorded, never fatal
            record.ended_at, record.ok, record.error = time.time(), False, f"{type(exc).__name__}: {exc}"
            return
        finally:
            with self._lock:
                self._running.pop(record.number, None)
        record.ended_at = time.time()
        record.ok = result.ok
        record.payload = result.payload
        if not result.ok:
            record.error = f"{result.error_type}: {result.error_message}"


class Actor:
    """A seeded thread: `step()` runs until it returns the pause before the next step, or None to end."""

    name = "actor"

    def __init__(self, world: World) -> None:
        self.world = world
        self.rng = random.Random(f"{world.settings.seed}:{self.name}")
        self.thread = threading.Thread(target=self._loop, name=f"chaos-{self.name}", daemon=True)
        self.errors: list[str] = []

    def start(self) -> None:
        self.thread.start()

    def _loop(self) -> None:
        stop = self.world.stop
        pause = self.first_pause()
        while not stop.wait(pause):
            try:
                pause = self.step()
            except Exception as exc:  # an actor's own failure is reported, it must not end the soak silently
                self.errors.append(f"{type(exc).__name__}: {exc}")
                pause = 1.0
        self.finish()

    def first_pause(self) -> float:
        return self.rng.uniform(0.5, 3.0)

    def step(self) -> float:
        raise NotImplementedError

    def finish(self) -> None:
        """Undo what this actor left broken (called once the soak stops)."""


@dataclass
class World:
    lab: LabEnvironment
    recorder: Recorder
    invoker: Invoker
    settings: ChaosSettings
    stop: threading.Event
    troubled: str | None = None  # the node a node fault is on now (the alarms' favourite)

    def sleep(self, seconds: float) -> bool:
        """Sleep; True if the soak is stopping meanwhile."""
        return self.stop.wait(seconds)
