"""ControlFunction: operator requests (status, failover, unpin, drain, undrain, preflight)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit

from nginx_eip_failover.observability import flush_node_metrics, logger, metrics, trace_handler, with_context_defaults
from nginx_eip_failover.operator_requests import parse_control_request
from nginx_eip_failover.wiring import controller

if TYPE_CHECKING:
    # Type-only: importing it at run time costs tens of milliseconds of cold start.
    from aws_lambda_powertools.utilities.typing import LambdaContext

OPERATOR = "operator"


@with_context_defaults
@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@trace_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    failover = controller()
    request = parse_control_request(event, failover.settings)
    logger.append_keys(action=request.action)
    metrics.add_metric(name="ControlRequests", unit=MetricUnit.Count, value=1)
    if request.action == "status":
        return {"ok": True, "action": "status", "status": failover.status()}
    if request.action == "preflight":
        from nginx_eip_failover.preflight_wiring import preflight_response  # only this action needs it

        return preflight_response(failover)
    logger.info("control request", extra={"request": event})
    try:
        report = failover.run_control(request, OPERATOR)
    finally:
        flush_node_metrics()
    return {
        "ok": report.move_error is None,
        "action": request.action,
        "result": report.decision.reason,
        "moved_to": report.moved_to,
        "error": report.move_error,
        "status": failover.status(),
    }
