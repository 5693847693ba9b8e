"""Nodes found by tags in the lab (docs/found-nodes.md, Node*InstanceTags): each such node is the
running instance with a tag of its own (`lab-node=<node>-<suffix>`), launched in the moto server and
tagged nginx-eip-failover=<stack name> as the docs ask (the EIP moves only to tagged instances).

There is no group and no lifecycle hook: a replacement is the old instance terminated and a new one
launched with the same tags, and the node's nginx restarted as the new instance's (its URL stays the
lab's fixed 127.0.0.1 one).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nginx_eip_failover_lab.stack.fixtures import LAB_AMI

STACK_TAG = "nginx-eip-failover"
NODE_TAG = "lab-node"


@dataclass(frozen=True)
class TaggedNodes:
    tags: Mapping[str, str]  # node -> the value of its NODE_TAG
    stack_name: str

    def instance_tags(self, node: str) -> str:
        """`node`'s Node*InstanceTags value (Key=Value)."""
        return f"{NODE_TAG}={self.tags[node]}"

    def parameters(self, node_names: tuple[str, ...]) -> dict[str, str]:
        """The template parameters that name each of these nodes by tags instead of an InstanceId."""
        params: dict[str, str] = {}
        for node in self.tags:
            index = node_names.index(node) + 1
            params[f"Node{index}InstanceId"] = ""
            params[f"Node{index}InstanceTags"] = self.instance_tags(node)
        return params


def launch_tagged_instance(ec2: Any, tagged: TaggedNodes, node: str) -> str:
    """One running instance with `node`'s tags and the stack's tag."""
    tags = [
        {"Key": NODE_TAG, "Value": tagged.tags[node]},
        {"Key": STACK_TAG, "Value": tagged.stack_name},
        {"Key": "Role", "Value": "nginx-plus"},
    ]
    instance = ec2.run_instances(
        ImageId=LAB_AMI,
        MinCount=1,
        MaxCount=1,
        InstanceType="t4g.small",
        TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
    )["Instances"][0]
    return str(instance["InstanceId"])


def create_tagged_nodes(ec2: Any, nodes: tuple[str, ...], stack_name: str) -> tuple[TaggedNodes, dict[str, str]]:
    """The tags of each node and its first instance: (tags, node -> instance)."""
    suffix = uuid.uuid4().hex[:8]
    tagged = TaggedNodes({node: f"{node}-{suffix}" for node in nodes}, stack_name)
    return tagged, {node: launch_tagged_instance(ec2, tagged, node) for node in nodes}


def tagged_instances(ec2: Any, tagged: TaggedNodes, node: str) -> dict[str, str]:
    """instance -> state name of every instance with `node`'s tag (terminated ones included)."""
    found: dict[str, str] = {}
    pages = ec2.get_paginator("describe_instances").paginate(
        Filters=[{"Name": f"tag:{NODE_TAG}", "Values": [tagged.tags[node]]}]
    )
    for page in pages:
        for reservation in page.get("Reservations", []):
            for instance in reservation.get("Instances", []):
                found[instance["InstanceId"]] = instance["State"]["Name"]
    return found
