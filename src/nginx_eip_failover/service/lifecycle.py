"""An Auto Scaling lifecycle hook's termination of a found node: drain it, take the address off it
if it holds it, then complete the lifecycle action, always, within the hook's timeout.

The terminating instance is no longer in service, so the cycle's resolution (service/found_nodes)
no longer names it; for the drain it is held as its node's instance (`FoundNodes.hold`), so the
address on it is the node's (not a foreign instance's) and the drain moves it to the peer when the
peer is up. The hold is released before the undrain: the node then resolves to its replacement
(or to none), which starts "unknown" and must pass RiseThreshold before it may take the address.
A node an operator had drained before stays drained.

The action is completed (CONTINUE) even when the move failed or could not be tried, with a
critical notice: holding the instance longer cannot make a failed move succeed, and the hook's
timeout would continue it anyway.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from nginx_eip_failover.core.errors import FailoverError, InvalidRequestError
from nginx_eip_failover.core.ports import LifecyclePort, Notice, NotifierPort
from nginx_eip_failover.observability import logger
from nginx_eip_failover.service.controller import FailoverController
from nginx_eip_failover.service.operator_requests import ControlRequest

DETAIL_TYPE = "EC2 Instance-terminate Lifecycle Action"
TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING"
_INSTANCE_ID = re.compile(r"^i-[0-9a-f]{8,17}$")
_TOKEN = re.compile(r"^[0-9A-Za-z-]{1,36}$")
_HOOK_NAME = re.compile(r"^[A-Za-z0-9\-_/]{1,255}$")
# What the drain and its move need after the completion is reserved: the completion itself is one
# call (2 s connect + 5 s read, 3 attempts at worst: aws_clients), so it keeps 20 s of the invocation.
COMPLETE_RESERVE_SECONDS = 20.0
ACTOR = "lifecycle-hook"


@dataclass(frozen=True)
class LifecycleEvent:
    group: str
    hook: str
    instance_id: str
    token: str | None


def parse_lifecycle_event(event: object, groups: frozenset[str]) -> LifecycleEvent:
    """EventBridge's "EC2 Instance-terminate Lifecycle Action" for one of `groups`, or an
    InvalidRequestError naming the field and its value."""
    if not isinstance(event, Mapping):
        raise InvalidRequestError("event", event, "must be an EventBridge event object")
    if event.get("source") != "aws.autoscaling":
        raise InvalidRequestError("source", event.get("source"), "must be 'aws.autoscaling'")
    if event.get("detail-type") != DETAIL_TYPE:
        raise InvalidRequestError("detail-type", event.get("detail-type"), f"must be {DETAIL_TYPE!r}")
    detail = event.get("detail")
    if not isinstance(detail, Mapping):
        raise InvalidRequestError("detail", detail, "must be an object")
    if detail.get("LifecycleTransition") != TERMINATING:
        raise InvalidRequestError(
            "detail.LifecycleTransition", detail.get("LifecycleTransition"), f"must be {TERMINATING!r}"
        )
    group = detail.get("AutoScalingGroupName")
    if not isinstance(group, str) or group not in groups:
        raise InvalidRequestError(
            "detail.AutoScalingGroupName", group, f"must be a group a node is found in: {sorted(groups)}"
        )
    hook = detail.get("LifecycleHookName")
    if not isinstance(hook, str) or not _HOOK_NAME.fullmatch(hook):
        raise InvalidRequestError("detail.LifecycleHookName", hook, "must be a lifecycle hook name")
    instance = detail.get("EC2InstanceId")
    if not isinstance(instance, str) or not _INSTANCE_ID.fullmatch(instance):
        raise InvalidRequestError("detail.EC2InstanceId", instance, "must be an instance ID (i-...)")
    token = detail.get("LifecycleActionToken")
    if token is not None and (not isinstance(token, str) or not _TOKEN.fullmatch(token)):
        raise InvalidRequestError("detail.LifecycleActionToken", token, "must be a lifecycle action token (a UUID)")
    return LifecycleEvent(group, hook, instance, token)


def handle_termination(
    controller: FailoverController,
    event: LifecycleEvent,
    lifecycle: LifecyclePort,
    notifier: NotifierPort,
    time_left: Callable[[], float] | None = None,
) -> dict[str, Any]:
    """Drain the terminating node, move the address off it if it holds it, complete the action."""
    result: dict[str, Any] = {"instance": event.instance_id, "group": event.group, "node": None, "held": False}
    problem: str | None = None
    try:
        result.update(_drain_off(controller, event, time_left))
        problem = result.pop("problem", None)
    except FailoverError as exc:  # the action is completed whatever failed before it
        logger.exception("lifecycle drain failed", extra={"instance": event.instance_id})
        problem = f"the drain failed: {exc}"
    if problem is not None:
        notifier.publish(
            [
                Notice(
                    "lifecycle_move_failed",
                    "critical",
                    f"{event.instance_id} ({event.group}) is terminating while it may hold the address: "
                    f"{problem}; the lifecycle action is completed anyway"[:900],
                )
            ]
        )
        result["problem"] = problem
    lifecycle.complete(event.group, event.hook, event.instance_id, event.token, "CONTINUE")
    result["completed"] = "CONTINUE"
    logger.info("lifecycle action completed", extra=result)
    return result


def _drain_off(
    controller: FailoverController, event: LifecycleEvent, time_left: Callable[[], float] | None
) -> dict[str, Any]:
    found = controller.found_nodes
    assert found is not None, "a lifecycle hook needs found nodes"
    status = controller.status()  # resolves the nodes and reads the state (and the EIP)
    known = found.known
    node = next((name for name, instance in known.items() if instance == event.instance_id), None)
    holder = status["eip"]["instance_id"] == event.instance_id
    if node is None:
        candidates = [
            n.name for n in controller.settings.nodes if n.finder and n.finder.auto_scaling_group == event.group
        ]
        node = candidates[0] if holder and len(candidates) == 1 else None
    if node is None:
        return {"held": holder, "problem": "it holds the address but is no node's instance" if holder else None}
    drained_before = status["nodes"][node]["drained"]
    outcome: dict[str, Any] = {"node": node, "held": holder}
    budget = (lambda: time_left() - COMPLETE_RESERVE_SECONDS) if time_left is not None else None
    if budget is not None and budget() <= 0:
        return {**outcome, "problem": "no time left to drain it before completing the action"}
    found.hold(node, event.instance_id)
    try:
        if not drained_before:
            reason = f"Auto Scaling terminates {event.instance_id} ({event.group}, hook {event.hook})"
            request = ControlRequest(action="drain", node=controller.settings.node(node), reason=reason[:500])
            report = controller.run_control(request, ACTOR, budget)
            outcome["moved_to"] = report.moved_to
            if report.move_error:
                outcome["problem"] = f"the move failed: {report.move_error}"
            elif holder and report.moved_to is None:
                outcome["problem"] = f"the address stayed on it: {report.decision.reason}"
    finally:
        found.release(node)
    if not drained_before:
        request = ControlRequest(action="undrain", node=controller.settings.node(node), reason="replacement instance")
        controller.run_control(request, ACTOR, budget)
    return outcome
