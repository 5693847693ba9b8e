"""The guard before anything is created: the run is refused unless NGINX_EIP_FAILOVER_E2E_ACCOUNT
names the account the credentials belong to, so a developer's default profile never pays for it."""

from __future__ import annotations

import re
from typing import Any

ACCOUNT_VARIABLE = "NGINX_EIP_FAILOVER_E2E_ACCOUNT"
_ACCOUNT_ID = re.compile(r"^[0-9]{12}$")

SKIP_MESSAGE = (
    f"aws-e2e: skipped: {ACCOUNT_VARIABLE} is not set. This test creates real, billed AWS resources "
    "(two t4g.nano instances, an Elastic IP, the controller stack; about $0.10 a run, docs/aws-e2e.md). "
    f"To run it: {ACCOUNT_VARIABLE}=<the 12-digit account ID your credentials belong to> make aws-e2e"
)


class AccountRefused(Exception):
    """The run may not start: the account variable is unset, malformed, or names another account."""


def require_account(sts: Any, expected: str | None) -> str:
    """The account ID of the credentials, if it is the one `expected` names; else AccountRefused."""
    if not expected:
        raise AccountRefused(SKIP_MESSAGE)
    if not _ACCOUNT_ID.match(expected):
        raise AccountRefused(f"{ACCOUNT_VARIABLE} is {expected!r}: expected a 12-digit AWS account ID")
    identity = sts.get_caller_identity()
    actual = str(identity["Account"])
    if actual != expected:
        raise AccountRefused(
            f"{ACCOUNT_VARIABLE} is {expected} but the credentials belong to account {actual} "
            f"({identity.get('Arn')}): refusing to create anything"
        )
    return actual
