"""Stopping nginx on a node, as a port. `SsmNginxStop` is the real one: SSM Run Command
(AWS-RunShellScript, `systemctl stop nginx`) on the instance, waited for until SSM reports it done.
The integration test's one sends the same command to moto's SSM, then stops the lab's nginx."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from botocore.exceptions import ClientError

STOP_COMMAND = "systemctl stop nginx"
_DONE = ("Success", "Cancelled", "TimedOut", "Failed", "Cancelling")


class NginxStopError(Exception):
    """nginx could not be stopped: the command's status and its error output."""


class NginxStopper(Protocol):
    def __call__(self, instance_id: str) -> None:
        """Stop nginx on the instance; returns once it is stopped (NginxStopError when it is not)."""
        ...


@dataclass
class SsmNginxStop:
    ssm: Any
    timeout: float = 120.0
    poll: float = 0.5
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep

    def __call__(self, instance_id: str) -> None:
        command = self.ssm.send_command(
            InstanceIds=[instance_id],
            DocumentName="AWS-RunShellScript",
            Parameters={"commands": [STOP_COMMAND]},
            Comment="nginx-eip-failover e2e: stop nginx on the primary",
            TimeoutSeconds=60,
        )["Command"]["CommandId"]
        deadline = self.monotonic() + self.timeout
        status = "Pending"
        while self.monotonic() < deadline:
            try:
                invocation = self.ssm.get_command_invocation(CommandId=command, InstanceId=instance_id)
            except ClientError as exc:  # just sent: not registered yet
                if exc.response.get("Error", {}).get("Code") != "InvocationDoesNotExist":
                    raise
            else:
                status = str(invocation["Status"])
                if status == "Success":
                    return
                if status in _DONE:
                    raise NginxStopError(
                        f"SSM command {command} ({STOP_COMMAND!r}) on {instance_id} ended {status}: "
                        f"{str(invocation.get('StandardErrorContent') or '')[:500]}"
                    )
            self.sleep(self.poll)
        raise NginxStopError(f"SSM command {command} on {instance_id} still {status} after {self.timeout:.0f} s")
