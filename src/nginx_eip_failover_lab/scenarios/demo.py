"""The scripted demo: the real handlers keep the EIP on the healthy node while the lab breaks nodes.

Steps: steady state; an alarm while node1 is healthy (moves nothing); node1's nginx is stopped
(failover, timed from outside); node1 comes back (failback only after the preempt delay); an
operator failover (pinned) and unpin; drain and undrain; both nodes down (the EIP stays, alert)
and back. Each step states what should happen and checks what did; the summary table says which
steps passed, with the measured failover and failback times.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nginx_eip_failover_lab.environment import LabEnvironment
from nginx_eip_failover_lab.invoke import InvokeResult
from nginx_eip_failover_lab.scheduler import MonitorScheduler

from .timeline import EipObserver, Timeline, describe_holder


@dataclass(frozen=True)
class DemoParameters:
    interval: float = 0.5
    timeout: float = 0.5
    fall: int = 3
    rise: int = 2
    preempt_delay: float = 8.0
    min_between_moves: float = 3.0
    invocation_ms: int = 6000  # each scheduled invocation's time budget; the next follows at once
    hold: float = 4.5  # how long a pin or a drain is watched holding (longer than min_between_moves)

    def settings(self) -> dict[str, str]:
        return {
            "HealthCheckIntervalSeconds": f"{self.interval:g}",
            "HealthCheckTimeoutSeconds": f"{self.timeout:g}",
            "FallThreshold": str(self.fall),
            "RiseThreshold": str(self.rise),
            "Preempt": "true",
            "PreemptDelaySeconds": f"{self.preempt_delay:g}",
            "MinSecondsBetweenMoves": f"{self.min_between_moves:g}",
        }

    def describe(self) -> str:
        return (
            f"HealthCheckIntervalSeconds={self.interval:g}  HealthCheckTimeoutSeconds={self.timeout:g}  "
            f"FallThreshold={self.fall}  RiseThreshold={self.rise}\n"
            f"Preempt=true  PreemptDelaySeconds={self.preempt_delay:g}  "
            f"MinSecondsBetweenMoves={self.min_between_moves:g}  "
            f"monitor invocations of {self.invocation_ms / 1000:g} s each, back to back"
        )

    @property
    def detection_bound(self) -> float:
        """How long the lab waits for a failure to be acted on before calling the step failed."""
        return (self.fall + self.rise) * (self.interval + self.timeout) + 2 * self.invocation_ms / 1000 + 10


NORMAL = DemoParameters()
QUICK = DemoParameters(preempt_delay=4.0, min_between_moves=2.0, hold=3.0, invocation_ms=5000)


@dataclass
class StepResult:
    number: int
    title: str
    expected: str
    observed: str = "not run"
    ok: bool | None = None  # None: not run

    @property
    def verdict(self) -> str:
        return {True: "PASS", False: "FAIL", None: "SKIP"}[self.ok]


@dataclass
class DemoReport:
    steps: list[StepResult] = field(default_factory=list)
    failover_seconds: float | None = None
    failback_seconds: float | None = None

    @property
    def passed(self) -> bool:
        return bool(self.steps) and all(step.ok for step in self.steps)


class DemoScenario:
    def __init__(
        self,
        lab: LabEnvironment,
        params: DemoParameters,
        timeline: Timeline,
        observer: EipObserver,
        scheduler: MonitorScheduler,
    ) -> None:
        self.lab = lab
        self.params = params
        self.timeline = timeline
        self.observer = observer
        self.scheduler = scheduler
        self.report = DemoReport()

    # -- helpers -----------------------------------------------------------------------------------
    def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.05)
        return predicate()

    def lab_says(self, text: str) -> None:
        self.timeline.say("LAB", text)

    def control(self, request: dict[str, Any]) -> InvokeResult:
        self.timeline.say("OPERATOR", f"ControlFunction <- {request}")
        result = self.lab.control(request)
        if result.ok:
            payload = result.payload or {}
            self.timeline.say("OPERATOR", f"-> {payload.get('result', 'ok')} ({result.seconds:.2f} s incl. cold start)")
        else:
            self.timeline.say("OPERATOR", f"-> rejected: {result.error_type}: {result.error_message}")
        return result

    def health(self, node: str) -> str:
        return self.observer.node_health(node)

    def both_up(self) -> bool:
        return self.health("node1") == "up" and self.health("node2") == "up"

    # -- the scenario ------------------------------------------------------------------------------
    def steps(self) -> list[tuple[str, str, Callable[[], tuple[bool, str]]]]:
        p = self.params
        return [
            ("steady state", "EIP placed on node1 (priority 101); both nodes up", self.step_steady),
            ("alarm, node1 healthy", "probes overrule the alarm: nothing moves", self.step_false_alarm),
            ("node1 nginx stopped", f"EIP to node2 after FallThreshold={p.fall} failed probes", self.step_stop_node1),
            (
                "node1 nginx started",
                f"EIP stays on node2 until node1 is up {p.preempt_delay:g} s, then fails back",
                self.step_failback,
            ),
            ("operator failover node2", "EIP to node2 at once; pinned, no failback", self.step_operator_failover),
            ("unpin", "pin cleared; preemption returns the EIP to node1", self.step_unpin),
            ("drain node1", "EIP leaves node1 for node2 and stays there", self.step_drain),
            ("undrain node1", "node1 eligible again; EIP back on node1", self.step_undrain),
            ("both nodes down", "EIP stays on node1; alert no_node_up raised", self.step_both_down),
            ("both nodes back", "alert cleared; EIP still on node1, no move", self.step_both_back),
        ]

    def run(self) -> DemoReport:
        plan = self.steps()
        self.report.steps = [StepResult(i, title, expected) for i, (title, expected, _) in enumerate(plan, 1)]
        for result, (title, expected, action) in zip(self.report.steps, plan, strict=True):
            self.timeline.rule(f"Step {result.number}: {title} - expected: {expected}")
            try:
                ok, observed = action()
            except Exception as exc:
                ok, observed = False, f"{type(exc).__name__}: {exc}"
            result.ok, result.observed = ok, observed
            self.timeline.say("CHECK", f"{result.verdict}: {observed}")
            if not ok:
                break  # the next steps start from this one's outcome: do not pile up failures
        return self.report

    def step_steady(self) -> tuple[bool, str]:
        started = time.time()
        ok = self.wait_for(lambda: self.observer.holder == "node1" and self.both_up(), self.params.detection_bound)
        if not ok:
            return (
                False,
                f"EIP {describe_holder(self.observer.holder)}, node1 {self.health('node1')}, "
                f"node2 {self.health('node2')}",
            )
        first = self.observer.first_seen("node1", started - 60) or time.time()
        return True, f"EIP on node1 at +{self.timeline.since(first):.1f} s; node1 up, node2 up"

    def step_false_alarm(self) -> tuple[bool, str]:
        started = time.time()
        self.lab_says("CloudWatch alarm on node1's instance fires (StatusCheckFailed), node1 is fine")
        self.scheduler.send_alarm(self.lab.alarm_event("node1")).join(30)
        invocation = self.scheduler.last("alarm")
        time.sleep(self.params.interval)
        if invocation is None or not invocation.result.ok:
            error = invocation.result.error_message if invocation else "no result"
            return False, f"alarm invocation failed: {error}"
        payload = invocation.result.payload or {}
        holders = self.observer.holders_since(started)
        ok = not payload.get("moves") and holders == ["node1"]
        return ok, (
            f"alarm invocation ran {payload.get('cycles')} probe cycle(s), decided "
            f"'{payload.get('decision')}'; EIP seen on {', '.join(map(describe_holder, holders))}"
        )

    def step_stop_node1(self) -> tuple[bool, str]:
        self.lab.nodes["node1"].stop()
        stopped = time.time()
        self.lab_says("node1: nginx stopped (the process is gone, its port refuses connections)")
        if not self.wait_for(lambda: self.observer.holder == "node2", self.params.detection_bound):
            return False, f"EIP still {describe_holder(self.observer.holder)}"
        seen = self.observer.first_seen("node2", stopped) or time.time()
        self.report.failover_seconds = seen - stopped
        self.wait_for(lambda: self.health("node1") == "down", 2)
        return self.health("node1") == "down", (
            f"EIP on node2 {self.report.failover_seconds:.2f} s after nginx stopped; node1 {self.health('node1')}"
        )

    def step_failback(self) -> tuple[bool, str]:
        started = time.time()
        self.lab.nodes["node1"].start()
        self.lab_says(f"node1: nginx started again (pid {self.lab.nodes['node1'].pid})")
        bound = self.params.preempt_delay + self.params.min_between_moves + self.params.detection_bound
        if not self.wait_for(lambda: self.observer.holder == "node1", bound):
            return False, f"EIP still {describe_holder(self.observer.holder)} after {bound:.0f} s"
        seen = self.observer.first_seen("node1", started) or time.time()
        self.report.failback_seconds = seen - started
        self.observer.poll_now()
        ups = [e for e in self.observer.history_since(started, "node_up") if e.get("node") == "node1"]
        moves = [e for e in self.observer.history_since(started, "move_started") if e.get("node") == "node1"]
        if not ups or not moves:
            return False, "no node_up / move_started for node1 in the state history"
        waited = moves[0]["at"] - ups[0]["at"]
        holders = self.observer.holders_since(started)
        ok = waited >= self.params.preempt_delay and holders == ["node2", "node1"]
        return ok, (
            f"node1 up +{ups[0]['at'] - started:.1f} s after start; failback decided after {waited:.1f} s up; "
            f"EIP on node1 {self.report.failback_seconds:.1f} s after start"
        )

    def step_operator_failover(self) -> tuple[bool, str]:
        result = self.control({"action": "failover", "target": "node2", "reason": "demo: patching node1"})
        if not result.ok or not (result.payload or {}).get("ok"):
            return False, f"failover refused: {result.error_message or result.payload}"
        if not self.wait_for(lambda: self.observer.holder == "node2", 5):
            return False, f"EIP {describe_holder(self.observer.holder)} after the failover"
        arrived = time.time()
        pin = ((result.payload or {}).get("status") or {}).get("pin") or {}
        self.lab_says(f"watching for {self.params.hold:g} s: node1 is up and preferred, but node2 is pinned")
        time.sleep(self.params.hold)
        holders = self.observer.holders_since(arrived)
        ok = pin.get("node") == "node2" and holders == ["node2"]
        return ok, f"EIP on node2, pinned to {pin.get('node')}; stayed on node2 for {self.params.hold:g} s"

    def step_unpin(self) -> tuple[bool, str]:
        started = time.time()
        result = self.control({"action": "unpin", "reason": "demo: patching done"})
        if not result.ok:
            return False, f"unpin rejected: {result.error_message}"
        bound = self.params.min_between_moves + self.params.detection_bound
        ok = self.wait_for(lambda: self.observer.holder == "node1", bound)
        seen = self.observer.first_seen("node1", started)
        took = f"{seen - started:.1f} s after unpin" if seen else "never"
        return ok, f"EIP back on node1 {took} ({(result.payload or {}).get('result')})"

    def step_drain(self) -> tuple[bool, str]:
        result = self.control({"action": "drain", "node": "node1", "reason": "demo: node1 maintenance"})
        if not result.ok:
            return False, f"drain rejected: {result.error_message}"
        if not self.wait_for(lambda: self.observer.holder == "node2", self.params.detection_bound):
            return False, f"EIP {describe_holder(self.observer.holder)} after the drain"
        arrived = time.time()
        self.lab_says(f"watching for {self.params.hold:g} s: node1 is up and preferred, but drained")
        time.sleep(self.params.hold)
        holders = self.observer.holders_since(arrived)
        return holders == ["node2"], f"EIP on node2; stayed there {self.params.hold:g} s while node1 was drained"

    def step_undrain(self) -> tuple[bool, str]:
        started = time.time()
        result = self.control({"action": "undrain", "node": "node1", "reason": "demo: maintenance done"})
        if not result.ok:
            return False, f"undrain rejected: {result.error_message}"
        bound = self.params.min_between_moves + self.params.detection_bound
        ok = self.wait_for(lambda: self.observer.holder == "node1", bound)
        seen = self.observer.first_seen("node1", started)
        return ok, f"EIP back on node1 {seen - started:.1f} s after undrain" if seen else "EIP never back on node1"

    def step_both_down(self) -> tuple[bool, str]:
        started = time.time()
        associations = self.lab.proxy.count("AssociateAddress") if self.lab.proxy else None
        node1, node2 = self.lab.nodes["node1"], self.lab.nodes["node2"]
        node2.set_peers(False)
        self.lab_says("node2: NGINX Plus API now reports every upstream peer down")
        # node2 must be failing first: were node1 to go down a cycle earlier, node2 would still be up.
        cycle = self.params.interval + self.params.timeout
        self.wait_for(
            lambda: int(((self.observer.state.get("nodes") or {}).get("node2") or {}).get("fail_streak", 0)) >= 1,
            4 * cycle + self.params.invocation_ms / 1000 + 5,
        )
        node1.hang()
        self.lab_says("node1: nginx hung (SIGSTOP: accepts connections, never answers)")
        ok = self.wait_for(
            lambda: (
                self.health("node1") == "down"
                and self.health("node2") == "down"
                and "no_node_up" in self.observer.alerts
            ),
            self.params.detection_bound,
        )
        time.sleep(2 * cycle)
        holders = self.observer.holders_since(started)
        moved = (
            self.lab.proxy.count("AssociateAddress") - associations
            if self.lab.proxy and associations is not None
            else 0
        )
        ok = ok and holders == ["node1"] and moved == 0
        return ok, (
            f"node1 {self.health('node1')}, node2 {self.health('node2')}; alerts {sorted(self.observer.alerts)}; "
            f"EIP seen on {', '.join(map(describe_holder, holders))}; {moved} AssociateAddress calls"
        )

    def step_both_back(self) -> tuple[bool, str]:
        started = time.time()
        self.lab.nodes["node1"].resume()
        self.lab.nodes["node2"].set_peers(True)
        self.lab_says("node1 resumed (SIGCONT); node2's upstream peers up again")
        ok = self.wait_for(
            lambda: self.both_up() and "no_node_up" not in self.observer.alerts, self.params.detection_bound
        )
        holders = self.observer.holders_since(started)
        ok = ok and holders == ["node1"]
        return ok, (
            f"node1 {self.health('node1')}, node2 {self.health('node2')}; alerts {sorted(self.observer.alerts)}; "
            f"EIP seen on {', '.join(map(describe_holder, holders))}"
        )


def summary_table(report: DemoReport, params: DemoParameters) -> str:
    rows = [("#", "step", "expected", "observed", "result")]
    rows += [(str(s.number), s.title, s.expected, s.observed, s.verdict) for s in report.steps]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    widths[2] = min(widths[2], 58)
    lines: list[str] = []
    for index, row in enumerate(rows):
        lines.append(
            "  ".join(
                [
                    row[0].rjust(widths[0]),
                    row[1].ljust(widths[1]),
                    _clip(row[2], widths[2]).ljust(widths[2]),
                    row[4],
                    row[3],
                ]
            )
        )
        if index == 0:
            lines.append("-" * min(120, max(len(f"{r[0]}  {r[1]}  {r[2]}  {r[4]}  {r[3]}") for r in rows)))
    cycle = params.interval
    lines.append("")
    if report.failover_seconds is not None:
        lines.append(
            f"Failover time (node1's nginx stopped -> EIP on node2, DescribeAddresses polled every 100 ms): "
            f"{report.failover_seconds:.2f} s   [FallThreshold {params.fall} x interval {cycle:g} s, plus probe "
            "and AWS call times and Lambda-style cold starts]"
        )
    else:
        lines.append("Failover time: not measured")
    if report.failback_seconds is not None:
        lines.append(
            f"Failback time (node1's nginx started -> EIP back on node1): {report.failback_seconds:.2f} s   "
            f"[RiseThreshold {params.rise} probes, then PreemptDelaySeconds {params.preempt_delay:g} s]"
        )
    passed = sum(1 for s in report.steps if s.ok)
    lines.append(f"{passed}/{len(report.steps)} steps passed: " + ("ALL PASS" if report.passed else "FAILED"))
    return "\n".join(lines)


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
