"""The real-account e2e test's parts that need no AWS: the `sam deploy` it runs, the answer it decodes,
the SSM wait, the resource table. (The run itself is tested on the lab:
tests/integration/test_aws_e2e_orchestration.py.)"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from nginx_eip_failover_e2e.aws import AwsClients
from nginx_eip_failover_e2e.controller import ControlError, SamDeployment, controller_parameters, decode_answer
from nginx_eip_failover_e2e.nginx_stop import STOP_COMMAND, NginxStopError, SsmNginxStop
from nginx_eip_failover_e2e.resources import Resource, render

OUTPUTS = {
    "ElasticIpAllocationId": "eipalloc-0123456789abcdef0",
    "Node1InstanceId": "i-0000000000000000a",
    "Node2InstanceId": "i-0000000000000000b",
    "Node1PrivateIp": "10.42.1.10",
    "Node2PrivateIp": "10.42.2.10",
    "SubnetIds": "subnet-0000000a,subnet-0000000b",
    "FunctionSecurityGroupId": "sg-0000000f",
    "VpcId": "vpc-00000001",
    "RouteTableId": "rtb-00000001",
}


def _clients() -> AwsClients:
    return AwsClients(boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name="eu-west-1"))


def test_sam_deploy_is_run_in_the_build_directory_without_a_prompt_and_a_failure_names_the_stack(
    tmp_path: Path,
) -> None:
    template = tmp_path / "template.yaml"
    template.write_text("Resources: {}\n")
    calls: list[tuple[list[str], Any]] = []

    def sam_fails(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        calls.append((command, kwargs["cwd"]))
        return subprocess.CompletedProcess(command, 1)

    deployment = SamDeployment(_clients(), "e2e-stack", "run1", sam="/opt/sam", template=template, run=sam_fails)
    with pytest.raises(ControlError, match=r"sam deploy of e2e-stack failed \(exit 1\)"):
        deployment.deploy(controller_parameters(OUTPUTS, {"FallThreshold": "2"}))
    command, cwd = calls[0]
    assert cwd == tmp_path  # not the repository: its samconfig.toml (placeholders, a prompt) is not read
    assert command[:4] == ["/opt/sam", "deploy", "--template-file", str(template)]
    assert "--no-confirm-changeset" in command and command[command.index("--region") + 1] == "eu-west-1"
    overrides = command[command.index("--parameter-overrides") + 1 :]
    assert "Node1HealthCheckUrl=http://10.42.1.10/health" in overrides
    assert "SubnetIds=subnet-0000000a,subnet-0000000b" in overrides and "CreateVpcEndpoints=true" in overrides
    assert "FallThreshold=2" in overrides
    with pytest.raises(ControlError, match="not deployed"):
        deployment.control({"action": "status"})


def test_without_a_sam_build_the_deployment_says_to_run_make_build(tmp_path: Path) -> None:
    deployment = SamDeployment(_clients(), "e2e-stack", "run1", template=tmp_path / "missing.yaml")
    with pytest.raises(ControlError, match="run `make build` first"):
        deployment.deploy({})


def test_a_function_error_is_raised_with_its_type_and_message() -> None:
    assert decode_answer(b'{"ok": true}', None) == {"ok": True}
    with pytest.raises(ControlError, match=r"RefusedError: peer node2 is down \[refused:target_down\]"):
        decode_answer(
            b'{"errorType": "RefusedError", "errorMessage": "peer node2 is down [refused:target_down]"}', "Unhandled"
        )
    with pytest.raises(ControlError, match="Unhandled"):
        decode_answer(b"not json", "Unhandled")


class FakeSsm:
    """SSM's Run Command as the run sees it: statuses in the order given, then the last one."""

    def __init__(self, *statuses: str, stderr: str = "") -> None:
        self.statuses = list(statuses)
        self.stderr = stderr
        self.sent: list[dict[str, Any]] = []

    def send_command(self, **kwargs: Any) -> dict[str, Any]:
        self.sent.append(kwargs)
        return {"Command": {"CommandId": "c-1"}}

    def get_command_invocation(self, **_kwargs: Any) -> dict[str, Any]:
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        if status == "unregistered":
            raise ClientError({"Error": {"Code": "InvocationDoesNotExist", "Message": ""}}, "GetCommandInvocation")
        return {"Status": status, "StandardErrorContent": self.stderr}


def test_the_ssm_stop_waits_for_the_command_and_reports_a_failed_one() -> None:
    ssm = FakeSsm("unregistered", "InProgress", "Success")
    SsmNginxStop(ssm, sleep=lambda _s: None)("i-0000000000000000a")
    assert ssm.sent[0]["Parameters"] == {"commands": [STOP_COMMAND]}
    assert ssm.sent[0]["DocumentName"] == "AWS-RunShellScript"
    failed = FakeSsm("Failed", stderr="Failed to stop nginx.service: Unit nginx.service not loaded.")
    with pytest.raises(NginxStopError, match=r"ended Failed: Failed to stop nginx\.service"):
        SsmNginxStop(failed, sleep=lambda _s: None)("i-0000000000000000a")


def test_the_ssm_stop_gives_up_after_its_timeout() -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    with pytest.raises(NginxStopError, match="still InProgress after 5 s"):
        SsmNginxStop(FakeSsm("InProgress"), timeout=5, poll=1, monotonic=lambda: now[0], sleep=sleep)("i-1")


def test_the_table_says_which_resources_are_not_confirmed_deleted() -> None:
    resources = [
        Resource("nodes", "Node1", "AWS::EC2::Instance", "i-0000000000000000a", deleted=True),
        Resource("nodes", "ElasticIp", "AWS::EC2::EIP", "198.51.100.7", deleted=False),
        Resource("ctl", "StateTable", "AWS::DynamoDB::Table", "ctl-StateTable-X", deleted=None),
    ]
    table = render(resources)
    lines = table.splitlines()
    assert lines[0] == "Bill-relevant resources created:"
    assert lines[3].split()[:5] == ["nodes", "ElasticIp", "AWS::EC2::EIP", "198.51.100.7", "NO"]
    assert lines[4].split()[4] == "unknown"
    assert lines[-1] == "2 of 3 bill-relevant resources NOT confirmed deleted: delete them by hand"
    assert render([]) == "Bill-relevant resources created: none"
