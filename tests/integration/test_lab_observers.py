"""Three observers on the lab: MonitorFunction and the template's Observer2/3Function, each its own
process probing real nginx through its own links, deciding through moto's DynamoDB with a quorum."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from nginx_eip_failover_lab.environment import LabEnvironment
from nginx_eip_failover_lab.processes import wait_until
from nginx_eip_failover_lab.scenarios.observers import OBSERVER_PARAMETERS, LabObservers
from support.lab_driving import LabFactory

pytestmark = pytest.mark.integration

INTERVAL, TIMEOUT, FALL = 0.3, 0.3, 3
# How long the observers probe in each test: more than any scenario below needs.
RUN_SECONDS = 45.0


@pytest.fixture
def observed(make_lab: LabFactory) -> Iterator[tuple[LabEnvironment, LabObservers]]:
    lab = make_lab(
        **OBSERVER_PARAMETERS,
        HealthCheckIntervalSeconds=str(INTERVAL),
        HealthCheckTimeoutSeconds=str(TIMEOUT),
        FallThreshold=str(FALL),
    )
    observers = LabObservers(lab)
    assert observers.names == ["local", "observer2", "observer3"]
    with observers.start(RUN_SECONDS):
        # GIVEN the EIP placed on node1, both nodes up
        assert wait_until(lambda: lab.holder() == "node1" and _nodes(lab) == {"node1": "up", "node2": "up"}, 20)
        yield lab, observers


def _nodes(lab: LabEnvironment) -> dict[str, str]:
    return {name: health["status"] for name, health in (lab.state().get("nodes") or {}).items()}


def _moves(lab: LabEnvironment, node: str) -> list[dict[str, object]]:
    return [entry for entry in lab.history("move_started") if entry.get("node") == node]


def test_one_observer_partitioned_from_node1_moves_nothing(observed: tuple[LabEnvironment, LabObservers]) -> None:
    lab, observers = observed
    # WHEN observer2 can no longer reach node1 (node1 itself is fine)
    observers.links.cut("observer2", "node1")
    time.sleep(8 * FALL * INTERVAL)
    # THEN nothing moved: one vote of three is no majority
    assert lab.holder() == "node1"
    assert _nodes(lab)["node1"] == "up"
    assert _moves(lab, "node2") == []
    assert "observer_isolated" not in lab.state().get("alerts", [])


def test_node1_really_down_fails_over_within_detection_and_sharing(
    observed: tuple[LabEnvironment, LabObservers],
) -> None:
    lab, _observers = observed
    # WHEN node1's nginx is really stopped
    stopped = time.time()
    lab.nodes["node1"].stop()
    # THEN the EIP is on node2 within the detection time (FallThreshold probes after the first failed
    # one, which comes within an interval and a timeout) plus the sharing bound (an interval to read the
    # others' reports) and a move; the slack is for a loaded machine, the bench measures the real figure
    detection = INTERVAL + TIMEOUT + (FALL - 1) * INTERVAL
    bound = detection + INTERVAL + 3.0
    assert wait_until(lambda: lab.holder() == "node2", bound), f"EIP {lab.holder()} after {bound:.1f}s"
    [down] = [e for e in lab.history("node_down") if e.get("node") == "node1"]
    assert str(down["reason"]).startswith(("2/3 observers", "3/3 observers")), down
    assert down["at"] - stopped >= (FALL - 1) * INTERVAL * 0.95  # never before FallThreshold spanned


def test_an_isolated_observer_moves_nothing_and_its_alert_is_raised_then_cleared(
    observed: tuple[LabEnvironment, LabObservers],
) -> None:
    lab, observers = observed
    # WHEN observer3 is cut from every node
    observers.links.cut("observer3")
    # THEN it is reported isolated, and nothing moves
    assert wait_until(lambda: "observer_isolated" in lab.state().get("alerts", []), 10)
    time.sleep(4 * FALL * INTERVAL)
    assert lab.holder() == "node1" and _moves(lab, "node2") == []
    assert _nodes(lab) == {"node1": "up", "node2": "up"}
    [raised] = lab.history("observer_isolated")
    assert raised["detail"]["observers"] == "observer3"
    # WHEN its network heals THEN the alert clears
    observers.links.heal("observer3")
    assert wait_until(lambda: "observer_isolated" not in lab.state().get("alerts", []), 20)
    assert len(lab.history("observer_isolated_cleared")) == 1
    # the notice is published after the state write that cleared the alert: it may land a moment later
    kinds: list[object] = []
    assert wait_until(
        lambda: kinds.extend(n.get("kind") for n in lab.notifications()) or "observer_isolated_cleared" in kinds, 10
    )
    assert "observer_isolated" in kinds
    assert lab.holder() == "node1"


def test_an_observer_killed_still_fails_over(observed: tuple[LabEnvironment, LabObservers]) -> None:
    lab, observers = observed
    # WHEN observer3 is lost, then node1 really fails
    observers.kill("observer3")
    lab.nodes["node1"].stop()
    # THEN the two left are a majority of three: the EIP moves to node2
    assert wait_until(lambda: lab.holder() == "node2", 10)
    [down] = [e for e in lab.history("node_down") if e.get("node") == "node1"]
    assert "observer3" not in str(down["reason"]).split(":")[0]
