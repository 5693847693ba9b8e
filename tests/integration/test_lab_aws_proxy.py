"""The lab's AWS proxy: it counts the calls that reached AWS and injects faults the SDK understands."""

from __future__ import annotations

import pytest

from nginx_eip_failover_lab.aws.proxy import Fault
from nginx_eip_failover_lab.environment import LabEnvironment
from support.lab_driving import cycle, cycles, place_on_node1

pytestmark = pytest.mark.integration


def test_injected_ec2_errors_fail_the_move_until_cleared(lab: LabEnvironment) -> None:
    place_on_node1(lab)
    assert lab.proxy is not None
    fault = lab.proxy.inject(Fault("AssociateAddress", service="ec2", status=503, code="Unavailable", times=None))
    # WHEN node1 fails while every AssociateAddress call is answered 503
    lab.nodes["node1"].stop()
    last = cycles(lab, 3)[-1]
    # THEN the move is attempted, reported as failed with EC2's error, and the EIP has not moved
    assert last["moves"] == []
    assert any("Unavailable" in error for error in last["move_errors"])
    assert fault.hits >= 1
    assert lab.holder() == "node1"
    assert lab.proxy.count("AssociateAddress") == 1  # the placement only: no faulted call took effect
    assert all(call.fault == "Unavailable before" for call in lab.proxy.calls("AssociateAddress")[1:])
    # WHEN EC2 recovers, a later cycle completes the failover
    lab.proxy.clear_faults()
    for _ in range(15):  # (the controller backs off 1, 2, 4 s after failed moves; warm cycles come faster)
        if cycle(lab)["eip"]["holder"] == "node2":
            break
    assert lab.holder() == "node2"
    assert lab.proxy.count("AssociateAddress") == 2
