"""How a found node is named (NODEn_AUTO_SCALING_GROUP_NAME, NODEn_AVAILABILITY_ZONE,
NODEn_INSTANCE_TAGS): parsed from the environment with errors naming the variable and value.
The instances are chosen in core/found_nodes."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from nginx_eip_failover.core.errors import ConfigError

T = TypeVar("T")


@dataclass(frozen=True)
class NodeFinder:
    """How a found node's instance is looked up each cycle (core/found_nodes), instead of a fixed
    InstanceId: the in-service instances of an Auto Scaling group (in one AZ), or the running
    instances with every one of `tags`."""

    auto_scaling_group: str | None = None
    availability_zone: str | None = None
    tags: tuple[tuple[str, str], ...] = ()

    @property
    def wanted(self) -> str:
        """What a candidate is, for a node that has none: its group's in-service instance, or a running
        instance with the tags."""
        return "in-service instance" if self.auto_scaling_group else "running instance"

    def describe(self) -> str:
        """For people and for a failed probe's detail: where the node is looked for."""
        parts = [f"group {self.auto_scaling_group}"] if self.auto_scaling_group else []
        parts += [f"AZ {self.availability_zone}"] if self.availability_zone else []
        parts += [f"tag {key}={value}" for key, value in self.tags]
        return ", ".join(parts)


# A found node's health check URL may name its instance's private IPv4 address, filled in each cycle.
PRIVATE_IP_PLACEHOLDER = "{private_ip}"


def _optional(env: Mapping[str, str], name: str, convert: Callable[[str], T]) -> T | None:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return None
    try:
        return convert(raw.strip())
    except ValueError as exc:
        raise ConfigError(name, raw, str(exc)) from None


def _pattern(pattern: re.Pattern[str], what: str) -> Callable[[str], str]:
    def convert(text: str) -> str:
        if not pattern.fullmatch(text):
            raise ValueError(f"must be {what}")
        return text

    return convert


# An Auto Scaling group's name: 1-255 characters, no ':' (that would be an ARN) and no control characters.
_GROUP_NAME = re.compile(r"^[^:\x00-\x1f]{1,255}$")
_AVAILABILITY_ZONE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d[a-z]$")
_TAG_KEY = re.compile(r"^[^=,\x00-\x1f]{1,128}$")
_TAG_VALUE = re.compile(r"^[^=,\x00-\x1f]{0,256}$")
MAX_FINDER_TAGS = 5


def _tags(text: str) -> tuple[tuple[str, str], ...]:
    """`Key=Value[,Key=Value]`: every tag must be on the instance."""
    tags: list[tuple[str, str]] = []
    for part in text.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep or tag_problem(key.strip(), value.strip()) is not None:
            raise ValueError(f"names {_shortened(part)!r}: each must be Key=Value (no ',' or '=' inside)")
        tags.append((key.strip(), value.strip()))
    if len(tags) > MAX_FINDER_TAGS:
        raise ValueError(f"must name at most {MAX_FINDER_TAGS} tags")
    return tuple(tags)


# The same rules for the fleet document's found nodes (core/fleet_config), which name their fields
# themselves: a problem is returned as text (None: the value is fine), never raised.


def auto_scaling_group_problem(name: str) -> str | None:
    return None if _GROUP_NAME.fullmatch(name) else "must be an Auto Scaling group name (1-255 characters, no ':')"


def availability_zone_problem(zone: str) -> str | None:
    return None if _AVAILABILITY_ZONE.fullmatch(zone) else "must be an Availability Zone such as eu-west-1a"


def tag_problem(key: str, value: str) -> str | None:
    """Why `key`=`value` cannot be a finder's tag (it must also be written as Key=Value in
    NODEn_INSTANCE_TAGS: no ',' or '=' inside); None: it can."""
    if not _TAG_KEY.fullmatch(key):
        return "a tag key must be 1-128 characters, without ',', '=' or control characters"
    if not _TAG_VALUE.fullmatch(value):
        return "a tag value must be at most 256 characters, without ',', '=' or control characters"
    return None


def _shortened(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def load_node_finder(env: Mapping[str, str], prefix: str) -> NodeFinder | None:
    """NODEn_AUTO_SCALING_GROUP_NAME (+ NODEn_AVAILABILITY_ZONE) or NODEn_INSTANCE_TAGS; None: neither."""
    group = _optional(env, f"{prefix}AUTO_SCALING_GROUP_NAME", _pattern(_GROUP_NAME, "an Auto Scaling group name"))
    zone = _optional(
        env, f"{prefix}AVAILABILITY_ZONE", _pattern(_AVAILABILITY_ZONE, "an Availability Zone such as eu-west-1a")
    )
    tags = _optional(env, f"{prefix}INSTANCE_TAGS", _tags) or ()
    if zone is not None and group is None:
        raise ConfigError(
            f"{prefix}AVAILABILITY_ZONE", zone, f"needs {prefix}AUTO_SCALING_GROUP_NAME (the group it picks a zone of)"
        )
    if group is not None and tags:
        raise ConfigError(
            f"{prefix}INSTANCE_TAGS",
            env.get(f"{prefix}INSTANCE_TAGS"),
            f"must be empty when {prefix}AUTO_SCALING_GROUP_NAME is set (a node is found one way)",
        )
    if group is None and not tags:
        return None
    if env.get(f"{prefix}INSTANCE_ID", "").strip():
        raise ConfigError(
            f"{prefix}INSTANCE_ID",
            env.get(f"{prefix}INSTANCE_ID"),
            f"must be empty when the node is found ({NodeFinder(group, zone, tags).describe()}): "
            "one way to name a node",
        )
    if env.get(f"{prefix}NETWORK_INTERFACE_ID", "").strip():
        raise ConfigError(
            f"{prefix}NETWORK_INTERFACE_ID",
            env.get(f"{prefix}NETWORK_INTERFACE_ID"),
            "must be empty for a found node: a replaced instance has another network interface",
        )
    return NodeFinder(group, zone, tags)
