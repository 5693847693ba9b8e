"""The run's one boto3 session and its clients.

The session comes from the standard environment (AWS_PROFILE, the credential chain, AWS_REGION and then
AWS_DEFAULT_REGION: botocore itself reads only the latter, the AWS CLI reads AWS_REGION first), and
botocore honours AWS_ENDPOINT_URL for every client, so the same code runs against a real account and
against the lab's moto server. Standard retry mode, as the functions use.
"""

from __future__ import annotations

import os
from typing import Any

import boto3
from botocore.config import Config

# Longer than the ControlFunction's 30 s timeout: a drill's answer is waited for, not retried.
_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 5},
    read_timeout=65,
    connect_timeout=10,
    user_agent_extra="nginx-eip-failover-e2e",
)


class AwsClients:
    """Clients of one session, created on first use and kept."""

    def __init__(self, session: boto3.session.Session | None = None) -> None:
        self.session = session or boto3.session.Session(region_name=os.environ.get("AWS_REGION") or None)
        self._clients: dict[str, Any] = {}

    @property
    def region(self) -> str:
        if not self.session.region_name:
            raise RuntimeError("no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION, or the profile's region)")
        return str(self.session.region_name)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.session.client(service, region_name=self.region, config=_CONFIG)  # type: ignore[call-overload]
        return self._clients[service]
