"""The lab run from the CDK construct's synthesized stack instead of template.yaml: the same pair,
functions and settings (the stack's parameters are named as template.yaml's), so a construct that
drifts from what the functions need fails here (make cdk-test; skipped without the CDK venv)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from nginx_eip_failover_lab.aws.moto_server import MotoServer
from nginx_eip_failover_lab.environment import LabEnvironment
from nginx_eip_failover_lab.stack.cdk_names import PATH_METADATA
from support.cdk_synth import LAB_STACK, synthesized
from support.iam_ledger import IAM_LEDGER
from support.lab_driving import control, loop_for, ok

pytestmark = pytest.mark.integration

SETTINGS = {
    "HealthCheckIntervalSeconds": "0.3",
    "HealthCheckTimeoutSeconds": "0.3",
    "FallThreshold": "3",
    "RiseThreshold": "2",
    "PreemptDelaySeconds": "2",
    "PreflightIntervalSeconds": "0",
}


def control_payload(lab: LabEnvironment, request: dict[str, Any]) -> dict[str, Any]:
    return ok(lab.control(request))


def test_the_lab_fails_over_on_the_cdk_stack(moto_server: MotoServer, tmp_path: Path) -> None:
    template = synthesized()[LAB_STACK]
    lab = LabEnvironment(settings=SETTINGS, base_dir=tmp_path / "lab", moto=moto_server, template=template)
    with lab:
        # GIVEN the lab's stack from the synthesized template (the CDK's logical IDs read as template.yaml's)
        assert lab.template_path == template
        assert all(PATH_METADATA in (r.get("Metadata") or {}) for r in lab.template.resources.values())
        assert lab.stack is not None
        assert {"StateTable", "DecisionLogTable", "MonitorLeaseTable", "NotificationTopic"} <= set(
            lab.stack.physical_ids
        )
        assert lab.monitor_env["FALL_THRESHOLD"] == "3" and lab.monitor_env["OBSERVERS"] == "local"
        assert lab.control_env["SCHEDULE_NAME"] == lab.stack.physical_ids["MonitorFunctionEveryMinute"]
        # (invocations of a few cycles each: a one-cycle budget is tight on a loaded machine)
        placed = loop_for(lab, 1.5)
        assert placed["eip"]["holder"] == "node1" and lab.holder() == "node1"
        # and the preflight (IAM by DryRun, the schedule and alarms as created from the synth) passes
        preflight = control_payload(lab, {"action": "preflight"})
        assert preflight["ok"] is True, json.dumps(preflight["checks"], indent=1)
        assert {check["status"] for check in preflight["checks"]} == {"ok"}
        # WHEN node1's nginx is really stopped
        lab.nodes["node1"].stop()
        # THEN the monitor fails over to node2, under the synthesized roles' IAM
        payload = loop_for(lab, 3.0)
        assert [move["to"] for move in payload["moves"]] == ["node2"]
        assert lab.holder() == "node2"
        status = control(lab, {"action": "status"})["status"]
        assert status["eip"]["instance_id"] == lab.instance_id("node2")
        denied = IAM_LEDGER.add(lab)
        assert not denied, "calls the CDK stack's IAM policies do not allow:\n" + "\n".join(
            v.describe() for v in denied
        )
