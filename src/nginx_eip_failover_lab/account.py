"""The lab's AWS account and region: moto's default account, one region. Nothing here is real."""

from __future__ import annotations

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
