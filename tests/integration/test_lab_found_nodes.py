"""Found nodes in the lab (docs/found-nodes.md): each node in an Auto Scaling group of its own in the
moto server (lifecycle hooks modelled by moto_lifecycle_gaps), real nginx on 127.0.0.1, the handlers
in fresh processes, every call under the template's IAM (the conditional lookup policy included)."""

from __future__ import annotations

import functools

import pytest

from nginx_eip_failover_lab.aws.proxy import Fault
from nginx_eip_failover_lab.environment import LabEnvironment
from support.lab_driving import LabFactory, loop_for, loop_until, node_state, ok

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


# One looping invocation of 1.5 s at a time; 40 s guards against a hang.
until = functools.partial(loop_until, seconds=1.5, deadline=40.0)


@pytest.fixture
def found_lab(make_lab: LabFactory) -> LabEnvironment:
    return make_lab(found_nodes=True, **SETTINGS)


def test_node2_replaced_while_node1_serves_then_node1_dies_and_the_address_reaches_the_new_node2(
    found_lab: LabEnvironment,
) -> None:
    lab = found_lab
    first2 = lab.node_instance("node2")
    until(lab, lambda: lab.holder() == "node1" and node_state(lab, "node2")["status"] == "up")
    assert lab.proxy is not None
    placements = lab.proxy.count("AssociateAddress")
    # WHEN node2's instance is replaced (terminated through its hook, a new one launched)
    old, new, result = lab.replace_node("node2")
    assert old == first2
    payload = ok(result)
    assert (payload["node"], payload["held"], payload["completed"]) == ("node2", False, "CONTINUE")
    # THEN the monitor finds the new instance, which starts unknown and must rise
    loop_for(lab, 0.5)
    assert lab.holder() == "node1"
    assert node_state(lab, "node2")["instance_id"] == new
    changed = [e for e in lab.history("node_instance_changed") if e["node"] == "node2"]
    assert changed and changed[-1]["detail"]["to"] == new
    until(lab, lambda: node_state(lab, "node2")["status"] == "up")
    for _ in range(3):
        loop_for(lab, 1.0)
        assert lab.holder() == "node1"
    # AND the address never left node1
    assert lab.proxy.count("AssociateAddress") == placements
    # WHEN node1 dies, THEN the address reaches the new node2
    lab.nodes["node1"].stop()
    until(lab, lambda: lab.eip_instance() == new)
    assert lab.holder() == "node2"
    ups = [e for e in lab.history("node_up", "node_instance_changed") if e["node"] == "node2"]
    assert [e["event"] for e in ups][-2:] == ["node_instance_changed", "node_up"]  # it rose on the new instance


def test_a_lifecycle_termination_of_the_holder_moves_the_address_first_then_completes_the_action(
    found_lab: LabEnvironment,
) -> None:
    lab = found_lab
    until(lab, lambda: lab.holder() == "node1" and node_state(lab, "node2")["status"] == "up")
    assert lab.proxy is not None
    node2 = lab.node_instance("node2")
    instance, event = lab.terminate_node("node1")
    assert lab.group_instances("node1")[instance] == "Terminating:Wait"  # the hook holds it
    result = ok(lab.lifecycle(event))
    assert (result["node"], result["held"], result["moved_to"], result["completed"]) == (
        "node1",
        True,
        "node2",
        "CONTINUE",
    )
    assert "problem" not in result
    assert lab.eip_instance() == node2
    # The address moved first, then the action was completed (the instance was let go)
    operations = [
        call.action for call in lab.proxy.calls() if call.action in ("AssociateAddress", "CompleteLifecycleAction")
    ]
    assert operations[-2:] == ["AssociateAddress", "CompleteLifecycleAction"]
    assert instance not in lab.group_instances("node1")
    state = lab.ec2.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0]["State"]["Name"]
    assert state in ("shutting-down", "terminated")
    assert "node1" not in lab.state().get("drains", {})  # the replacement may rise and take it back


def test_a_lifecycle_action_is_completed_even_when_the_move_fails_with_a_notice(found_lab: LabEnvironment) -> None:
    lab = found_lab
    until(lab, lambda: lab.holder() == "node1" and node_state(lab, "node2")["status"] == "up")
    assert lab.proxy is not None
    instance, event = lab.terminate_node("node1")
    lab.proxy.inject(Fault("AssociateAddress", service="ec2", status=503, code="Unavailable", times=None))
    result = ok(lab.lifecycle(event))
    lab.proxy.clear_faults()
    assert result["completed"] == "CONTINUE"
    assert "move failed" in result["problem"]
    assert lab.proxy.count("CompleteLifecycleAction") == 1
    assert instance not in lab.group_instances("node1")  # completed: the instance was let go
    notices = [n for n in lab.notifications() if n["kind"] == "lifecycle_move_failed"]
    assert len(notices) == 1 and notices[0]["severity"] == "critical"
    assert instance in notices[0]["message"] and "completed anyway" in notices[0]["message"]
