"""The decision log on the lab: a real failover (real nginx, moto server, the handlers in fresh
processes), the log fetched through the ControlFunction's `log` action and replayed exactly."""

from __future__ import annotations

import pytest

from nginx_eip_failover.core.log_records import ChangeRecord, record_from_dict
from nginx_eip_failover.service.replay import ReplayResult, replay
from nginx_eip_failover_lab.environment import LabEnvironment
from support.lab_driving import control, loop_for

pytestmark = pytest.mark.integration


def test_a_lab_failover_is_logged_and_replays_exactly(lab: LabEnvironment) -> None:
    # GIVEN the EIP placed on node1, then node1's nginx stopped until the EIP moves, then back
    # (looping invocations, each with time to carry out a move)
    loop_for(lab, 3.0)
    assert lab.holder() == "node1"
    lab.nodes["node1"].stop()
    loop_for(lab, 3.0)
    assert lab.holder() == "node2"
    lab.nodes["node1"].start()
    loop_for(lab, 6.0)  # node1 up, failback after PreemptDelaySeconds (2 s) inside one invocation
    assert lab.holder() == "node1"
    # WHEN the log is read through the ControlFunction
    answer = control(lab, {"action": "log", "since": 0, "limit": 1000})
    assert answer["enabled"] is True and answer["next"] is None
    records = [record_from_dict(item) for item in answer["records"]]
    changes = [r for r in records if isinstance(r, ChangeRecord)]
    # THEN it holds every change: the placement, the failed probes, the failover and the failback
    rules = [r.move.reason.split(":")[0].split(";")[0] for r in changes if r.move is not None]
    assert rules == ["EIP unassociated", "failover", "preempt"]
    assert [r.op for r in changes].count("outcome") == 3
    # AND replaying it with the recorded settings reproduces every decision exactly
    result = replay(records)
    assert result.exact, [step.mismatch for step in result.mismatches]
    assert result.gaps == 0
    # AND with FallThreshold=1 the failover comes at node1's first failed probe
    other = replay(records, {"FallThreshold": "1"})
    first_failed = min(
        (r.probed_at or r.at) for r in changes if any(o.node == "node1" and not o.ok for o in r.observations)
    )

    def failovers(replayed: ReplayResult) -> list[float]:
        starts = replayed.moves("replayed")
        return [at for at, e in starts if e.event == "move_started" and e.reason.startswith("failover")]

    assert failovers(other)[0] < failovers(result)[0]
    assert first_failed <= failovers(other)[0]
