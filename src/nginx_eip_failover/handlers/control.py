"""ControlFunction: operator requests (status, failover, unpin, drain, undrain, plan, preflight, log, fleet).

The event is read once, strictly, into a ControlRequest (service/operator_requests.py), then handed
to its action's function (control_actions.py): an invalid request raises naming the field and the
value before anything is read or changed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit

from nginx_eip_failover.handlers import wiring
from nginx_eip_failover.observability import logger, metrics, trace_handler, with_context_defaults

if TYPE_CHECKING:
    # Type-only: importing it at run time costs tens of milliseconds of cold start.
    from aws_lambda_powertools.utilities.typing import LambdaContext


@with_context_defaults
@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@trace_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # Loaded with the first invocation, like the monitor's service (bench.cold_start).
    from nginx_eip_failover.handlers.control_actions import Invocation, actions
    from nginx_eip_failover.service.operator_requests import parse_control_request

    groups = wiring.fleet()
    request = parse_control_request(event, groups.group_settings)
    logger.append_keys(action=request.action)
    metrics.add_metric(name="ControlRequests", unit=MetricUnit.Count, value=1)
    return actions.resolve(request, Invocation(groups, _time_left(context)))


def _time_left(context: object) -> Callable[[], float] | None:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return (lambda: remaining() / 1000) if remaining else None
