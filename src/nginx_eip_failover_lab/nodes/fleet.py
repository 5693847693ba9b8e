"""The lab's fleet: groups of the fleet document, created in moto and served by one nginx.

Each group is two instances (each with its primary ENI) and an Elastic IP, as an operator would
own them; its two nodes are ports of the lab's shared `FleetNginx`. Two shapes:

- *plain*: the EIP by instance (the shape of the stack's own pair), the nodes' ENIs configured;
- *address set* (`full=True`): the group's own subnet 10.V.K.0/24 of the lab's VPC 10.V.0.0/16,
  node ENIs at 10.V.K.10 and .11, each with a secondary private IP for the EIP (10.V.K.20 / .21, so
  the EIP goes by ENI + private IP), a secondary private IP 10.V.K.50 that moves between the ENIs,
  and an
  overlay route 192.168.K.1/32 in the group's own route table. Nothing of the set is placed at
  start: the first cycle places it all on node1. V differs from lab to lab of one process (labs
  sharing a moto server must not find each other's secondary IPs: EC2's private-ip filter spans
  VPCs, and an address on another lab's ENI is a foreign holder).

`fleet_document()` is the JSON document `fleet_apply` takes.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field
from typing import Any

from nginx_eip_failover_lab.stack.fixtures import LAB_AMI

from .fleet_nginx import FleetNginx, PortNode

NODE_NAMES = ("node1", "node2")
_vpc_octets = itertools.count(random.randrange(256))  # not security: labs apart


@dataclass
class LabGroup:
    name: str
    nodes: dict[str, PortNode]
    instance_ids: tuple[str, str]
    enis: tuple[str, str]
    allocation_id: str
    public_ip: str
    full: bool = False
    eip_private_ips: dict[str, str] = field(default_factory=dict)
    secondary_ip: str | None = None
    route: str | None = None
    route_table_id: str | None = None
    # A route table in another account (a shared VPC's owner): the role the functions reach it by,
    # and that account's EC2 client, for reading it back (aws/other_account.py).
    route_role_arn: str | None = None
    route_ec2: Any = None

    def node_of_instance(self, instance_id: str | None) -> str | None:
        if not instance_id:
            return None
        if instance_id in self.instance_ids:
            return NODE_NAMES[self.instance_ids.index(instance_id)]
        return f"foreign:{instance_id}"

    def node_of_eni(self, eni: str | None) -> str | None:
        if not eni:
            return None
        return NODE_NAMES[self.enis.index(eni)] if eni in self.enis else f"foreign:{eni}"

    def labels(self) -> list[str]:
        labels = [f"eip {self.allocation_id}"]
        if self.secondary_ip:
            labels.append(f"secondary {self.secondary_ip}")
        if self.route:
            labels.append(f"route {self.route}")
        return labels

    def document(self, priorities: tuple[int, int] = (101, 100)) -> dict[str, Any]:
        group: dict[str, Any] = {
            "name": self.name,
            "nodes": [
                {
                    "instance_id": self.instance_ids[index],
                    "network_interface_id": self.enis[index],
                    "priority": priorities[index],
                    "health_check_url": self.nodes[name].health_url,
                }
                for index, name in enumerate(NODE_NAMES)
            ],
            "elastic_ips": [
                {"allocation_id": self.allocation_id, **({"private_ips": self.eip_private_ips} if self.full else {})}
            ],
        }
        if self.secondary_ip:
            group["secondary_private_ips"] = [self.secondary_ip]
        if self.route and self.route_table_id:
            route: dict[str, Any] = {"destination": self.route, "route_table_ids": [self.route_table_id]}
            group["routes"] = [{**route, "role_arn": self.route_role_arn} if self.route_role_arn else route]
        return group

    def describe(self) -> dict[str, Any]:
        return {
            "full_address_set": self.full,
            "allocation_id": self.allocation_id,
            "public_ip": self.public_ip,
            "eip_private_ips": self.eip_private_ips,
            "secondary_private_ip": self.secondary_ip,
            "route": self.route,
            "route_table_id": self.route_table_id,
            "nodes": {
                name: {"instance_id": self.instance_ids[i], "network_interface_id": self.enis[i], **node.describe()}
                for i, (name, node) in enumerate(self.nodes.items())
            },
        }


def fleet_document(groups: list[LabGroup]) -> dict[str, Any]:
    return {"groups": [group.document() for group in groups]}


class FleetProvisioner:
    """Creates groups in the lab's moto (one VPC for the address-set groups, a subnet each)."""

    def __init__(self, ec2: Any, nginx: FleetNginx, *, stack_tag: str | None = None) -> None:
        self.ec2 = ec2
        self.nginx = nginx
        # The value of the tag nginx-eip-failover on every resource a group moves (the template's
        # ABAC condition); None: untagged, out of the functions' reach.
        self.stack_tag = stack_tag
        self._vpc: str | None = None
        self._octet = 0
        self._subnets = 0

    def plain(self, name: str) -> LabGroup:
        instances = self.ec2.run_instances(
            ImageId=LAB_AMI,
            MinCount=2,
            MaxCount=2,
            InstanceType="t4g.small",
            TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Group", "Value": name}]}],
        )["Instances"]
        address = self.ec2.allocate_address(Domain="vpc")
        group = LabGroup(
            name=name,
            nodes={node: self.nginx.add_node(f"{name}/{node}") for node in NODE_NAMES},
            instance_ids=(instances[0]["InstanceId"], instances[1]["InstanceId"]),
            enis=(
                instances[0]["NetworkInterfaces"][0]["NetworkInterfaceId"],
                instances[1]["NetworkInterfaces"][0]["NetworkInterfaceId"],
            ),
            allocation_id=address["AllocationId"],
            public_ip=address["PublicIp"],
        )
        self._tag(group)
        return group

    def full(self, name: str) -> LabGroup:
        if self._vpc is None:
            self._octet = next(_vpc_octets) % 256
            self._vpc = self.ec2.create_vpc(CidrBlock=f"10.{self._octet}.0.0/16")["Vpc"]["VpcId"]
        self._subnets += 1
        k = self._subnets
        if k > 250:
            raise ValueError("the lab's VPC has room for 250 address-set groups")
        prefix = f"10.{self._octet}.{k}"
        subnet = self.ec2.create_subnet(VpcId=self._vpc, CidrBlock=f"{prefix}.0/24")["Subnet"]["SubnetId"]
        instances, enis = [], []
        eip_ips: dict[str, str] = {}
        for index, node in enumerate(NODE_NAMES):
            instance = self.ec2.run_instances(
                ImageId=LAB_AMI,
                MinCount=1,
                MaxCount=1,
                InstanceType="t4g.small",
                SubnetId=subnet,
                PrivateIpAddress=f"{prefix}.{10 + index}",
                TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Group", "Value": name}]}],
            )["Instances"][0]
            eni = instance["NetworkInterfaces"][0]["NetworkInterfaceId"]
            eip_ips[node] = f"{prefix}.{20 + index}"
            self.ec2.assign_private_ip_addresses(NetworkInterfaceId=eni, PrivateIpAddresses=[eip_ips[node]])
            instances.append(instance["InstanceId"])
            enis.append(eni)
        table = self.ec2.create_route_table(VpcId=self._vpc)["RouteTable"]["RouteTableId"]
        address = self.ec2.allocate_address(Domain="vpc")
        group = LabGroup(
            name=name,
            nodes={node: self.nginx.add_node(f"{name}/{node}") for node in NODE_NAMES},
            instance_ids=(instances[0], instances[1]),
            enis=(enis[0], enis[1]),
            allocation_id=address["AllocationId"],
            public_ip=address["PublicIp"],
            full=True,
            eip_private_ips=eip_ips,
            secondary_ip=f"{prefix}.50",
            route=f"192.168.{k}.1/32",
            route_table_id=table,
        )
        self._tag(group)
        return group

    def _tag(self, group: LabGroup) -> None:
        if self.stack_tag is None:
            return
        resources = [*group.instance_ids, *group.enis, group.allocation_id]
        if group.route_table_id:
            resources.append(group.route_table_id)
        self.ec2.create_tags(Resources=resources, Tags=[{"Key": "nginx-eip-failover", "Value": self.stack_tag}])


def placement(ec2: Any, group: LabGroup) -> dict[str, str | None]:
    """Where each address of the group is, read from EC2 describes: label -> node (None: nowhere).

    An EIP by private IP counts as on a node only when it is on that node's ENI *and* private IP."""
    where: dict[str, str | None] = {}
    address = ec2.describe_addresses(AllocationIds=[group.allocation_id])["Addresses"][0]
    if group.full:
        node = group.node_of_eni(address.get("NetworkInterfaceId"))
        on_its_ip = node is not None and address.get("PrivateIpAddress") == group.eip_private_ips.get(node)
        where[f"eip {group.allocation_id}"] = node if on_its_ip or node is None else f"{node} (wrong private IP)"
    else:
        where[f"eip {group.allocation_id}"] = group.node_of_instance(address.get("InstanceId"))
    if group.secondary_ip:
        holders = [
            interface["NetworkInterfaceId"]
            for interface in ec2.describe_network_interfaces(NetworkInterfaceIds=list(group.enis))["NetworkInterfaces"]
            if any(item.get("PrivateIpAddress") == group.secondary_ip for item in interface["PrivateIpAddresses"])
        ]
        where[f"secondary {group.secondary_ip}"] = (
            group.node_of_eni(holders[0]) if len(holders) == 1 else (None if not holders else f"on {len(holders)} ENIs")
        )
    if group.route and group.route_table_id:
        tables = group.route_ec2 or ec2  # the other account's table is read with its client
        table = tables.describe_route_tables(RouteTableIds=[group.route_table_id])["RouteTables"][0]
        route = next((r for r in table.get("Routes") or [] if r.get("DestinationCidrBlock") == group.route), None)
        where[f"route {group.route}"] = group.node_of_eni(route.get("NetworkInterfaceId")) if route else None
    return where


def fleet_placement(ec2: Any, groups: list[LabGroup]) -> dict[str, dict[str, str | None]]:
    """`placement` of many groups at once, in three describes (for polling a whole fleet)."""
    addresses = {
        address["AllocationId"]: address
        for address in ec2.describe_addresses(AllocationIds=[group.allocation_id for group in groups])["Addresses"]
    }
    enis = [eni for group in groups if group.secondary_ip for eni in group.enis]
    interfaces = (
        {
            interface["NetworkInterfaceId"]: {item["PrivateIpAddress"] for item in interface["PrivateIpAddresses"]}
            for interface in ec2.describe_network_interfaces(NetworkInterfaceIds=enis)["NetworkInterfaces"]
        }
        if enis
        else {}
    )
    tables = [group.route_table_id for group in groups if group.route_table_id and group.route_ec2 is None]
    routes = (
        {
            table["RouteTableId"]: {
                route.get("DestinationCidrBlock"): route.get("NetworkInterfaceId")
                for route in table.get("Routes") or []
            }
            for table in ec2.describe_route_tables(RouteTableIds=tables)["RouteTables"]
        }
        if tables
        else {}
    )
    result: dict[str, dict[str, str | None]] = {}
    for group in groups:
        address = addresses[group.allocation_id]
        where: dict[str, str | None] = {}
        if group.full:
            node = group.node_of_eni(address.get("NetworkInterfaceId"))
            right = node is None or address.get("PrivateIpAddress") == group.eip_private_ips.get(str(node))
            where[f"eip {group.allocation_id}"] = node if right else f"{node} (wrong private IP)"
        else:
            where[f"eip {group.allocation_id}"] = group.node_of_instance(address.get("InstanceId"))
        if group.secondary_ip:
            holders = [eni for eni in group.enis if group.secondary_ip in interfaces.get(eni, set())]
            where[f"secondary {group.secondary_ip}"] = group.node_of_eni(holders[0]) if len(holders) == 1 else None
        if group.route and group.route_table_id and group.route_ec2 is not None:
            where[f"route {group.route}"] = placement(ec2, group)[f"route {group.route}"]
        elif group.route and group.route_table_id:
            where[f"route {group.route}"] = group.node_of_eni(routes.get(group.route_table_id, {}).get(group.route))
        result[group.name] = where
    return result
