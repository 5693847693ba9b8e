"""ControlFunction on the lab: every action, and invalid requests that must change nothing."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from nginx_eip_failover_lab.environment import LabEnvironment
from support.lab_driving import LabFactory, control, cycle, cycles, place_on_node1

pytestmark = pytest.mark.integration


def test_status_failover_unpin_drain_undrain(make_lab: LabFactory) -> None:
    lab = make_lab(PreemptDelaySeconds="0")
    # Cold cycles: each reads what the operator's requests just wrote (a warm container would see them
    # within its 30 s refresh; docs/decision-rules.md).
    place_on_node1(lab)

    status = control(lab, {"action": "status"})["status"]
    assert status["eip"]["allocation_id"] == lab.allocation_id
    assert status["eip"]["instance_id"] == lab.instance_id("node1")
    assert status["eip"]["public_ip"]
    assert {name: node["instance_id"] for name, node in status["nodes"].items()} == {
        "node1": lab.instance_id("node1"),
        "node2": lab.instance_id("node2"),
    }
    assert [status["nodes"][n]["priority"] for n in ("node1", "node2")] == [101, 100]
    assert status["nodes"]["node1"]["up"] and status["nodes"]["node2"]["up"]
    assert status["pin"] is None and status["drains"] == []

    # failover by instance ID: moves now and pins; the monitor does not fail back (preempt delay 0)
    answer = control(lab, {"action": "failover", "target": lab.instance_id("node2"), "reason": "patch node1"})
    assert answer["moved_to"] == "node2"
    assert answer["status"]["pin"]["node"] == "node2"
    assert lab.holder() == "node2"
    assert "pinned" in cycle(lab, warm=False)["decision"]
    assert lab.holder() == "node2"

    # unpin: normal preemption applies again at once, node1 is up and preferred
    answer = control(lab, {"action": "unpin", "reason": "patched"})
    assert answer["status"]["pin"] is None
    assert answer["moved_to"] == "node1"
    assert lab.holder() == "node1"

    # drain node1: the EIP leaves it although it is up and preferred, and stays away
    answer = control(lab, {"action": "drain", "node": "node1", "reason": "maintenance"})
    assert answer["status"]["drains"] == ["node1"]
    assert answer["moved_to"] == "node2"
    assert cycle(lab, warm=False)["decision"] == "node2 holds the EIP and is up"
    assert lab.holder() == "node2"

    # undrain: node1 is eligible again and takes the EIP back
    answer = control(lab, {"action": "undrain", "node": "node1"})
    assert answer["status"]["drains"] == []
    assert answer["moved_to"] == "node1"
    assert lab.holder() == "node1"

    # every accepted action is in the history with its reason
    recorded = [(e["event"], e["reason"]) for e in lab.history() if e["event"].startswith("control_")]
    assert recorded == [
        ("control_failover", "patch node1"),
        ("control_unpin", "patched"),
        ("control_drain", "maintenance"),
        ("control_undrain", "(no reason given)"),
    ]


INVALID_REQUESTS: list[tuple[Any, str, str]] = [
    ({"action": "reboot"}, "action", '"reboot"'),
    ({"action": "failover", "target": "node3"}, "target", '"node3"'),
    ({"action": "failover", "target": "i-0000000000000dead"}, "target", '"i-0000000000000dead"'),
    ({"action": "failover"}, "target", "null"),
    ({"action": "drain", "node": "node1", "when": "now"}, "when", '"now"'),
    ({"action": "failover", "target": "node2", "force": "yes"}, "force", '"yes"'),
    ({"action": "drain", "node": 1}, "node", "1"),
    ({"action": "unpin", "reason": 42}, "reason", "42"),
    ({"target": "node2"}, "action", "null"),
    (["failover", "node2"], "request", '["failover", "node2"]'),
]


def test_invalid_requests_are_rejected_and_change_nothing(lab: LabEnvironment) -> None:
    place_on_node1(lab)
    lab.nodes["node2"].stop()
    cycles(lab, 3)  # node2 is down: a failover to it is refused without "force"
    before = lab.item()
    assert before is not None and lab.proxy is not None
    writes = lab.proxy.count("PutItem")
    requests = [*INVALID_REQUESTS, ({"action": "failover", "target": "node2"}, "target", '"node2"')]

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda case: lab.control(case[0]), requests))

    for (request, field, value), result in zip(requests, results, strict=True):
        assert not result.ok, f"{request} was accepted: {result.payload}"
        assert f"'{field}'" in (result.error_message or ""), (request, result.error_message)
        assert value in (result.error_message or ""), (request, result.error_message)
    assert "force" in (results[-1].error_message or "")  # the refusal says how to override it
    # the stored item is byte-for-byte what it was, and the EIP did not move
    assert lab.item() == before
    assert lab.holder() == "node1"
    assert lab.proxy.count("PutItem") == writes
    assert lab.proxy.count("AssociateAddress") == 1
