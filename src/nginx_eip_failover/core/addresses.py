"""A group's address set: every address the active node serves, moved as one decision.

Plain values, no I/O. The EC2 adapter (`address_set.py`) reads where each address is and moves
the missing ones; the core only sees the node that holds the set and which addresses are missing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

AddressKind = Literal["elastic_ip", "secondary_ip", "route"]


@dataclass(frozen=True)
class ElasticIpSpec:
    """An EIP; on each node it lands on that node's ENI at `private_ips[node]`, or, when the node
    has no entry, on the instance's primary private IP (the simple default, by InstanceId)."""

    allocation_id: str
    private_ips: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SecondaryIpSpec:
    """A secondary private IPv4 address, reassigned to the active node's ENI
    (AssignPrivateIpAddresses with AllowReassignment: both ENIs must be in one subnet)."""

    address: str


@dataclass(frozen=True)
class RouteSpec:
    """An overlay address: a route to `destination` (IPv4 /32 or IPv6 /128) in each route table,
    pointing at the active node's ENI (ReplaceRoute; the nodes' source/destination check is off).

    `role_arn`: the tables are another account's (a shared VPC's owner): their reads and moves go
    through that IAM role (STS AssumeRole, one session per cycle); None: the functions' own role."""

    destination: str
    route_table_ids: tuple[str, ...]
    role_arn: str | None = None


@dataclass(frozen=True)
class AddressSet:
    elastic_ips: tuple[ElasticIpSpec, ...]
    secondary_ips: tuple[SecondaryIpSpec, ...] = ()
    routes: tuple[RouteSpec, ...] = ()

    @property
    def primary_allocation_id(self) -> str:
        return self.elastic_ips[0].allocation_id

    def labels(self) -> tuple[str, ...]:
        """One label per address, as alerts and logs name them."""
        return (
            *(spec.allocation_id for spec in self.elastic_ips),
            *(f"ip {spec.address}" for spec in self.secondary_ips),
            *(f"route {spec.destination} in {table}" for spec in self.routes for table in spec.route_table_ids),
        )


@dataclass(frozen=True)
class AddressState:
    """Where one address is now: the instance (and ENI) holding it, or None."""

    label: str
    kind: AddressKind
    instance_id: str | None
    network_interface_id: str | None = None
    public_ip: str | None = None
