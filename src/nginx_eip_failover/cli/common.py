"""What every part of the CLI shares: its name and version, and the two errors that end a command."""

from __future__ import annotations

PROG = "nginx-eip-failover"


def version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("nginx-eip-failover")
    except PackageNotFoundError:
        return "unknown"


class UsageError(Exception):
    """The command line cannot be acted on (exit 2)."""


class TransportError(Exception):
    """The function could not be invoked at all (an AWS or lab error; exit 1)."""
