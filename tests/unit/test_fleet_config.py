"""The fleet document: schema and cross-checks, every error naming the group, field and value."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from typing import Any

import pytest

from nginx_eip_failover.core.config import NodeConfig
from nginx_eip_failover.core.errors import FleetConfigError
from nginx_eip_failover.core.fleet_config import fleet_schema, parse_fleet, parse_fleet_json
from nginx_eip_failover.core.node_finders import NodeFinder
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
    (
        "groups/1/elastic_ips/1/allocation_id",
        "eipalloc-00000000000001001",
        "api",
        "elastic_ips[1].allocation_id",
        "eipalloc-0000",
    ),
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
    with pytest.raises(
        FleetConfigError, match="also served by group 'default' \\(its field 'ElasticIpAllocationId'\\)"
    ):
        parse_fleet(document, BASE)


@pytest.mark.parametrize("text", ["", "{", "[]", '{"groups": {}}', "x" * (300 * 1024)])
def test_text_that_is_not_a_document_is_refused(text: str) -> None:
    with pytest.raises(FleetConfigError):
        parse_fleet_json(text, BASE)


def test_json_round_trip() -> None:
    assert len(parse_fleet_json(json.dumps({"groups": [group()]}), BASE)) == 1


def _opposite(first: dict[str, Any], name: str = "web-b") -> dict[str, Any]:
    """The second address set of an active/active pair: `first`'s nodes, opposite priorities,
    its own EIP on its own private IPs and its own secondary IP and route."""
    second = copy.deepcopy(first)
    second["name"] = name
    second["nodes"][0]["priority"], second["nodes"][1]["priority"] = 100, 101
    second["elastic_ips"] = [
        {"allocation_id": "eipalloc-0000000000000b001", "private_ips": {"node1": "10.0.1.30", "node2": "10.0.2.30"}}
    ]
    second["secondary_private_ips"] = ["10.0.1.90"]
    second["routes"] = [{"destination": "192.168.200.1/32", "route_table_ids": ["rtb-00000000000000001"]}]
    return second


def test_two_sets_with_opposite_priorities_on_one_pair_are_accepted() -> None:
    web = group("web", 1)
    a, b = parse_fleet({"groups": [web, _opposite(web)]}, BASE)
    assert [node.instance_id for node in a.nodes] == [node.instance_id for node in b.nodes]
    assert [node.priority for node in a.nodes] == [101, 100]
    assert [node.priority for node in b.nodes] == [100, 101]
    assert a.allocation_id != b.allocation_id  # so each set has its own state item


def test_a_group_may_share_the_stacks_own_pair_with_its_own_eip_by_private_ip() -> None:
    other = {
        "name": "second",
        "nodes": [
            {**node, "instance_id": base.instance_id, "network_interface_id": f"eni-{index:017x}"}
            for index, (node, base) in enumerate(zip(group()["nodes"], BASE.nodes, strict=True), start=1)
        ],
        "elastic_ips": [
            {"allocation_id": "eipalloc-0000000000000b001", "private_ips": {"node1": "10.0.1.30", "node2": "10.0.2.30"}}
        ],
    }
    [second] = parse_fleet({"groups": [other]}, BASE)
    assert {node.instance_id for node in second.nodes} == {node.instance_id for node in BASE.nodes}


SHARED = [
    (
        "elastic_ips/0/allocation_id",
        "eipalloc-00000000000001001",
        "elastic_ips[0].allocation_id",
        "elastic_ips[0].allocation_id",
    ),
    (
        "elastic_ips/0/private_ips/node2",
        "10.0.2.20",
        "elastic_ips[0].private_ips.node2",
        "elastic_ips[0].private_ips.node2",
    ),
    ("secondary_private_ips/0", "10.0.1.51", "secondary_private_ips[0]", "secondary_private_ips[0]"),
    ("secondary_private_ips/0", "10.0.1.20", "secondary_private_ips[0]", "elastic_ips[0].private_ips.node1"),
    ("routes/0/destination", "192.168.100.1/32", "routes[0].route_table_ids[0]", "routes[0].route_table_ids[0]"),
]


@pytest.mark.parametrize(
    ("path", "value", "field", "first_field"), SHARED, ids=[row[0] + "=" + row[1] for row in SHARED]
)
def test_the_same_address_in_two_sets_is_refused_naming_both_sets_the_field_and_the_value(
    path: str, value: str, field: str, first_field: str
) -> None:
    web = group("web", 1)
    second = _opposite(web)
    target: Any = second
    parts = path.split("/")
    for part in parts[:-1]:
        target = target[int(part)] if part.isdigit() else target[part]
    target[int(parts[-1]) if parts[-1].isdigit() else parts[-1]] = value
    with pytest.raises(FleetConfigError) as raised:
        parse_fleet({"groups": [web, second]}, BASE)
    error = raised.value
    assert (error.group, error.field) == ("web-b", field), str(error)
    assert value in str(error.value)
    assert f"also served by group 'web' (its field '{first_field}')" in str(error)


def test_two_sets_whose_eips_both_go_by_instance_to_one_node_are_refused() -> None:
    # By InstanceId an EIP lands on the primary private IP, which holds one EIP: the second set's
    # association would silently detach the first's.
    web = group("web", 1)
    second = _opposite(web)
    second["elastic_ips"].append({"allocation_id": "eipalloc-0000000000000b002"})
    with pytest.raises(FleetConfigError) as raised:
        parse_fleet({"groups": [web, second]}, BASE)
    assert (raised.value.group, raised.value.field) == ("web-b", "elastic_ips[1].private_ips.node1")
    assert "also served by group 'web' (its field 'elastic_ips[1].private_ips.node1')" in str(raised.value)


def test_a_group_whose_eip_goes_by_instance_to_the_stacks_own_pair_is_refused() -> None:
    document = {"groups": [group()]}
    document["groups"][0]["nodes"][0]["instance_id"] = BASE.nodes[1].instance_id
    with pytest.raises(FleetConfigError) as raised:
        parse_fleet(document, BASE)
    assert (raised.value.group, raised.value.field) == ("web", "elastic_ips[1].private_ips.node1")
    assert "also served by group 'default' (its field 'Node2InstanceId')" in str(raised.value)


# ---------------------------------------------------------------- found nodes (docs/found-nodes.md)

BY_GROUPS = replace(BASE, fleet_found_nodes="tags-and-auto-scaling-groups")


def found(name: str = "web", first: int = 1, **node2: Any) -> dict[str, Any]:
    """A group by instance (EIPs without private IPs, no secondary IPs or routes) whose node2 is `node2`."""
    raw = group(name, first)
    raw["elastic_ips"] = [{"allocation_id": f"eipalloc-{first + 0x1000:017x}"}]
    del raw["secondary_private_ips"], raw["routes"]
    del raw["nodes"][0]["network_interface_id"]
    raw["nodes"][1] = {"health_check_url": "http://{private_ip}:8080/api/9/http/upstreams/backend", "priority": 100}
    raw["nodes"][1].update(node2)
    return raw


def test_a_node_found_by_auto_scaling_group_or_tags_is_parsed_with_its_finder_and_no_instance() -> None:
    [web, api] = parse_fleet(
        {
            "groups": [
                found("web", 1, auto_scaling_group_name="nginx-web", availability_zone="eu-west-1b"),
                found("api", 10, instance_tags={"Tier": "api", "Role": "nginx"}),
            ]
        },
        BY_GROUPS,
    )
    node2 = web.nodes[1]
    assert (node2.instance_id, node2.network_interface_id) == ("", None)
    assert node2.finder == NodeFinder(auto_scaling_group="nginx-web", availability_zone="eu-west-1b")
    assert node2.url_template == "http://{private_ip}:8080/api/9/http/upstreams/backend"
    assert api.nodes[1].finder == NodeFinder(tags=(("Role", "nginx"), ("Tier", "api")))  # in key order
    assert web.nodes[0].finder is None and web.nodes[0].instance_id == "i-00000000000000001"


def test_a_node_found_by_tags_needs_no_parameter() -> None:
    [web] = parse_fleet({"groups": [found(instance_tags={"Role": "nginx"})]}, BASE)
    assert web.nodes[1].finder is not None


FOUND_INVALID = [
    # (node2's fields, the field named, the value shown, the problem)
    ({}, "nodes[1]", '{"priority": 100}', "one of instance_id, auto_scaling_group_name, instance_tags"),
    (
        {"instance_id": "i-0000000000000000b", "auto_scaling_group_name": "nginx-web"},
        "nodes[1].auto_scaling_group_name",
        '"nginx-web"',
        "is given with instance_id",
    ),
    (
        {"auto_scaling_group_name": "nginx-web", "instance_tags": {"Role": "x"}},
        "nodes[1].instance_tags",
        '{"Role": "x"}',
        "is given with auto_scaling_group_name",
    ),
    (
        {"auto_scaling_group_name": "arn:aws:autoscaling:group"},
        "nodes[1].auto_scaling_group_name",
        '"arn:aws:autoscaling:group"',
        "must be an Auto Scaling group name",
    ),
    ({"auto_scaling_group_name": ""}, "nodes[1].auto_scaling_group_name", '""', "longer than or equal to 1"),
    (
        {"auto_scaling_group_name": "nginx-web", "availability_zone": "west"},
        "nodes[1].availability_zone",
        '"west"',
        "must be an Availability Zone",
    ),
    (
        {"instance_tags": {"Role": "x"}, "availability_zone": "eu-west-1a"},
        "nodes[1].availability_zone",
        '"eu-west-1a"',
        "needs auto_scaling_group_name",
    ),
    ({"instance_tags": {}}, "nodes[1].instance_tags", "{}", "at least 1"),
    (
        {"instance_tags": {f"k{i}": "v" for i in range(6)}},
        "nodes[1].instance_tags",
        '"k5": "v"',
        "less than or equal to 5",
    ),
    ({"instance_tags": {"Role": 7}}, "nodes[1].instance_tags.Role", "7", "must be string"),
    ({"instance_tags": {"Ro,le": "x"}}, "nodes[1].instance_tags", '{"Ro,le": "x"}', "a tag key must be"),
    ({"instance_tags": {"Role": "a=b"}}, "nodes[1].instance_tags", '{"Role": "a=b"}', "a tag value must be"),
    ({"instance_tags": {"": "x"}}, "nodes[1].instance_tags", '{"": "x"}', "a tag key must be 1-128"),
    (
        {"instance_tags": {"Role": "x"}, "network_interface_id": "eni-0000000000000000b"},
        "nodes[1].network_interface_id",
        '"eni-0000000000000000b"',
        "a replacement instance has another network interface",
    ),
]


@pytest.mark.parametrize(
    ("node2", "field", "shown", "problem"), FOUND_INVALID, ids=[r[1] + ":" + r[3] for r in FOUND_INVALID]
)
def test_bad_found_node_fields_are_refused_naming_the_group_the_field_and_the_value(
    node2: dict[str, Any], field: str, shown: str, problem: str
) -> None:
    with pytest.raises(FleetConfigError) as raised:
        parse_fleet({"groups": [found("web", 1, **node2)]}, BY_GROUPS)
    message = str(raised.value)
    assert (raised.value.group, raised.value.field) == ("web", field), message
    assert shown in message and problem in message, message


def test_a_node_found_by_auto_scaling_group_needs_the_stack_parameter_that_grants_the_lookup() -> None:
    with pytest.raises(FleetConfigError) as raised:
        parse_fleet({"groups": [found(auto_scaling_group_name="nginx-web")]}, BASE)
    assert (raised.value.field, raised.value.value) == ("nodes[1].auto_scaling_group_name", "nginx-web")
    assert "FleetFoundNodes=tags-and-auto-scaling-groups (this stack has tags)" in str(raised.value)


def test_a_stack_whose_pair_is_found_by_group_may_find_fleet_nodes_by_group() -> None:
    # The pair's FoundNodesLookupPolicy grants the lookup already.
    pair = settings(
        nodes=(
            NodeConfig("node1", "", "http://{private_ip}:1/", 101, finder=NodeFinder("nginx-pair")),
            NodeConfig("node2", "i-00000000000000002", "http://127.0.0.1:2/", 100),
        )
    )
    [web] = parse_fleet({"groups": [found(auto_scaling_group_name="nginx-web")]}, pair)
    assert web.nodes[1].finder == NodeFinder("nginx-web")


def test_private_ip_in_a_fixed_nodes_url_is_refused() -> None:
    raw = found(instance_tags={"Role": "x"})
    raw["nodes"][0]["health_check_url"] = "http://{private_ip}:8080/"
    with pytest.raises(FleetConfigError) as raised:
        parse_fleet({"groups": [raw]}, BASE)
    assert (raised.value.field, raised.value.value) == ("nodes[0].health_check_url", "http://{private_ip}:8080/")
    assert "only a found node" in str(raised.value)


@pytest.mark.parametrize(
    ("path", "value", "address_field"),
    [
        ("secondary_private_ips", ["10.0.1.50"], "secondary_private_ips[0] = 10.0.1.50"),
        ("routes", [{"destination": "192.168.1.1/32", "route_table_ids": ["rtb-00000000000000001"]}], "routes[0]"),
        (
            "elastic_ips",
            [{"allocation_id": "eipalloc-00000000000001001", "private_ips": {"node1": "10.0.1.20"}}],
            "elastic_ips[0].private_ips",
        ),
    ],
)
def test_a_group_with_addresses_on_enis_cannot_have_found_nodes(path: str, value: Any, address_field: str) -> None:
    raw = found(instance_tags={"Role": "x"})
    raw["nodes"][0]["network_interface_id"] = "eni-00000000000000001"
    raw[path] = value
    with pytest.raises(FleetConfigError) as raised:
        parse_fleet({"groups": [raw]}, BASE)
    message = str(raised.value)
    assert (raised.value.field, raised.value.value) == ("nodes[1].instance_tags", {"Role": "x"}), message
    assert address_field in message and "needs fixed nodes" in message, message


def test_two_nodes_of_a_group_with_the_same_finder_are_refused() -> None:
    raw = found(auto_scaling_group_name="nginx-web")
    raw["nodes"][0] = {
        "auto_scaling_group_name": "nginx-web",
        "health_check_url": "http://{private_ip}:1/",
        "priority": 101,
    }
    with pytest.raises(FleetConfigError) as raised:
        parse_fleet({"groups": [raw]}, BY_GROUPS)
    assert (raised.value.field, raised.value.value) == ("nodes[1].auto_scaling_group_name", "group nginx-web")
    assert "finds the same instances as an earlier node" in str(raised.value)
    # The same group in two AZs: two nodes, and one URL template for both ({private_ip} tells them apart).
    raw["nodes"][0]["availability_zone"], raw["nodes"][1]["availability_zone"] = "eu-west-1a", "eu-west-1b"
    raw["nodes"][0]["health_check_url"] = raw["nodes"][1]["health_check_url"]
    [web] = parse_fleet({"groups": [raw]}, BY_GROUPS)
    assert [node.finder.availability_zone for node in web.nodes if node.finder] == ["eu-west-1a", "eu-west-1b"]


def test_tags_in_another_order_are_the_same_finder() -> None:
    raw = found(instance_tags={"A": "1", "B": "2"})
    raw["nodes"][0] = {
        "instance_tags": {"B": "2", "A": "1"},
        "health_check_url": "http://{private_ip}:1/",
        "priority": 101,
    }
    with pytest.raises(FleetConfigError, match="finds the same instances"):
        parse_fleet({"groups": [raw]}, BASE)


def test_two_groups_putting_an_eip_on_one_found_nodes_primary_ip_are_refused() -> None:
    web = found("web", 1, auto_scaling_group_name="nginx-web")
    api = found("api", 10, auto_scaling_group_name="nginx-web")
    with pytest.raises(FleetConfigError) as raised:
        parse_fleet({"groups": [web, api]}, BY_GROUPS)
    assert (raised.value.group, raised.value.field) == ("api", "elastic_ips[0].private_ips.node2")
    assert "(none: the found node (group nginx-web)'s primary IP)" in str(raised.value)
    assert "also served by group 'web'" in str(raised.value)


def test_two_groups_on_different_found_nodes_are_accepted() -> None:
    web = found("web", 1, auto_scaling_group_name="nginx-web", availability_zone="eu-west-1a")
    web2 = found("web2", 10, auto_scaling_group_name="nginx-web", availability_zone="eu-west-1b")
    api = found("api", 20, instance_tags={"Role": "api"})
    api2 = found("api2", 30, instance_tags={"Role": "api", "Tier": "2"})
    assert len(parse_fleet({"groups": [web, web2, api, api2]}, BY_GROUPS)) == 4


def test_a_group_on_the_pairs_found_node_by_instance_is_refused_naming_the_pairs_parameter() -> None:
    pair = settings(
        nodes=(
            NodeConfig("node1", "i-00000000000000001", "http://127.0.0.1:1/", 101),
            NodeConfig("node2", "", "http://{private_ip}:2/", 100, finder=NodeFinder("nginx-web")),
        )
    )
    with pytest.raises(FleetConfigError) as raised:
        parse_fleet({"groups": [found("web", 10, auto_scaling_group_name="nginx-web")]}, pair)
    assert "also served by group 'default' (its field 'Node2AutoScalingGroupName')" in str(raised.value)


def test_the_role_arn_pattern_is_one_in_the_code_the_fleet_schema_and_the_template() -> None:
    # Three copies that must agree: core/role_arns.py (what the functions accept), the fleet
    # document's route.role_arn and the template's RouteTableRoleArn (optional there, so wrapped in `(...)?`).
    from nginx_eip_failover.core.role_arns import EXTERNAL_ID, ROLE_ARN
    from nginx_eip_failover_lab.stack.template import StackTemplate, find_template

    schema = fleet_schema()
    route = next(d for d in schema["definitions"].values() if "role_arn" in d.get("properties", {}))
    assert route["properties"]["role_arn"]["pattern"] == ROLE_ARN.pattern
    parameters = StackTemplate(find_template()).data["Parameters"]

    def optional(pattern: str) -> str:
        return "^(" + pattern.removeprefix("^").removesuffix("$") + ")?$"

    assert parameters["RouteTableRoleArn"]["AllowedPattern"] == optional(ROLE_ARN.pattern)
    assert parameters["RouteTableRoleExternalId"]["AllowedPattern"] == optional(EXTERNAL_ID.pattern)
