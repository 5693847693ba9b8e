"""Preflight on the lab: the real handlers in fresh processes, moto behind the recording AWS proxy, the
stack's schedule and alarms created from template.yaml. It passes on a healthy lab and changes nothing;
with ec2:AssociateAddress denied it fails naming the action, the EIP and the instances - before a
failover would have."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from nginx_eip_failover_lab.aws.denials import denied, elastic_ip_arn
from nginx_eip_failover_lab.environment import LabEnvironment
from support.lab_driving import cycle, ok, place_on_node1

pytestmark = pytest.mark.integration

PERIODIC = """
import json
from nginx_eip_failover.handlers.preflight_wiring import periodic_preflight
runner = periodic_preflight()
runner.tick()
runner.finish(20.0)
report = runner.last_report
print(json.dumps(None if report is None else {"ok": report.ok, "checks": report.as_dicts()}))
"""


def preflight(lab: LabEnvironment) -> dict[str, Any]:
    payload = ok(lab.control({"action": "preflight"}))
    assert payload["action"] == "preflight"
    return payload


def kinds(lab: LabEnvironment) -> list[str]:
    return [str(notice["kind"]) for notice in lab.notifications()]


def test_preflight_passes_on_the_lab_and_changes_nothing(lab: LabEnvironment) -> None:
    assert lab.proxy is not None
    place_on_node1(lab)
    lab.notifications()
    before, moves = lab.item(), lab.proxy.count("AssociateAddress")
    lab.proxy.reset()
    payload = preflight(lab)
    assert payload["ok"] is True, json.dumps(payload["checks"], indent=1)
    assert [check["status"] for check in payload["checks"]] == ["ok"] * 12  # nothing skipped on the lab
    assert payload["status"]["eip"]["node"] == "node1"
    # The two DryRun AssociateAddress calls reached EC2 (moto) and were answered DryRunOperation (412).
    assert [call.upstream_status for call in lab.proxy.calls("AssociateAddress")] == [412, 412]
    assert lab.proxy.count("AssociateAddress") == 0 and moves == 1
    assert lab.holder() == "node1" and lab.item() == before
    assert kinds(lab) == []


def test_a_denied_associate_address_fails_preflight_naming_the_action_the_eip_and_the_instance(
    lab: LabEnvironment,
) -> None:
    assert lab.proxy is not None
    lab.proxy.inject(denied("AssociateAddress", resource=elastic_ip_arn(lab.allocation_id), times=None))
    payload = preflight(lab)
    assert payload["ok"] is False
    failures = [check for check in payload["checks"] if not check["ok"]]
    assert [check["check"] for check in failures] == ["ec2:AssociateAddress (DryRun)"] * 2
    for node, check in zip(("node1", "node2"), failures, strict=True):
        instance = lab.instance_id(node)
        assert check["target"] == f"{node}: {lab.allocation_id} -> {instance}"
        assert check["why_not"].startswith(
            f"ec2:AssociateAddress denied for elastic-ip/{lab.allocation_id} with instance/{instance}: "
            "UnauthorizedOperation: "
        )
        assert f"ec2:AssociateAddress on resource: {elastic_ip_arn(lab.allocation_id)}" in check["why_not"]
    # The DryRun requests were denied by "IAM" (the proxy), as EC2 would: 403 UnauthorizedOperation.
    assert {(call.status, call.fault) for call in lab.proxy.calls("AssociateAddress")} == {
        (403, "UnauthorizedOperation before")
    }
    assert kinds(lab) == ["preflight_failing"]
    assert preflight(lab)["ok"] is False
    assert kinds(lab) == []  # one notice when it starts, not one per run
    # What preflight predicted: the first placement of the EIP fails the same way.
    result = cycle(lab)
    assert any("UnauthorizedOperation" in error for error in result["move_errors"])
    assert lab.holder() is None
    lab.proxy.clear_faults()
    assert preflight(lab)["ok"] is True
    assert "preflight_failing_cleared" in kinds(lab)


def test_the_monitors_periodic_preflight_runs_once_per_period_across_containers(lab: LabEnvironment) -> None:
    """The monitor's own environment (no schedule name, its own name for the alarms), in two fresh
    processes: the first runs every check, the second (another container) learns it need not."""
    assert lab.proxy is not None

    def container() -> Any:
        done = subprocess.run(
            [sys.executable, "-c", PERIODIC],
            env={**lab.monitor_env, "PREFLIGHT_INTERVAL_SECONDS": "900"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout.strip().splitlines()[-1])

    assert lab.monitor_env["PREFLIGHT_INTERVAL_SECONDS"] == "0"  # the integration tests' default: off
    lab.proxy.reset()
    first = container()
    assert first["ok"] is True, json.dumps(first["checks"], indent=1)
    statuses = {(check["check"], check["status"]) for check in first["checks"]}
    assert ("schedule", "skipped") in statuses
    assert ("cloudwatch:DescribeAlarms", "ok") in statuses
    calls = len(lab.proxy.calls())
    assert container() is None  # within the period: not run again
    assert [call.action for call in lab.proxy.calls()[calls:]] == ["PutItem"]  # the one lost claim, nothing else
