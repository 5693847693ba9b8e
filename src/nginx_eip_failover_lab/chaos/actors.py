"""The chaos soak's actors: seeded threads that break the lab while the real functions run.

Each actor draws from its own `random.Random(f"{seed}:{name}")`, so a seed fixes every choice (which
fault, which node, how long, which request); the real processes' timing is not seeded, so a run is
reproducible in what it does, not to the millisecond.

- `NodeFaults`: nginx stopped, hung (SIGSTOP), slow (stopped for less than the probe timeout),
  sub-interval blips (upstream peers down for 0.9 interval, with a monitor invocation started during
  them), flapping, upstream peers down, garbage bodies, both nodes down;
- `AwsFaults`: throttling, 5xx (before or after the call took effect), slow answers and hard EC2
  errors, through the lab's AWS proxy;
- `Schedule`: scheduled monitor invocations started anywhere within their period (EventBridge's
  "within the minute"), overlapping, sometimes delivered twice;
- `Alarms`: alarm action invocations, mostly for the node in trouble, sometimes duplicated;
- `Operators`: failover, pin/unpin, drain/undrain, plan, status and invalid requests through the
  ControlFunction;
- `Killer`: monitor invocations SIGKILLed at a random moment, or while the proxy holds one of their
  AWS calls (between intent and outcome).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from nginx_eip_failover_lab.aws.proxy import Fault

from .world import Actor, World

# The opening fault (NodeFaults._opening); operators and the killer wait until it is over.
OPENING_SECONDS = 8.0
GARBAGE_BODIES = (
    "this is not json {",
    '{"peers": "all of them"}',
    "<html><body>502 Bad Gateway</body></html>",
    '{"peers": [{"id": 0, "state": "unhealthy"}]}',
    "",
)


class NodeFaults(Actor):
    name = "nodes"
    KINDS = ("stop", "hang", "slow", "blips", "flap", "peers_down", "garbage", "both_down")
    WEIGHTS = (3, 2, 2, 3, 2, 2, 2, 1)

    def __init__(self, world: World) -> None:
        super().__init__(world)
        self.opened = False

    def first_pause(self) -> float:
        return 1.0

    def step(self) -> float:
        if not self.opened:
            return self._opening()
        kind = self.rng.choices(self.KINDS, self.WEIGHTS)[0]
        # The holder most of the time, so failovers happen; the standby too, whose trouble must move nothing.
        holder = self.world.lab.holder()
        node = (
            holder
            if holder in self.world.lab.nodes and self.rng.random() < 0.7
            else self.rng.choice(["node1", "node2"])
        )
        self.world.troubled = node
        try:
            getattr(self, f"_{kind}")(node)
        finally:
            self.world.troubled = None
        return self.rng.uniform(2.0, 6.0)

    def _opening(self) -> float:
        """Every soak opens by stopping the holder's nginx for OPENING_SECONDS, before any operator
        request or kill (AWS faults and alarms may already be about): a failover every run must show,
        whatever the seed, so a run that never exercised one cannot pass for a quiet success."""
        self.opened = True
        holder = self.world.lab.holder()
        node = holder if holder in self.world.lab.nodes else "node1"
        self.world.troubled = node
        nginx = self.world.lab.nodes[node]
        self.world.recorder.fault("node:stop", f"{node} for {OPENING_SECONDS:g} s (the opening)")
        try:
            self._down(node, "stopped", nginx.stop)
            self.world.sleep(OPENING_SECONDS)
            self._up(node, nginx.start)
        finally:
            self.world.troubled = None
        return self.rng.uniform(2.0, 6.0)

    # Each fault records the truth as it starts ("unhealthy" before the change) and as it ends
    # ("healthy" only once the node answers again), so the recorded failure covers the real one.
    def _down(self, node: str, condition: str, apply: Callable[[], None]) -> None:
        self.world.recorder.truth(node, condition, False)
        apply()

    def _up(self, node: str, restore: Callable[[], None]) -> None:
        restore()
        self.world.recorder.truth(node, "serving", True)

    def _stop(self, node: str) -> None:
        nginx = self.world.lab.nodes[node]
        seconds = self.rng.uniform(2.0, 9.0)
        self.world.recorder.fault("node:stop", f"{node} for {seconds:.1f} s")
        self._down(node, "stopped", nginx.stop)
        self.world.sleep(seconds)
        self._up(node, nginx.start)

    def _hang(self, node: str) -> None:
        nginx = self.world.lab.nodes[node]
        seconds = self.rng.uniform(1.5, 8.0)
        self.world.recorder.fault("node:hang", f"{node} for {seconds:.1f} s")
        self._down(node, "hung", nginx.hang)
        self.world.sleep(seconds)
        self._up(node, nginx.resume)

    def _slow(self, node: str) -> None:
        """Answers late but within the probe timeout: slow, never a failed probe."""
        nginx = self.world.lab.nodes[node]
        seconds = self.rng.uniform(2.0, 5.0)
        self.world.recorder.fault("node:slow", f"{node} for {seconds:.1f} s")
        self.world.recorder.truth(node, "slow", True)
        ends = time.monotonic() + seconds
        while time.monotonic() < ends and not self.world.stop.is_set():
            nginx.hang()
            time.sleep(self.rng.uniform(0.03, 0.12))
            nginx.resume()
            time.sleep(self.rng.uniform(0.1, 0.4))
        self.world.recorder.truth(node, "serving", True)

    def _blips(self, node: str) -> None:
        """Failures shorter than one interval, with monitor invocations starting during them: no move."""
        nginx = self.world.lab.nodes[node]
        count = self.rng.randint(3, 8)
        blip = 0.9 * self.world.settings.interval
        self.world.recorder.fault("node:blips", f"{count} blips of {blip:.2f} s on {node}")
        for index in range(count):
            if index % 2 == 0:
                # As the schedule's hand-off and alarms do: a new prober arrives during a blip.
                trigger = "blip"
                event = self.world.lab.stack.schedule_input if self.world.lab.stack else {}
                self.world.invoker.monitor(trigger, event, self.world.settings.alarm_budget)
            self._down(node, "peers down", lambda: nginx.set_peers(False))
            time.sleep(blip)
            self._up(node, lambda: nginx.set_peers(True))
            if self.world.sleep(self.rng.uniform(1.2, 2.5) * self.world.settings.interval):
                return

    def _flap(self, node: str) -> None:
        nginx = self.world.lab.nodes[node]
        seconds = self.rng.uniform(5.0, 12.0)
        self.world.recorder.fault("node:flap", f"{node} for {seconds:.1f} s")
        ends = time.monotonic() + seconds
        while time.monotonic() < ends:
            self._down(node, "stopped", nginx.stop)
            stopping = self.world.sleep(self.rng.uniform(0.3, 2.0))
            self._up(node, nginx.start)
            if stopping or self.world.sleep(self.rng.uniform(0.5, 3.0)):
                return

    def _peers_down(self, node: str) -> None:
        nginx = self.world.lab.nodes[node]
        seconds = self.rng.uniform(2.0, 7.0)
        self.world.recorder.fault("node:peers_down", f"{node} for {seconds:.1f} s")
        self._down(node, "peers down", lambda: nginx.set_peers(False))
        self.world.sleep(seconds)
        self._up(node, lambda: nginx.set_peers(True))

    def _garbage(self, node: str) -> None:
        nginx = self.world.lab.nodes[node]
        body = self.rng.choice(GARBAGE_BODIES)
        seconds = self.rng.uniform(0.3, 6.0)
        self.world.recorder.fault("node:garbage", f"{node} serves {body!r} for {seconds:.1f} s")
        self._down(node, "garbage", lambda: nginx.serve_raw(body))
        self.world.sleep(seconds)
        self._up(node, lambda: nginx.serve_raw(None))

    def _both_down(self, node: str) -> None:
        """No node up: the EIP must stay where it is."""
        seconds = self.rng.uniform(2.0, 5.0)
        self.world.recorder.fault("node:both_down", f"both nodes' peers down for {seconds:.1f} s")
        for name, nginx in self.world.lab.nodes.items():
            self._down(name, "peers down", lambda nginx=nginx: nginx.set_peers(False))  # type: ignore[misc]
        self.world.sleep(seconds)
        for name, nginx in self.world.lab.nodes.items():
            self._up(name, lambda nginx=nginx: nginx.set_peers(True))  # type: ignore[misc]

    def finish(self) -> None:
        for name, nginx in self.world.lab.nodes.items():
            nginx.resume()
            nginx.serve_raw(None)
            nginx.set_peers(True)
            nginx.start()
            self.world.recorder.truth(name, "serving", True)


@dataclass(frozen=True)
class AwsFaultKind:
    name: str
    make: Callable[[random.Random], Fault]


def _when(rng: random.Random) -> Literal["before", "after"]:
    return "before" if rng.random() < 0.5 else "after"


AWS_FAULTS = (
    AwsFaultKind(
        "ec2:RequestLimitExceeded",
        lambda r: Fault("AssociateAddress", "ec2", status=503, code="RequestLimitExceeded", times=r.randint(1, 4)),
    ),
    AwsFaultKind(
        "ec2:InternalError",
        lambda r: Fault(
            "AssociateAddress", "ec2", status=500, code="InternalError", when=_when(r), times=r.randint(1, 2)
        ),
    ),
    AwsFaultKind(
        "ec2:DescribeAddresses Unavailable",
        lambda r: Fault("DescribeAddresses", "ec2", status=503, code="Unavailable", times=r.randint(1, 3)),
    ),
    AwsFaultKind(
        "ec2:slow",
        lambda r: Fault("*", "ec2", kind="delay", delay_seconds=r.uniform(0.5, 2.5), times=r.randint(1, 4)),
    ),
    AwsFaultKind(
        "ec2:UnauthorizedOperation",
        lambda r: Fault("AssociateAddress", "ec2", status=403, code="UnauthorizedOperation", times=1),
    ),
    AwsFaultKind(
        "dynamodb:ThrottlingException",
        lambda r: Fault(
            r.choice(("GetItem", "PutItem")), "dynamodb", status=400, code="ThrottlingException", times=r.randint(1, 3)
        ),
    ),
    AwsFaultKind(
        "dynamodb:InternalServerError",
        lambda r: Fault(
            "PutItem", "dynamodb", status=500, code="InternalServerError", when=_when(r), times=r.randint(1, 2)
        ),
    ),
    AwsFaultKind(
        "dynamodb:slow",
        lambda r: Fault("*", "dynamodb", kind="delay", delay_seconds=r.uniform(0.3, 2.0), times=r.randint(1, 5)),
    ),
    AwsFaultKind(
        "sns:failing",
        lambda r: Fault("Publish", "sns", status=500, code="InternalError", times=r.randint(1, 3)),
    ),
    AwsFaultKind(
        "sns:slow",
        lambda r: Fault("Publish", "sns", kind="delay", delay_seconds=r.uniform(1.0, 4.0), times=r.randint(1, 2)),
    ),
)


class AwsFaults(Actor):
    name = "aws"

    def step(self) -> float:
        proxy = self.world.lab.proxy
        assert proxy is not None, "the soak needs the lab's AWS proxy"
        kind = self.rng.choice(AWS_FAULTS)
        fault = proxy.inject(kind.make(self.rng))
        self.world.recorder.fault(
            f"aws:{kind.name}",
            f"{fault.action} {fault.kind} {fault.code if fault.kind == 'error' else ''} "
            f"{fault.when} x{fault.times} {fault.delay_seconds:.1f} s".strip(),
        )
        return self.rng.uniform(3.0, 10.0)

    def finish(self) -> None:
        if self.world.lab.proxy is not None:
            self.world.lab.proxy.clear_faults()


class Schedule(Actor):
    """EventBridge's schedule: one start per period, anywhere within it; sometimes delivered twice."""

    name = "schedule"

    def __init__(self, world: World) -> None:
        super().__init__(world)
        self.period_start = time.monotonic()
        self.duplicates = 0

    def first_pause(self) -> float:
        return 0.0

    def step(self) -> float:
        settings = self.world.settings
        event = self.world.lab.stack.schedule_input if self.world.lab.stack else {}
        self.world.invoker.monitor("schedule", event, settings.schedule_budget)
        if self.rng.random() < 0.15:  # at-least-once delivery
            self.duplicates += 1
            self.world.recorder.fault("schedule:duplicate", "the same scheduled event delivered twice")
            threading.Timer(
                self.rng.uniform(0.0, 1.5), self.world.invoker.monitor, ("duplicate", event, settings.schedule_budget)
            ).start()
        # The next start: anywhere in the next period (so two starts are 0 to 2 periods apart).
        self.period_start += settings.schedule_period
        start = self.period_start + self.rng.uniform(0.0, settings.schedule_period)
        return max(0.0, start - time.monotonic())


class Alarms(Actor):
    name = "alarms"

    def step(self) -> float:
        lab = self.world.lab
        node = self.world.troubled or self.rng.choice(["node1", "node2"])
        event = lab.alarm_event(node)
        self.world.recorder.fault("alarm", f"alarm on {node}")
        self.world.invoker.monitor("alarm", event, self.world.settings.alarm_budget)
        if self.rng.random() < 0.2:
            self.world.recorder.fault("alarm:duplicate", f"alarm on {node} delivered twice")
            self.world.invoker.monitor("alarm", event, self.world.settings.alarm_budget)
        return self.rng.uniform(6.0, 18.0)


class Operators(Actor):
    name = "operators"
    INVALID = (
        {"action": "failover"},
        {"action": "failover", "target": "node3"},
        {"action": "drain", "node": "node1", "colour": "blue"},
        {"action": "reboot"},
        {"action": "unpin", "reason": 42},
    )

    def __init__(self, world: World) -> None:
        super().__init__(world)
        self.drained: str | None = None
        self.pinned = False

    def first_pause(self) -> float:
        return OPENING_SECONDS + 2.0 + self.rng.uniform(0.0, 4.0)

    def step(self) -> float:
        choices: list[tuple[str, float]] = [("status", 1), ("plan", 2), ("failover", 2), ("invalid", 0.7)]
        if self.pinned:
            choices.append(("unpin", 3))
        choices.append(("undrain", 3) if self.drained else ("drain", 1.5))
        action = self.rng.choices([c for c, _ in choices], [w for _, w in choices])[0]
        node = self.rng.choice(["node1", "node2"])
        reason = f"chaos seed {self.world.settings.seed}: " + self.rng.choice(
            ("patching", "maintenance", "تجربة", "試験")
        )
        request: dict[str, Any]
        if action == "failover":
            request = {"action": "failover", "target": node, "reason": reason}
        elif action == "unpin":
            request = {"action": "unpin", "reason": reason}
        elif action == "drain":
            request = {"action": "drain", "node": node, "reason": reason}
        elif action == "undrain":
            request = {"action": "undrain", "node": self.drained, "reason": reason}
        elif action == "invalid":
            request = dict(self.rng.choice(self.INVALID))
        else:
            request = {"action": action}
        self.world.recorder.fault(f"operator:{action}", str(request)[:120])
        record = self.world.invoker.control(request)
        if record.ok and isinstance(record.payload, dict) and record.payload.get("ok", True):
            if action == "failover":
                self.pinned = True
            elif action == "unpin":
                self.pinned = False
            elif action == "drain":
                self.drained = node
            elif action == "undrain":
                self.drained = None
        return self.rng.uniform(4.0, 12.0)

    def finish(self) -> None:
        """Leave the pair free to be decided by health alone for the settling phase."""
        if self.drained:
            self.world.invoker.control({"action": "undrain", "node": self.drained, "reason": "chaos: settling"})
        self.world.invoker.control({"action": "unpin", "reason": "chaos: settling"})


class Killer(Actor):
    name = "killer"
    HOLD_SECONDS = 3.0

    def first_pause(self) -> float:
        return OPENING_SECONDS + 2.0 + self.rng.uniform(0.0, 10.0)

    def step(self) -> float:
        if self.rng.random() < 0.6:
            running = self.world.invoker.running_monitors()
            if running:
                victim = self.rng.choice(running)
                if self.world.invoker.kill(victim):
                    self.world.recorder.fault("kill:random", f"monitor #{victim.number} ({victim.trigger})")
        else:
            self._kill_while_held(self.rng.choice(("AssociateAddress", "PutItem", "PutItem")))
        return self.rng.uniform(10.0, 30.0)

    def _kill_while_held(self, action: str) -> None:
        """Hold the next `action` call in the proxy and kill every monitor invocation meanwhile: the
        one that made it dies between its intent and its outcome (or between two writes)."""
        proxy = self.world.lab.proxy
        assert proxy is not None
        when = _when(self.rng)
        held = proxy.inject(
            Fault(action, "ec2" if action == "AssociateAddress" else "dynamodb", kind="drop", when=when)
        )
        held.delay_seconds = self.HOLD_SECONDS
        give_up = time.monotonic() + 15.0
        while held.hits == 0 and time.monotonic() < give_up and not self.world.stop.is_set():
            time.sleep(0.02)
        if held.hits == 0:
            held.times = 0  # withdrawn: matches nothing any more
            return
        killed = self.world.invoker.running_monitors()
        for victim in killed:
            self.world.invoker.kill(victim)
        self.world.recorder.fault(f"kill:held {action} {when}", f"{len(killed)} monitor invocation(s)")
