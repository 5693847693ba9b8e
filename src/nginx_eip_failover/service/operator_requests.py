"""Operator requests: strict parsing and their pure effect on the state.

A request that fails here raises before anything is written, so an invalid or refused request
changes neither the EIP nor the stored state.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal, get_args

from nginx_eip_failover.core.bounds import MAX_REASON_BYTES, bounded
from nginx_eip_failover.core.config import NodeConfig, Settings
from nginx_eip_failover.core.decision import Context, Decision, decide, settle_move, start_move
from nginx_eip_failover.core.errors import InvalidRequestError, RefusedError
from nginx_eip_failover.core.ports import Notice
from nginx_eip_failover.core.state import ControllerState, Drain, HistoryEntry, Pin
from nginx_eip_failover.service.log_query import LogQuery, parse_log_query

Action = Literal[
    "status", "failover", "unpin", "drain", "undrain", "plan", "preflight", "log", "fleet_show", "fleet_apply", "drill"
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
    # A game-day failover to the peer and back (service/drill.py); `stay`: leave it on the peer;
    # `check_url`: an http(s) URL (through the EIP) that must answer 2xx after each move.
    "drill": (frozenset(), frozenset({"reason", "group", "stay", "check_url"})),
}
ACTIONS: tuple[Action, ...] = get_args(Action)
MAX_REASON_LENGTH = 500
_GROUP_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")

# The settings of the group a request names (None: the stack's own pair, when it serves no other):
# a lookup that raises InvalidRequestError naming `group` when there is no such group.
GroupSettings = Callable[[str | None], Settings]


@dataclass(frozen=True)
class ControlRequest:
    """A ControlFunction event, read once and strictly: every field typed, every node resolved."""

    action: Action
    node: NodeConfig | None = None  # the failover target or the node to drain/undrain
    reason: str = ""
    force: bool = False
    group: str | None = None
    dry_run: bool = False
    log: LogQuery | None = None  # the `log` action's query
    document: str | None = None  # fleet_apply: the fleet document, as the JSON text to store
    version: int | None = None  # fleet_apply: the version it replaces (0: none yet)
    stay: bool = False  # drill: leave the EIP on the peer
    check_url: str | None = None  # drill: fetched after each move

    def summary(self) -> dict[str, Any]:
        """What is logged of a request that changes something (never the fleet document itself)."""
        fields: dict[str, Any] = {"action": self.action, "group": self.group, "reason": self.reason}
        if self.node is not None:
            fields["node"] = self.node.name
        if self.force:
            fields["force"] = True
        if self.version is not None:
            fields["version"] = self.version
        return fields


def parse_control_request(event: object, settings: Settings | GroupSettings) -> ControlRequest:
    """Read a ControlFunction event into one ControlRequest, or raise InvalidRequestError naming the
    field and the value of the first problem (nothing is read from AWS, nothing changes).

    `settings` resolves the node a request names: the one group's Settings, or the fleet's lookup
    from the request's `group` (consulted only by the actions that name a node)."""
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
    group = _group(event)
    node = None
    node_field = "target" if action == "failover" else "node"
    if node_field in required:
        # The group is read first: which nodes there are depends on it.
        group_settings = settings if isinstance(settings, Settings) else settings(group)
        node = _node(node_field, event[node_field], group_settings)
    reason = event.get("reason", "")
    if not isinstance(reason, str):
        raise InvalidRequestError("reason", reason, "must be a string")
    if len(reason) > MAX_REASON_LENGTH:
        raise InvalidRequestError("reason", reason[:40] + "...", f"must be at most {MAX_REASON_LENGTH} characters")
    # 500 characters are at most 2000 bytes of UTF-8; lone surrogates (which JSON allows) are not text.
    reason = bounded(reason, MAX_REASON_BYTES)
    return ControlRequest(
        action=action,  # type: ignore[arg-type]
        node=node,
        reason=reason.strip(),
        force=_boolean(event, "force"),
        group=group,
        dry_run=_boolean(event, "dry_run"),
        log=parse_log_query(event) if action == "log" else None,
        document=_fleet_document(event) if action == "fleet_apply" else None,
        version=_fleet_version(event) if action == "fleet_apply" else None,
        stay=_boolean(event, "stay"),
        check_url=_check_url(event) if "check_url" in event else None,
    )


def _allowed(action: str) -> list[str]:
    required, optional = _FIELDS[action]
    return ["action", *sorted(required | optional)]


def _group(event: Mapping[str, Any]) -> str | None:
    if "group" not in event:
        return None
    group = event["group"]
    if not isinstance(group, str) or not _GROUP_NAME.fullmatch(group):
        raise InvalidRequestError("group", group, "must be a group name (lowercase letters, digits and -)")
    return group


def _boolean(event: Mapping[str, Any], field: str) -> bool:
    value = event.get(field, False)
    if not isinstance(value, bool):
        raise InvalidRequestError(field, value, "must be true or false (a JSON boolean)")
    return value


def _check_url(event: Mapping[str, Any]) -> str:
    url = event["check_url"]
    if not isinstance(url, str) or not re.fullmatch(r"https?://[^\s/]+(/\S*)?", url) or len(url) > 2000:
        raise InvalidRequestError("check_url", url, "must be an http:// or https:// URL (through the EIP)")
    return url


def _fleet_version(event: Mapping[str, Any]) -> int:
    version = event["version"]
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise InvalidRequestError("version", version, "must be the version `fleet_show` returned (0: none yet)")
    return version


def _fleet_document(event: Mapping[str, Any]) -> str:
    """The document as the text the functions will load (its content is checked by the fleet loader)."""
    return json.dumps(event["document"], sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _node(field: str, value: Any, settings: Settings) -> NodeConfig:
    if not isinstance(value, str):
        raise InvalidRequestError(field, value, "must be a node name or instance ID (a string)")
    for node in settings.nodes:
        if value in (node.name, node.instance_id) and value:  # a found node with no instance has ""
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
