"""A fleet on moto: the document applied through the ControlFunction, groups chosen by name, the
fleet table, and every group's addresses kept on its healthy node by the monitor."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from nginx_eip_failover.core.errors import FleetConfigError, InvalidRequestError, RefusedError
from nginx_eip_failover.handlers import control, monitor
from nginx_eip_failover.service import controller as controller_module
from nginx_eip_failover_lab.lambda_context import LambdaContextDouble
from support.moto_pair import create_pair
from support.moto_tables import create_table

TABLE = "fleet-state"
SCHEDULE = {"trigger": "schedule"}


@pytest.fixture(scope="module")
def aws(moto_module: None, boto_session: boto3.session.Session) -> dict[str, Any]:
    clients = {name: boto_session.client(name, region_name="us-east-1") for name in ("ec2", "dynamodb")}
    create_table(clients["dynamodb"], TABLE)
    return clients


class Fleet:
    def __init__(self, ec2: Any, node_server: Callable[[], Any]) -> None:
        self.ec2 = ec2
        self.node_server = node_server
        self.servers: dict[str, Any] = {}

    def pair(self) -> tuple[list[str], str, list[Any]]:
        created = create_pair(self.ec2)
        return list(created.instance_ids), created.allocation_id, [self.node_server(), self.node_server()]

    def holder(self, allocation: str) -> str | None:
        address = self.ec2.describe_addresses(AllocationIds=[allocation])["Addresses"][0]
        return address.get("InstanceId") or None


def group_document(name: str, ids: list[str], allocation: str, servers: list[Any]) -> dict[str, Any]:
    return {
        "name": name,
        "nodes": [
            {"instance_id": ids[0], "health_check_url": servers[0].url(), "priority": 101},
            {"instance_id": ids[1], "health_check_url": servers[1].url(), "priority": 100},
        ],
        "elastic_ips": [{"allocation_id": allocation}],
        "settings": {"fall_threshold": 1},
    }


@pytest.fixture
def fleet(
    aws: dict[str, Any], base_env: dict[str, str], node_server: Callable[[], Any], monkeypatch: pytest.MonkeyPatch
) -> Fleet:
    world = Fleet(aws["ec2"], node_server)
    ids, allocation, servers = world.pair()
    env = {
        **base_env,
        "EIP_ALLOCATION_ID": allocation,
        "NODE1_INSTANCE_ID": ids[0],
        "NODE2_INSTANCE_ID": ids[1],
        "NODE1_HEALTH_CHECK_URL": servers[0].url(),
        "NODE2_HEALTH_CHECK_URL": servers[1].url(),
        "HEALTH_CHECK_INTERVAL_SECONDS": "0.2",
        "HEALTH_CHECK_TIMEOUT_SECONDS": "0.2",
        "STATE_TABLE_NAME": TABLE,
    }
    for variable, value in env.items():
        monkeypatch.setenv(variable, value)
    monkeypatch.setattr(controller_module, "MOVE_TIME_RESERVE_SECONDS", float("-inf"))
    aws["dynamodb"].delete_item(TableName=TABLE, Key={"pk": {"S": "config#fleet"}})
    return world


def ask(request: dict[str, Any]) -> dict[str, Any]:
    return control.lambda_handler(request, LambdaContextDouble(30_000))  # type: ignore[no-any-return]


def test_applying_a_document_adds_groups_that_the_monitor_then_serves(fleet: Fleet) -> None:
    shown = ask({"action": "fleet_show"})
    assert shown["version"] == 0 and shown["document"] == {"groups": []}
    web = fleet.pair()
    api = fleet.pair()
    document = {"groups": [group_document("web", *web), group_document("api", *api)]}
    applied = ask({"action": "fleet_apply", "document": document, "version": 0})
    assert applied == {"ok": True, "action": "fleet_apply", "version": 1, "groups": ["web", "api"]}
    result = monitor.lambda_handler(SCHEDULE, LambdaContextDouble(0))
    assert set(result["groups"]) == {"web", "api"}
    assert fleet.holder(web[1]) == web[0][0] and fleet.holder(api[1]) == api[0][0]
    # api's node1 fails: only api's EIP moves (its FallThreshold is 1).
    api[2][0].respond(500, b"down", content_type="text/plain")
    monitor.lambda_handler(SCHEDULE, LambdaContextDouble(0))
    assert fleet.holder(api[1]) == api[0][1]
    assert fleet.holder(web[1]) == web[0][0]
    table = ask({"action": "status"})["fleet"]
    assert [row["group"] for row in table] == ["api", "default", "web"]
    assert table[0]["holder"] == "node2" and table[0]["nodes"] == {"node1": "down", "node2": "up"}
    # A group-specific request names its group; without one, the stack refuses to guess.
    moved = ask({"action": "failover", "group": "web", "target": "node2", "reason": "patch"})
    assert moved["group"] == "web" and moved["moved_to"] == "node2"
    with pytest.raises(InvalidRequestError, match="field 'group' = null: is required"):
        ask({"action": "failover", "target": "node2"})
    with pytest.raises(InvalidRequestError, match="field 'group' = \"shop\": is not a group of this stack"):
        ask({"action": "status", "group": "shop"})


def test_an_invalid_document_is_refused_naming_the_group_field_and_value_and_changes_nothing(fleet: Fleet) -> None:
    web = fleet.pair()
    document = {"groups": [group_document("web", *web)]}
    document["groups"][0]["nodes"][1]["priority"] = 256
    with pytest.raises(FleetConfigError) as raised:
        ask({"action": "fleet_apply", "document": document, "version": 0})
    assert "group \"web\" field 'nodes[1].priority' = 256" in str(raised.value)
    assert ask({"action": "fleet_show"})["version"] == 0


def test_a_stale_version_is_refused(fleet: Fleet) -> None:
    web = fleet.pair()
    document = {"groups": [group_document("web", *web)]}
    assert ask({"action": "fleet_apply", "document": document, "version": 0})["version"] == 1
    with pytest.raises(RefusedError, match="changed since you read it"):
        ask({"action": "fleet_apply", "document": json.loads(json.dumps(document)), "version": 0})


def test_a_document_too_large_to_load_is_refused_before_it_is_stored(fleet: Fleet) -> None:
    """Within the schema's per-field bounds a document can still pass 256 KB (and DynamoDB's 400 KB
    item limit): it is refused, naming the document, and nothing is written."""
    groups = [
        {
            "name": f"g{index}",
            "nodes": [
                {
                    "instance_id": f"i-{index:08x}{node:09x}",
                    "health_check_url": f"http://127.0.0.1:8080/{'x' * 480}{node}",
                    "priority": node,
                }
                for node in range(16)
            ],
            "elastic_ips": [{"allocation_id": f"eipalloc-{index:017x}"}],
        }
        for index in range(40)
    ]
    with pytest.raises(FleetConfigError, match=r"field 'document'.*must be at most 262144 bytes"):
        ask({"action": "fleet_apply", "document": {"groups": groups}, "version": 0})
    assert ask({"action": "fleet_show"})["version"] == 0
