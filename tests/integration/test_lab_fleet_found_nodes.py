"""Found nodes in a fleet document (docs/found-nodes.md, docs/fleets.md) on the lab: a fleet group whose
node2 is found by an Auto Scaling group (FleetFoundNodes=tags-and-auto-scaling-groups) or by instance
tags (the default), real nginx, the handlers in fresh processes under the template's IAM. node2's
instance is replaced while node1 serves: the group's EIP never leaves node1 and reaches the new node2
only after node1 dies. A document with bad found-node fields is refused by the upload naming the
group, the field and the value, and the stored document stays as it was."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from nginx_eip_failover_lab.aws.node_groups import STACK_TAG, create_node_groups, group_instances
from nginx_eip_failover_lab.environment import LabEnvironment
from nginx_eip_failover_lab.stack.fixtures import LAB_AMI
from support.lab_driving import LabFactory, control, loop_for, loop_until

pytestmark = pytest.mark.integration

# RiseThreshold 3: a replacement answers its first probe at once, and must still not take the EIP.
SETTINGS = {"FallThreshold": "3", "RiseThreshold": "3", "PreemptDelaySeconds": "2"}


def _until(lab: LabEnvironment, done: Callable[[], bool]) -> None:
    loop_until(lab, done, seconds=1.5, deadline=40.0, describe=lambda: _group_state(lab).get("nodes"))


def _eip_instance(lab: LabEnvironment) -> str | None:
    address = lab.ec2.describe_addresses(AllocationIds=[lab.groups["g01"].allocation_id])["Addresses"][0]
    return address.get("InstanceId")


def _group_state(lab: LabEnvironment) -> dict[str, Any]:
    item = lab.dynamodb.get_item(
        TableName=lab.table_name, Key={"pk": {"S": f"eip#{lab.groups['g01'].allocation_id}"}}, ConsistentRead=True
    ).get("Item")
    return json.loads(item["state"]["S"]) if item else {}


def _node2_status(lab: LabEnvironment) -> tuple[str | None, str | None]:
    node = _group_state(lab).get("nodes", {}).get("node2", {})
    return node.get("status"), node.get("instance_id")


def _with_node2(lab: LabEnvironment, **finder: Any) -> dict[str, Any]:
    """The lab's fleet document with g01's node2 found (no instance_id, no ENI) instead of fixed."""
    document = lab.fleet_document()
    node2 = document["groups"][0]["nodes"][1]
    del node2["instance_id"], node2["network_interface_id"]
    node2.update(finder)
    return document


def _replaced_while_node1_serves(lab: LabEnvironment, replace: Callable[[], str], old: str) -> None:
    """The scenario on a group whose node2 is found: `replace()` replaces node2's instance `old` and
    returns the new one."""
    group = lab.groups["g01"]
    _until(lab, lambda: _eip_instance(lab) == group.instance_ids[0] and _node2_status(lab) == ("up", old))
    assert lab.proxy is not None
    placements = lab.proxy.count("AssociateAddress")
    # WHEN node2's instance is replaced (its nginx down meanwhile: the old instance is gone)
    group.nodes["node2"].stop()
    new = replace()
    assert new != old
    group.nodes["node2"].start()  # the new instance's nginx
    # THEN the group finds the new instance, which starts over and must rise; the EIP stays on node1
    _until(lab, lambda: _node2_status(lab) == ("up", new))
    changed = [e for e in _group_state(lab)["history"] if e["event"] == "node_instance_changed"]
    assert changed and changed[-1]["node"] == "node2" and changed[-1]["detail"]["to"] == new
    for _ in range(2):
        loop_for(lab, 1.0)
        assert _eip_instance(lab) == group.instance_ids[0]
    assert lab.proxy.count("AssociateAddress") == placements  # it never left node1
    # WHEN node1 dies, THEN the EIP reaches the new node2
    group.nodes["node1"].stop()
    _until(lab, lambda: _eip_instance(lab) == new)
    assert _eip_instance(lab) != old


def test_a_fleet_node_found_by_auto_scaling_group_is_replaced_while_node1_serves(make_lab: LabFactory) -> None:
    lab = make_lab(fleet_groups=1, FleetFoundNodes="tags-and-auto-scaling-groups", **SETTINGS)
    autoscaling = lab.client("autoscaling")
    # The group's node2 runs in an Auto Scaling group of its own, tagged for the stack (propagated).
    groups = create_node_groups(lab.ec2, autoscaling, ("node2",), lab.stack_name)
    name = groups.groups["node2"]
    [first] = group_instances(autoscaling, name)
    applied = lab.apply_fleet(_with_node2(lab, auto_scaling_group_name=name))
    assert applied["groups"] == ["g01"]

    def replace() -> str:
        autoscaling.terminate_instance_in_auto_scaling_group(InstanceId=first, ShouldDecrementDesiredCapacity=False)
        members = group_instances(autoscaling, name)
        return next(instance for instance, state in members.items() if state == "InService" and instance != first)

    _replaced_while_node1_serves(lab, replace, first)


def test_a_fleet_node_found_by_tags_is_replaced_while_node1_serves(make_lab: LabFactory) -> None:
    lab = make_lab(fleet_groups=1, **SETTINGS)  # FleetFoundNodes=tags (the default): no Auto Scaling grant
    tags = [{"Key": "Role", "Value": "g01-node2"}, {"Key": STACK_TAG, "Value": lab.stack_name}]

    def launch() -> str:
        spec = [{"ResourceType": "instance", "Tags": tags}]
        instance = lab.ec2.run_instances(
            ImageId=LAB_AMI, MinCount=1, MaxCount=1, InstanceType="t4g.small", TagSpecifications=spec
        )["Instances"][0]
        return str(instance["InstanceId"])

    first = launch()
    lab.apply_fleet(_with_node2(lab, instance_tags={"Role": "g01-node2"}))

    def replace() -> str:
        lab.ec2.terminate_instances(InstanceIds=[first])
        return launch()

    _replaced_while_node1_serves(lab, replace, first)


@pytest.mark.parametrize(
    ("finder", "field", "value", "problem"),
    [
        (
            {"auto_scaling_group_name": "nginx-web"},
            "nodes[1].auto_scaling_group_name",
            '"nginx-web"',
            "FleetFoundNodes=tags-and-auto-scaling-groups",
        ),
        ({"instance_tags": {"Role=x": "web"}}, "nodes[1].instance_tags", '{"Role=x": "web"}', "a tag key must be"),
        (
            {"instance_tags": {"Role": "web"}, "network_interface_id": "eni-0123456789abcdef0"},
            "nodes[1].network_interface_id",
            '"eni-0123456789abcdef0"',
            "a replacement instance has another network interface",
        ),
        (
            {"instance_tags": {"Role": "web"}, "instance_id": "i-0123456789abcdef0"},
            "nodes[1].instance_tags",
            '{"Role": "web"}',
            "is given with instance_id",
        ),
    ],
)
def test_a_document_with_bad_found_node_fields_is_refused_and_changes_nothing(
    make_lab: LabFactory, finder: dict[str, Any], field: str, value: str, problem: str
) -> None:
    lab = make_lab(fleet_groups=1, **SETTINGS)
    before = control(lab, {"action": "fleet_show"})
    result = lab.control(
        {"action": "fleet_apply", "document": _with_node2(lab, **finder), "version": before["version"]}
    )
    assert not result.ok or result.payload.get("ok") is False, result.payload
    message = result.error_message if not result.ok else json.dumps(result.payload)
    assert f"group \"g01\" field '{field}' = {value}" in message, message
    assert problem in message, message
    after = control(lab, {"action": "fleet_show"})
    assert (after["version"], after["document"]) == (before["version"], before["document"])
