"""The failover drill: move the EIP to the healthy peer and back, through the operator's failover
path, and measure how long each move takes to be seen.

Each move is an ordinary `failover` request (`FailoverController.run_control`: fresh probes, the
core's refusals, a conditional write, EC2, the decision log), so a drill exercises exactly what a
forced failover would. Its pins say it is a drill (`core.drill`), so an interrupted drill is visible
in `status` and is finished by running the drill again (or by `unpin`). When it ends, the pin is
what it was before: none, or the same node with the same reason.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nginx_eip_failover.core.drill import DrillPhase, DrillPin, parse_drill_pin, pin_reason, plan_drill
from nginx_eip_failover.core.errors import RefusedError
from nginx_eip_failover.service.controller import FailoverController
from nginx_eip_failover.service.operator_requests import ControlRequest

# How long a move may take to be seen (the association, then the check URL) before the drill
# reports it as not observed. EC2 shows an association within a second or two.
OBSERVE_SECONDS = 10.0
POLL_SECONDS = 0.2
CHECK_TIMEOUT_SECONDS = 2.0

HttpGet = Callable[[str, float], int]  # url, timeout -> HTTP status (raises OSError when unreachable)


def http_status(url: str, timeout: float) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (an operator's http(s) URL)
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


@dataclass
class Leg:
    """One move of the drill and what was measured of it (seconds from the request)."""

    to: str
    moved: bool = False
    association_seconds: float | None = None
    check_seconds: float | None = None
    check_status: int | None = None
    error: str | None = None

    def document(self) -> dict[str, Any]:
        return {
            "to": self.to,
            "moved": self.moved,
            "association_seconds": _rounded(self.association_seconds),
            "check_seconds": _rounded(self.check_seconds),
            "check_status": self.check_status,
            "error": self.error,
        }

    def times(self) -> str:
        text = f"{self.to} in {_shown(self.association_seconds)}"
        return text + (f" (HTTP {self.check_status} in {_shown(self.check_seconds)})" if self.check_status else "")


@dataclass
class Drill:
    failover: FailoverController
    actor: str
    time_left: Callable[[], float] | None = None
    check_url: str | None = None
    http_get: HttpGet = http_status
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    new_id: Callable[[], str] = lambda: uuid.uuid4().hex[:8]
    legs: list[Leg] = field(default_factory=list)

    def run(self, request: ControlRequest, *, stay: bool) -> dict[str, Any]:
        """Drill now (or finish an interrupted drill); raises RefusedError before moving anything."""
        status = self.failover.status()
        pin = status["pin"]
        left = parse_drill_pin(pin["reason"] if pin else None)
        if left is not None:
            assert pin is not None
            return self._finish(request, left, pin["node"])
        plan = plan_drill(status, stay=stay)
        drill_id = self.new_id()
        phase: DrillPhase = "stay" if stay else "away"
        away = self._move(request, plan.peer, pin_reason(drill_id, phase, plan.origin, plan.pin_before))
        if away.error is not None or stay:
            return self._answer(drill_id, "failed" if away.error else "stayed", plan.origin, plan.pin_before, stay)
        back_reason = pin_reason(drill_id, "back", plan.origin, plan.pin_before, f"away {away.times()}")
        back = self._move(request, plan.origin, back_reason)
        if back.error is not None:
            return self._answer(drill_id, "failed", plan.origin, plan.pin_before, stay)
        self._restore(
            request, plan.origin, plan.pin_before, f"drill {drill_id} done: away {away.times()}, back {back.times()}"
        )
        return self._answer(drill_id, "done", plan.origin, plan.pin_before, stay)

    def _finish(self, request: ControlRequest, left: DrillPin, pinned: str) -> dict[str, Any]:
        """An earlier drill's pin is there: move back to where it started and restore its pin."""
        if pinned != left.origin:
            leg = self._move(request, left.origin, pin_reason(left.id, "back", left.origin, left.pin_before))
            if leg.error is not None:
                return self._answer(left.id, "failed", left.origin, left.pin_before, False, finished=True)
        self._restore(request, left.origin, left.pin_before, f"drill {left.id} finished by a later drill")
        return self._answer(left.id, "finished", left.origin, left.pin_before, False, finished=True)

    def _move(self, request: ControlRequest, to: str, reason: str) -> Leg:
        node = next(node for node in self.failover.settings.nodes if node.name == to)
        leg = Leg(to=to)
        self.legs.append(leg)
        started = self.monotonic()
        move = ControlRequest(action="failover", node=node, reason=reason, group=request.group)
        try:
            report = self.failover.run_control(move, self.actor, self.time_left)
        except RefusedError as refused:
            if len(self.legs) == 1:  # nothing moved yet: the drill is refused as a whole
                raise RefusedError(
                    refused.field, refused.value, f"drill refused: {refused.problem}", code=refused.code
                ) from None
            leg.error = str(refused)
            return leg
        leg.moved = report.moved_to is not None
        if report.move_error is not None:
            leg.error = report.move_error
            return leg
        leg.association_seconds = self._until(started, lambda: self._holder() == to)
        if leg.association_seconds is None:
            leg.error = f"the EIP was not seen on {to} within {OBSERVE_SECONDS:.0f} s"
        elif self.check_url:
            leg.check_seconds = self._until(started, lambda: self._check(leg))
            if leg.check_seconds is None:
                leg.error = (
                    f"{self.check_url} did not answer 2xx within {OBSERVE_SECONDS:.0f} s (last: {leg.check_status})"
                )
        return leg

    def _restore(self, request: ControlRequest, origin: str, pin_before: tuple[str, str] | None, done: str) -> None:
        """Leave the pin as it was. The `done` reason goes to the history and the decision log first
        (with the measured times); a pin on the origin is then put back with its own reason."""
        node = next(node for node in self.failover.settings.nodes if node.name == origin)
        if pin_before is None:
            unpin = ControlRequest(action="unpin", reason=done, group=request.group)
            self.failover.run_control(unpin, self.actor, self.time_left)
            return
        # The EIP is on the origin already: these pin it there without a move, and never unpinned
        # in between (an unpinned moment would let preemption move it away).
        for reason in (done, pin_before[1]):
            repin = ControlRequest(action="failover", node=node, reason=reason, group=request.group)
            self.failover.run_control(repin, self.actor, self.time_left)

    def _holder(self) -> str | None:
        return self.failover.status()["eip"]["node"]

    def _check(self, leg: Leg) -> bool:
        assert self.check_url is not None
        try:
            leg.check_status = self.http_get(self.check_url, CHECK_TIMEOUT_SECONDS)
        except OSError:
            leg.check_status = None
            return False
        return 200 <= leg.check_status < 300

    def _until(self, started: float, seen: Callable[[], bool]) -> float | None:
        """Seconds from `started` until `seen()` holds; None if not within OBSERVE_SECONDS (or the
        invocation's time left)."""
        budget = OBSERVE_SECONDS if self.time_left is None else min(OBSERVE_SECONDS, self.time_left() - 3.0)
        deadline = self.monotonic() + max(0.0, budget)
        while True:
            if seen():
                return self.monotonic() - started
            if self.monotonic() >= deadline:
                return None
            self.sleep(POLL_SECONDS)

    def _answer(
        self,
        drill_id: str,
        result: str,
        origin: str,
        pin_before: tuple[str, str] | None,
        stay: bool,
        *,
        finished: bool = False,
    ) -> dict[str, Any]:
        status = self.failover.status()
        pin = status["pin"]
        if result == "stayed":
            pins = f"pinned on {pin['node'] if pin else '?'} (--stay: a failover pins); unpin to end the drill"
        elif result in ("done", "finished"):
            before = "no pin" if pin_before is None else f"the pin on {pin_before[0]}"
            pins = f"pins and drains as before the drill ({before}; drains untouched)"
        else:
            pins = "the drill's pin is left in place: run the drill again or unpin (see status)"
        return {
            "ok": result in ("done", "stayed", "finished"),
            "action": "drill",
            "group": self.failover.settings.group,
            "drill": {
                "id": drill_id,
                "result": result,
                "finished_earlier_drill": finished,
                "origin": origin,
                "stay": stay,
                "check_url": self.check_url,
                "legs": [leg.document() for leg in self.legs],
                "pins": pins,
            },
            "error": next((leg.error for leg in self.legs if leg.error), None),
            "status": status,
        }


def _rounded(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 3)


def _shown(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.2f} s"
