"""Operator requests: strict parsing and their pure effect on the state.

A request that fails here raises before anything is written, so an invalid or refused request
changes neither the EIP nor the stored state.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from nginx_eip_failover.core.bounds import MAX_REASON_BYTES, bounded
from nginx_eip_failover.core.config import NodeConfig, Settings
from nginx_eip_failover.core.decision import Context, Decision, decide, settle_move, start_move
from nginx_eip_failover.core.errors import InvalidRequestError, RefusedError
from nginx_eip_failover.core.ports import Notice
from nginx_eip_failover.core.state import ControllerState, Drain, HistoryEntry, Pin
from nginx_eip_failover.service.log_query import LogQuery, parse_log_query

Action = Literal[
    "status", "failover", "unpin", "drain", "undrain", "plan", "preflight", "log", "fleet_show", "fleet_apply"
]

# Required and optional fields of each action; anything else is an error. `group` names the group
# of a fleet (optional while the stack serves its own pair alone).
_FIELDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "status": (frozenset(), frozenset({"group"})),
    # `dry_run`: answer what would happen and why; write nothing, move nothing.
    "failover": (frozenset({"target"}), frozenset({"reason", "force", "group", "dry_run"})),
    "unpin": (frozenset(), frozenset({"reason", "group", "dry_run"})),
    "drain": (frozenset({"node"}), frozenset({"reason", "group", "dry_run"})),
    "undrain": (frozenset({"node"}), frozenset({"reason", "group", "dry_run"})),
    # What the monitor would do now, and why (a dry run of one cycle).
    "plan": (frozenset(), frozenset({"group"})),
    # The fleet document: shown, or replaced whole (validated first; conditional on `version`).
    "fleet_show": (frozenset(), frozenset()),
    "fleet_apply": (frozenset({"document", "version"}), frozenset()),
    # Reads the decision log (log_query): changes nothing, like status.
    "log": (frozenset(), frozenset({"since", "until", "limit", "after", "group"})),
    # Checks what a failover needs (DryRun, resources, probes, schedule, alarms); changes no failover state.
    "preflight": (frozenset(), frozenset({"group"})),
}
FLEET_ACTIONS = frozenset({"fleet_show", "fleet_apply"})
MAX_REASON_LENGTH = 500
_GROUP_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")


@dataclass(frozen=True)
class ControlRequest:
    action: Action
    node: NodeConfig | None = None  # the failover target or the node to drain/undrain
    reason: str = ""
    force: bool = False
    group: str | None = None
    dry_run: bool = False
    log: LogQuery | None = None  # the `log` action's query


def requested_group(event: object) -> str | None:
    """The `group` a request names, checked before its nodes (which depend on the group)."""
    if not isinstance(event, Mapping) or "group" not in event:
        return None
    group = event["group"]
    if not isinstance(group, str) or not _GROUP_NAME.fullmatch(group):
        raise InvalidRequestError("group", group, "must be a group name (lowercase letters, digits and -)")
    return group


def parse_control_request(event: object, settings: Settings) -> ControlRequest:
    if not isinstance(event, Mapping):
        raise InvalidRequestError("request", event, "must be a JSON object with an 'action'")
    action = event.get("action")
    if "action" not in event:
        raise InvalidRequestError("action", None, f"is required; one of {sorted(_FIELDS)}")
    if not isinstance(action, str) or action not in _FIELDS:
        raise InvalidRequestError("action", action, f"must be one of {sorted(_FIELDS)}")
    required, optional = _FIELDS[action]
    for name in sorted(set(event) - {"action"} - required - optional):
        raise InvalidRequestError(name, event[name], f"is not a field of '{action}'; allowed: {_allowed(action)}")
    for name in sorted(required - set(event)):
        raise InvalidRequestError(name, None, f"is required for '{action}'")
    node_field = "target" if action == "failover" else "node"
    node = _node(node_field, event[node_field], settings) if node_field in required else None
    reason = event.get("reason", "")
    if not isinstance(reason, str):
        raise InvalidRequestError("reason", reason, "must be a string")
    if len(reason) > MAX_REASON_LENGTH:
        raise InvalidRequestError("reason", reason[:40] + "...", f"must be at most {MAX_REASON_LENGTH} characters")
    # 500 characters are at most 2000 bytes of UTF-8; lone surrogates (which JSON allows) are not text.
    reason = bounded(reason, MAX_REASON_BYTES)
    force = event.get("force", False)
    if not isinstance(force, bool):
        raise InvalidRequestError("force", force, "must be true or false (a JSON boolean)")
    group = requested_group(event)
    dry_run = event.get("dry_run", False)
    if not isinstance(dry_run, bool):
        raise InvalidRequestError("dry_run", dry_run, "must be true or false (a JSON boolean)")
    log = parse_log_query(event) if action == "log" else None
    return ControlRequest(
        action=action,  # type: ignore[arg-type]
        node=node,
        reason=reason.strip(),
        force=force,
        group=group,
        dry_run=dry_run,
        log=log,
    )


def _allowed(action: str) -> list[str]:
    required, optional = _FIELDS[action]
    return ["action", *sorted(required | optional)]


def _node(field: str, value: Any, settings: Settings) -> NodeConfig:
    if not isinstance(value, str):
        raise InvalidRequestError(field, value, "must be a node name or instance ID (a string)")
    for node in settings.nodes:
        if value in (node.name, node.instance_id):
            return node
    names = [f"{node.name} ({node.instance_id})" for node in settings.nodes]
    raise InvalidRequestError(field, value, f"is not a node of this pair; known: {', '.join(names)}")


def apply_control(
    state: ControllerState, request: ControlRequest, association: str | None, ctx: Context, *, move_id: str
) -> Decision:
    """Apply an accepted request, then decide where the EIP belongs under the new rules."""
    state, notices = settle_move(state, association, ctx)
    if request.action == "failover":
        assert request.node is not None
        return _failover(state, request, request.node, association, ctx, move_id, notices)
    reason = request.reason or "(no reason given)"
    if request.action == "unpin":
        state = replace(state, pin=None)
    elif request.action == "drain":
        assert request.node is not None
        drains = {**state.drains, request.node.name: Drain(reason=reason, by=ctx.actor, at=ctx.now)}
        # Draining the pinned node overrides the pin: keeping it would only block failbacks later.
        pin = None if state.pin is not None and state.pin.node == request.node.name else state.pin
        state = replace(state, drains=drains, pin=pin)
    elif request.action == "undrain":
        assert request.node is not None
        state = replace(state, drains={k: v for k, v in state.drains.items() if k != request.node.name})
    state = state.with_history(_recorded(request, reason, ctx), ctx.settings.history_limit)
    decision = decide(state, association, ctx, move_id=move_id)
    return replace(decision, notices=(*notices, *decision.notices))


def _failover(
    state: ControllerState,
    request: ControlRequest,
    target: NodeConfig,
    association: str | None,
    ctx: Context,
    move_id: str,
    notices: tuple[Notice, ...],
) -> Decision:
    if state.move is not None:
        raise RefusedError(
            "action",
            "failover",
            f"move {state.move.id} to {state.move.target} is in progress; retry in a few seconds",
            code="move_in_progress",
        )
    if target.name in state.drains:
        raise RefusedError("target", target.name, f"{target.name} is drained; undrain it first", code="target_drained")
    health = state.health(target.name)
    if health.status != "up" and not request.force:
        detail = f" ({health.reason})" if health.reason else ""
        raise RefusedError(
            "target",
            target.name,
            f'{target.name} is {health.status}{detail}; add "force": true to move the EIP there anyway',
            code="target_down",
        )
    if health.fail_streak and not request.force:
        # Still up, but its latest probe failed: the EIP is never sent to a node after probes saw it fail.
        raise RefusedError(
            "target",
            target.name,
            f'{target.name} failed its latest probe; retry once it answers, or add "force": true',
            code="target_down",
        )
    if association is not None and ctx.settings.node_by_instance(association) is None and not request.force:
        # The contract leaves an EIP on a foreign instance alone unless an operator forces it:
        # something outside the pair may be serving it on purpose.
        raise RefusedError(
            "force",
            request.force,
            f'the EIP is on {association}, outside the pair; add "force": true to take it for {target.name}',
            code="foreign_holder",
        )
    reason = request.reason or "(no reason given)"
    state = replace(state, pin=Pin(node=target.name, reason=reason, by=ctx.actor, at=ctx.now))
    state = state.with_history(_recorded(request, reason, ctx), ctx.settings.history_limit)
    if association == target.instance_id:
        return Decision(state, None, f"EIP already on {target.name}; pinned there", notices)
    why = f"operator failover to {target.name}: {reason}"
    return start_move(state, target, association, why, ctx, move_id=move_id, notices=notices)


def _recorded(request: ControlRequest, reason: str, ctx: Context) -> HistoryEntry:
    detail: dict[str, Any] = {"force": True} if request.force else {}
    return ctx.entry(f"control_{request.action}", reason, request.node.name if request.node else None, **detail)
