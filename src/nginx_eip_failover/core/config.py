"""The controller's configuration: one typed object parsed from the environment at cold start.

The template fills every variable from a stack parameter. A bad value must fail before any AWS
call is made, with the variable's name and value, so an operator can fix the parameter that
caused it.

Size: over 500 lines: every variable the functions read is parsed here, by the same few checks, so
one file says what the template may pass; the features' own parts (probe_auth, node_finders,
role_arns) parse their variables in their modules.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal, TypeVar
from urllib.parse import urlsplit

from nginx_eip_failover.core.errors import ConfigError
from nginx_eip_failover.core.node_finders import PRIVATE_IP_PLACEHOLDER, NodeFinder, load_node_finder
from nginx_eip_failover.core.probe_auth import NO_PROBE_AUTH, ProbeAuth, load_probe_auth
from nginx_eip_failover.core.role_arns import EXTERNAL_ID, parse_role_arn

if TYPE_CHECKING:
    # Address sets are the fleet's (core.fleet_config builds them): not imported on a pair's cold path.
    from nginx_eip_failover.core.addresses import AddressSet

T = TypeVar("T")
DEFAULT_GROUP = "default"
# The pair's second address set (template parameter SecondElasticIpAllocationId): active/active.
SECOND_SET_GROUP = "second"
# OBSERVABILITY_PROFILE (template parameter ObservabilityProfile): "full" publishes the continuous
# metrics the dashboard shows (MonitorCycles, NodeUp and ProbeLatency per node), "lean" none of them.
ObservabilityProfile = Literal["lean", "full"]
FleetFoundNodes = Literal["tags", "tags-and-auto-scaling-groups"]
FLEET_FOUND_NODES: tuple[FleetFoundNodes, ...] = ("tags", "tags-and-auto-scaling-groups")
OBSERVABILITY_PROFILES: tuple[ObservabilityProfile, ...] = ("lean", "full")

_ALLOCATION_ID = re.compile(r"^eipalloc-[0-9a-f]{8,17}$")
_INSTANCE_ID = re.compile(r"^i-[0-9a-f]{8,17}$")
_NETWORK_INTERFACE_ID = re.compile(r"^eni-[0-9a-f]{8,17}$")
# node1 .. nodeN: the template has two, the core does not care how many.
_MAX_NODES = 16
# A control request probes once, writes, may move the EIP (verified for up to 10 s) and answers
# with the status, all inside the ControlFunction's 30 s: a probe gets a third of that at most.
MAX_PROBE_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class NodeConfig:
    name: str
    # A found node's (`finder`) is the instance resolved this cycle, "" while none is in service.
    instance_id: str
    health_check_url: str
    priority: int
    # The ENI where the group's addresses land on this node (secondary IPs, routes, EIPs by
    # private IP); None: the instance's primary interface.
    network_interface_id: str | None = None
    # None: a fixed node (instance_id is the template's). Else the node is found each cycle.
    finder: NodeFinder | None = None
    # A found node's URL as configured (with PRIVATE_IP_PLACEHOLDER, if any): health_check_url is
    # it filled in for the resolved instance.
    url_template: str | None = None


@dataclass(frozen=True)
class Settings:
    allocation_id: str
    nodes: tuple[NodeConfig, ...]
    interval_seconds: float
    timeout_seconds: float
    fall_threshold: int
    rise_threshold: int
    preempt: bool
    preempt_delay_seconds: float
    min_seconds_between_moves: float
    flap_window_seconds: float
    flap_suppress_threshold: int
    table_name: str
    topic_arn: str | None
    ca_bundle: str | None
    history_limit: int = 20  # state.HISTORY_LIMIT (not imported: config stays off state's import cost)
    # How long another invocation's committed move may stay unconfirmed before it counts as
    # crashed and is reconciled from the EIP's real association (MOVE_TIMEOUT_SECONDS; not a
    # template parameter: the default suits Lambda, tests and the lab shorten it).
    move_timeout_seconds: float = 30.0
    # Probes of several observers (AZs) will be combined with a quorum; one observer today.
    quorum: int = 1
    # The group's name in a fleet; the stack's own pair (its template parameters) is "default".
    group: str = DEFAULT_GROUP
    # Every address the group serves; None: the one EIP `allocation_id`, by InstanceId.
    addresses: AddressSet | None = None

    @property
    def address_set(self) -> AddressSet:
        from nginx_eip_failover.core.addresses import AddressSet, ElasticIpSpec

        return self.addresses or AddressSet((ElasticIpSpec(self.allocation_id),))

    # The decision log's table (DECISION_LOG_TABLE_NAME; None: no decision log) and how long its
    # records are kept (DECISION_LOG_RETENTION_DAYS).
    decision_log_table: str | None = None
    decision_log_retention_days: float = 14.0
    # The table of the monitor lease, through which scheduled invocations hand probing over
    # (MONITOR_LEASE_TABLE_NAME; the template sets it). Without it, every scheduled invocation
    # probes until its own deadline: no pause either, but it bills the whole timeout.
    lease_table_name: str | None = None
    # What the stack pays for in CloudWatch (see ObservabilityProfile above); the same default as the template's.
    observability: ObservabilityProfile = "lean"
    # The IAM role (in the account that owns a shared VPC's route tables) the functions may assume to
    # move routes there (ROUTE_TABLE_ROLE_ARN, template RouteTableRoleArn), and the ExternalId its
    # trust policy requires (ROUTE_TABLE_ROLE_EXTERNAL_ID). A fleet route's role_arn must be this role.
    route_table_role_arn: str | None = None
    route_table_role_external_id: str | None = None
    # How fleet documents may find a node instead of an instance_id (FLEET_FOUND_NODES, template
    # FleetFoundNodes): "tags" (instance_tags: ec2:DescribeInstances, which every role has) or
    # "tags-and-auto-scaling-groups" (also auto_scaling_group_name: the roles may then describe groups).
    fleet_found_nodes: FleetFoundNodes = "tags"

    # ---- observers (core/quorum): who probes from where, and how they share verdicts.
    # This function's observer name (OBSERVER_NAME) and every observer of the EIP (OBSERVERS, this one
    # included); one observer, "local", is today's shape and shares nothing.
    observer: str = "local"
    observers: tuple[str, ...] = ("local",)
    # Each observer rewrites its report at least this often, so the others can tell it is alive
    # (OBSERVER_HEARTBEAT_SECONDS); a verdict change is written at once.
    observer_heartbeat_seconds: float = 10.0
    # How probes authenticate (HEALTH_CHECK_AUTH_*, core/probe_auth): every node of every group.
    probe_auth: ProbeAuth = NO_PROBE_AUTH

    @property
    def shares_verdicts(self) -> bool:
        return len(self.observers) > 1

    def node(self, name: str) -> NodeConfig:
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(name)

    def node_by_instance(self, instance_id: str | None) -> NodeConfig | None:
        for node in self.nodes:
            if node.instance_id == instance_id:
                return node
        return None

    @property
    def node_names(self) -> tuple[str, ...]:
        return tuple(node.name for node in self.nodes)

    def describe_association(self, association: str | None) -> str:
        """For people: "node1", "unassociated" or "foreign instance i-..."."""
        if association is None:
            return "unassociated"
        node = self.node_by_instance(association)
        return node.name if node else f"foreign instance {association}"

    def source_of(self, association: str | None) -> str | None:
        """Where a move starts, as stored in its intent: a node name, "foreign:<instance>", or None
        when the EIP is unassociated. The one encoding, whoever starts the move."""
        if association is None:
            return None
        node = self.node_by_instance(association)
        return node.name if node else f"foreign:{association}"


class _SecretValueError(ValueError):
    """A problem whose message must show the value with its secret part masked."""

    def __init__(self, problem: str, shown: str) -> None:
        super().__init__(problem)
        self.shown = shown


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name)
    if value is None or value.strip() == "":
        raise ConfigError(name, value, "is required and must not be empty")
    return value.strip()


def _parse(env: Mapping[str, str], name: str, default: str | None, convert: Callable[[str], T]) -> T:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        if default is None:
            raise ConfigError(name, raw, "is required and must not be empty")
        raw = default
    try:
        return convert(raw.strip())
    except _SecretValueError as exc:
        raise ConfigError(name, exc.shown, str(exc)) from None
    except ValueError as exc:
        raise ConfigError(name, raw, str(exc)) from None


def _number(low: float, high: float, *, low_inclusive: bool = True) -> Callable[[str], float]:
    def convert(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise ValueError("must be a number") from None
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        too_low = value < low if low_inclusive else value <= low
        if too_low or value > high:
            bound = "[" if low_inclusive else "("
            raise ValueError(f"must be in {bound}{low:g}, {high:g}]")
        return value

    return convert


def _integer(low: int, high: int) -> Callable[[str], int]:
    def convert(text: str) -> int:
        if not re.fullmatch(r"[+-]?\d+", text):
            raise ValueError("must be a whole number")
        value = int(text)
        if not low <= value <= high:
            raise ValueError(f"must be in [{low}, {high}]")
        return value

    return convert


def _boolean(text: str) -> bool:
    lowered = text.lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    raise ValueError("must be 'true' or 'false'")


def _observability(text: str) -> ObservabilityProfile:
    for profile in OBSERVABILITY_PROFILES:
        if text == profile:
            return profile
    raise ValueError(f"must be one of {', '.join(OBSERVABILITY_PROFILES)}")


def _fleet_found_nodes(text: str) -> FleetFoundNodes:
    for value in FLEET_FOUND_NODES:
        if text == value:
            return value
    raise ValueError(f"must be one of {', '.join(FLEET_FOUND_NODES)}")


def _pattern(pattern: re.Pattern[str], what: str) -> Callable[[str], str]:
    def convert(text: str) -> str:
        if not pattern.fullmatch(text):
            raise ValueError(f"must be {what}")
        return text

    return convert


def _health_check_url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https"):
        raise ValueError("must be an http:// or https:// URL")
    if not parts.hostname:
        raise ValueError("must name a host")
    try:
        _ = parts.port
    except ValueError:
        raise ValueError("has an invalid port") from None
    if parts.username or parts.password:
        # Credentials in a URL end up in logs and in the console: refuse them, and do not echo them.
        masked = parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]).geturl()
        raise _SecretValueError("must not contain credentials", masked)
    return text


def _load_node(env: Mapping[str, str], index: int) -> NodeConfig:
    prefix = f"NODE{index}_"
    finder = load_node_finder(env, prefix)
    instance_id = (
        ""
        if finder is not None
        else _parse(env, f"{prefix}INSTANCE_ID", None, _pattern(_INSTANCE_ID, "an instance ID (i-...)"))
    )
    url = _parse(env, f"{prefix}HEALTH_CHECK_URL", None, _health_check_url)
    if finder is None and PRIVATE_IP_PLACEHOLDER in url:
        raise ConfigError(
            f"{prefix}HEALTH_CHECK_URL",
            url,
            f"names {PRIVATE_IP_PLACEHOLDER}, which only a found node (an Auto Scaling group or tags) fills in",
        )
    return NodeConfig(
        name=f"node{index}",
        instance_id=instance_id,
        health_check_url=url,
        priority=_parse(env, f"{prefix}PRIORITY", None, _integer(0, 255)),
        network_interface_id=_optional(
            env,
            f"{prefix}NETWORK_INTERFACE_ID",
            _pattern(_NETWORK_INTERFACE_ID, "a network interface ID (eni-...)"),
        ),
        finder=finder,
        url_template=url if finder is not None else None,
    )


def _load_nodes(env: Mapping[str, str]) -> tuple[NodeConfig, ...]:
    nodes: list[NodeConfig] = []
    for index in range(1, _MAX_NODES + 1):
        prefix = f"NODE{index}_"
        if index > 2 and not any(key.startswith(prefix) for key in env):
            break
        nodes.append(_load_node(env, index))
    fixed = [node for node in nodes if node.finder is None]
    _reject_duplicates(fixed, "INSTANCE_ID", lambda node: node.instance_id, "instance")
    # Found nodes may share one URL template ({private_ip} tells their instances apart).
    by_url = [node for node in nodes if PRIVATE_IP_PLACEHOLDER not in node.health_check_url]
    _reject_duplicates(by_url, "HEALTH_CHECK_URL", lambda node: node.health_check_url, "health check URL")
    _reject_duplicates(nodes, "PRIORITY", lambda node: str(node.priority), "priority")
    return tuple(nodes)


def _optional(env: Mapping[str, str], name: str, convert: Callable[[str], T]) -> T | None:
    """An optional variable: absent or empty is None; otherwise it must convert."""
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return None
    return _parse(env, name, None, convert)


def _ipv4(text: str) -> str:
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        raise ValueError("must be an IPv4 address such as 10.0.1.20") from None


def _pair_by_network_interface(
    env: Mapping[str, str], allocation_id: str, nodes: tuple[NodeConfig, ...]
) -> AddressSet | None:
    """The stack's own pair by ENI + private IP (NODEn_NETWORK_INTERFACE_ID, NODEn_PRIVATE_IP_ADDRESS):
    all of them or none, so the EIP never lands by instance on one node and by ENI on the other."""
    private_ips = {node.name: _optional(env, f"{node.name.upper()}_PRIVATE_IP_ADDRESS", _ipv4) for node in nodes}
    given = [node.name for node in nodes if node.network_interface_id or private_ips[node.name]]
    if not given:
        return None
    for node in nodes:
        for suffix, value in (
            ("NETWORK_INTERFACE_ID", node.network_interface_id),
            ("PRIVATE_IP_ADDRESS", private_ips[node.name]),
        ):
            if value is None:
                variable = f"{node.name.upper()}_{suffix}"
                raise ConfigError(
                    variable,
                    env.get(variable),
                    f"is required when {given[0].upper()}'s network interface or private IP is set "
                    "(the pair goes by ENI + private IP on every node, or by instance on none)",
                )
    _reject_duplicates(
        list(nodes), "NETWORK_INTERFACE_ID", lambda node: str(node.network_interface_id), "network interface"
    )
    from nginx_eip_failover.core.addresses import AddressSet, ElasticIpSpec  # the ENI form only

    ips = {name: ip for name, ip in private_ips.items() if ip is not None}
    return AddressSet((ElasticIpSpec(allocation_id, ips),))


def _route_table_role(env: Mapping[str, str]) -> tuple[str | None, str | None]:
    """ROUTE_TABLE_ROLE_ARN and ROUTE_TABLE_ROLE_EXTERNAL_ID: both optional, the ID only with the role."""
    role_arn = _optional(env, "ROUTE_TABLE_ROLE_ARN", parse_role_arn)
    external_id = _optional(
        env, "ROUTE_TABLE_ROLE_EXTERNAL_ID", _pattern(EXTERNAL_ID, "2-1224 of letters, digits and +=,.@:/-")
    )
    if external_id is not None and role_arn is None:
        raise ConfigError(
            "ROUTE_TABLE_ROLE_EXTERNAL_ID", external_id, "is set without ROUTE_TABLE_ROLE_ARN: no role to assume"
        )
    return role_arn, external_id


def _reject_duplicates(nodes: list[NodeConfig], suffix: str, key: Callable[[NodeConfig], str], what: str) -> None:
    seen: dict[str, str] = {}
    for node in nodes:
        value = key(node)
        if value in seen:
            variable = f"{node.name.upper()}_{suffix}"
            raise ConfigError(
                variable,
                value,
                f"is the same {what} as {seen[value].upper()}_{suffix}; each node needs its own",
            )
        seen[value] = node.name


_OBSERVER_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
# The template deploys 1 to 3 observers; an odd count tolerates the most losses per observer.
MAX_OBSERVERS = 5


def _load_observers(env: Mapping[str, str], lease_table_name: str | None) -> tuple[str, tuple[str, ...], float]:
    """OBSERVER_NAME, OBSERVERS and OBSERVER_HEARTBEAT_SECONDS, checked against each other."""
    name = _parse(env, "OBSERVER_NAME", "local", _pattern(_OBSERVER_NAME, "1-32 of a-z, 0-9 and '-'"))
    raw = env.get("OBSERVERS", "").strip()
    observers = tuple(part.strip() for part in raw.split(",")) if raw else (name,)
    for observer in observers:
        if not _OBSERVER_NAME.fullmatch(observer):
            raise ConfigError("OBSERVERS", raw, f"names {observer!r}: each must be 1-32 of a-z, 0-9 and '-'")
    if len(set(observers)) != len(observers):
        raise ConfigError("OBSERVERS", raw, "names an observer twice")
    if not 1 <= len(observers) <= MAX_OBSERVERS:
        raise ConfigError("OBSERVERS", raw, f"must name 1 to {MAX_OBSERVERS} observers")
    if name not in observers:
        raise ConfigError("OBSERVERS", raw, f"must include this function's OBSERVER_NAME ({name})")
    if len(observers) > 1 and lease_table_name is None:
        raise ConfigError(
            "MONITOR_LEASE_TABLE_NAME", env.get("MONITOR_LEASE_TABLE_NAME"), "is required when OBSERVERS names several"
        )
    heartbeat = _parse(env, "OBSERVER_HEARTBEAT_SECONDS", "10", _number(1.0, 300.0))
    return name, observers, heartbeat


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Parse and validate the whole configuration; raises ConfigError naming variable and value."""
    env = os.environ if env is None else env
    allocation_id = _parse(
        env, "EIP_ALLOCATION_ID", None, _pattern(_ALLOCATION_ID, "an Elastic IP allocation ID (eipalloc-...)")
    )
    nodes = _load_nodes(env)
    addresses = _pair_by_network_interface(env, allocation_id, nodes)
    interval = _parse(env, "HEALTH_CHECK_INTERVAL_SECONDS", "1", _number(0.0, 60.0, low_inclusive=False))
    timeout = _parse(
        env, "HEALTH_CHECK_TIMEOUT_SECONDS", "1", _number(0.0, MAX_PROBE_TIMEOUT_SECONDS, low_inclusive=False)
    )
    if timeout > interval:
        # A probe that outlasts its interval stretches every cycle: the interval would be a lie,
        # and detection would take FallThreshold timeouts instead of FallThreshold intervals.
        raise ConfigError(
            "HEALTH_CHECK_TIMEOUT_SECONDS",
            env.get("HEALTH_CHECK_TIMEOUT_SECONDS"),
            f"must not exceed HEALTH_CHECK_INTERVAL_SECONDS ({interval:g}): a probe must fit inside its interval",
        )
    topic = env.get("NOTIFICATION_TOPIC_ARN", "").strip() or None
    lease_table_name = env.get("MONITOR_LEASE_TABLE_NAME", "").strip() or None
    observer, observers, heartbeat = _load_observers(env, lease_table_name)
    route_table_role_arn, route_table_role_external_id = _route_table_role(env)
    ca_bundle = env.get("HEALTH_CHECK_CA_BUNDLE", "").strip() or None
    if ca_bundle is not None and not os.path.isfile(ca_bundle):  # noqa: PTH113 - cheap stat, clear error
        raise ConfigError("HEALTH_CHECK_CA_BUNDLE", ca_bundle, "is not a readable file")
    return Settings(
        allocation_id=allocation_id,
        nodes=nodes,
        interval_seconds=interval,
        timeout_seconds=timeout,
        fall_threshold=_parse(env, "FALL_THRESHOLD", "3", _integer(1, 100)),
        rise_threshold=_parse(env, "RISE_THRESHOLD", "2", _integer(1, 100)),
        preempt=_parse(env, "PREEMPT", "true", _boolean),
        preempt_delay_seconds=_parse(env, "PREEMPT_DELAY_SECONDS", "60", _number(0.0, 86400.0)),
        # 0 by default: a non-zero value delays failbacks beyond PreemptDelaySeconds (opt-in damping).
        min_seconds_between_moves=_parse(env, "MIN_SECONDS_BETWEEN_MOVES", "0", _number(0.0, 86400.0)),
        flap_window_seconds=_parse(env, "FLAP_WINDOW_SECONDS", "300", _number(0.0, 86400.0)),
        flap_suppress_threshold=_parse(env, "FLAP_SUPPRESS_THRESHOLD", "3", _integer(1, 100)),
        table_name=_required(env, "STATE_TABLE_NAME"),
        topic_arn=topic,
        ca_bundle=ca_bundle,
        move_timeout_seconds=_parse(env, "MOVE_TIMEOUT_SECONDS", "30", _number(1.0, 3600.0)),
        decision_log_table=env.get("DECISION_LOG_TABLE_NAME", "").strip() or None,
        decision_log_retention_days=_parse(env, "DECISION_LOG_RETENTION_DAYS", "14", _number(1.0, 3650.0)),
        lease_table_name=lease_table_name,
        observability=_parse(env, "OBSERVABILITY_PROFILE", "lean", _observability),
        addresses=addresses,
        observer=observer,
        observers=observers,
        observer_heartbeat_seconds=heartbeat,
        route_table_role_arn=route_table_role_arn,
        route_table_role_external_id=route_table_role_external_id,
        probe_auth=load_probe_auth(env),
        fleet_found_nodes=_parse(env, "FLEET_FOUND_NODES", "tags", _fleet_found_nodes),
    )


def load_second_set(base: Settings, env: Mapping[str, str] | None = None) -> Settings | None:
    """The pair's second address set, or None (SECOND_EIP_ALLOCATION_ID empty): active/active on the
    same two instances, the priorities reversed, its own EIP on its own private IP of each node's ENI
    (NODEn_SECOND_PRIVATE_IP_ADDRESS), its own state item and counters, the pair's hysteresis
    settings. Raises ConfigError naming the variable and the value."""
    env = os.environ if env is None else env
    allocation_id = _optional(
        env, "SECOND_EIP_ALLOCATION_ID", _pattern(_ALLOCATION_ID, "an Elastic IP allocation ID (eipalloc-...)")
    )
    variables = [f"{node.name.upper()}_SECOND_PRIVATE_IP_ADDRESS" for node in base.nodes]
    if allocation_id is None:
        for variable in variables:
            if env.get(variable, "").strip():
                raise ConfigError(variable, env[variable], "is set but SECOND_EIP_ALLOCATION_ID is empty")
        return None
    if allocation_id == base.allocation_id:
        raise ConfigError(
            "SECOND_EIP_ALLOCATION_ID", allocation_id, "is EIP_ALLOCATION_ID: the second set needs an EIP of its own"
        )
    if len(base.nodes) != 2:
        raise ConfigError("SECOND_EIP_ALLOCATION_ID", allocation_id, "needs a pair: exactly two nodes")
    private_ips: dict[str, str] = {}
    for node, variable in zip(base.nodes, variables, strict=True):
        if node.network_interface_id is None:
            name = f"{node.name.upper()}_NETWORK_INTERFACE_ID"
            raise ConfigError(
                name,
                env.get(name),
                "is required when SECOND_EIP_ALLOCATION_ID is set (the second EIP lands on a private IP of the ENI: "
                "a node's primary private IP holds one EIP at a time)",
            )
        address = _optional(env, variable, _ipv4)
        if address is None:
            raise ConfigError(
                variable, env.get(variable), "is required when SECOND_EIP_ALLOCATION_ID is set (where it lands)"
            )
        if base.addresses is not None and address == base.addresses.elastic_ips[0].private_ips.get(node.name):
            raise ConfigError(
                variable,
                address,
                f"is {node.name.upper()}_PRIVATE_IP_ADDRESS, where the pair's EIP lands; give the second EIP its own",
            )
        private_ips[node.name] = address
    from nginx_eip_failover.core.addresses import AddressSet, ElasticIpSpec  # active/active only

    reversed_priorities = tuple(
        replace(node, priority=other.priority) for node, other in zip(base.nodes, reversed(base.nodes), strict=True)
    )
    return replace(
        base,
        group=SECOND_SET_GROUP,
        allocation_id=allocation_id,
        nodes=reversed_priorities,
        addresses=AddressSet((ElasticIpSpec(allocation_id, private_ips),)),
    )
