"""The controller under test, as a port: deploy it with parameters, send its ControlFunction a request,
list what it created, delete it.

`SamDeployment` is the real one: `sam deploy` (a subprocess) of the `sam build` output, which packages
the functions to SAM's managed artifact bucket (`--resolve-s3`) and creates the stack through a change
set with the SAM transform; the requests go through `lambda.invoke`; the delete is CloudFormation's.
The integration test puts the lab's functions behind the same port.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from .aws import AwsClients
from .resources import Resource, billed_resources
from .stacks import RUN_TAG, Waiting, delete_stack, stack_outputs

BUILD_TEMPLATE = Path(__file__).resolve().parents[2] / ".aws-sam" / "build" / "template.yaml"


class ControlError(Exception):
    """The ControlFunction raised (or could not be reached): its error type and message."""


class ControllerDeployment(Protocol):
    stack_name: str

    def deploy(self, parameters: Mapping[str, str]) -> None: ...

    def control(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """The ControlFunction's answer to `request`; ControlError when it raised."""
        ...

    def resources(self) -> list[Resource]: ...

    def delete(self) -> str:
        """Delete what `deploy` created; how it ended ("deleted" or why not). Never raises."""
        ...


Runner = Callable[..., subprocess.CompletedProcess[str]]


@dataclass
class SamDeployment:
    clients: AwsClients
    stack_name: str
    run_id: str
    sam: str = "sam"
    template: Path = BUILD_TEMPLATE
    waiting: Waiting = field(default_factory=Waiting)
    run: Runner = subprocess.run
    _function: str | None = None

    def command(self, parameters: Mapping[str, str]) -> list[str]:
        """The `sam deploy` command line (no confirmation prompt, nothing read from a samconfig.toml)."""
        return [
            self.sam,
            "deploy",
            "--template-file",
            str(self.template),
            "--stack-name",
            self.stack_name,
            "--region",
            self.clients.region,
            "--resolve-s3",
            "--capabilities",
            "CAPABILITY_IAM",
            "--no-confirm-changeset",
            "--no-fail-on-empty-changeset",
            "--tags",
            f"{RUN_TAG}={self.run_id}",
            "--parameter-overrides",
            *(f"{key}={value}" for key, value in parameters.items()),
        ]

    def deploy(self, parameters: Mapping[str, str]) -> None:
        if not self.template.is_file():
            raise ControlError(f"{self.template} does not exist: run `make build` first (sam build)")
        # Run from the build directory: the repository's samconfig.toml (placeholders, a confirmation
        # prompt) is not read.
        result = self.run(self.command(parameters), cwd=self.template.parent, text=True, check=False)
        if result.returncode != 0:
            raise ControlError(
                f"sam deploy of {self.stack_name} failed (exit {result.returncode}); see its output above"
            )
        self._function = stack_outputs(self.clients.client("cloudformation"), self.stack_name)["ControlFunctionName"]

    def control(self, request: Mapping[str, Any]) -> dict[str, Any]:
        if self._function is None:
            raise ControlError(f"the controller stack {self.stack_name} is not deployed")
        answer = self.clients.client("lambda").invoke(
            FunctionName=self._function, InvocationType="RequestResponse", Payload=json.dumps(request).encode()
        )
        return decode_answer(answer["Payload"].read(), answer.get("FunctionError"))

    def resources(self) -> list[Resource]:
        return billed_resources(self.clients.client("cloudformation"), self.stack_name)

    def delete(self) -> str:
        return delete_stack(self.clients.client("cloudformation"), self.stack_name, waiting=self.waiting)


def decode_answer(body: bytes, function_error: str | None) -> dict[str, Any]:
    """Lambda's answer: the payload, or ControlError with the function's errorType and errorMessage."""
    try:
        payload = json.loads(body) if body else None
    except json.JSONDecodeError:
        payload = body.decode(errors="replace")
    if function_error or not isinstance(payload, dict):
        if isinstance(payload, dict):
            raise ControlError(f"{payload.get('errorType') or function_error}: {payload.get('errorMessage')}")
        raise ControlError(f"{function_error or 'unexpected answer'}: {payload!r}")
    return payload


def controller_parameters(outputs: Mapping[str, str], settings: Mapping[str, str]) -> dict[str, str]:
    """The controller stack's parameters for the nodes stack's pair: probed at the private IPs from
    the functions placed in the VPC, with its endpoints (no NAT gateway), plus `settings`."""
    subnets = outputs["SubnetIds"]
    return {
        "ElasticIpAllocationId": outputs["ElasticIpAllocationId"],
        "Node1InstanceId": outputs["Node1InstanceId"],
        "Node2InstanceId": outputs["Node2InstanceId"],
        "Node1HealthCheckUrl": f"http://{outputs['Node1PrivateIp']}/health",
        "Node2HealthCheckUrl": f"http://{outputs['Node2PrivateIp']}/health",
        "SubnetIds": subnets,
        "SecurityGroupIds": outputs["FunctionSecurityGroupId"],
        "CreateVpcEndpoints": "true",
        "VpcId": outputs["VpcId"],
        "RouteTableIds": outputs["RouteTableId"],
        **settings,
    }
