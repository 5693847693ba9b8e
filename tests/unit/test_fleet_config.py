"""The fleet document: schema and cross-checks, every error naming the group, field and value."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from nginx_eip_failover.core.errors import FleetConfigError
from nginx_eip_failover.core.fleet_config import fleet_schema, parse_fleet, parse_fleet_json
from support.core_builders import settings

BASE = settings()


def group(name: str = "web", first: int = 1) -> dict[str, Any]:
    return {
        "name": name,
        "nodes": [
            {
                "instance_id": f"i-{first:017x}",
                "network_interface_id": f"eni-{first:017x}",
                "health_check_url": f"http://127.0.0.1:{8000 + first}/api/9/http/upstreams/backend",
                "priority": 101,
            },
            {
                "instance_id": f"i-{first + 1:017x}",
                "network_interface_id": f"eni-{first + 1:017x}",
                "health_check_url": f"http://127.0.0.1:{8001 + first}/api/9/http/upstreams/backend",
                "priority": 100,
            },
        ],
        "elastic_ips": [
            {
                "allocation_id": f"eipalloc-{first + 0x1000:017x}",
                "private_ips": {"node1": "10.0.1.20", "node2": "10.0.2.20"},
            },
            {"allocation_id": f"eipalloc-{first + 0x1001:017x}"},
        ],
        "secondary_private_ips": [f"10.0.1.{50 + first}"],
        "routes": [{"destination": f"192.168.100.{first}/32", "route_table_ids": ["rtb-00000000000000001"]}],
        "settings": {"fall_threshold": 2, "preempt": False},
    }


def test_a_valid_document_becomes_one_settings_per_group_on_the_stacks_base() -> None:
    [web, api] = parse_fleet({"groups": [group("web", 1), group("api", 10)]}, BASE)
    assert (web.group, api.group) == ("web", "api")
    assert web.allocation_id == "eipalloc-00000000000001001"
    assert [node.name for node in web.nodes] == ["node1", "node2"]
    assert web.nodes[0].network_interface_id == "eni-00000000000000001"
    assert web.address_set.elastic_ips[0].private_ips == {"node1": "10.0.1.20", "node2": "10.0.2.20"}
    assert [spec.address for spec in web.address_set.secondary_ips] == ["10.0.1.51"]
    assert web.address_set.routes[0].route_table_ids == ("rtb-00000000000000001",)
    assert (web.fall_threshold, web.preempt, web.rise_threshold) == (2, False, BASE.rise_threshold)
    assert (web.table_name, web.interval_seconds) == (BASE.table_name, BASE.interval_seconds)


def test_the_schema_file_is_valid_json_schema() -> None:
    schema = fleet_schema()
    assert schema["$schema"].startswith("http://json-schema.org/draft-07")
    assert set(schema["definitions"]) == {"group", "node", "elastic_ip", "route", "settings", "health_check_auth"}


def _broken(path: str, value: Any) -> dict[str, Any]:
    document = {"groups": [group("web", 1), group("api", 10)]}
    target: Any = document
    parts = path.split("/")
    for part in parts[:-1]:
        target = target[int(part)] if part.isdigit() else target[part]
    last = parts[-1]
    if value is DELETE:
        del target[int(last) if last.isdigit() else last]
    elif last.isdigit():
        target[int(last)] = value
    else:
        target[last] = value
    return document


DELETE = object()
INVALID = [
    ("groups/1/nodes/0/priority", 300, "api", "nodes[0].priority", "300"),
    ("groups/1/nodes/1/instance_id", "i-nope", "api", "nodes[1].instance_id", "i-nope"),
    ("groups/0/elastic_ips/0/allocation_id", "eip-1", "web", "elastic_ips[0].allocation_id", "eip-1"),
    ("groups/0/routes/0/destination", "10.0.0.0/16", "web", "routes[0].destination", "10.0.0.0/16"),
    ("groups/0/settings/fall_threshold", 0, "web", "settings.fall_threshold", "0"),
    ("groups/0/settings/unknown", 1, "web", "settings", "unknown"),
    ("groups/1/nodes", [], "api", "nodes", "[]"),
    ("groups/0/elastic_ips", DELETE, "web", "elastic_ips", ""),
    ("groups/1/name", "Web Tier", "Web Tier", "name", "Web Tier"),
    ("groups/1/name", "web", "web", "name", "web"),
    ("groups/1/name", "default", "default", "name", "default"),
    ("groups/1/nodes/1/priority", 101, "api", "nodes[1].priority", "101"),
    ("groups/1/nodes/1/instance_id", "i-0000000000000000a", "api", "nodes[1].instance_id", "i-0000000000000000a"),
    ("groups/1/elastic_ips/1/allocation_id", "eipalloc-00000000000001001", "api", "addresses", "eipalloc-0000"),
    ("groups/0/elastic_ips/0/private_ips/node3", "10.0.3.3", "web", "elastic_ips[0].private_ips", "node3"),
    ("groups/0/nodes/0/network_interface_id", DELETE, "web", "nodes[0].network_interface_id", "null"),
    ("groups/0/nodes/0/health_check_url", "http://user:pw@10.0.0.1/", "web", "nodes[0].health_check_url", "hidden"),
]


@pytest.mark.parametrize(("path", "value", "group_name", "field", "shown"), INVALID, ids=[row[0] for row in INVALID])
def test_an_invalid_document_names_the_group_the_field_and_the_value(
    path: str, value: Any, group_name: str, field: str, shown: str
) -> None:
    with pytest.raises(FleetConfigError) as raised:
        parse_fleet(_broken(path, value if value is DELETE else copy.deepcopy(value)), BASE)
    error = raised.value
    message = str(error)
    assert error.group == group_name, message
    assert error.field.startswith(field), message
    assert shown in message
    assert "pw" not in message  # credentials in a URL are never echoed


def test_the_stacks_own_eip_cannot_be_claimed_by_a_group() -> None:
    document = {"groups": [group()]}
    document["groups"][0]["elastic_ips"][0]["allocation_id"] = BASE.allocation_id
    with pytest.raises(FleetConfigError, match="already served by group 'default'"):
        parse_fleet(document, BASE)


@pytest.mark.parametrize("text", ["", "{", "[]", '{"groups": {}}', "x" * (300 * 1024)])
def test_text_that_is_not_a_document_is_refused(text: str) -> None:
    with pytest.raises(FleetConfigError):
        parse_fleet_json(text, BASE)


def test_json_round_trip() -> None:
    assert len(parse_fleet_json(json.dumps({"groups": [group()]}), BASE)) == 1


def test_an_instance_in_two_groups_is_refused_naming_both_groups_the_field_and_the_value() -> None:
    web, api = group("web", 1), group("api", 10)
    api["nodes"][1]["instance_id"] = web["nodes"][0]["instance_id"]
    with pytest.raises(FleetConfigError) as raised:
        parse_fleet({"groups": [web, api]}, BASE)
    error = raised.value
    assert (error.group, error.field, error.value) == ("api", "nodes[1].instance_id", web["nodes"][0]["instance_id"])
    assert "already a node of group 'web'" in str(error)


def test_a_groups_node_may_not_be_one_of_the_stacks_own_pair() -> None:
    document = {"groups": [group()]}
    document["groups"][0]["nodes"][0]["instance_id"] = BASE.nodes[1].instance_id
    with pytest.raises(FleetConfigError, match=r"nodes\[0\]\.instance_id.*already a node of group 'default'"):
        parse_fleet(document, BASE)
