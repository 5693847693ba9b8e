"""Issue #25 black box: blips shorter than FallThreshold probes, each seen by a fresh cold invocation
started beside a long-running monitor, must never add up to a failover; and a node that dies at a
schedule hand-off must still lose the EIP within FallThreshold x interval + 6 s.

Every invocation here is a new process (a cold container: imports, a first read of the state), the
long one a warm container keeping its cached copy of the state, so successes it sees while its copy
shows node1 up go unwritten: the world in which a time-gap-bounded shared streak adds separate blips up.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest

from nginx_eip_failover_lab.environment import LabEnvironment
from support.lab_driving import LabFactory, loop_for, ok, place_on_node1

pytestmark = pytest.mark.integration

# The issue's settings: FallThreshold 2, HealthCheckIntervalSeconds 1, timeout 0.5 s.
ISSUE_SETTINGS = {"FallThreshold": "2", "HealthCheckIntervalSeconds": "1", "HealthCheckTimeoutSeconds": "0.5"}


def fresh_invocation(lab: LabEnvironment, event: dict[str, Any] | None = None) -> dict[str, Any]:
    """A fresh (cold) MonitorFunction invocation with room for one probe cycle."""
    return ok(lab.monitor(event, remaining_ms=2000))


def blips(
    lab: LabEnvironment,
    *,
    count: int,
    down: float,
    up: float,
    timeouts: bool = False,
    fresh_per_blip: int = 1,
    event: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """`count` times: node1 fails for `down` seconds (refuses, or hangs when `timeouts`), then answers
    for `up` seconds; `fresh_per_blip` fresh invocations start at the start of each blip. Returns their
    payloads once all have ended."""
    node1 = lab.nodes["node1"]
    started: list[Future[dict[str, Any]]] = []
    with ThreadPoolExecutor(max_workers=max(2, count * fresh_per_blip)) as pool:
        for _ in range(count):
            if timeouts:
                node1.hang()
            else:
                node1.stop()
            started += [pool.submit(fresh_invocation, lab, event) for _ in range(fresh_per_blip)]
            time.sleep(down)
            if timeouts:
                node1.resume()
            else:
                node1.start()
            time.sleep(up)
        return [future.result() for future in started]


def assert_node1_never_down(lab: LabEnvironment, history_from: int) -> None:
    entries = lab.history()[history_from:]
    downs = [entry for entry in entries if entry["event"] == "node_down" and entry["node"] == "node1"]
    moves = [entry for entry in entries if entry["event"] in ("move_started", "move_completed")]
    assert downs == [], f"node1 marked down: {downs}; moves: {moves}"
    assert moves == [], moves
    assert lab.proxy is not None and lab.proxy.count("AssociateAddress") == 0
    assert lab.holder() == "node1"


def test_the_issues_blips_with_fresh_invocations_beside_a_long_monitor_move_nothing(make_lab: LabFactory) -> None:
    # GIVEN the issue's settings and the EIP on node1
    lab = make_lab(**ISSUE_SETTINGS)
    place_on_node1(lab)
    assert lab.proxy is not None
    lab.proxy.reset()
    history_from = len(lab.history())
    # WHEN one MonitorFunction runs for 40 s, and six times node1 fails for 0.9 s (shorter than one
    # interval) then answers for 3.5 s, a fresh invocation starting at the start of each blip
    with ThreadPoolExecutor(max_workers=1) as pool:
        long_run = pool.submit(loop_for, lab, 40.0)
        time.sleep(1.5)  # the long invocation's cold start and first cycle
        fresh = blips(lab, count=6, down=0.9, up=3.5)
        payload = long_run.result()
    # THEN node1 was never marked down and the EIP never moved, in any invocation's view
    assert_node1_never_down(lab, history_from)
    assert payload["moves"] == [] and payload["eip"]["holder"] == "node1", payload
    assert [p["moves"] for p in fresh] == [[]] * len(fresh)


def test_timeout_blips_at_fall_threshold_3_with_two_fresh_invocations_each_move_nothing(
    make_lab: LabFactory,
) -> None:
    # GIVEN FallThreshold 3 and the EIP on node1
    lab = make_lab(**{**ISSUE_SETTINGS, "FallThreshold": "3"})
    place_on_node1(lab)
    assert lab.proxy is not None
    lab.proxy.reset()
    history_from = len(lab.history())
    # WHEN node1 hangs (probes time out) for 1.5 s, under the 2 intervals three probes span, then
    # answers for 2.5 s, six times, with two fresh invocations starting at the start of each hang
    with ThreadPoolExecutor(max_workers=1) as pool:
        long_run = pool.submit(loop_for, lab, 28.0)
        time.sleep(1.5)
        fresh = blips(lab, count=6, down=1.5, up=2.5, timeouts=True, fresh_per_blip=2)
        payload = long_run.result()
    # THEN nothing moved
    assert_node1_never_down(lab, history_from)
    assert payload["moves"] == [] and payload["eip"]["holder"] == "node1", payload
    assert [p["moves"] for p in fresh] == [[]] * len(fresh)


def lease_registered(lab: LabEnvironment) -> tuple[float, str] | None:
    """The monitor lease's (started_at, invocation), or None while no scheduled invocation registered."""
    item = lab.dynamodb.get_item(
        TableName=lab.monitor_env["MONITOR_LEASE_TABLE_NAME"],
        Key={"pk": {"S": f"monitor#{lab.allocation_id}"}},
        ConsistentRead=True,
    ).get("Item")
    return None if item is None else (float(item["started_at"]["N"]), item["invocation"]["S"])


def wait_for_lease_change(lab: LabEnvironment, before: tuple[float, str] | None, deadline: float = 15.0) -> float:
    """Poll the lease until a (new) scheduled invocation registers; the monotonic time it was seen."""
    give_up = time.monotonic() + deadline
    while time.monotonic() < give_up:
        current = lease_registered(lab)
        if current is not None and current != before:
            return time.monotonic()
        time.sleep(0.05)
    raise AssertionError(f"no scheduled invocation registered in the monitor lease within {deadline} s")


def test_a_node_dying_at_a_schedule_hand_off_loses_the_eip_in_time(make_lab: LabFactory) -> None:
    # GIVEN the issue's settings, the EIP on node1, and a scheduled invocation A probing and registered
    # in the monitor lease (it reads the lease again 10 s after registering: LEASE_CHECK_SECONDS)
    lab = make_lab(**ISSUE_SETTINGS)
    place_on_node1(lab)
    fall, interval = 2, 1.0
    with ThreadPoolExecutor(max_workers=2) as pool:
        before = lease_registered(lab)
        first = pool.submit(loop_for, lab, 30.0)
        a_registered = wait_for_lease_change(lab, before)
        # AND its successor B started by the schedule, registered before A's next lease read
        time.sleep(4.0)
        after_a = lease_registered(lab)
        second = pool.submit(loop_for, lab, 16.0)
        wait_for_lease_change(lab, after_a)
        # WHEN node1 dies just before A reads the lease and hands over to B
        time.sleep(max(0.0, a_registered + 10.0 - 0.6 - time.monotonic()))
        lab.nodes["node1"].stop()
        died = time.monotonic()
        # THEN the EIP is on node2 within FallThreshold x interval + 6 s
        while lab.holder() != "node2" and time.monotonic() - died < fall * interval + 6.0:
            time.sleep(0.1)
        moved_after = time.monotonic() - died
        handed, last = first.result(), second.result()
    assert handed["ended"] == "handed_over", handed
    assert lab.holder() == "node2", (moved_after, handed, last)
    assert moved_after <= fall * interval + 6.0
