"""ControlFunction: operator requests (status, failover, unpin, drain, undrain, plan, preflight, log, fleet)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit

from nginx_eip_failover.handlers import wiring
from nginx_eip_failover.observability import flush_node_metrics, logger, metrics, trace_handler, with_context_defaults

if TYPE_CHECKING:
    # Type-only: importing it at run time costs tens of milliseconds of cold start.
    from aws_lambda_powertools.utilities.typing import LambdaContext

OPERATOR = "operator"


@with_context_defaults
@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@trace_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # Loaded with the first invocation, like the monitor's service (bench.cold_start).
    from nginx_eip_failover.service.operator_requests import FLEET_ACTIONS, parse_control_request, requested_group

    groups = wiring.fleet()
    action = event.get("action") if isinstance(event, dict) else None
    if isinstance(action, str) and action in FLEET_ACTIONS:
        from nginx_eip_failover.service.fleet_requests import handle_fleet_request

        parse_control_request(event, groups.base)  # the fields, strictly, before anything is read
        metrics.add_metric(name="ControlRequests", unit=MetricUnit.Count, value=1)
        return handle_fleet_request(event, groups)
    group = requested_group(event)
    if group is None and action == "status" and len(groups.controllers()) > 1:
        from nginx_eip_failover.service.fleet_requests import fleet_status

        parse_control_request(event, groups.base)
        return fleet_status(groups)
    failover = groups.group(group)
    request = parse_control_request(event, failover.settings)
    logger.append_keys(action=request.action, group=failover.settings.group)
    metrics.add_metric(name="ControlRequests", unit=MetricUnit.Count, value=1)
    if request.action == "status":
        return {"ok": True, "action": "status", "group": failover.settings.group, "status": failover.status()}
    if request.action == "plan" or request.dry_run:
        plan = failover.plan(None if request.action == "plan" else request, OPERATOR, _time_left(context))
        flush_node_metrics()
        return {
            "ok": plan.would != "refuse",
            "action": request.action,
            "group": failover.settings.group,
            **plan.answer(),
        }
    if request.action == "log":
        from nginx_eip_failover.handlers.wiring import decision_log
        from nginx_eip_failover.service.log_query import LogQuery, log_answer

        return log_answer(request.log or LogQuery(), decision_log(failover.settings), time.time())
    if request.action == "preflight":
        from nginx_eip_failover.handlers.preflight_wiring import preflight_response  # only this action needs it

        return preflight_response(failover)
    logger.info("control request", extra={"request": event})
    try:
        report = failover.run_control(request, OPERATOR, _time_left(context))
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


def _time_left(context: object) -> Callable[[], float] | None:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return (lambda: remaining() / 1000) if remaining else None
