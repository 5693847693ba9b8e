"""MonitorFunction: invoked by the schedule and by CloudWatch alarm actions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nginx_eip_failover.core.errors import StateStoreError
from nginx_eip_failover.handlers import wiring
from nginx_eip_failover.observability import flush_node_metrics, logger, metrics, trace_handler, with_context_defaults
from nginx_eip_failover.service.monitor_events import parse_monitor_event

if TYPE_CHECKING:
    # Type-only: importing it at run time costs tens of milliseconds of cold start.
    from aws_lambda_powertools.utilities.typing import LambdaContext


@with_context_defaults
@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@trace_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    trigger = parse_monitor_event(event)
    logger.set_correlation_id(trigger.correlation_id)
    logger.append_keys(trigger=trigger.kind)
    if trigger.kind == "alarm":
        # A hint, never proof: probing starts now, and only probes can move the EIP.
        logger.info(
            "alarm hint",
            extra={
                "alarm": trigger.alarm_name,
                "state": trigger.alarm_state,
                "instances": trigger.instance_ids,
            },
        )
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    # The service and its adapters load with the first invocation, which builds them once per
    # container (wiring); the module's import is boto3, Powertools and event parsing (bench.cold_start).
    from nginx_eip_failover.handlers.preflight_wiring import periodic_preflight
    from nginx_eip_failover.service.fleet import FleetRunner
    from nginx_eip_failover.service.monitor_loop import run_monitor

    # The emergency stop (core/emergency_stop.py): no probing, no move, one strongly consistent read.
    # An observer runs this handler too, so a schedule re-enabled by hand stops here as well.
    # A flag that cannot be read does not stop the monitor here: the mover reads it again before any
    # move and refuses what it cannot check (service/emergency_stop.py).
    try:
        stop = wiring.stop_flag(wiring.controller().settings.table_name).current()
    except StateStoreError:
        logger.warning("cannot read the emergency stop; every move checks it again", exc_info=True)
        stop = None
    if stop is not None:
        logger.warning("emergency stop set: not probing", extra={"stop": stop.as_dict()})
        return {"trigger": trigger.kind, "stopped": stop.as_dict()}
    try:
        runner = FleetRunner(wiring.fleet(), runs_start_afresh=trigger.starts_runs_afresh)
        result = run_monitor(
            runner,
            trigger,
            remaining,
            # Scheduled invocations probe until a newer one has taken over (monitor_loop).
            lease=wiring.monitor_lease() if trigger.kind == "schedule" else None,
            invocation_id=str(getattr(context, "aws_request_id", "") or ""),
            preflight=periodic_preflight(),
        )
    finally:
        flush_node_metrics()
    groups = runner.groups()
    return {"trigger": trigger.kind, **result, **({"groups": groups} if groups else {})}
