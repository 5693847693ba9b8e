"""Failover and failback on real nginx processes, the handlers run as Lambda would run them."""

from __future__ import annotations

import pytest

from nginx_eip_failover_lab.environment import LabEnvironment
from support.lab_driving import LabFactory, cycle, cycle_result, cycles, log_records, loop_for, moves_to, place_on_node1

pytestmark = pytest.mark.integration


def test_failover_when_node1_nginx_is_stopped_takes_fall_threshold_cycles(lab: LabEnvironment) -> None:
    # GIVEN the EIP on node1 and both nodes up
    place_on_node1(lab)
    # WHEN node1's nginx process is really stopped
    lab.nodes["node1"].stop()
    assert not lab.nodes["node1"].running
    # THEN the first FallThreshold-1 failed probes move nothing, the FallThreshold-th moves the EIP
    first, second, third = cycles(lab, 3)
    assert first["eip"]["holder"] == "node1" and first["nodes"]["node1"] == "up"
    assert second["eip"]["holder"] == "node1" and second["nodes"]["node1"] == "up"
    assert third["nodes"]["node1"] == "down"
    assert [move["to"] for move in third["moves"]] == ["node2"]
    assert lab.holder() == "node2"
    assert lab.proxy is not None and lab.proxy.count("AssociateAddress") == 2  # the placement, the failover
    [down] = [e for e in lab.history("node_down") if e["node"] == "node1"]
    assert "refused" in down["reason"].lower()
    assert moves_to(lab, "node2")[0]["reason"].startswith("failover: node1 is down")


def test_one_looping_invocation_detects_and_fails_over(lab: LabEnvironment) -> None:
    # GIVEN the EIP on node1
    place_on_node1(lab)
    lab.nodes["node1"].stop()
    # WHEN one scheduled invocation keeps probing for a few cycles
    payload = loop_for(lab, 2.0)
    # THEN it failed over inside that invocation, after FallThreshold cycles at least
    assert payload["cycles"] >= 3
    assert [move["to"] for move in payload["moves"]] == ["node2"]
    assert payload["eip"]["holder"] == "node2"
    assert lab.holder() == "node2"


def test_failback_waits_for_the_preempt_delay(make_lab: LabFactory) -> None:
    lab = make_lab(PreemptDelaySeconds="3")
    # GIVEN a failover to node2
    place_on_node1(lab)
    lab.nodes["node1"].stop()
    cycles(lab, 3)
    assert lab.holder() == "node2"
    # WHEN node1's nginx is started again and the monitor keeps probing long enough
    lab.nodes["node1"].start()
    payload = loop_for(lab, 5.0)
    # THEN node1 came up after RiseThreshold probes, and the failback was decided only once node1
    # had been up for PreemptDelaySeconds
    assert payload["eip"]["holder"] == "node1"
    [up] = [e for e in lab.history("node_up") if e["node"] == "node1" and e["at"] > moves_to(lab, "node2")[0]["at"]]
    [failback] = [e for e in lab.history("move_started") if e["node"] == "node1" and e["at"] > up["at"]]
    assert failback["at"] - up["at"] >= 3.0
    assert failback["reason"].startswith("preempt: node1")
    assert lab.holder() == "node1"


def test_no_failback_on_priority_alone_without_preempt(make_lab: LabFactory) -> None:
    lab = make_lab(Preempt="false", PreemptDelaySeconds="1")
    place_on_node1(lab)
    lab.nodes["node1"].stop()
    cycles(lab, 3)
    assert lab.holder() == "node2"
    # WHEN node1 is back and up for much longer than the preempt delay
    lab.nodes["node1"].start()
    payload = loop_for(lab, 3.0)
    # THEN the EIP stays on node2
    assert payload["nodes"] == {"node1": "up", "node2": "up"}
    assert payload["eip"]["holder"] == "node2"
    assert "Preempt is off" in payload["decision"]
    assert len(moves_to(lab, "node1")) == 1  # the initial placement only
    assert lab.holder() == "node2"


def test_both_nodes_down_keeps_the_eip_and_alerts(lab: LabEnvironment) -> None:
    place_on_node1(lab)
    lab.notifications()  # drop the placement's notice
    # WHEN both nginx processes are stopped
    lab.nodes["node1"].stop()
    lab.nodes["node2"].stop()
    last = cycles(lab, 3)[-1]
    # THEN no node is up, the EIP stays where it is, and the alert is raised and published
    assert last["nodes"] == {"node1": "down", "node2": "down"}
    assert last["eip"]["holder"] == "node1"
    assert "no_node_up" in last["alerts"]
    assert lab.holder() == "node1"
    assert lab.proxy is not None and lab.proxy.count("AssociateAddress") == 1
    notices = lab.notifications()
    assert [n["severity"] for n in notices if n["kind"] == "no_node_up"] == ["critical"]
    # WHEN both come back
    lab.nodes["node1"].start()
    lab.nodes["node2"].start()
    last = cycles(lab, 2)[-1]
    # THEN the alert clears and the EIP has not moved
    assert last["nodes"] == {"node1": "up", "node2": "up"}
    assert last["alerts"] == []
    assert lab.holder() == "node1"
    assert lab.proxy.count("AssociateAddress") == 1


def test_upstream_with_every_peer_down_is_a_failed_probe(lab: LabEnvironment) -> None:
    place_on_node1(lab)
    # WHEN node1's nginx answers 200 but its upstream reports every peer down
    lab.nodes["node1"].set_peers(False)
    cycles(lab, 3)
    # THEN node1 counts as down and the EIP is on node2
    assert lab.holder() == "node2"
    [down] = [e for e in lab.history("node_down") if e["node"] == "node1"]
    assert "no peer up" in down["reason"]


def test_hung_node_fails_within_the_timeout_and_does_not_delay_the_other_probe(lab: LabEnvironment) -> None:
    place_on_node1(lab)
    # WHEN node1's nginx is hung: the kernel accepts the connection, nothing ever answers
    lab.nodes["node1"].hang()
    debug = {"POWERTOOLS_LOG_LEVEL": "DEBUG"}
    results = [cycle_result(lab, env=debug) for _ in range(3)]
    # THEN each cycle reports node1 failed at the timeout while node2 answered on its own time
    for result in results:
        assert result.ok, result.logs[-3000:]
        [record] = log_records(result, "cycle")
        probes = record["probes"]
        assert probes["node1"]["ok"] is False
        assert "no answer within" in probes["node1"]["detail"]
        assert probes["node2"]["ok"] is True
        assert probes["node2"]["ms"] < probes["node1"]["ms"]  # answered while node1's probe was still waiting
    # AND after FallThreshold cycles the EIP is on node2
    assert results[-1].payload["nodes"]["node1"] == "down"
    assert lab.holder() == "node2"


def test_alarm_while_node1_is_healthy_moves_nothing(lab: LabEnvironment) -> None:
    place_on_node1(lab)
    # WHEN the template's status-check alarm on node1's instance invokes the monitor
    payload = cycle(lab, lab.alarm_event("node1"))
    # THEN the probes overrule the hint
    assert payload["trigger"] == "alarm"
    assert payload["moves"] == []
    assert payload["nodes"] == {"node1": "up", "node2": "up"}
    assert lab.holder() == "node1"
    assert lab.history("move_started")[-1]["reason"] == "EIP unassociated; node1 is up"  # the placement only


def test_alarm_starts_probing_and_moves_once_probes_confirm(lab: LabEnvironment) -> None:
    place_on_node1(lab)
    lab.nodes["node1"].stop()
    # WHEN node1 fails and its alarm invokes the monitor
    # (a cold invocation's budget for FallThreshold cycles and the move, even on a loaded machine)
    payload = loop_for(lab, 5.0, lab.alarm_event("node1"))
    # THEN the alarm's own invocation probes until node1 is confirmed down and moves the EIP
    assert payload["trigger"] == "alarm"
    assert [move["to"] for move in payload["moves"]] == ["node2"]
    [started] = [e for e in lab.history("move_started") if e["node"] == "node2"]
    assert started["by"].startswith("monitor:alarm:")
    assert lab.holder() == "node2"
