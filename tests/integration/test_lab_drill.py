"""The failover drill on the lab: real nginx nodes, moto server as AWS, the ControlFunction's handler
in its own process (as Lambda runs it), the CLI as an operator runs it."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nginx_eip_failover_lab.environment import LabEnvironment
from nginx_eip_failover_lab.invoke import invoke_handler
from support.lab_driving import LabFactory, control, cycles, lab_cli, place_on_node1

pytestmark = pytest.mark.integration


@pytest.fixture
def lab(make_lab: LabFactory) -> LabEnvironment:
    lab = make_lab(PreemptDelaySeconds="0")
    place_on_node1(lab)
    return lab


def test_a_drill_moves_to_the_peer_and_back_measuring_each_move(lab: LabEnvironment) -> None:
    check_url = lab.nodes["node2"].health_url  # the lab has no routed EIP: a URL that answers stands in
    answer = control(lab, {"action": "drill", "reason": "game day", "check_url": check_url})
    drill = answer["drill"]
    assert drill["result"] == "done" and drill["origin"] == "node1"
    assert [leg["to"] for leg in drill["legs"]] == ["node2", "node1"]
    for leg in drill["legs"]:
        assert leg["moved"] is True and leg["error"] is None
        assert leg["association_seconds"] > 0
        assert leg["check_status"] == 200 and leg["check_seconds"] >= leg["association_seconds"]
    # back where it was, and the pin as it was (none): the monitor's rules apply again
    assert lab.holder() == "node1"
    assert answer["status"]["pin"] is None and answer["status"]["drill"] is None
    assert "no pin" in drill["pins"]
    # both moves are in the history and the decision log, the measured times in the reasons
    moves = [e for e in lab.history("move_completed")][-2:]
    assert [m["node"] for m in moves] == ["node2", "node1"]
    records = control(lab, {"action": "log", "since": 0, "limit": 1000})["records"]
    requests = [r["inputs"]["request"] for r in records if r.get("inputs", {}).get("request")]
    reasons = [request["reason"] for request in requests]
    drill_reasons = [reason for reason in reasons if reason.startswith(f"drill {drill['id']}")]
    assert [reason.split(":")[0] for reason in drill_reasons] == [
        f"drill {drill['id']} away",
        f"drill {drill['id']} back",
        f"drill {drill['id']} done",
    ]
    assert "away node2 in " in drill_reasons[1] and "back node1 in " in drill_reasons[2]


def test_a_drill_keeps_an_operator_pin_with_its_reason(lab: LabEnvironment) -> None:
    control(lab, {"action": "failover", "target": "node1", "reason": "keep on node1 this week"})
    answer = control(lab, {"action": "drill"})
    assert answer["drill"]["result"] == "done"
    pin = answer["status"]["pin"]
    assert pin["node"] == "node1" and pin["reason"] == "keep on node1 this week"
    assert lab.holder() == "node1"


def test_stay_leaves_the_eip_pinned_on_the_peer_and_says_so(lab: LabEnvironment) -> None:
    answer = control(lab, {"action": "drill", "stay": True})
    assert answer["drill"]["result"] == "stayed" and len(answer["drill"]["legs"]) == 1
    assert lab.holder() == "node2"
    assert answer["status"]["pin"]["node"] == "node2"
    assert answer["status"]["drill"]["state"] == "stayed"
    assert "unpin" in answer["drill"]["pins"]
    control(lab, {"action": "unpin"})
    assert lab.holder() == "node1"


def test_a_drill_is_refused_when_the_peer_is_down(lab: LabEnvironment) -> None:
    lab.nodes["node2"].stop()
    cycles(lab, 3)
    assert control(lab, {"action": "status"})["status"]["nodes"]["node2"]["health"] == "down"
    result = lab.control({"action": "drill"})
    assert result.error_type == "RefusedError"
    assert "node2" in (result.error_message or "") and "is down" in (result.error_message or "")
    assert (result.error_message or "").endswith("[refused:target_down]")
    assert lab.holder() == "node1" and lab.state().get("pin") is None


def test_a_drill_is_refused_when_the_peer_is_drained(lab: LabEnvironment) -> None:
    control(lab, {"action": "drain", "node": "node2", "reason": "disk swap"})
    result = lab.control({"action": "drill"})
    assert result.error_type == "RefusedError"
    assert "peer node2 is drained (disk swap)" in (result.error_message or "")
    assert (result.error_message or "").endswith("[refused:target_drained]")
    assert lab.holder() == "node1"
    assert control(lab, {"action": "status"})["status"]["drains"] == ["node2"]


@pytest.fixture
def silent_url() -> Iterator[str]:
    """A URL that accepts connections and never answers: a drill checking it waits there."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}/"
    finally:
        server.close()


def test_a_drill_killed_halfway_is_shown_and_a_rerun_finishes_it(lab: LabEnvironment, silent_url: str) -> None:
    # GIVEN a drill whose invocation dies once the EIP is on the peer (its check URL never answers)
    def kill_once_moved(process: Any) -> None:
        # on_start runs before the event is written to the process: watch from another thread
        def watch() -> None:
            deadline = time.monotonic() + 60
            while lab.holder() != "node2" and time.monotonic() < deadline:
                time.sleep(0.05)
            process.kill()

        threading.Thread(target=watch, daemon=True).start()

    env = {**lab.control_env, **lab.extra_env}
    killed = invoke_handler(
        "control", {"action": "drill", "check_url": silent_url}, env, remaining_ms=30000, on_start=kill_once_moved
    )
    assert not killed.ok
    # THEN the EIP is on the healthy peer, pinned there, and status says a drill is under way
    assert lab.holder() == "node2"
    status = control(lab, {"action": "status"})["status"]
    assert status["pin"]["node"] == "node2"
    assert status["drill"]["state"] == "in_progress" and status["drill"]["origin"] == "node1"
    assert "drill again" in status["drill"]["advice"] or "node1" in status["drill"]["advice"]
    # WHEN the drill is run again, it finishes the first one: back on node1, no pin
    answer = control(lab, {"action": "drill"})
    assert answer["drill"]["result"] == "finished" and answer["drill"]["finished_earlier_drill"] is True
    assert lab.holder() == "node1"
    assert answer["status"]["pin"] is None and answer["status"]["drill"] is None


def test_the_cli_drill_prints_a_table_and_json(lab: LabEnvironment, tmp_path: Path) -> None:
    path = tmp_path / "lab.json"

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return lab_cli(lab, path, *args)

    done = cli("drill", "--reason", "game day")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("Drill ") and lines[0].endswith(": done (from node1)")
    assert any(line.split()[:3] == ["1", "node2", "yes"] for line in lines)
    assert any(line.split()[:3] == ["2", "node1", "yes"] for line in lines)
    assert "pins and drains as before the drill" in done.stdout
    answer = json.loads(cli("drill", "--stay", "--json").stdout)
    assert answer["drill"]["result"] == "stayed" and lab.holder() == "node2"
    status = cli("status")
    assert "Drill " in status.stdout and "stayed" in status.stdout
    lab.nodes["node1"].stop()
    cycles(lab, 3)
    refused = cli("drill")  # the peer of node2 is node1, now down
    assert refused.returncode == 1 and "node1" in refused.stderr and "down" in refused.stderr
