"""The construct's props: typed, grouped as template.yaml's parameter groups, with the template's
defaults. `template_values` turns them into the template's parameter values (the strings
CloudFormation would pass), checked as CloudFormation checks them (`parameters.SPECS`).

A value may be a CDK token (e.g. a CfnParameter's value_as_string) wherever it flows into the
functions unchanged: it is passed through as is and checked at deploy time instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import parameters
from .parameters import BY_NAME, PropError

# Each prop below: bool | str, int | str ... where `str` is a token (CDK encodes every token as a str
# or a number; an `int | float` token passes as a number).


@dataclass(frozen=True)
class Node:
    """One NGINX Plus node (template parameters Node<N>InstanceId, ...HealthCheckUrl, ...Priority,
    and optionally ...NetworkInterfaceId + ...PrivateIpAddress: the pair by ENI + private IP; with the
    pair by ENI, ...SecondPrivateIpAddress: the address on the ENI that takes the second EIP)."""

    instance_id: str
    health_check_url: str
    priority: int | None = None  # None: the template's default, 101 for node 1 and 100 for node 2
    network_interface_id: str = ""
    private_ip_address: str = ""
    second_private_ip_address: str = ""  # active/active (docs/active-active.md)
    # Found nodes (docs/found-nodes.md): the node is its group's in-service instance (in that AZ if set)
    # each cycle; leave instance_id empty. health_check_url may contain {private_ip}.
    auto_scaling_group_name: str = ""
    availability_zone: str = ""
    # Or found by tags: "Key=Value[,Key=Value]" (at most 5), a running instance with all of them; it must
    # also carry the stack's nginx-eip-failover=<stack name> tag. No hook and no status-check alarm.
    instance_tags: str = ""


@dataclass(frozen=True)
class HealthChecks:
    interval_seconds: float | str = 1
    timeout_seconds: float | str = 1
    fall_threshold: int = 3
    rise_threshold: int = 2
    ca_bundle: str = ""


@dataclass(frozen=True)
class HealthAuth:
    """Authenticated health checks (docs/health-auth.md): a token or basic auth from a Secrets Manager
    secret or SSM SecureString, an optional client certificate for mutual TLS."""

    kind: str = "none"  # none | header | basic
    secret_arn: str = ""
    header_name: str = "Authorization"
    failure_is_down: bool | str = False
    client_cert_secret_arn: str = ""
    fleet_secrets: str = "none"  # none | tagged: fleet groups' own secrets, tagged for the stack


@dataclass(frozen=True)
class FailoverPolicy:
    preempt: bool | str = True
    preempt_delay_seconds: int = 60
    min_seconds_between_moves: int = 0
    flap_window_seconds: int = 300
    flap_suppress_threshold: int = 3


@dataclass(frozen=True)
class Network:
    """Placement of the functions in a VPC (optional) and its interface/gateway endpoints."""

    subnet_ids: Sequence[str] = ()
    security_group_ids: Sequence[str] = ()
    create_vpc_endpoints: bool = False
    vpc_id: str = ""
    route_table_ids: Sequence[str] = ()


@dataclass(frozen=True)
class Observers:
    """Further observers in other Availability Zones (docs/observers.md); empty: MonitorFunction alone."""

    observer2_subnet_id: str = ""
    observer3_subnet_id: str = ""
    heartbeat_seconds: int = 10


@dataclass(frozen=True)
class FailoverProps:
    """Everything NginxEipFailover takes; each field mirrors template.yaml parameters (parameters.SPECS)."""

    nodes: tuple[Node, Node]
    elastic_ip_allocation_id: str
    # Active/active: a second EIP kept on node 2 while it is up (needs the pair by ENI and both nodes'
    # second_private_ip_address).
    second_elastic_ip_allocation_id: str = ""
    health: HealthChecks = field(default_factory=HealthChecks)
    failover: FailoverPolicy = field(default_factory=FailoverPolicy)
    network: Network = field(default_factory=Network)
    observers: Observers = field(default_factory=Observers)
    # Routes in another account (docs/cross-account-routes.md): the role a fleet route's role_arn names,
    # and the sts:ExternalId its trust policy requires.
    route_table_role_arn: str = ""
    route_table_role_external_id: str = ""
    health_auth: HealthAuth = field(default_factory=HealthAuth)
    profile: str = "lean"
    notification_email: str = ""
    log_level: str = "INFO"
    log_retention_in_days: int = 30
    decision_log_retention_days: int = 14
    enable_tracing: bool = False
    monitor_reserved_concurrency: int | None = None  # None or 0: none reserved
    preflight_interval_seconds: int = 900
    # Found nodes: how long Auto Scaling holds a terminating instance for LifecycleFunction to drain it.
    lifecycle_hook_timeout_seconds: int = 120
    # How fleet documents may find a node instead of an instance_id: "tags" (instance_tags) or
    # "tags-and-auto-scaling-groups" (also auto_scaling_group_name; grants DescribeAutoScalingGroups).
    fleet_found_nodes: str = "tags"


def _number_text(value: float) -> str:
    """A number as the template's parameter text: 1 -> "1", 0.5 -> "0.5" (never "1e-05")."""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.6f}".rstrip("0").rstrip(".")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, int | float):
        return _number_text(value)
    if isinstance(value, str):
        return value
    if isinstance(value, Sequence):
        return ",".join(str(item) for item in value)
    raise PropError(f"{value!r} is not a value a template parameter takes")


def _lookup(props: FailoverProps, path: str) -> Any:
    value: Any = props
    for part in path.split("."):
        name, _, index = part.partition("[")
        value = getattr(value, name)
        if index:
            value = value[int(index.rstrip("]"))]
    return value


def template_values(props: FailoverProps, as_token: Callable[[Any], Any | None]) -> dict[str, Any]:
    """Each template parameter's value for these props, checked; `as_token(value)` returns a token's
    string form (passed through unchecked) or None for a plain value."""
    if len(props.nodes) != 2:
        raise PropError(f"nodes has {len(props.nodes)} entries: the pair is exactly two nodes")
    values: dict[str, Any] = {}
    for spec in parameters.SPECS:
        raw = _lookup(props, spec.prop)
        if spec.name in ("Node1Priority", "Node2Priority") and raw is None:
            raw = spec.default
        token = as_token(raw)
        if token is not None:
            values[spec.name] = token
            continue
        if spec.type == "CommaDelimitedList":
            items = [as_token(item) or _text(item) for item in raw]
            values[spec.name] = items
            continue
        text = _text(raw)
        spec.check(text)
        values[spec.name] = text
    _check_rules(values)
    return values


def _given(value: Any) -> bool:
    return bool(value) if isinstance(value, list | str) else value is not None


_SECOND_PRIVATE_IPS = ("Node1SecondPrivateIpAddress", "Node2SecondPrivateIpAddress")


def _check_rules(values: dict[str, Any]) -> None:
    """template.yaml's Rules, on plain values (a token is checked by CloudFormation at deploy time)."""
    for n, message in zip((1, 2), parameters.EACH_NODE_IS_NAMED, strict=True):
        if not any(_given(values[f"Node{n}{kind}"]) for kind in ("InstanceId", "AutoScalingGroupName", "InstanceTags")):
            raise PropError(
                f"{message} (nodes[{n - 1}].instance_id={values[f'Node{n}InstanceId']!r}, "
                f"nodes[{n - 1}].auto_scaling_group_name={values[f'Node{n}AutoScalingGroupName']!r}, "
                f"nodes[{n - 1}].instance_tags={values[f'Node{n}InstanceTags']!r})"
            )
        if _given(values[f"Node{n}InstanceTags"]):
            beside = zip(
                ("AutoScalingGroupName", "InstanceId", "NetworkInterfaceId"),
                ("auto_scaling_group_name", "instance_id", "network_interface_id"),
                parameters.found_by_tags_alone(n),
                strict=True,
            )
            for kind, prop, problem in beside:
                if _given(values[f"Node{n}{kind}"]):
                    raise PropError(
                        f"{problem} (nodes[{n - 1}].instance_tags={values[f'Node{n}InstanceTags']!r}, "
                        f"nodes[{n - 1}].{prop}={values[f'Node{n}{kind}']!r})"
                    )
    eni = [values[f"Node{n}{kind}"] for n in (1, 2) for kind in ("NetworkInterfaceId", "PrivateIpAddress")]
    if any(_given(v) for v in eni) and not all(_given(v) for v in eni):
        given = ", ".join(
            f"nodes[{n - 1}].{prop}={values[f'Node{n}{kind}']!r}"
            for n in (1, 2)
            for kind, prop in (
                ("NetworkInterfaceId", "network_interface_id"),
                ("PrivateIpAddress", "private_ip_address"),
            )
        )
        raise PropError(f"{parameters.PAIR_BY_NETWORK_INTERFACE_NEEDS_ALL_FOUR} ({given})")
    second = [values[name] for name in ("SecondElasticIpAllocationId", *_SECOND_PRIVATE_IPS)]
    if any(_given(v) for v in second) and not all(_given(v) for v in [*second, values["Node1NetworkInterfaceId"]]):
        given = ", ".join(
            f"{BY_NAME[name].prop}={values[name]!r}"
            for name in ("SecondElasticIpAllocationId", *_SECOND_PRIVATE_IPS, "Node1NetworkInterfaceId")
        )
        raise PropError(f"{parameters.SECOND_ADDRESS_SET_NEEDS_THE_PAIR_BY_NETWORK_INTERFACE} ({given})")
    groups = values["SecurityGroupIds"]
    if (_given(values["Observer2SubnetId"]) or _given(values["Observer3SubnetId"])) and not _given(groups):
        raise PropError(
            f"{parameters.OBSERVER_PLACEMENT_NEEDS_SECURITY_GROUPS} (observers.observer2_subnet_id="
            f"{values['Observer2SubnetId']!r}, observers.observer3_subnet_id={values['Observer3SubnetId']!r}, "
            "network.security_group_ids=())"
        )
    if _given(values["SubnetIds"]) and not _given(groups):
        raise PropError(
            f"{parameters.VPC_PLACEMENT_NEEDS_SECURITY_GROUPS} (network.subnet_ids={values['SubnetIds']!r}, "
            "network.security_group_ids=())"
        )
    if _given(values["RouteTableRoleExternalId"]) and not _given(values["RouteTableRoleArn"]):
        raise PropError(
            f"{parameters.ROUTE_TABLE_ROLE_EXTERNAL_ID_NEEDS_THE_ROLE} (route_table_role_external_id="
            f"{values['RouteTableRoleExternalId']!r}, route_table_role_arn={values['RouteTableRoleArn']!r})"
        )
    kind, secret = values["HealthCheckAuthKind"], values["HealthCheckAuthSecretArn"]
    if kind != "none" and not _given(secret):
        raise PropError(f"{parameters.HEALTH_CHECK_AUTH_NEEDS_ITS_ARN} (health_auth.kind={kind!r})")
    if kind == "none" and _given(secret):
        raise PropError(f"{parameters.HEALTH_CHECK_AUTH_ARN_NEEDS_ITS_KIND} (health_auth.secret_arn={secret!r})")
    if values["CreateVpcEndpoints"] == "true":
        for name, message in (
            ("SubnetIds", parameters.VPC_ENDPOINTS_NEED_SUBNETS),
            ("VpcId", parameters.VPC_ENDPOINTS_NEED_VPC),
            ("RouteTableIds", parameters.VPC_ENDPOINTS_NEED_ROUTE_TABLES),
        ):
            if not _given(values[name]):
                raise PropError(f"{message} (network.create_vpc_endpoints=True, {BY_NAME[name].prop}={values[name]!r})")


_BOOLEAN = {"Preempt", "CreateVpcEndpoints", "EnableTracing", "HealthCheckAuthFailureIsDown"}


def _typed(name: str, text: str) -> Any:
    """A template parameter's text as the prop's type (the inverse of `_text`)."""
    spec = BY_NAME[name]
    if spec.type == "CommaDelimitedList":
        return tuple(item.strip() for item in text.split(",")) if text else ()
    if name in _BOOLEAN:
        return text == "true"
    if name == "MonitorReservedConcurrency":
        return int(text) if text else None
    if spec.type == "Number" or name in ("HealthCheckIntervalSeconds", "HealthCheckTimeoutSeconds"):
        try:
            number = float(text)
        except ValueError:
            return text  # checked (and refused) by template_values, with the prop's name
        return int(number) if number.is_integer() and spec.type == "Number" else number
    return text


def props_from_template_parameters(values: dict[str, Any]) -> FailoverProps:
    """The props for these template.yaml parameter values (others take the template's defaults): the
    same inputs as `sam deploy --parameter-overrides`. A value that is a token is passed as is."""
    unknown = sorted(set(values) - set(BY_NAME))
    if unknown:
        raise PropError(f"not template.yaml parameters: {', '.join(unknown)}")
    fields: dict[str, dict[str, Any]] = {
        "": {},
        "health": {},
        "failover": {},
        "network": {},
        "observers": {},
        "health_auth": {},
    }
    node_fields: list[dict[str, Any]] = [{}, {}]
    for name, raw in values.items():
        path = BY_NAME[name].prop
        value = _typed(name, raw) if isinstance(raw, str) and "${Token[" not in raw else raw
        if path.startswith("nodes["):
            node_fields[int(path[6])][path.split(".", 1)[1]] = value
        elif "." in path:
            group, prop = path.split(".", 1)
            fields[group][prop] = value
        else:
            fields[""][path] = value
    for index, node in enumerate(node_fields):
        if node.get("auto_scaling_group_name") or node.get("instance_tags"):
            node.setdefault("instance_id", "")  # a found node (EachNodeIsNamed)
        for required in ("instance_id", "health_check_url"):
            if required not in node:
                raise PropError(
                    f"nodes[{index}].{required} is required (template parameter {_name_of(index, required)})"
                )
    if "elastic_ip_allocation_id" not in fields[""]:
        raise PropError("elastic_ip_allocation_id is required (template parameter ElasticIpAllocationId)")
    return FailoverProps(
        nodes=(Node(**node_fields[0]), Node(**node_fields[1])),
        health=HealthChecks(**fields["health"]),
        failover=FailoverPolicy(**fields["failover"]),
        network=Network(**fields["network"]),
        observers=Observers(**fields["observers"]),
        health_auth=HealthAuth(**fields["health_auth"]),
        **fields[""],
    )


def _name_of(index: int, prop: str) -> str:
    return next(spec.name for spec in parameters.SPECS if spec.prop == f"nodes[{index}].{prop}")
