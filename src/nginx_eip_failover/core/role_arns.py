"""What an assumable role looks like: its ARN and the ExternalId STS accepts (routes in another account)."""

from __future__ import annotations

import re

# An IAM role's ARN (a path is allowed; names are 1-64 of IAM's characters). The fleet document's
# schema (route.role_arn) and the template (RouteTableRoleArn) use the same pattern
# (tests/unit/test_fleet_config.py ties the three).
ROLE_ARN = re.compile(r"^arn:aws(-cn|-us-gov)?:iam::[0-9]{12}:role/([\w+=,.@-]+/){0,20}[\w+=,.@-]{1,64}$")
MAX_ROLE_ARN_BYTES = 1024
# STS's ExternalId: 2-1224 of these characters.
EXTERNAL_ID = re.compile(r"^[\w+=,.@:/-]{2,1224}$")


def parse_role_arn(text: str) -> str:
    """The ARN itself, or ValueError saying what a role ARN looks like (the caller names the field)."""
    if len(text.encode("utf-8")) > MAX_ROLE_ARN_BYTES or not ROLE_ARN.fullmatch(text):
        raise ValueError("must be an IAM role ARN such as arn:aws:iam::111122223333:role/route-mover")
    return text
