"""The fleet document: the groups one stack serves besides its own pair, validated and parsed.

The document is JSON, checked against `fleet.schema.json` (kept in this package, so the function and
the CLI validate the same way) with Powertools' validation utility, then against what a schema
cannot say (names and priorities unique; no address in two groups' sets). Every error names the group, the
field and the value. Stack-wide settings (interval, timeout, table, topic) come from the stack's
own pair; a group may override its hysteresis.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import replace
from functools import cache
from importlib import resources
from typing import Any

from nginx_eip_failover.core.addresses import AddressSet, ElasticIpSpec, RouteSpec, SecondaryIpSpec
from nginx_eip_failover.core.bounds import bounded
from nginx_eip_failover.core.config import (
    DEFAULT_GROUP,
    SECOND_SET_GROUP,
    NodeConfig,
    Settings,
    _health_check_url,
)
from nginx_eip_failover.core.errors import ConfigError, FleetConfigError
from nginx_eip_failover.core.node_finders import (
    PRIVATE_IP_PLACEHOLDER,
    NodeFinder,
    auto_scaling_group_problem,
    availability_zone_problem,
    tag_problem,
)
from nginx_eip_failover.core.probe_auth import FIELD_OF, ProbeAuth, probe_auth_from_fields

# Per-group overrides the document may carry (schema: definitions.settings).
_GROUP_SETTINGS = (
    "fall_threshold",
    "rise_threshold",
    "preempt",
    "preempt_delay_seconds",
    "min_seconds_between_moves",
    "flap_window_seconds",
    "flap_suppress_threshold",
)
MAX_DOCUMENT_BYTES = 256 * 1024


@cache
def fleet_schema() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("fleet.schema.json").read_text(encoding="utf-8")
    return json.loads(text)  # type: ignore[no-any-return]


def parse_fleet(document: object, base: Settings, reserved: tuple[Settings, ...] = ()) -> tuple[Settings, ...]:
    """The groups of `document` as Settings built on the stack's own (`base`); raises
    FleetConfigError naming the group, field and value of the first problem. `reserved`: the
    groups of the template's parameters besides the pair (its second address set)."""
    _validate_schema(document)
    assert isinstance(document, Mapping)
    groups = tuple(_group(raw, base) for raw in document["groups"])
    _check_unique(base, groups, reserved)
    return groups


def parse_fleet_json(text: str, base: Settings, reserved: tuple[Settings, ...] = ()) -> tuple[Settings, ...]:
    if len(text.encode("utf-8", "surrogatepass")) > MAX_DOCUMENT_BYTES:
        raise FleetConfigError(
            None, "document", f"{len(text)} characters", f"must be at most {MAX_DOCUMENT_BYTES} bytes"
        )
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FleetConfigError(None, "document", text[:40], f"is not JSON ({exc.msg} at line {exc.lineno})") from None
    return parse_fleet(document, base, reserved)


def _validate_schema(document: object) -> None:
    # Only the ControlFunction and the CLI validate a document: not on the monitor's cold path.
    from aws_lambda_powertools.utilities.validation import validate
    from aws_lambda_powertools.utilities.validation.exceptions import SchemaValidationError

    try:
        validate(event=document, schema=fleet_schema())
    except SchemaValidationError as exc:
        path = [str(part) for part in (exc.path or [])][1:]  # drop fastjsonschema's "data"
        value: object = exc.value
        problem = (exc.validation_message or str(exc)).replace(str(exc.name), "it", 1)
        # Name the missing or unknown field itself, not the object around it.
        if exc.rule == "oneOf" and isinstance(value, Mapping) and _is_node(path):
            # The node's one way to name its instance: none or several (the schema's message lists
            # neither which fields it saw nor which it wants).
            given = [way for way in NODE_WAYS if way in value]
            if not given:
                shown = {key: val for key, val in value.items() if key != "health_check_url"}
                path, value, problem = path, shown, f"must name its instance one way: one of {', '.join(NODE_WAYS)}"
            else:
                path, value = [*path, given[1]], value[given[1]]
                problem = f"is given with {given[0]}: a node names its instance one way ({', '.join(NODE_WAYS)})"
        elif exc.rule == "required" and isinstance(value, Mapping):
            missing = [name for name in exc.rule_definition or () if name not in value]
            path, value, problem = [*path, str(missing[0])], None, "is required"
        elif exc.rule == "additionalProperties" and isinstance(value, Mapping):
            allowed = sorted((exc.definition or {}).get("properties", {}))
            extra = sorted(set(map(str, value)) - set(allowed))
            path, value, problem = [*path, extra[0]], value[extra[0]], f"is not a known field; allowed: {allowed}"
        group = _group_name(document, path)
        field = _field(path[2:] if len(path) >= 2 and path[0] == "groups" else path) or "document"
        raise FleetConfigError(group, field, _shown(value), problem) from None


def _shown(value: object) -> object:
    """The value as an error shows it: whole when small, else a bounded excerpt of its JSON."""
    text = json.dumps(value, default=str)
    return value if len(text) <= 200 else bounded(text, 200)


# How a node names its instance: exactly one of these (schema: definitions.node.oneOf).
NODE_WAYS = ("instance_id", "auto_scaling_group_name", "instance_tags")


def _is_node(path: list[str]) -> bool:
    return len(path) == 4 and path[0] == "groups" and path[2] == "nodes"


def _group_name(document: object, path: list[str]) -> str | None:
    if len(path) >= 2 and path[0] == "groups" and path[1].isdigit() and isinstance(document, Mapping):
        groups = document.get("groups")
        if isinstance(groups, list) and int(path[1]) < len(groups):
            raw = groups[int(path[1])]
            name = raw.get("name") if isinstance(raw, Mapping) else None
            return name if isinstance(name, str) else f"#{int(path[1]) + 1}"
    return None


def _field(path: Iterable[str]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if part.isdigit() else (f".{part}" if text else part)
    return text


def _group(raw: Mapping[str, Any], base: Settings) -> Settings:
    name = raw["name"]
    if name == DEFAULT_GROUP:
        raise FleetConfigError(name, "name", name, "is the stack's own pair (its template parameters); choose another")
    nodes = [_node(name, index, node, base) for index, node in enumerate(raw["nodes"])]
    node_names = {node.name for node in nodes}
    elastic_ips = []
    for index, eip in enumerate(raw["elastic_ips"]):
        private_ips = dict(eip.get("private_ips") or {})
        for node_name in private_ips:
            if node_name not in node_names:
                raise FleetConfigError(
                    name,
                    f"elastic_ips[{index}].private_ips",
                    node_name,
                    f"is not a node of this group ({len(nodes)} nodes)",
                )
        elastic_ips.append(ElasticIpSpec(eip["allocation_id"], private_ips))
    secondary = tuple(SecondaryIpSpec(address) for address in raw.get("secondary_private_ips") or ())
    routes = _routes(name, raw.get("routes") or (), base)
    on_enis = _addresses_on_enis(raw)
    if on_enis is not None:
        # Addresses that land on an ENI name it: no DescribeInstances (and no grant for it) needed.
        # A found node has no ENI to name (a replacement instance has another one).
        found = next((index for index, node in enumerate(nodes) if node.finder is not None), None)
        if found is not None:
            way = _way(raw["nodes"][found])
            raise FleetConfigError(
                name,
                f"nodes[{found}].{way}",
                raw["nodes"][found][way],
                f"finds the node, but the group's {on_enis[0]} = {_shown(on_enis[1])} lands on each node's ENI, "
                "and a replacement instance has another one: a group with secondary_private_ips, routes or "
                "EIPs by private IP needs fixed nodes (instance_id and network_interface_id); a group with "
                "found nodes moves EIPs by instance (elastic_ips without private_ips)",
            )
        for index, node in enumerate(nodes):
            if node.network_interface_id is None:
                raise FleetConfigError(
                    name,
                    f"nodes[{index}].network_interface_id",
                    None,
                    "is required when the group has secondary_private_ips, routes or EIPs by private IP "
                    "(they land on an ENI)",
                )
    overrides: dict[str, Any] = {
        key: raw.get("settings", {})[key] for key in _GROUP_SETTINGS if key in raw.get("settings", {})
    }
    auth = raw.get("settings", {}).get("health_check_auth")
    if auth is not None:
        overrides["probe_auth"] = _group_probe_auth(name, auth)
    return replace(
        base,
        group=name,
        allocation_id=elastic_ips[0].allocation_id,
        nodes=tuple(nodes),
        addresses=AddressSet(tuple(elastic_ips), secondary, routes),
        **overrides,
    )


def _node(group: str, index: int, raw: Mapping[str, Any], base: Settings) -> NodeConfig:
    """One node of the document: a fixed instance, or found (core/node_finders) each cycle."""
    field = f"nodes[{index}]"
    finder = _finder(group, field, raw, base)
    try:
        url = _health_check_url(raw["health_check_url"])
    except ValueError as exc:
        raise FleetConfigError(group, f"{field}.health_check_url", "(hidden)", str(exc)) from None
    if finder is None and PRIVATE_IP_PLACEHOLDER in url:
        raise FleetConfigError(
            group,
            f"{field}.health_check_url",
            url,
            f"names {PRIVATE_IP_PLACEHOLDER}, which only a found node (auto_scaling_group_name or instance_tags) "
            "fills in",
        )
    if finder is not None and "network_interface_id" in raw:
        raise FleetConfigError(
            group,
            f"{field}.network_interface_id",
            raw["network_interface_id"],
            f"must be absent for a found node ({_way(raw)}): a replacement instance has another network interface",
        )
    return NodeConfig(
        name=f"node{index + 1}",
        instance_id="" if finder is not None else raw["instance_id"],
        health_check_url=url,
        priority=raw["priority"],
        network_interface_id=raw.get("network_interface_id"),
        finder=finder,
        url_template=url if finder is not None else None,
    )


def _way(raw: Mapping[str, Any]) -> str:
    return next(way for way in NODE_WAYS if way in raw)


def _finder(group: str, field: str, raw: Mapping[str, Any], base: Settings) -> NodeFinder | None:
    """A found node's finder, by the rules of the NODEn_* variables (core/node_finders); None: fixed."""
    asg, zone, tags = raw.get("auto_scaling_group_name"), raw.get("availability_zone"), raw.get("instance_tags")
    if zone is not None:
        if asg is None:
            raise FleetConfigError(
                group,
                f"{field}.availability_zone",
                zone,
                "needs auto_scaling_group_name (the group it picks a zone of)",
            )
        problem = availability_zone_problem(zone)
        if problem is not None:
            raise FleetConfigError(group, f"{field}.availability_zone", zone, problem)
    if asg is not None:
        problem = auto_scaling_group_problem(asg)
        if problem is not None:
            raise FleetConfigError(group, f"{field}.auto_scaling_group_name", asg, problem)
        if base.fleet_found_nodes != "tags-and-auto-scaling-groups" and not _pair_finds_by_group(base):
            raise FleetConfigError(
                group,
                f"{field}.auto_scaling_group_name",
                asg,
                f"needs the stack parameter FleetFoundNodes=tags-and-auto-scaling-groups (this stack has "
                f"{base.fleet_found_nodes}): only then may its functions call autoscaling:DescribeAutoScalingGroups; "
                "update the stack, or find the node by instance_tags",
            )
        return NodeFinder(auto_scaling_group=asg, availability_zone=zone)
    if tags is not None:
        for key, value in tags.items():
            problem = tag_problem(key, value)
            if problem is not None:
                raise FleetConfigError(group, f"{field}.instance_tags", {key: value}, problem)
        # In key order: the same tags are the same finder however the document orders them.
        return NodeFinder(tags=tuple(sorted(tags.items())))
    return None


def _pair_finds_by_group(base: Settings) -> bool:
    """The stack's own pair finds a node by Auto Scaling group: its roles may describe groups already
    (template FoundNodesLookupPolicy)."""
    return any(node.finder is not None and node.finder.auto_scaling_group for node in base.nodes)


def _addresses_on_enis(raw: Mapping[str, Any]) -> tuple[str, object] | None:
    """The group's first address that lands on a node's ENI (field, value); None: every address is
    an EIP by instance."""
    for index, address in enumerate(raw.get("secondary_private_ips") or ()):
        return f"secondary_private_ips[{index}]", address
    for index, route in enumerate(raw.get("routes") or ()):
        return f"routes[{index}].destination", route["destination"]
    for index, eip in enumerate(raw["elastic_ips"]):
        if eip.get("private_ips"):
            return f"elastic_ips[{index}].private_ips", eip["private_ips"]
    return None


def _routes(group: str, raw_routes: Iterable[Mapping[str, Any]], base: Settings) -> tuple[RouteSpec, ...]:
    """The group's routes; a route_table_ids entry in another account names the role to reach it by,
    which must be the stack's RouteTableRoleArn (the only role its functions may assume)."""
    routes = []
    table_roles: dict[str, str | None] = {}
    for index, route in enumerate(raw_routes):
        role_arn = route.get("role_arn")
        if role_arn is not None and role_arn != base.route_table_role_arn:
            allowed = base.route_table_role_arn or "none: the stack's RouteTableRoleArn is empty"
            raise FleetConfigError(
                group,
                f"routes[{index}].role_arn",
                role_arn,
                f"is not the stack's RouteTableRoleArn ({allowed}); the functions may assume only that role",
            )
        for table in route["route_table_ids"]:
            earlier = table_roles.setdefault(table, role_arn)
            if earlier != role_arn:
                raise FleetConfigError(
                    group,
                    f"routes[{index}].route_table_ids",
                    table,
                    f"is reached by role {earlier or '(own account)'} in an earlier route; a table is in one account",
                )
        routes.append(RouteSpec(route["destination"], tuple(route["route_table_ids"]), role_arn))
    return tuple(routes)


def _group_probe_auth(name: str, fields: Mapping[str, Any]) -> ProbeAuth:
    """A group's `settings.health_check_auth`, checked by the same rules as the template's parameters."""
    try:
        auth = probe_auth_from_fields(fields)
    except ConfigError as exc:
        field = f"settings.health_check_auth.{FIELD_OF.get(exc.variable, exc.variable)}"
        raise FleetConfigError(name, field, exc.value, exc.problem) from None
    return replace(auth, where=f"fleet group {name} settings.health_check_auth")


def _check_unique(base: Settings, groups: tuple[Settings, ...], reserved: tuple[Settings, ...] = ()) -> None:
    names: set[str] = {group.group for group in reserved}
    # One address, one set. An instance may be a node of several groups (active/active: two sets
    # with opposite priorities on one pair, each with its own state item and hysteresis), but an
    # address two sets both move would follow whichever decided last: that alone is ambiguous.
    owners: dict[tuple[str, ...], tuple[str, str]] = {
        key: (fixed.group, _pair_parameter(key, field, fixed.group))
        for fixed in (base, *reserved)
        for key, field, _shown in address_slots(fixed)
    }
    for group in groups:
        if group.group in {fixed.group for fixed in reserved}:
            raise FleetConfigError(
                group.group, "name", group.group, "is the pair's second address set (its template parameters)"
            )
        if group.group in names:
            raise FleetConfigError(
                group.group, "name", group.group, "is the name of an earlier group; names must be unique"
            )
        names.add(group.group)
        for field, values in (
            # A found node's instance is "" until it is resolved: its finder is what names it.
            ("instance_id", [node.instance_id for node in group.nodes if node.finder is None]),
            ("finder", [node.finder for node in group.nodes if node.finder is not None]),
            # Found nodes may share one URL template ({private_ip} tells their instances apart).
            (
                "health_check_url",
                [n.health_check_url for n in group.nodes if PRIVATE_IP_PLACEHOLDER not in n.health_check_url],
            ),
            ("priority", [node.priority for node in group.nodes]),
        ):
            seen: set[object] = set()
            for value in values:
                if value in seen:
                    index = _last_node_with(group, field, value)
                    if isinstance(value, NodeFinder):
                        field = "auto_scaling_group_name" if value.auto_scaling_group else "instance_tags"
                        shown: object = value.describe()
                        problem = (
                            "finds the same instances as an earlier node of this group; each needs its own "
                            "(e.g. one availability_zone each, or tags of its own)"
                        )
                    else:
                        shown, problem = (
                            "(hidden)" if field == "health_check_url" else value,
                            "is also another node's in this group; each needs its own",
                        )
                    raise FleetConfigError(group.group, f"nodes[{index}].{field}", shown, problem)
                seen.add(value)
        mine: set[tuple[str, ...]] = set()
        for key, field, shown in address_slots(group):
            if key in mine:
                continue  # within one set: the EC2 adapter's business (e.g. one route in two tables)
            mine.add(key)
            owner = owners.setdefault(key, (group.group, field))
            if owner[0] != group.group:
                raise FleetConfigError(
                    group.group,
                    field,
                    shown,
                    f"is also served by group {owner[0]!r} (its field '{owner[1]}'): "
                    "an address belongs to one address set; give each set its own",
                )


def _last_node_with(group: Settings, field: str, value: object) -> int:
    """The index of the later of two nodes that share `value` (the one an error names)."""
    values = [node.finder if field == "finder" else getattr(node, field) for node in group.nodes]
    return len(values) - 1 - values[::-1].index(value)


def _primary_ip(node: NodeConfig) -> tuple[str, ...]:
    """Where an EIP by instance lands on `node`: its instance's primary private IP. A found node's
    instance is not known before it is resolved, so its finder stands for it (two groups putting
    an EIP on one found node's primary IP collide as on one fixed instance's)."""
    finder = node.finder
    if finder is None:
        return ("primary ip", node.instance_id)
    return (
        "primary ip",
        "found",
        finder.auto_scaling_group or "",
        finder.availability_zone or "",
        *map("=".join, sorted(finder.tags)),
    )


def address_slots(settings: Settings) -> list[tuple[tuple[str, ...], str, str]]:
    """Every place the group's addresses occupy, as (key, the field that names it, its value):
    the EIP allocation, the private IP each EIP lands on (a node's primary private IP when the EIP
    goes by instance: it holds one EIP at a time), each secondary IP on each node's ENI, and each
    route in each table."""
    addresses = settings.address_set
    slots: list[tuple[tuple[str, ...], str, str]] = []
    for index, eip in enumerate(addresses.elastic_ips):
        slots.append((("eip", eip.allocation_id), f"elastic_ips[{index}].allocation_id", eip.allocation_id))
        for node in settings.nodes:
            private_ip = eip.private_ips.get(node.name)
            key: tuple[str, ...]
            if private_ip is not None:
                # A private IP is one ENI's (groups may sit in different VPCs with the same ranges).
                key = ("private ip", str(node.network_interface_id), private_ip)
                field, shown = f"elastic_ips[{index}].private_ips.{node.name}", private_ip
            else:
                key = _primary_ip(node)
                whose = node.instance_id if node.finder is None else f"the found node ({node.finder.describe()})"
                field, shown = f"elastic_ips[{index}].private_ips.{node.name}", f"(none: {whose}'s primary IP)"
            slots.append((key, field, shown))
    for index, secondary in enumerate(addresses.secondary_ips):
        # It moves between the nodes' ENIs: it occupies its address on each of them.
        for node in settings.nodes:
            key = ("private ip", str(node.network_interface_id), secondary.address)
            slots.append((key, f"secondary_private_ips[{index}]", secondary.address))
    for index, route in enumerate(addresses.routes):
        for table_index, table in enumerate(route.route_table_ids):
            slots.append(
                (
                    ("route", route.destination, table),
                    f"routes[{index}].route_table_ids[{table_index}]",
                    f"{route.destination} in {table}",
                )
            )
    return slots


def _pair_parameter(key: tuple[str, ...], field: str, group: str) -> str:
    """The template parameter behind one of the pair's addresses (what its operator set): the pair's
    own, or its second address set's (SecondElasticIpAllocationId)."""
    second = group == SECOND_SET_GROUP
    if key[0] == "eip":
        return "SecondElasticIpAllocationId" if second else "ElasticIpAllocationId"
    node = field.rpartition(".node")[2]
    if key[0] == "private ip":
        return f"Node{node}SecondPrivateIpAddress" if second else f"Node{node}PrivateIpAddress"
    if key[1] == "found":
        return f"Node{node}AutoScalingGroupName" if key[2] else f"Node{node}InstanceTags"
    return f"Node{node}InstanceId"
