"""LifecycleFunction: Auto Scaling's "EC2 Instance-terminate Lifecycle Action" for a found node's
group (through the template's EventBridge rule). It drains the node, takes the address off it if it
holds it, and completes the lifecycle action, always (service/lifecycle.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nginx_eip_failover.handlers import wiring
from nginx_eip_failover.observability import logger, metrics, trace_handler, with_context_defaults

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


@with_context_defaults
@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@trace_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    from nginx_eip_failover.adapters import aws_clients
    from nginx_eip_failover.adapters.node_finder import NodeFinder
    from nginx_eip_failover.adapters.sns_notifier import Notifier
    from nginx_eip_failover.service.lifecycle import handle_termination, parse_lifecycle_event

    controller = wiring.controller()
    groups = frozenset(
        node.finder.auto_scaling_group
        for node in controller.settings.nodes
        if node.finder is not None and node.finder.auto_scaling_group
    )
    request = parse_lifecycle_event(event, groups)
    logger.append_keys(instance=request.instance_id, group=request.group)
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return handle_termination(
        controller,
        request,
        NodeFinder(aws_clients.autoscaling, aws_clients.ec2),
        Notifier(None, controller.settings.topic_arn, source="nginx-eip-failover", connect=aws_clients.sns),
        (lambda: remaining() / 1000) if remaining else None,
    )
