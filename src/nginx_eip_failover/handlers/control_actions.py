"""The ControlFunction's actions: one function per action of a parsed ControlRequest, in one table.

Registered with `@actions.action(...)` and dispatched with `actions.resolve(...)`, the way Powertools'
event handler resolvers register and resolve routes (without importing it: it is not needed on the
cold path). `tests/adapters/test_handlers.py` checks that every action has exactly one function.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nginx_eip_failover.observability import flush_node_metrics, logger
from nginx_eip_failover.service.controller import FailoverController
from nginx_eip_failover.service.fleet import Fleet
from nginx_eip_failover.service.operator_requests import Action, ControlRequest

OPERATOR = "operator"


@dataclass(frozen=True)
class Invocation:
    """What an action has besides its request: the stack's groups and the invocation's time left."""

    fleet: Fleet
    time_left: Callable[[], float] | None

    def group(self, request: ControlRequest) -> FailoverController:
        failover = self.fleet.group(request.group)
        logger.append_keys(group=failover.settings.group)
        return failover


ActionFunction = Callable[[ControlRequest, Invocation], dict[str, Any]]


class ActionTable:
    def __init__(self) -> None:
        self._functions: dict[str, ActionFunction] = {}

    def action(self, *names: Action) -> Callable[[ActionFunction], ActionFunction]:
        def register(function: ActionFunction) -> ActionFunction:
            for name in names:
                assert name not in self._functions, f"two functions for action {name}"
                self._functions[name] = function
            return function

        return register

    def names(self) -> frozenset[str]:
        return frozenset(self._functions)

    def resolve(self, request: ControlRequest, invocation: Invocation) -> dict[str, Any]:
        return self._functions[request.action](request, invocation)


actions = ActionTable()


@actions.action("status")
def status(request: ControlRequest, invocation: Invocation) -> dict[str, Any]:
    if request.group is None and len(invocation.fleet.controllers()) > 1:
        from nginx_eip_failover.service.fleet_requests import fleet_status

        return fleet_status(invocation.fleet)  # every group's row
    failover = invocation.group(request)
    return {"ok": True, "action": "status", "group": failover.settings.group, "status": failover.status()}


@actions.action("plan")
def plan(request: ControlRequest, invocation: Invocation) -> dict[str, Any]:
    failover = invocation.group(request)
    # A plan is what one monitor cycle would do; an operator request's dry run is what it would do.
    planned = failover.plan(None if request.action == "plan" else request, OPERATOR, invocation.time_left)
    flush_node_metrics()
    return {
        "ok": planned.would != "refuse",
        "action": request.action,
        "group": failover.settings.group,
        **planned.answer(),
    }


@actions.action("failover", "unpin", "drain", "undrain")
def operator_action(request: ControlRequest, invocation: Invocation) -> dict[str, Any]:
    if request.dry_run:
        return plan(request, invocation)
    failover = invocation.group(request)
    logger.info("control request", extra={"request": request.summary()})
    try:
        report = failover.run_control(request, OPERATOR, invocation.time_left)
    finally:
        flush_node_metrics()
    return {
        "ok": report.move_error is None,
        "action": request.action,
        "group": failover.settings.group,
        "result": report.decision.reason,
        "moved_to": report.moved_to,
        "error": report.move_error,
        "status": failover.status(),
    }


@actions.action("drill")
def drill(request: ControlRequest, invocation: Invocation) -> dict[str, Any]:
    from nginx_eip_failover.service.drill import Drill  # only this action needs it

    failover = invocation.group(request)
    logger.info("control request", extra={"request": request.summary()})
    try:
        answer = Drill(failover, OPERATOR, invocation.time_left, check_url=request.check_url).run(
            request, stay=request.stay
        )
    finally:
        flush_node_metrics()
    logger.info("drill", extra={"drill": answer["drill"]})
    return answer


@actions.action("log")
def log(request: ControlRequest, invocation: Invocation) -> dict[str, Any]:
    from nginx_eip_failover.handlers.wiring import decision_log
    from nginx_eip_failover.service.log_query import LogQuery, log_answer

    failover = invocation.group(request)
    return log_answer(request.log or LogQuery(), decision_log(failover.settings), time.time())


@actions.action("preflight")
def preflight(request: ControlRequest, invocation: Invocation) -> dict[str, Any]:
    from nginx_eip_failover.handlers.preflight_wiring import preflight_response  # only this action needs it

    return preflight_response(invocation.group(request))


@actions.action("fleet_show")
def fleet_show(request: ControlRequest, invocation: Invocation) -> dict[str, Any]:
    from nginx_eip_failover.service.fleet_requests import fleet_show

    return fleet_show(invocation.fleet)


@actions.action("fleet_apply")
def fleet_apply(request: ControlRequest, invocation: Invocation) -> dict[str, Any]:
    from nginx_eip_failover.service.fleet_requests import fleet_apply

    logger.info("control request", extra={"request": request.summary()})
    return fleet_apply(request, invocation.fleet)
