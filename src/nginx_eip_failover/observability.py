"""The Logger and Metrics every module uses (Powertools; service and namespace from the env).

Metrics are buffered for the whole invocation and flushed once at its end (one EMF line for the
service plus one per node), because a line per probe cycle would cost more in CloudWatch Logs than
the rest of the stack together.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, ClassVar, ParamSpec, TypeVar

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

P = ParamSpec("P")
R = TypeVar("R")

logger = Logger()
metrics = Metrics()
_per_node: dict[str, EphemeralMetrics] = {}


def add_node_metric(node: str, name: str, unit: MetricUnit, value: float) -> None:
    """A metric with a Node dimension, buffered with the others of the same node."""
    node_metrics = _per_node.get(node)
    if node_metrics is None:
        node_metrics = EphemeralMetrics(namespace=metrics.namespace, service=metrics.service)
        node_metrics.add_dimension(name="Node", value=node)
        _per_node[node] = node_metrics
    node_metrics.add_metric(name=name, unit=unit, value=value)


def report_refused_probes(group: str, refused: dict[str, str]) -> None:
    """Nodes whose health endpoint refused the probe's credentials (401/403): said every round it
    lasts (the alert only on its change), naming the nodes and why, never a credential."""
    if refused:
        metrics.add_metric(name="ProbeAuthFailures", unit=MetricUnit.Count, value=len(refused))
        logger.warning("health check credentials refused", extra={"group": group, "refused": refused})


def flush_node_metrics() -> None:
    for node_metrics in _per_node.values():
        if node_metrics.metric_set:  # a status request probes nothing: nothing to flush
            node_metrics.flush_metrics()
    # Flushing also drops the Node dimension: the next invocation of a warm container starts anew.
    _per_node.clear()


def trace_handler(handler: Callable[P, R]) -> Callable[P, R]:
    """Wrap a handler with Powertools' Tracer only when tracing is switched on.

    The X-Ray SDK costs about 0.2 s of import time, so it is not even imported otherwise.
    """
    if os.environ.get("POWERTOOLS_TRACE_DISABLED", "true").strip().lower() != "false":
        return handler
    try:
        from aws_lambda_powertools import Tracer

        tracer = Tracer()
    except ImportError:
        # The X-Ray SDK is not in the package by default (it would bring botocore along and shadow
        # the runtime's). Lambda's active tracing still records each invocation without it.
        logger.warning("tracing is on but aws-xray-sdk is not installed: no subsegments (see docs/parameters.md)")
        return handler
    return tracer.capture_lambda_handler(handler)


class _ContextWithDefaults:
    """The caller's context, with the attributes Powertools reads filled in when it lacks them.

    Lambda always passes a full context; scripts and test harnesses sometimes pass None or a bare
    object, and a monitor must not fail for that.
    """

    _DEFAULTS: ClassVar[dict[str, object]] = {
        "function_name": os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "local"),
        "function_version": "$LATEST",
        "memory_limit_in_mb": 0,
        "invoked_function_arn": "",
        "aws_request_id": "",
    }

    def __init__(self, context: object) -> None:
        self._context = context

    def __getattr__(self, name: str) -> Any:
        if self._context is not None and hasattr(self._context, name):
            return getattr(self._context, name)
        if name in self._DEFAULTS:
            return self._DEFAULTS[name]
        raise AttributeError(name)


def with_context_defaults(handler: Callable[[Any, Any], R]) -> Callable[[Any, Any], R]:
    def wrapper(event: Any, context: Any = None) -> R:
        return handler(event, _ContextWithDefaults(context))

    wrapper.__doc__ = handler.__doc__
    return wrapper
