"""The failover drill's pure parts: when a drill may start, and the pin that marks one in progress.

A drill moves the EIP to the peer through an operator failover, which pins the peer. That pin is
the drill's only stored trace, so its reason carries what recovery needs: the drill's id, the node
the EIP came from and the pin that was there before (`away_reason` / `parse_drill_pin`). If the
invocation dies halfway, the EIP stays pinned on a healthy peer (safe), `status` shows the drill
(`drill_status`), and re-running the drill or `unpin` ends it. No field of the stored state is
added: the state's schema, the core's rules and the decision log's replay stay as they are.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from nginx_eip_failover.core.errors import RefusedError

# away: on the peer, to come back; stay: on the peer for good (--stay); back: returned, the old pin
# not yet restored.
DrillPhase = Literal["away", "stay", "back"]
# A pin reason that starts like this belongs to a drill; nothing else writes it.
_PIN = re.compile(
    r"^drill (?P<id>[0-9a-f]{6,32}) (?P<phase>away|stay|back): from (?P<origin>\S+);"
    r"(?: (?P<times>[^;]*);)? pin before: (?:none|(?P<pin_node>\S+): (?P<pin_reason>.*))$",
    re.DOTALL,
)
# The earlier pin's reason is kept in the drill's pin; bounded so the drill's reason stays short.
MAX_KEPT_REASON = 300
# An "away" pin older than this was left by a drill that did not finish (the ControlFunction's
# timeout is 30 s; a drill that is still running is younger).
INTERRUPTED_AFTER_SECONDS = 60.0


@dataclass(frozen=True)
class DrillPin:
    """What a drill's pin says: which drill, whether it meant to stay, and what to restore."""

    id: str
    phase: DrillPhase
    origin: str  # the node the EIP is moved back to
    pin_before: tuple[str, str] | None  # (node, reason) of the pin the drill replaced


def pin_reason(
    drill_id: str, phase: DrillPhase, origin: str, pin_before: tuple[str, str] | None, times: str = ""
) -> str:
    """The reason of a drill's pin (`origin`: where the EIP goes back to; `times`: what was measured)."""
    before = "none" if pin_before is None else f"{pin_before[0]}: {pin_before[1][:MAX_KEPT_REASON]}"
    measured = f" {times.replace(';', ',')};" if times else ""
    return f"drill {drill_id} {phase}: from {origin};{measured} pin before: {before}"


def parse_drill_pin(reason: str | None) -> DrillPin | None:
    """The drill a pin's reason names, or None for any other pin."""
    match = _PIN.match(reason or "")
    if match is None:
        return None
    pin_node = match.group("pin_node")
    before = (pin_node, match.group("pin_reason")) if pin_node is not None else None
    return DrillPin(match.group("id"), match.group("phase"), match.group("origin"), before)  # type: ignore[arg-type]


@dataclass(frozen=True)
class DrillPlan:
    """Where a drill moves the EIP from and to, and the pin it must leave behind."""

    origin: str
    peer: str
    pin_before: tuple[str, str] | None


def plan_drill(status: Mapping[str, Any], *, stay: bool) -> DrillPlan:
    """Check on a status document that a drill is safe now, or raise RefusedError naming why, the
    node and its status. The ControlFunction probes again before each move; this is the drill's own
    refusal, with the drill's words."""
    eip = status["eip"]
    nodes: Mapping[str, Mapping[str, Any]] = status["nodes"]
    move = status.get("move_in_progress")
    if move:
        raise RefusedError(
            "action",
            "drill",
            f"move {move['id']} to {move['target']} is in progress; retry in a few seconds",
            code="move_in_progress",
        )
    origin = eip.get("node")
    if origin is None:
        where = f"on {eip['instance_id']}, outside the pair" if eip.get("instance_id") else "not associated"
        raise RefusedError(
            "action",
            "drill",
            f"the EIP {eip.get('public_ip')} is {where}; a drill starts from a pair node",
            code="drill_unsafe",
        )
    peers = [name for name in nodes if name != origin]
    if len(peers) != 1:
        raise RefusedError("action", "drill", f"a drill needs exactly one peer of {origin}", code="drill_unsafe")
    peer = nodes[peers[0]]
    if peer["drained"]:
        drain = peer.get("drain") or {}
        raise RefusedError(
            "node",
            peer["name"],
            f"the peer {peer['name']} is drained ({drain.get('reason', '')}); undrain it before a drill",
            code="target_drained",
        )
    if peer["health"] != "up" or peer["fail_streak"]:
        detail = peer["health"] if not peer["fail_streak"] else f"{peer['health']}, its latest probe failed"
        reason = f": {peer['last_change_reason']}" if peer.get("last_change_reason") else ""
        raise RefusedError(
            "node",
            peer["name"],
            f"the peer {peer['name']} is {detail}{reason}; a drill needs a healthy peer",
            code="target_down",
        )
    if nodes[origin]["drained"] and not stay:
        raise RefusedError(
            "node",
            origin,
            f"{origin} holds the EIP but is drained: the drill could not move it back (use --stay, or undrain)",
            code="target_drained",
        )
    pin = status.get("pin")
    pin_before = (pin["node"], pin["reason"]) if pin else None
    if pin_before is not None and pin_before[0] != origin:
        raise RefusedError(
            "action",
            "drill",
            f"the EIP is on {origin} but pinned to {pin_before[0]}; unpin first",
            code="drill_unsafe",
        )
    return DrillPlan(origin=origin, peer=peer["name"], pin_before=pin_before)


def drill_status(pin: Mapping[str, Any] | None, age_seconds: float | None) -> dict[str, Any] | None:
    """What `status` says of a drill: in progress, interrupted, or stayed on the peer; None if no drill."""
    drill = parse_drill_pin(pin.get("reason") if pin else None)
    if drill is None or pin is None:
        return None
    if drill.phase == "back":
        state = "interrupted" if age_seconds is not None and age_seconds > INTERRUPTED_AFTER_SECONDS else "in_progress"
        advice = (
            f"the drill moved the EIP back to {pin['node']} but has not restored the pin before it; "
            "run the drill again (or unpin) to finish"
        )
    elif drill.phase == "stay":
        state = "stayed"
        advice = f"the drill left the EIP pinned on {pin['node']} (--stay); unpin to let the usual rules choose"
    elif age_seconds is not None and age_seconds > INTERRUPTED_AFTER_SECONDS:
        state = "interrupted"
        advice = (
            f"the drill moved the EIP to {pin['node']} and did not finish; run the drill again to move it back "
            f"to {drill.origin} and restore the pin, or unpin"
        )
    else:
        state = "in_progress"
        advice = f"a drill is moving the EIP between {drill.origin} and {pin['node']}"
    return {
        "id": drill.id,
        "state": state,
        "origin": drill.origin,
        "pinned": pin["node"],
        "pin_before": None
        if drill.pin_before is None
        else {"node": drill.pin_before[0], "reason": drill.pin_before[1]},
        "advice": advice,
    }
