"""The live timeline: what the lab does, and what it sees from outside while the functions run.

`EipObserver` polls, from outside the functions, DescribeAddresses (every 100 ms: which node holds
the EIP), the state item (node health, decisions with their reasons, moves with their duration,
alerts) and the notification inbox, and prints every change as it happens.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, TextIO

from nginx_eip_failover_lab.environment import LabEnvironment
from nginx_eip_failover_lab.scheduler import Invocation

_WIDTH = 9


class Timeline:
    """Prints `[  12.34s] KIND     text` lines, the time counted from the lab's start."""

    def __init__(self, out: TextIO | None = None, *, t0: float | None = None) -> None:
        self.out = out or sys.stdout
        self.t0 = t0 if t0 is not None else time.time()
        self._lock = threading.Lock()

    def since(self, at: float | None = None) -> float:
        return (at if at is not None else time.time()) - self.t0

    def say(self, kind: str, text: str, at: float | None = None) -> None:
        stamp = f"[{self.since(at):7.2f}s]"
        lines = text.splitlines() or [""]
        with self._lock:
            print(f"{stamp} {kind:<{_WIDTH}}{lines[0]}", file=self.out)
            for line in lines[1:]:
                print(f"{'':>{len(stamp)}} {'':<{_WIDTH}}{line}", file=self.out)
            self.out.flush()

    def rule(self, text: str) -> None:
        with self._lock:
            print(f"\n── {text} " + "─" * max(0, 86 - len(text)), file=self.out, flush=True)


@dataclass(frozen=True)
class Sample:
    at: float
    holder: str | None


def describe_holder(holder: str | None) -> str:
    return "unassociated" if holder is None else holder


class EipObserver:
    def __init__(
        self, lab: LabEnvironment, timeline: Timeline, *, interval: float = 0.1, verbose: bool = False
    ) -> None:
        self.lab = lab
        self.timeline = timeline
        self.interval = interval
        self.verbose = verbose
        self.samples: list[Sample] = []
        self.state: dict[str, Any] = {}
        self.notices: list[dict[str, Any]] = []
        self._seen_history: set[tuple[Any, ...]] = set()
        self._alerts: set[str] = set()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="eip-observer", daemon=True)
        self.errors = 0

    def start(self) -> EipObserver:
        self._poll_eip()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    # -- queries (thread-safe) -------------------------------------------------------------------
    @property
    def holder(self) -> str | None:
        with self._lock:
            return self.samples[-1].holder if self.samples else None

    def first_seen(self, holder: str | None, after: float) -> float | None:
        """When the EIP was first seen on `holder` at or after `after` (time.time())."""
        with self._lock:
            return next((s.at for s in self.samples if s.at >= after and s.holder == holder), None)

    def holders_since(self, after: float) -> list[str | None]:
        """Every holder seen since `after`, in order, without repeats."""
        seen: list[str | None] = []
        with self._lock:
            for sample in self.samples:
                if sample.at >= after and (not seen or seen[-1] != sample.holder):
                    seen.append(sample.holder)
        return seen

    def history_since(self, after: float, *events: str) -> list[dict[str, Any]]:
        entries = list(self.state.get("history") or [])
        return [entry for entry in entries if entry["at"] >= after and (not events or entry["event"] in events)]

    def node_health(self, node: str) -> str:
        return str(((self.state.get("nodes") or {}).get(node) or {}).get("status", "unknown"))

    @property
    def alerts(self) -> set[str]:
        return set(self.state.get("alerts") or [])

    # -- polling ---------------------------------------------------------------------------------
    def _run(self) -> None:
        tick = 0
        while not self._stop.wait(self.interval):
            tick += 1
            try:
                self._poll_eip()
                if tick % 2 == 0:
                    self._poll_state()
                if tick % 5 == 0:
                    self._poll_notifications()
            except Exception as exc:  # the moto server going away at the end, a slow answer...
                self.errors += 1
                if self.errors <= 3 and not self._stop.is_set():
                    self.timeline.say("OBSERVER", f"poll failed: {type(exc).__name__}: {exc}")

    def poll_now(self) -> None:
        self._poll_eip()
        self._poll_state()

    def _poll_eip(self) -> None:
        holder = self.lab.holder()
        now = time.time()
        with self._lock:
            previous = self.samples[-1].holder if self.samples else "?"
            self.samples.append(Sample(now, holder))
        if holder != previous:
            if previous == "?":
                self.timeline.say("EIP", f"{describe_holder(holder)}   (DescribeAddresses, polled every 100 ms)", now)
            else:
                self.timeline.say("EIP", f"{describe_holder(previous)} -> {describe_holder(holder)}", now)

    def _poll_state(self) -> None:
        state = self.lab.state()
        self.state = state
        for entry in state.get("history") or []:
            key = (entry["at"], entry["event"], entry.get("node"), entry.get("by"))
            if key in self._seen_history:
                continue
            self._seen_history.add(key)
            self.timeline.say(*describe_history(entry), at=entry["at"])
        alerts = set(state.get("alerts") or [])
        for alert in sorted(alerts - self._alerts):
            self.timeline.say("ALERT", f"raised: {alert}")
        for alert in sorted(self._alerts - alerts):
            self.timeline.say("ALERT", f"cleared: {alert}")
        self._alerts = alerts

    def _poll_notifications(self) -> None:
        for notice in self.lab.notifications():
            self.notices.append(notice)
            self.timeline.say("SNS", f"[{notice.get('severity')}] {notice.get('kind')}: {notice.get('message')}")

    def report_invocation(self, invocation: Invocation) -> None:
        """Print a finished monitor invocation if it moved the EIP, failed, or in verbose mode."""
        result = invocation.result
        label = f"monitor #{invocation.number} ({invocation.trigger})"
        if not result.ok:
            self.timeline.say("LAMBDA", f"{label} failed: {result.error_type}: {result.error_message}")
            return
        payload = result.payload or {}
        moves = payload.get("moves") or []
        errors = payload.get("move_errors") or []
        if not (moves or errors or self.verbose or invocation.trigger == "alarm"):
            return
        text = f"{label}: {payload.get('cycles')} cycles in {payload.get('seconds')} s"
        for move in moves:
            timings = ", ".join(f"{key} {value:g} ms" for key, value in (move.get("timings_ms") or {}).items())
            text += f"\n  moved the EIP to {move['to']} ({timings}): {move['reason']}"
        for error in errors:
            text += f"\n  move failed: {error}"
        text += f"\n  last decision: {payload.get('decision')}"
        self.timeline.say("LAMBDA", text, invocation.ended_at)


def describe_history(entry: dict[str, Any]) -> tuple[str, str]:
    event = entry["event"]
    node = entry.get("node")
    detail = entry.get("detail") or {}
    reason = entry.get("reason") or ""
    by = entry.get("by") or ""
    if event in ("node_up", "node_down"):
        return "HEALTH", f"{node} is {event[5:]}: {reason}"
    if event == "move_started":
        return "DECISION", f"move the EIP to {node} (by {by}): {reason}"
    if event == "move_completed":
        return "MOVED", f"EIP on {node}, decision to verified association in {detail.get('seconds')} s"
    if event == "move_failed":
        return "FAILED", f"move to {node} failed after {detail.get('seconds')} s: {reason}"
    if event == "move_abandoned":
        return "ABANDONED", f"move to {node}: {reason}"
    if event == "drift":
        return "DRIFT", reason
    if event.startswith("control_"):
        target = f" {node}" if node else ""
        return "CONTROL", f"{event[8:]}{target} by {by}: {reason}"
    return event.upper()[: _WIDTH - 1], f"{node or ''} {reason}".strip()
