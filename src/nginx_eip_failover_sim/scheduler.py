"""The seeded scheduler: every actor is a thread, but only one runs at a time.

An actor runs until its next I/O point (a call through a port, a sleep, a join), where it hands
control back; the scheduler then advances the one simulated clock to the earliest wake-up and picks
the next runnable actor with the seeded RNG. Nothing depends on the OS's thread timing, so a seed
always gives the same interleaving and the same trace. An actor can be killed at any I/O point (a
Lambda invocation dying mid-call): it resumes with `Crash`, which no service code catches.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
import threading
import traceback
from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")
EPOCH = 1_800_000_000.0  # the simulated wall clock at the start of every run
MONOTONIC_OFFSET = 5_000.0
END_OF_RUN = "end of run"  # monotonic() is an unrelated number, as on a real host


class Crash(BaseException):
    """The invocation was killed at an I/O point. A BaseException: `except Exception` passes it on."""


@dataclass(eq=False)
class Actor:
    id: int
    name: str
    invocation: str
    kind: str
    wake_at: float
    body: Callable[[], None]
    resumed: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(0))
    done: bool = False
    killed: bool = False
    crashed: bool = False
    started: bool = False
    points: int = 0
    error: BaseException | None = None
    joining: Actor | None = None
    crash_point: str = ""
    last_point: str = ""


class Scheduler:
    def __init__(self, rng: random.Random, *, crash_probability: float = 0.0) -> None:
        self.rng = rng
        self.now = EPOCH
        self.crash_probability = crash_probability
        self.steps = 0
        self.crashes: list[tuple[str, str]] = []  # (invocation, I/O point)
        self.errors: list[str] = []  # an actor's unexpected exception: the run reports it
        self._actors: list[Actor] = []
        self._ids = itertools.count(1)
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._timer_seq = itertools.count()
        self._handback = threading.Semaphore(0)
        self._local = threading.local()

    # --- the clock (the Clock port of core/ports.py) -------------------------------------------

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now - EPOCH + MONOTONIC_OFFSET

    # --- from the scheduler's side ----------------------------------------------------------------

    def at(self, when: float, callback: Callable[[], None]) -> None:
        """Run `callback` on the scheduler's thread at simulated time `when` (a world event)."""
        heapq.heappush(self._timers, (max(when, self.now), next(self._timer_seq), callback))

    def spawn(self, name: str, body: Callable[[], None], *, invocation: str, kind: str) -> Actor:
        actor = Actor(next(self._ids), name, invocation, kind, self.now, body)
        thread = threading.Thread(target=self._run_actor, args=(actor,), name=f"sim-{name}", daemon=True)
        self._actors.append(actor)
        thread.start()
        return actor

    def kill(self, invocation: str, point: str) -> None:
        """Kill every live actor of `invocation`: each resumes with Crash at its current I/O point."""
        self.crashes.append((invocation, point))
        for actor in self._actors:
            if actor.invocation == invocation and not actor.done:
                actor.killed = True
                actor.crash_point = point
                actor.wake_at = self.now

    def live(self) -> list[Actor]:
        return [actor for actor in self._actors if not actor.done]

    def step(self, until: float) -> bool:
        """Run one actor to its next I/O point, or advance the clock; False once nothing is left
        to do before `until`."""
        self._actors = [actor for actor in self._actors if not actor.done]
        runnable = [actor for actor in self._actors if actor.wake_at <= self.now]
        if not runnable:
            upcoming = min((actor.wake_at for actor in self._actors), default=math.inf)
            if self._timers:
                upcoming = min(upcoming, self._timers[0][0])
            if upcoming > until:
                self.now = until
                return False
            self.now = upcoming
            while self._timers and self._timers[0][0] <= self.now:
                _, _, callback = heapq.heappop(self._timers)
                callback()
            return True
        actor = self.rng.choice(runnable)
        if (
            actor.started
            and not actor.killed
            and self.crash_probability
            and actor.kind in ("monitor", "control")
            and self.rng.random() < self.crash_probability
        ):
            self.kill(actor.invocation, actor.last_point)
        self.steps += 1
        actor.started = True
        actor.resumed.release()
        self._handback.acquire()
        return True

    def stop_all(self) -> None:
        """Unwind every remaining actor (the run is over): each raises Crash and ends."""
        for actor in list(self._actors):
            if not actor.done:
                actor.killed = True
                actor.crash_point = END_OF_RUN
                actor.started = True
                actor.resumed.release()
                self._handback.acquire()

    # --- from an actor's side -----------------------------------------------------------------

    def current(self) -> Actor:
        actor: Actor | None = getattr(self._local, "actor", None)
        if actor is None:
            raise RuntimeError("not called from a simulated actor")
        return actor

    def sleep(self, seconds: float, point: str = "sleep") -> None:
        """Hand control back until `seconds` of simulated time have passed (an I/O point)."""
        actor = self.current()
        actor.wake_at = self.now + max(0.0, seconds)
        actor.points += 1
        actor.last_point = point
        self._yield(actor)

    def join(self, child: Actor) -> None:
        actor = self.current()
        while not child.done:
            actor.joining = child
            actor.wake_at = math.inf
            self._yield(actor)
        actor.joining = None

    def _yield(self, actor: Actor) -> None:
        if actor.killed:
            raise Crash(actor.crash_point)
        self._handback.release()
        actor.resumed.acquire()
        if actor.killed:
            raise Crash(actor.crash_point)

    def _run_actor(self, actor: Actor) -> None:
        self._local.actor = actor
        actor.resumed.acquire()
        try:
            if not actor.killed:
                actor.body()
        except Crash:
            actor.crashed = True
        except BaseException as exc:  # an actor's unexpected error is reported by the run, not lost
            actor.error = exc
            trace = "".join(traceback.format_exception(exc)[-4:])
            self.errors.append(f"{actor.name} at {self.now - EPOCH:.3f}s: {type(exc).__name__}: {exc}\n{trace}")
        finally:
            actor.done = True
            for other in self._actors:
                if other.joining is actor:
                    other.wake_at = self.now
            self._handback.release()


class SimExecutor(Executor):
    """The fleet's pool: each submitted group cycle runs as an actor of the same invocation."""

    def __init__(self, scheduler: Scheduler) -> None:
        self._scheduler = scheduler

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        parent = self._scheduler.current()
        future: _SimFuture[T] = _SimFuture(self._scheduler)

        def body() -> None:
            try:
                future.set_result(fn(*args, **kwargs))
            except Crash:
                raise
            except BaseException as exc:
                future.set_exception(exc)

        future.actor = self._scheduler.spawn(f"{parent.name}/group", body, invocation=parent.invocation, kind="group")
        return future


class _SimFuture(Future[T]):
    def __init__(self, scheduler: Scheduler) -> None:
        super().__init__()
        self._scheduler = scheduler
        self.actor: Actor | None = None

    def result(self, timeout: float | None = None) -> T:
        assert self.actor is not None
        self._scheduler.join(self.actor)
        if self.actor.crashed:
            raise Crash(self.actor.crash_point)
        return super().result(0)
