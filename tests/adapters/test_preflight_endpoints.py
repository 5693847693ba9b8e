"""In subnets without a NAT path, a service without its VPC endpoint cannot be reached: preflight's row
names the endpoint to create, not only a timeout.

The clients are real botocore clients for the real AWS hostnames; the network is cut where the VPC
would cut it, at the connection (a `before-send` hook raising what botocore raises when a connection
cannot be opened, EndpointConnectionError or ConnectTimeoutError), so nothing leaves this machine.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ConnectTimeoutError, EndpointConnectionError

from nginx_eip_failover.adapters.dynamodb.preflight_store import PreflightStore
from nginx_eip_failover.adapters.ec2.preflight_checks import check_instances
from nginx_eip_failover.adapters.triggers import check_alarms, check_schedule
from nginx_eip_failover.core.config import NodeConfig
from nginx_eip_failover.core.errors import StateStoreError
from nginx_eip_failover.core.preflight import PreflightTargets

REGION = "eu-west-1"
TARGETS = PreflightTargets(
    monitor_function="nginx-eip-failover-MonitorFunction",
    schedule_name="every-minute",
    alarm_names=("node1-status-check",),
)


def _unreachable(service: str, error: type[Exception] = EndpointConnectionError) -> Any:
    """A client of `service` at its real regional endpoint, with no network path to it."""
    session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)
    client = session.client(service)  # type: ignore[call-overload]
    # No AWS_ENDPOINT_URL here: the test is about the real endpoint's name.
    assert client.meta.endpoint_url.endswith(".amazonaws.com")

    def cut(request: Any, **_: Any) -> None:
        raise error(endpoint_url=request.url)

    client.meta.events.register("before-send", cut)
    return client


@pytest.fixture(autouse=True)
def _no_endpoint_override(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_CLOUDWATCH", "AWS_ENDPOINT_URL_SCHEDULER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")


def test_alarms_row_names_the_monitoring_interface_endpoint() -> None:
    [row] = check_alarms(_unreachable("cloudwatch"), TARGETS)
    assert row.status == "failed"
    assert f"com.amazonaws.{REGION}.monitoring" in row.detail
    assert "interface endpoint" in row.detail and "CreateVpcEndpoints" in row.detail


def test_schedule_row_names_the_scheduler_interface_endpoint_on_a_connect_timeout() -> None:
    [row] = check_schedule(TARGETS, scheduler=_unreachable("scheduler", ConnectTimeoutError), events=None)
    assert row.status == "failed"
    assert f"com.amazonaws.{REGION}.scheduler" in row.detail
    assert "ConnectTimeoutError" in row.detail


def test_ec2_rows_name_the_ec2_interface_endpoint() -> None:
    nodes = [
        NodeConfig("node1", "i-0123456789abcdef1", "http://10.0.1.10/", 101),
        NodeConfig("node2", "i-0123456789abcdef2", "http://10.0.2.10/", 100),
    ]
    rows = check_instances(_unreachable("ec2"), nodes)
    assert [row.status for row in rows] == ["failed", "failed"]
    assert all(f"com.amazonaws.{REGION}.ec2" in row.detail for row in rows)


def test_the_table_check_names_the_dynamodb_gateway_endpoint() -> None:
    store = PreflightStore(_unreachable("dynamodb"), "state-table", "eipalloc-0123456789abcdef0")
    with pytest.raises(StateStoreError) as raised:
        store.claim(1000.0, 100.0, "operator")
    assert f"gateway endpoint com.amazonaws.{REGION}.dynamodb" in str(raised.value)
