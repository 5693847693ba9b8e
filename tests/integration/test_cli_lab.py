"""The operator CLI against a real lab: the installed command in its own process, the ControlFunction
handler in another (as Lambda would run it), real nginx nodes and a moto server as AWS."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from nginx_eip_failover_lab.environment import LabEnvironment
from support.lab_driving import LabFactory, cycles, place_on_node1

pytestmark = pytest.mark.integration


class Cli:
    """`nginx-eip-failover --lab-file PATH ...` run as a separate process, as an operator would."""

    def __init__(self, lab: LabEnvironment, path: Path) -> None:
        path.write_text(json.dumps({**lab.describe(), "pid": os.getpid()}, indent=2))
        self.path = path

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "nginx_eip_failover.cli", *args, "--lab-file", str(self.path)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env={key: value for key, value in os.environ.items() if not key.startswith("AWS_")},
        )

    def ok(self, *args: str) -> str:
        done = self(*args)
        assert done.returncode == 0, f"exit {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
        assert done.stderr == ""
        return done.stdout

    def status(self) -> dict[str, Any]:
        answer = json.loads(self.ok("status", "--json"))
        assert answer["ok"] is True and answer["action"] == "status"
        return dict(answer["status"])


@pytest.fixture
def cli(make_lab: LabFactory, tmp_path: Path) -> tuple[LabEnvironment, Cli]:
    lab = make_lab(PreemptDelaySeconds="0")
    place_on_node1(lab)
    return lab, Cli(lab, tmp_path / "lab.json")


def node_row(table: str, node: str) -> list[str]:
    return next(line.split() for line in table.splitlines() if line.startswith(f"{node} "))


def test_status_prints_the_holder_and_both_nodes(cli: tuple[LabEnvironment, Cli]) -> None:
    lab, run = cli
    out = run.ok("status")
    assert lab.pair is not None
    eip = f"Elastic IP  {lab.pair.public_ip}  {lab.allocation_id}  on node1 ({lab.instance_id('node1')})"
    assert out.splitlines()[0] == eip
    assert node_row(out, "node1")[:4] == ["node1", lab.instance_id("node1"), "101", "up"]
    assert node_row(out, "node2")[:4] == ["node2", lab.instance_id("node2"), "100", "up"]
    assert "yes" in node_row(out, "node1") and "yes" not in node_row(out, "node2")
    assert "Pin         none" in out and "Drains      none" in out and "Alerts      none" in out
    assert "move_completed  unassociated  node1" in out
    status = run.status()
    assert status["eip"]["node"] == "node1"
    assert status["eip"]["instance_id"] == lab.instance_id("node1")


def test_failover_moves_the_eip_and_a_refused_one_exits_non_zero(cli: tuple[LabEnvironment, Cli]) -> None:
    lab, run = cli
    out = run.ok("failover", "--to", "node2", "--reason", "patch node1")
    assert out.splitlines()[:3] == [
        "Request     failover node2: accepted",
        "Decision    operator failover to node2: patch node1",
        "Moved       the EIP to node2",
    ]
    status = run.status()
    assert status["eip"]["node"] == "node2" and lab.holder() == "node2"
    assert status["pin"]["node"] == "node2" and status["pin"]["reason"] == "patch node1"

    # node1 stops: once it is down, a failover to it is refused with the function's message
    lab.nodes["node1"].stop()
    cycles(lab, int(lab.monitor_env["FALL_THRESHOLD"]))
    before = lab.state()["version"]
    refused = run("failover", "--to", "node1", "--reason", "back")
    assert refused.returncode == 1
    assert refused.stdout == ""
    first, hint = refused.stderr.splitlines()
    assert first.startswith("nginx-eip-failover: invalid request: field 'target' = \"node1\": node1 is down (")
    assert hint == "nginx-eip-failover: add --force to move the EIP there anyway"
    assert lab.state()["version"] == before and lab.holder() == "node2"

    unknown = run("failover", "--to", "node3")
    assert unknown.returncode == 1
    assert "field 'target' = \"node3\": is not a node of this pair" in unknown.stderr

    as_json = run("--json", "failover", "--to", "node1")
    assert as_json.returncode == 1
    assert json.loads(as_json.stdout)["errorType"] == "RefusedError"

    usage = run("failover")
    assert usage.returncode == 2 and "--to" in usage.stderr


def test_drain_undrain_unpin_and_history(cli: tuple[LabEnvironment, Cli]) -> None:
    lab, run = cli
    run.ok("failover", "--to", "node2", "--reason", "patch node1")

    # unpin: normal preemption applies again, and node1 (up, preferred, no preempt delay) gets it back
    out = run.ok("unpin", "--reason", "patched")
    assert out.startswith("Request     unpin: accepted\n")
    assert "Moved       the EIP to node1" in out and "Pin         none" in out
    assert run.status()["pin"] is None

    # drain the holder: the EIP leaves it for the other (up) node at once, and stays away
    out = run.ok("drain", "node1", "--reason", "maintenance")
    assert "Moved       the EIP to node2" in out
    assert "drained" in node_row(out, "node1")
    assert "Drains      node1 (by operator at " in out and ": maintenance)" in out
    cycles(lab, 2)
    status = run.status()
    assert status["drains"] == ["node1"] and status["eip"]["node"] == "node2"

    # undrain (by instance ID): node1 is eligible again and, preferred, takes the EIP back
    out = run.ok("undrain", lab.instance_id("node1"))
    assert out.startswith("Request     undrain " + lab.instance_id("node1") + ": accepted\n")
    status = run.status()
    assert status["drains"] == [] and status["eip"]["node"] == "node1" and lab.holder() == "node1"

    history = run.ok("history", "--limit", "100")
    lines = history.splitlines()
    assert lines[0].split() == ["TIME", "(UTC)", "EVENT", "NODE", "BY", "REASON"]
    controls = [line.split(None, 5)[2:] for line in lines[1:] if " control_" in line]
    assert controls == [
        ["control_failover", "node2", "operator", "patch node1"],
        ["control_unpin", "-", "operator", "patched"],
        ["control_drain", "node1", "operator", "maintenance"],
        ["control_undrain", "node1", "operator", "(no reason given)"],
    ]
    assert len(run.ok("history", "--limit", "2").splitlines()) == 3
    entries = json.loads(run.ok("history", "--json", "--limit", "100"))
    assert [entry["event"] for entry in entries] == [entry["event"] for entry in lab.history()]
