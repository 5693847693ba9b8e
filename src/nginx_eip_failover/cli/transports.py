"""How a request reaches the ControlFunction. A transport is a plain function: request -> `Response`.

- `lambda_transport`: the deployed function through boto3 `lambda.invoke` (RequestResponse), named
  directly or by its stack's `ControlFunctionName` output (`resolve_function_name`).
- `lab_transport`: the running local lab's handler, in a fresh process, with the function's
  environment (the development-only `nginx_eip_failover_lab` package).

boto3 and the lab are imported only when the chosen transport is created or called.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nginx_eip_failover.core.errors import split_refusal

from .common import PROG, TransportError, UsageError, version

FUNCTION_OUTPUT = "ControlFunctionName"  # the stack output --stack-name resolves
# Longer than the ControlFunction's 30 s timeout, so a slow answer is waited for, not retried.
READ_TIMEOUT_SECONDS = 65
LAB_MISSING = "--lab needs the development lab: pip install -e '.[dev]' from a clone of the repository"
LAB_UP = "python -m nginx_eip_failover_lab up"


@dataclass(frozen=True)
class Response:
    """One ControlFunction invocation: the payload it returned, or the error it raised."""

    payload: Any = None
    error_type: str | None = None  # set when the function raised (Lambda's FunctionError)
    error_message: str | None = None

    @property
    def failed(self) -> bool:
        return self.error_type is not None

    @property
    def refusal(self) -> str | None:
        """Why the function refused the request (a RefusedError's code, e.g. `target_down`), or None."""
        if self.error_type != "RefusedError" or self.error_message is None:
            return None
        return split_refusal(self.error_message)[0]

    @property
    def message(self) -> str | None:
        """The function's error message for people: a refusal without its trailing code."""
        if self.refusal is None or self.error_message is None:
            return self.error_message
        return split_refusal(self.error_message)[1]


Transport = Callable[[Mapping[str, Any]], Response]


# ------------------------------------------------------------------------------------------ Lambda


def lambda_transport(
    function_name: str | None,
    stack_name: str | None,
    *,
    profile: str | None = None,
    region: str | None = None,
    endpoint_url: str | None = None,
) -> Transport:
    """Invoke the deployed ControlFunction synchronously (RequestResponse) through boto3."""
    resolved: list[str] = [function_name] if function_name else []

    def invoke(request: Mapping[str, Any]) -> Response:
        import boto3
        from botocore.config import Config

        session = boto3.session.Session(profile_name=profile, region_name=region)
        config = Config(
            read_timeout=READ_TIMEOUT_SECONDS,
            connect_timeout=10,
            retries={"mode": "standard", "total_max_attempts": 3},  # 3 calls in all, like the functions
            user_agent_extra=f"{PROG}/{version()}",
        )
        if not resolved:
            assert stack_name is not None
            cloudformation = session.client("cloudformation", endpoint_url=endpoint_url, config=config)
            resolved.append(resolve_function_name(cloudformation, stack_name))
        client = session.client("lambda", endpoint_url=endpoint_url, config=config)
        answer = client.invoke(
            FunctionName=resolved[0],
            InvocationType="RequestResponse",
            Payload=json.dumps(request).encode(),
        )
        return decode_lambda_answer(answer)

    return _translating_aws_errors(invoke)


def resolve_function_name(cloudformation: Any, stack_name: str) -> str:
    stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    outputs = {output["OutputKey"]: output.get("OutputValue") for output in stacks[0].get("Outputs") or []}
    name = outputs.get(FUNCTION_OUTPUT)
    if not name:
        raise TransportError(
            f"stack {stack_name} has no {FUNCTION_OUTPUT} output (outputs: {', '.join(sorted(outputs)) or 'none'}); "
            "is it an nginx-eip-failover stack? Use --function-name instead"
        )
    return str(name)


def decode_lambda_answer(answer: Mapping[str, Any]) -> Response:
    """Lambda's invoke response -> Response; a FunctionError carries the function's errorMessage."""
    body = answer["Payload"].read()
    try:
        payload = json.loads(body) if body else None
    except json.JSONDecodeError:
        payload = body.decode(errors="replace")
    function_error = answer.get("FunctionError")
    if function_error:
        if isinstance(payload, dict):
            return Response(
                payload=payload,
                error_type=str(payload.get("errorType") or function_error),
                error_message=str(payload.get("errorMessage") or payload),
            )
        return Response(payload=payload, error_type=str(function_error), error_message=str(payload))
    return Response(payload=payload)


def _translating_aws_errors(invoke: Transport) -> Transport:
    def guarded(request: Mapping[str, Any]) -> Response:
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            NoRegionError,
            PartialCredentialsError,
            ProfileNotFound,
        )

        try:
            return invoke(request)
        except (ProfileNotFound, NoRegionError) as exc:
            raise UsageError(f"{exc} (see --profile and --region)") from exc
        except PartialCredentialsError as exc:
            raise TransportError(f"AWS credentials: {exc}") from exc
        except ClientError as exc:
            raise TransportError(f"AWS error: {exc}") from exc
        except BotoCoreError as exc:
            raise TransportError(f"AWS error: {exc}") from exc

    return guarded


# --------------------------------------------------------------------------------------------- lab


def lab_transport(lab_file: str | None) -> Transport:
    """Invoke the running lab's ControlFunction handler in a fresh process with its environment."""
    try:
        from nginx_eip_failover_lab.__main__ import lab_file as default_lab_file
        from nginx_eip_failover_lab.invoke import invoke_handler
    except ImportError as exc:  # a plain `pip install .`: no lab (and no PyYAML, which it needs)
        raise UsageError(LAB_MISSING) from exc

    path = default_lab_file(lab_file)
    try:
        described = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise UsageError(f"no running lab: {path} not found (start one with: {LAB_UP})") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise UsageError(f"cannot read the lab file {path}: {exc}") from exc
    pid = described.get("pid")
    if isinstance(pid, int) and not _alive(pid):
        raise UsageError(f"the lab in {path} is not running any more (pid {pid} is gone); start it again")
    env = described.get("control_env")
    if not isinstance(env, dict):
        raise UsageError(f"the lab file {path} has no control_env")

    def invoke(request: Mapping[str, Any]) -> Response:
        result = invoke_handler("control", dict(request), env, remaining_ms=30000)
        if result.ok:
            return Response(payload=result.payload)
        return Response(
            payload={"errorType": result.error_type, "errorMessage": result.error_message},
            error_type=result.error_type or "Error",
            error_message=result.error_message or "the handler failed without a message",
        )

    return invoke


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
