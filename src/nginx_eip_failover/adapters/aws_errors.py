"""What an AWS error says, for messages: one reading of botocore's errors for every adapter."""

from __future__ import annotations

from botocore.exceptions import ClientError


def aws_error(exc: Exception) -> tuple[str, str]:
    """(code, "Code: message") of an AWS error."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Error"))
        return code, f"{code}: {error.get('Message', '')}".rstrip(": ")
    return type(exc).__name__, f"{type(exc).__name__}: {exc}"
