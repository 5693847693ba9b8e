"""boto3 clients, created once per container and only when first needed.

Endpoints come from the standard AWS_ENDPOINT_URL(_<SERVICE>) variables, which boto3 reads itself.
Retries use botocore's standard mode: bounded attempts with jittered backoff on throttling and 5xx.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_sns import SNSClient

_CONFIG = Config(
    # total_max_attempts counts the first call: 3 calls in all. ("max_attempts" counts retries only,
    # so max_attempts=3 made 4 calls and stretched a failing move past the move timeout sooner.)
    retries={"mode": "standard", "total_max_attempts": 3},
    connect_timeout=2,
    read_timeout=5,
    tcp_keepalive=True,
)


# A session is not thread-safe, and some clients are built at their first call (a notice, an EIP
# move), which may come from several groups' threads at once: one client is built at a time.
_BUILDING = threading.Lock()


@cache
def _session() -> boto3.session.Session:
    return boto3.session.Session()


def _client(service: str) -> Any:
    with _BUILDING:
        return _session().client(service, config=_CONFIG)  # type: ignore[call-overload]


# Adaptive mode adds botocore's client-side rate limiter, which slows down after throttling:
# EC2's mutating calls share one per-account budget (see api_budget for the pacing before it).
EC2_CONFIG = _CONFIG.merge(Config(retries={"mode": "adaptive", "total_max_attempts": 3}))


@cache
def ec2() -> EC2Client:
    with _BUILDING:
        return _session().client("ec2", config=EC2_CONFIG)


def ec2_with_credentials(credentials: Mapping[str, Any]) -> EC2Client:
    """An EC2 client under an assumed role's temporary credentials (STS's Credentials), configured
    as `ec2()`: another account's route tables (adapters/ec2/assumed_role.py). The caller keeps it."""
    with _BUILDING:
        return _session().client(
            "ec2",
            config=EC2_CONFIG,
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
        )


@cache
def sts() -> Any:
    """STS, for AssumeRole of a route table's role (the template sets AWS_STS_REGIONAL_ENDPOINTS)."""
    return _client("sts")


@cache
def dynamodb() -> DynamoDBClient:
    return _client("dynamodb")  # type: ignore[no-any-return]


@cache
def autoscaling() -> Any:
    """Found nodes (adapters/node_finder): their groups' instances and lifecycle actions."""
    return _client("autoscaling")


# A notice is worth one quick retry, not a failover's patience: at most 2 calls of 1 s connect + 2 s
# read, plus standard mode's first backoff (at most 2 s) = 8 s worst case, which the controller's
# NOTIFY_RESERVE_SECONDS (10 s) covers. SNS answers a publish in tens of milliseconds.
SNS_CONFIG = _CONFIG.merge(
    Config(retries={"mode": "standard", "total_max_attempts": 2}, connect_timeout=1, read_timeout=2)
)


@cache
def sns() -> SNSClient:
    with _BUILDING:
        return _session().client("sns", config=SNS_CONFIG)


# Preflight's reads of the triggers (CloudWatch, Scheduler, EventBridge) are checks, not a failover:
# a service with no path to it (a VPC without its endpoint) fails its row within 2 x 1 s of connect
# timeout plus one backoff, naming the endpoint (aws_errors.unreachable_endpoint), instead of holding
# the preflight for the default 3 x 2 s per call.
CHECK_CONFIG = _CONFIG.merge(Config(retries={"mode": "standard", "total_max_attempts": 2}, connect_timeout=1))


def client(service: str) -> Any:
    """A client of any other service (preflight's reads), same session; the caller keeps it."""
    with _BUILDING:
        return _session().client(service, config=CHECK_CONFIG)  # type: ignore[call-overload]
