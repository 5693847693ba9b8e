"""What an AWS error says, for messages: one reading of botocore's errors for every adapter."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from botocore.exceptions import ClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

# The codes AWS answers a call the caller's policy does not allow with (EC2 says UnauthorizedOperation,
# most other services AccessDenied / AccessDeniedException).
DENIED_CODES = frozenset({"UnauthorizedOperation", "AccessDenied", "AccessDeniedException"})
# The EC2 request parameters that name a resource the call acts on, and that resource's ARN type: what
# a policy must grant the action on (the template scopes every move by these ARNs or their tags).
_EC2_RESOURCE_PARAMETERS = (
    ("AllocationId", "elastic-ip"),
    ("InstanceId", "instance"),
    ("NetworkInterfaceId", "network-interface"),
    ("RouteTableId", "route-table"),
)
# Services reached through a gateway endpoint on the route tables (the others need an interface one).
_GATEWAY_ENDPOINTS = frozenset({"dynamodb", "s3"})


def aws_error(exc: Exception) -> tuple[str, str]:
    """(code, "Code: message") of an AWS error."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Error"))
        return code, f"{code}: {error.get('Message', '')}".rstrip(": ")
    if isinstance(exc, BotoConnectionError):
        return "EndpointUnreachable", f"EndpointUnreachable: {unreachable_endpoint(exc)}"
    return type(exc).__name__, f"{type(exc).__name__}: {exc}"


def unreachable_endpoint(exc: BotoConnectionError) -> str:
    """Why a service could not be reached, naming the VPC endpoint that would reach it.

    In subnets without a NAT path every AWS call the functions make needs an endpoint for its service;
    without one the connection never opens (EndpointConnectionError, ConnectTimeoutError). Said this
    way, a preflight row or a failed move names what to create instead of only "timed out".
    """
    url = str(exc.kwargs.get("endpoint_url") or "")
    host = urlsplit(url).hostname or ""
    labels = host.split(".")
    seen = f"cannot connect to {url or 'the endpoint'} ({type(exc).__name__})"
    if len(labels) >= 4 and host.endswith((".amazonaws.com", ".amazonaws.com.cn")):
        prefix, region = labels[0], labels[1]
        kind = "gateway" if prefix in _GATEWAY_ENDPOINTS else "interface"
        return (
            f"{seen}: from subnets without a NAT path, {prefix} needs the VPC {kind} endpoint "
            f"com.amazonaws.{region}.{prefix} (the template creates it with CreateVpcEndpoints=true), "
            "and the functions' security groups must allow HTTPS to it"
        )
    return f"{seen}: check AWS_ENDPOINT_URL and the network path to it"


def ec2_resources(parameters: Mapping[str, Any]) -> list[str]:
    """The resources an EC2 call's parameters name, as `type/id` (an ARN's resource part)."""
    return [f"{kind}/{parameters[name]}" for name, kind in _EC2_RESOURCE_PARAMETERS if parameters.get(name)]


def denied_call(exc: Exception, action: str, resources: Sequence[str]) -> str | None:
    """For a call the policy refused: what it refused, naming the IAM action and the resources it
    was for (AWS's own message names neither in a form an operator can grant: EC2's is "You are not
    authorized to perform this operation" and an encoded blob). None for any other error."""
    if not isinstance(exc, ClientError):
        return None
    code = str(exc.response.get("Error", {}).get("Code", ""))
    if code not in DENIED_CODES:
        return None
    # Short: an address set bounds each address's reason (address_set.MAX_REASON_BYTES).
    return f"denied {action} on {', '.join(resources) or 'its resources'}"
