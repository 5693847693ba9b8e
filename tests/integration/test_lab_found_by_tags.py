"""Nodes found by tags in the lab (docs/found-nodes.md, Node2InstanceTags): node 2 is the running
instance with its tags in the moto server, real nginx on 127.0.0.1, the handlers in fresh processes,
the environment derived from template.yaml, every call under the template's IAM (the stack-tag
statement is what lets the EIP reach a tag-found instance)."""

from __future__ import annotations

import time

import pytest

from nginx_eip_failover_lab.environment import LabEnvironment
from nginx_eip_failover_lab.invoke import invoke_handler
from support.lab_driving import LabFactory, cycle, loop_for, loop_until, node_state, ok

pytestmark = pytest.mark.integration

SETTINGS = {
    "HealthCheckIntervalSeconds": "0.3",
    "HealthCheckTimeoutSeconds": "0.3",
    "FallThreshold": "3",
    "RiseThreshold": "3",
    "Preempt": "true",
    "PreemptDelaySeconds": "2",
    "MinSecondsBetweenMoves": "0",
    "PreflightIntervalSeconds": "0",
}


@pytest.fixture
def tags_lab(make_lab: LabFactory) -> LabEnvironment:
    return make_lab(found_by_tags=("node2",), **SETTINGS)


def test_the_stack_names_node2_by_its_tags_from_the_template(tags_lab: LabEnvironment) -> None:
    lab = tags_lab
    assert lab.tagged_nodes is not None
    tags = lab.tagged_nodes.instance_tags("node2")
    for env in (lab.monitor_env, lab.control_env):
        assert env["NODE2_INSTANCE_TAGS"] == tags and env["NODE2_INSTANCE_ID"] == ""
        assert "NODE1_INSTANCE_TAGS" not in env and "NODE2_AUTO_SCALING_GROUP_NAME" not in env
    # No status-check alarm for node 2 (nothing names its instance), node 1's stays; no Auto Scaling.
    assert lab.monitor_env["ALARM_NAMES"] == f"{lab.stack_name}-node1-status-check"
    assert lab.stack is not None
    assert "LifecycleFunction" not in lab.stack.physical_ids and lab.lifecycle_hooks == []


def test_node2_replaced_while_node1_serves_then_node1_dies_and_the_address_reaches_the_new_node2(
    tags_lab: LabEnvironment,
) -> None:
    lab = tags_lab
    assert lab.proxy is not None
    first2 = lab.node_instance("node2")
    loop_until(lab, lambda: lab.holder() == "node1" and node_state(lab, "node2")["status"] == "up")
    assert node_state(lab, "node2")["instance_id"] == first2
    placements = lab.proxy.count("AssociateAddress")
    # WHEN node2's instance is replaced (terminated; a new one launched with the same tags)
    old, new, result = lab.replace_node("node2")
    assert (old, result) == (first2, None) and new != old
    assert lab.tagged_instances("node2")[old] in ("shutting-down", "terminated")
    # THEN the first cycle finds the new instance, which joins unknown (a fixed node would be up on
    # this first success): it must pass RiseThreshold first
    payload = cycle(lab, warm=False)
    assert payload["nodes"]["node2"] == "unknown"
    assert node_state(lab, "node2")["instance_id"] == new
    assert lab.holder() == "node1"
    changed = [e for e in lab.history("node_instance_changed") if e["node"] == "node2"]
    assert changed and (changed[-1]["detail"]["from"], changed[-1]["detail"]["to"]) == (old, new)
    # AND through the rise and after it the address stays on node1, checked after every invocation
    give_up = time.monotonic() + 120
    while node_state(lab, "node2")["status"] != "up":
        assert time.monotonic() < give_up, "the new node2 did not rise"
        loop_for(lab, 3.0)
        assert lab.holder() == "node1"
    for _ in range(3):
        loop_for(lab, 1.0)
        assert lab.holder() == "node1"
    # AND no cycle moved it at all: no AssociateAddress since the replacement
    assert lab.proxy.count("AssociateAddress") == placements
    ups = [e for e in lab.history("node_up", "node_instance_changed") if e["node"] == "node2"]
    assert [e["event"] for e in ups][-2:] == ["node_instance_changed", "node_up"]  # it rose on the new instance
    # WHEN node1 dies, THEN the address reaches the NEW node2 instance
    lab.nodes["node1"].stop()
    loop_until(lab, lambda: lab.eip_instance() == new)
    assert lab.holder() == "node2"
    assert lab.eip_instance() != old


def test_no_running_instance_with_the_tags_fails_node2s_probes_and_the_address_stays(
    tags_lab: LabEnvironment,
) -> None:
    lab = tags_lab
    assert lab.proxy is not None and lab.tagged_nodes is not None
    loop_until(lab, lambda: lab.holder() == "node1" and node_state(lab, "node2")["status"] == "up")
    placements = lab.proxy.count("AssociateAddress")
    # WHEN node2's instance is terminated and nothing replaces it
    gone = lab.terminate_tagged_node("node2")
    assert lab.tagged_instances("node2")[gone] in ("shutting-down", "terminated")
    assert lab.node_instance("node2") is None
    # THEN node2 is probed as a failure (no instance: no request) and goes down after FallThreshold
    loop_until(lab, lambda: node_state(lab, "node2")["status"] == "down")
    shown = ok(lab.control({"action": "status"}))["status"]["nodes"]["node2"]
    assert (shown["up"], shown["health"], shown["instance_id"]) == (False, "down", ""), shown
    assert shown["last_change_reason"] == f"no running instance (tag {lab.tagged_nodes.instance_tags('node2')})"
    # AND the address stays on node1, untouched
    for _ in range(2):
        loop_for(lab, 1.0)
        assert lab.holder() == "node1"
    assert lab.proxy.count("AssociateAddress") == placements
    # WHEN an instance with the tags runs again, THEN node2 rises on it
    new = lab.launch_tagged_node("node2")
    loop_until(
        lab, lambda: node_state(lab, "node2")["status"] == "up" and node_state(lab, "node2")["instance_id"] == new
    )
    assert lab.holder() == "node1"


@pytest.mark.parametrize(
    ("extra", "variable", "value"),
    [
        ({"NODE2_INSTANCE_TAGS": "role=a=b"}, "NODE2_INSTANCE_TAGS", "role=a=b"),
        ({"NODE2_INSTANCE_TAGS": ",".join(f"k{i}=v" for i in range(6))}, "NODE2_INSTANCE_TAGS", None),
        ({"NODE2_AUTO_SCALING_GROUP_NAME": "nginx-b"}, "NODE2_INSTANCE_TAGS", "tags"),
        ({"NODE2_INSTANCE_ID": "i-0a1b2c3d4e5f60719"}, "NODE2_INSTANCE_ID", "i-0a1b2c3d4e5f60719"),
    ],
    ids=["bad-tag", "six-tags", "beside-a-group", "beside-an-instance"],
)
def test_a_bad_tags_configuration_names_the_variable_and_value_and_changes_nothing(
    tags_lab: LabEnvironment, extra: dict[str, str], variable: str, value: str | None
) -> None:
    lab = tags_lab
    assert lab.proxy is not None and lab.tagged_nodes is not None
    loop_until(lab, lambda: lab.holder() == "node1" and node_state(lab, "node2")["status"] == "up")
    before, holder = lab.state(), lab.eip_instance()
    lab.proxy.reset()
    shown = value if value not in (None, "tags") else (extra.get(variable) or lab.monitor_env[variable])
    for function, env, event in (
        ("monitor", lab.monitor_env, {"trigger": "schedule"}),
        ("control", lab.control_env, {"action": "status"}),
    ):
        # WHEN a function cold-starts with the bad variable
        result = invoke_handler(function, event, {**env, **extra}, remaining_ms=3000)
        # THEN it fails naming the variable and the value
        assert not result.ok and result.error_type == "ConfigError", (function, result.error_message)
        assert result.error_message.startswith(f"configuration error: {variable}="), result.error_message
        assert shown in result.error_message, result.error_message
    # AND nothing changed: no AWS call at all, the state and the address as they were
    assert lab.proxy.calls() == []
    assert lab.state() == before and lab.eip_instance() == holder
