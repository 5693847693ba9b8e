"""What exists before the stack: the pair (two NGINX Plus instances and the Elastic IP), and other
instances a test needs (a foreign holder of the EIP). In real life the operator owns these and passes
them to the stack as parameters; the lab creates them in the moto server and does the same."""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

LAB_AMI = "ami-03cf127a"  # one of the images the moto server knows


@dataclass(frozen=True)
class Pair:
    instance_ids: tuple[str, str]
    allocation_id: str
    public_ip: str
    # By ENI + private IP (`by_network_interface`): each node's primary ENI, the secondary private IP
    # there that takes the pair's EIP, and the node's own EIP on its primary private IP.
    network_interface_ids: tuple[str, ...] = ()
    private_ips: tuple[str, ...] = ()
    own_allocation_ids: tuple[str, ...] = field(default=())


def create_pair(ec2: Any, *, by_network_interface: bool = False) -> Pair:
    """The two NGINX Plus instances and an unassociated Elastic IP (the operator's, not the stack's).

    `by_network_interface`: as an operator prepares a pair whose nodes keep their own public IPs -
    each node's own EIP on its primary private IP, and a secondary private IP for the pair's EIP."""
    instances = ec2.run_instances(
        ImageId=LAB_AMI,
        MinCount=2,
        MaxCount=2,
        InstanceType="t4g.small",
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Role", "Value": "nginx-plus"}]}],
    )["Instances"]
    address = ec2.allocate_address(Domain="vpc")
    pair = Pair(
        instance_ids=(instances[0]["InstanceId"], instances[1]["InstanceId"]),
        allocation_id=address["AllocationId"],
        public_ip=address["PublicIp"],
    )
    if not by_network_interface:
        return pair
    enis, private_ips, own = [], [], []
    for instance in instances:
        eni = instance["NetworkInterfaces"][0]["NetworkInterfaceId"]
        own_address = ec2.allocate_address(Domain="vpc")["AllocationId"]
        ec2.associate_address(AllocationId=own_address, InstanceId=instance["InstanceId"])
        enis.append(eni)
        private_ips.append(assign_free_private_ip(ec2, eni, instance["SubnetId"]))
        own.append(own_address)
    return Pair(pair.instance_ids, pair.allocation_id, pair.public_ip, tuple(enis), tuple(private_ips), tuple(own))


@dataclass(frozen=True)
class SecondSet:
    """Active/active from the template: a second EIP for the pair by ENI, and the private IP of its
    own it lands on at each node's ENI (beside the pair's EIP's)."""

    allocation_id: str
    private_ips: tuple[str, str]

    def parameters(self) -> dict[str, str]:
        return {
            "SecondElasticIpAllocationId": self.allocation_id,
            "Node1SecondPrivateIpAddress": self.private_ips[0],
            "Node2SecondPrivateIpAddress": self.private_ips[1],
        }


def create_second_set(ec2: Any, pair: Pair) -> SecondSet:
    interfaces = ec2.describe_network_interfaces(NetworkInterfaceIds=list(pair.network_interface_ids))
    subnets = {item["NetworkInterfaceId"]: item["SubnetId"] for item in interfaces["NetworkInterfaces"]}
    eni1, eni2 = pair.network_interface_ids
    return SecondSet(
        ec2.allocate_address(Domain="vpc")["AllocationId"],
        (assign_free_private_ip(ec2, eni1, subnets[eni1]), assign_free_private_ip(ec2, eni2, subnets[eni2])),
    )


def assign_free_private_ip(ec2: Any, eni: str, subnet_id: str) -> str:
    """A secondary private IP on `eni`, picked at random in its subnet (labs share one moto server:
    an address another lab's ENI has is refused, and another is tried)."""
    subnet = ipaddress.ip_network(ec2.describe_subnets(SubnetIds=[subnet_id])["Subnets"][0]["CidrBlock"])
    for _ in range(20):
        # AWS reserves the first four addresses and the last of a subnet.
        candidate = str(subnet[random.randrange(4, subnet.num_addresses - 1)])
        try:
            ec2.assign_private_ip_addresses(NetworkInterfaceId=eni, PrivateIpAddresses=[candidate])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "PrivateIpAddressLimitExceeded":
                raise
            continue
        return candidate
    raise RuntimeError(f"no free private IP found in {subnet} for {eni}")


def create_instance(ec2: Any, role: str = "foreign") -> str:
    """One more instance, outside the pair (e.g. a foreign holder of the EIP)."""
    instance = ec2.run_instances(
        ImageId=LAB_AMI,
        MinCount=1,
        MaxCount=1,
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Role", "Value": role}]}],
    )["Instances"][0]
    return str(instance["InstanceId"])
