"""EC2 under a role of another account: the route tables a shared VPC's owner keeps.

A route target may name an IAM role (`RouteSpec.role_arn`, the stack's RouteTableRoleArn). Its reads
and moves then use an EC2 client built from that role's temporary credentials: one STS AssumeRole
per cycle (`new_cycle()` drops the last session; the next call that needs the table assumes the role
again), with the stack's ExternalId when set and a session name CloudTrail shows on both sides
(`nginx-eip-failover-<function>`). A session lasts 900 s (STS's minimum), far longer than a cycle, so
it never expires under a move; taking a fresh one each cycle means a revoked trust or a changed
ExternalId shows up at once, not 15 minutes later.

STS's error (AccessDenied from a trust policy that does not admit the function's role, or the wrong
ExternalId) becomes an `ElasticIpError` naming the role and STS's code: the cycle reports it as it
reports a failed DescribeRouteTables, and preflight names it as its own row.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from nginx_eip_failover.adapters.aws_errors import aws_error
from nginx_eip_failover.core.bounds import bounded
from nginx_eip_failover.core.errors import ElasticIpError

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client

SESSION_SECONDS = 900  # STS's minimum DurationSeconds
SESSION_PREFIX = "nginx-eip-failover"
MAX_SESSION_NAME = 64  # STS's limit on RoleSessionName
_SESSION_CHARACTERS = re.compile(r"[^\w+=,.@-]")


def session_name(function_name: str | None) -> str:
    """nginx-eip-failover-<function>, in STS's characters and at most 64 of them."""
    suffix = _SESSION_CHARACTERS.sub("-", function_name or "local")
    return f"{SESSION_PREFIX}-{suffix}"[:MAX_SESSION_NAME]


class RoleAssumptionError(ElasticIpError):
    """STS refused the role (or could not be reached): nothing of that account was read or moved."""

    def __init__(self, role_arn: str, code: str, message: str) -> None:
        self.role_arn = role_arn
        self.code = code
        super().__init__(f"sts:AssumeRole {role_arn}: {bounded(message, 300)}")


class AssumedRoleEc2:
    """An EC2 client under `role_arn`, re-assumed once per cycle.

    `sts()`: the functions' own STS client; `ec2_for(credentials)`: an EC2 client from STS's
    Credentials (aws_clients.ec2_with_credentials: the same retry configuration as the functions' EC2).
    """

    def __init__(
        self,
        role_arn: str,
        *,
        external_id: str | None,
        session_name: str,
        sts: Callable[[], Any],
        ec2_for: Callable[[Mapping[str, Any]], EC2Client],
    ) -> None:
        self.role_arn = role_arn
        self._external_id = external_id
        self._session_name = session_name
        self._sts = sts
        self._ec2_for = ec2_for
        self._client: EC2Client | None = None
        self._lock = threading.Lock()
        self.sessions = 0  # AssumeRole calls that succeeded (tests, the simulator's accounting)

    def new_cycle(self) -> None:
        """A new cycle: its first call that needs the role assumes it again."""
        with self._lock:
            self._client = None

    def client(self) -> EC2Client:
        with self._lock:
            if self._client is None:
                self._client = self._ec2_for(self.assume())
                self.sessions += 1
            return self._client

    def assume(self) -> Mapping[str, Any]:
        """STS's Credentials for one session, or RoleAssumptionError naming the role and STS's code."""
        params: dict[str, Any] = {
            "RoleArn": self.role_arn,
            "RoleSessionName": self._session_name,
            "DurationSeconds": SESSION_SECONDS,
        }
        if self._external_id is not None:
            params["ExternalId"] = self._external_id
        try:
            credentials = self._sts().assume_role(**params)["Credentials"]
        except (ClientError, BotoCoreError) as exc:
            code, message = aws_error(exc)
            raise RoleAssumptionError(self.role_arn, code, message) from None
        return dict(credentials)
