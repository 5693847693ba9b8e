"""Per-node metrics keep their Node dimension in every invocation of a warm container."""

from __future__ import annotations

import json

import pytest
from aws_lambda_powertools.metrics import MetricUnit

from nginx_eip_failover.observability import add_node_metric, flush_node_metrics


def test_node_dimension_survives_repeated_flushes(capsys: pytest.CaptureFixture[str]) -> None:
    for invocation in range(3):
        add_node_metric("node1", "NodeUp", MetricUnit.Count, 1)
        add_node_metric("node2", "NodeUp", MetricUnit.Count, invocation % 2)
        flush_node_metrics()
        lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
        assert {line["Node"] for line in lines} == {"node1", "node2"}
        for line in lines:
            assert ["Node", "service"] in [sorted(d) for d in line["_aws"]["CloudWatchMetrics"][0]["Dimensions"]]
