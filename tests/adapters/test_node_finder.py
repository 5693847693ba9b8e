"""The node finder adapter (adapters/node_finder.py) against moto's Auto Scaling and EC2 in-process,
with the lifecycle hooks moto lacks modelled (nginx_eip_failover_lab/aws/moto_lifecycle_gaps.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from nginx_eip_failover.adapters.node_finder import NodeFinder
from nginx_eip_failover.core.config import NodeConfig
from nginx_eip_failover.core.errors import NodeFinderError
from nginx_eip_failover.core.node_finders import NodeFinder as Finder
from nginx_eip_failover.service.lifecycle import parse_lifecycle_event
from nginx_eip_failover_lab.aws.moto_lifecycle_gaps import lifecycle_semantics, lifecycle_token

REGION = "us-east-1"
EVENTS = Path(__file__).resolve().parents[2] / "events"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any]]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws(), lifecycle_semantics():
        ec2 = boto3.client("ec2", region_name=REGION)
        autoscaling = boto3.client("autoscaling", region_name=REGION)
        ec2.create_launch_template(
            LaunchTemplateName="nginx-plus", LaunchTemplateData={"ImageId": "ami-03cf127a", "InstanceType": "t4g.small"}
        )
        yield ec2, autoscaling


def group(autoscaling: Any, name: str, zones: list[str], size: int = 1) -> None:
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateName": "nginx-plus"},
        MinSize=size,
        MaxSize=size,
        DesiredCapacity=size,
        AvailabilityZones=zones,
        Tags=[{"Key": "Role", "Value": name, "PropagateAtLaunch": True}],
    )


def members(autoscaling: Any, name: str) -> dict[str, tuple[str, str]]:
    groups = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
    return {i["InstanceId"]: (i["LifecycleState"], i["AvailabilityZone"]) for i in groups[0]["Instances"]}


def node(name: str, finder: Finder) -> NodeConfig:
    return NodeConfig(name, "", "http://{private_ip}:8080/health", 100, finder=finder, url_template="")


def test_candidates_are_in_service_instances_of_the_group_and_zone_or_the_tagged_running_ones(
    aws: tuple[Any, Any],
) -> None:
    ec2, autoscaling = aws
    group(autoscaling, "nginx-a", ["us-east-1a"])
    group(autoscaling, "nginx-b", ["us-east-1b"])
    a = next(iter(members(autoscaling, "nginx-a")))
    b = next(iter(members(autoscaling, "nginx-b")))
    finder = NodeFinder(lambda: autoscaling, lambda: ec2)
    nodes = [
        node("node1", Finder("nginx-a")),
        node("node2", Finder("nginx-b", "us-east-1b")),
        node("node3", Finder(tags=(("Role", "nginx-b"),))),
        node("node4", Finder("nginx-b", "us-east-1a")),  # no instance in that zone
    ]
    found = finder.candidates(nodes)
    assert [c.instance_id for c in found["node1"]] == [a]
    assert [c.instance_id for c in found["node2"]] == [b]
    assert [c.instance_id for c in found["node3"]] == [b]
    assert found["node4"] == []
    private_ip = ec2.describe_instances(InstanceIds=[a])["Reservations"][0]["Instances"][0]["PrivateIpAddress"]
    assert found["node1"][0].private_ip == private_ip
    # a fixed node is not looked up
    assert "fixed" not in finder.candidates([replace(nodes[0], name="fixed", finder=None)])


def test_a_terminating_instance_is_a_leaving_candidate_and_completing_its_action_lets_it_go(
    aws: tuple[Any, Any],
) -> None:
    ec2, autoscaling = aws
    group(autoscaling, "nginx-a", ["us-east-1a"])
    autoscaling.put_lifecycle_hook(
        LifecycleHookName="drain",
        AutoScalingGroupName="nginx-a",
        LifecycleTransition="autoscaling:EC2_INSTANCE_TERMINATING",
        HeartbeatTimeout=120,
        DefaultResult="CONTINUE",
    )
    old = next(iter(members(autoscaling, "nginx-a")))
    autoscaling.terminate_instance_in_auto_scaling_group(InstanceId=old, ShouldDecrementDesiredCapacity=False)
    assert members(autoscaling, "nginx-a")[old][0] == "Terminating:Wait"
    finder = NodeFinder(lambda: autoscaling, lambda: ec2)
    (leaving,) = finder.candidates([node("node1", Finder("nginx-a"))])["node1"]
    assert (leaving.instance_id, leaving.leaving) == (old, True)  # kept only while it holds the address
    with pytest.raises(NodeFinderError, match="CompleteLifecycleAction nginx-a/drain/"):
        finder.complete("nginx-a", "drain", old, "00000000-0000-0000-0000-000000000000", "CONTINUE")
    finder.complete("nginx-a", "drain", old, lifecycle_token(old, "drain"), "CONTINUE")
    after = members(autoscaling, "nginx-a")
    assert old not in after and len(after) == 1  # terminated and replaced
    state = ec2.describe_instances(InstanceIds=[old])["Reservations"][0]["Instances"][0]["State"]["Name"]
    assert state == "terminated"


def test_the_sample_lifecycle_event_parses() -> None:
    event = json.loads((EVENTS / "lifecycle-terminate.json").read_text())
    parsed = parse_lifecycle_event(event, frozenset({"nginx-plus-a"}))
    assert (parsed.group, parsed.instance_id) == ("nginx-plus-a", "i-0a1b2c3d4e5f60718")
    assert parsed.token == "87654321-4321-4321-4321-210987654321"
