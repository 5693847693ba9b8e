"""The stack's pair in moto, one way for every adapter test: two running instances and an unassociated
Elastic IP, and the environment variables the template would give the functions for them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class MotoPair:
    instance_ids: tuple[str, str]  # node1's, node2's
    allocation_id: str
    public_ip: str

    def env(self, health_check_urls: Sequence[str], **variables: str) -> dict[str, str]:
        """The pair's variables as the template sets them (plus `variables`, e.g. STATE_TABLE_NAME)."""
        node1_url, node2_url = health_check_urls
        return {
            "EIP_ALLOCATION_ID": self.allocation_id,
            "NODE1_INSTANCE_ID": self.instance_ids[0],
            "NODE2_INSTANCE_ID": self.instance_ids[1],
            "NODE1_HEALTH_CHECK_URL": node1_url,
            "NODE2_HEALTH_CHECK_URL": node2_url,
            **variables,
        }

    def holder(self, ec2: Any) -> str | None:
        """The instance the EIP is on, as EC2 says (None when unassociated)."""
        address = ec2.describe_addresses(AllocationIds=[self.allocation_id])["Addresses"][0]
        return address.get("InstanceId") or None


def create_pair(ec2: Any) -> MotoPair:
    """Two fresh instances and a fresh EIP (so a fresh state item) in the running moto."""
    reservation = ec2.run_instances(ImageId="ami-12345678", MinCount=2, MaxCount=2, InstanceType="t3.micro")
    node1, node2 = (instance["InstanceId"] for instance in reservation["Instances"])
    address = ec2.allocate_address(Domain="vpc")
    return MotoPair((node1, node2), address["AllocationId"], address["PublicIp"])
