"""The EC2 adapter: where the Elastic IP is, and moving it with a verified re-association."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from nginx_eip_failover.adapters.aws_errors import aws_error, denied_call, ec2_resources
from nginx_eip_failover.core.errors import ElasticIpError, MoveCancelledError
from nginx_eip_failover.core.ports import Association, BeforeSend, MoveResult

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client


class ElasticIpMover:
    def __init__(
        self,
        client: EC2Client | None,
        allocation_id: str,
        *,
        connect: Callable[[], EC2Client] | None = None,
        verify_timeout_seconds: float = 10.0,
        verify_interval_seconds: float = 0.25,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """`connect` (instead of `client`) builds the client at the first call: a cold alarm
        invocation sends its first probes before paying for EC2's client (the largest model)."""
        if client is None and connect is None:
            raise ValueError("ElasticIpMover needs a client or a way to connect one")
        self._client = client
        self._connect = connect
        self._allocation_id = allocation_id
        self._verify_timeout = verify_timeout_seconds
        self._verify_interval = verify_interval_seconds
        self._sleep = sleep

    def _ec2(self) -> EC2Client:
        if self._client is None:
            assert self._connect is not None
            self._client = self._connect()
        return self._client

    def describe(self) -> Association:
        response = self._call("DescribeAddresses", self._ec2().describe_addresses, AllocationIds=[self._allocation_id])
        addresses = response.get("Addresses") or []
        if not addresses:
            raise ElasticIpError(f"Elastic IP {self._allocation_id} not found")
        address = addresses[0]
        return Association(
            allocation_id=self._allocation_id,
            public_ip=address.get("PublicIp"),
            # An unassociated address has no InstanceId (moto reports an empty string).
            instance_id=address.get("InstanceId") or None,
        )

    def move(
        self,
        instance_id: str,
        *,
        not_after: float | None = None,
        priority: int = 0,
        before_send: BeforeSend | None = None,
    ) -> MoveResult:
        """Associate the EIP with `instance_id` unless it is there already, then verify it is.

        `not_after` (time.monotonic()): a slow DescribeAddresses (retries) must not let a decision
        that may have been taken over go out late; past it, nothing is sent. `priority` is for
        movers that share EC2's API budget (address_set); one EIP's single call needs none.
        """
        current = self.describe()
        if current.instance_id == instance_id:
            return MoveResult(current, 0.0, 0.0)
        started = time.monotonic()
        if not_after is not None and started > not_after:
            raise ElasticIpError(
                f"AssociateAddress {self._allocation_id}: not sent, the decision is {started - not_after:.1f}s "
                "past its deadline (another invocation may have taken the move over)"
            )
        cancelled = before_send() if before_send is not None else None
        if cancelled is not None:
            raise MoveCancelledError(f"AssociateAddress {self._allocation_id}: not sent: {cancelled}")
        self._call(
            "AssociateAddress",
            self._ec2().associate_address,
            AllocationId=self._allocation_id,
            InstanceId=instance_id,
            AllowReassociation=True,
        )
        associated = time.monotonic()
        deadline = associated + self._verify_timeout
        while True:
            current = self.describe()
            if current.instance_id == instance_id or time.monotonic() >= deadline:
                break
            self._sleep(self._verify_interval)
        verified = time.monotonic()
        return MoveResult(current, round((associated - started) * 1000, 1), round((verified - associated) * 1000, 1))

    def _call(self, operation: str, method: Callable[..., Any], **kwargs: Any) -> Any:
        return ec2_call(operation, self._allocation_id, method, **kwargs)


def ec2_call(operation: str, subject: str, method: Callable[..., Any], **kwargs: Any) -> Any:
    """One EC2 call; its failure (after botocore's retries) becomes an ElasticIpError naming the
    operation, what it was about and EC2's code."""
    try:
        return method(**kwargs)
    except ClientError as exc:
        code, text = aws_error(exc)
        denied = denied_call(exc, f"ec2:{operation}", ec2_resources(kwargs))
        raise ElasticIpError(f"{operation} {subject}: {f'{code}: {denied}' if denied else text}") from exc
    except BotoCoreError as exc:
        raise ElasticIpError(f"{operation} {subject}: {exc}") from exc
