"""What exists before the stack: the pair (two NGINX Plus instances and the Elastic IP), and other
instances a test needs (a foreign holder of the EIP). In real life the operator owns these and passes
them to the stack as parameters; the lab creates them in the moto server and does the same."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

LAB_AMI = "ami-03cf127a"  # one of the images the moto server knows


@dataclass(frozen=True)
class Pair:
    instance_ids: tuple[str, str]
    allocation_id: str
    public_ip: str


def create_pair(ec2: Any) -> Pair:
    """The two NGINX Plus instances and an unassociated Elastic IP (the operator's, not the stack's)."""
    instances = ec2.run_instances(
        ImageId=LAB_AMI,
        MinCount=2,
        MaxCount=2,
        InstanceType="t4g.small",
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Role", "Value": "nginx-plus"}]}],
    )["Instances"]
    address = ec2.allocate_address(Domain="vpc")
    return Pair(
        instance_ids=(instances[0]["InstanceId"], instances[1]["InstanceId"]),
        allocation_id=address["AllocationId"],
        public_ip=address["PublicIp"],
    )


def create_instance(ec2: Any, role: str = "foreign") -> str:
    """One more instance, outside the pair (e.g. a foreign holder of the EIP)."""
    instance = ec2.run_instances(
        ImageId=LAB_AMI,
        MinCount=1,
        MaxCount=1,
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Role", "Value": role}]}],
    )["Instances"][0]
    return str(instance["InstanceId"])
