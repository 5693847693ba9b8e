"""The Logger and Metrics every module uses (Powertools; service and namespace from the env).

Metrics are buffered for the whole invocation and flushed once at its end (one EMF line for the
service plus one per node), because a line per probe cycle would cost more in CloudWatch Logs than
the rest of the stack together.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

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


def flush_node_metrics() -> None:
    for node_metrics in _per_node.values():
        node_metrics.flush_metrics()
