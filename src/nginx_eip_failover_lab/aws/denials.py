"""IAM denials for the lab's AWS proxy: answer an action as AWS does when the caller's policy lacks it.

    lab.proxy.inject(denied("AssociateAddress", resource=f"arn:aws:ec2:...:elastic-ip/{allocation_id}"))

The proxy matches on the request's Action alone, so a denied action is denied with and without
`DryRun=true`, as IAM does (IAM decides before EC2 looks at DryRun); an allowed DryRun request goes
on to moto, which answers `DryRunOperation` (HTTP 412) for AssociateAddress like EC2.
EC2 answers 403 `UnauthorizedOperation` in its XML error shape; DynamoDB 400 `AccessDeniedException`.
"""

from __future__ import annotations

import base64
import hashlib

from nginx_eip_failover_lab.account import ACCOUNT_ID, REGION

from .proxy import Fault

# (HTTP status, error code) of a denial, per service (the proxy writes each service's error shape).
_DENIALS = {"ec2": (403, "UnauthorizedOperation"), "dynamodb": (400, "AccessDeniedException")}
LAB_PRINCIPAL = f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/lab-function-role/lab"


def denied(action: str, *, service: str = "ec2", resource: str | None = None, times: int | None = None) -> Fault:
    """A fault that denies `action` ("AssociateAddress", "PutItem", ...) until cleared (or `times` calls)."""
    if service not in _DENIALS:
        raise ValueError(f"the lab denies {sorted(_DENIALS)} actions, not {service!r}")
    status, code = _DENIALS[service]
    iam_action = f"{service}:{action}"
    on = f" on resource: {resource}" if resource else ""
    why = (
        f"User: {LAB_PRINCIPAL} is not authorized to perform: {iam_action}{on} "
        f"because no identity-based policy allows the {iam_action} action"
    )
    if service == "ec2":
        # EC2 prefixes its own sentence and appends an encoded message (decoded with sts:DecodeAuthorizationMessage).
        encoded = base64.urlsafe_b64encode(hashlib.sha256(why.encode()).digest() * 4).decode().rstrip("=")
        message = (
            f"You are not authorized to perform this operation. {why}. Encoded authorization failure message: {encoded}"
        )
    else:
        message = why
    return Fault(action, service=service, kind="error", status=status, code=code, message=message, times=times)


def elastic_ip_arn(allocation_id: str) -> str:
    return f"arn:aws:ec2:{REGION}:{ACCOUNT_ID}:elastic-ip/{allocation_id}"
