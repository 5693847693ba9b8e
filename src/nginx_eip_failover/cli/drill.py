"""`nginx-eip-failover drill`: the game-day failover (the ControlFunction's `drill` action)."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from typing import Any

from .rendering import table

INTERRUPTED_HINT = (
    "the drill was interrupted: the EIP may be pinned on the peer; `status` shows the drill, and running "
    "`drill` again (or `unpin`) finishes it"
)


def add_command(command: Callable[..., argparse.ArgumentParser]) -> None:
    sub = command("drill", "game day: move the EIP to the healthy peer and back, measuring each move")
    sub.add_argument("--stay", action="store_true", help="leave the EIP on the peer (pinned there until unpin)")
    sub.add_argument(
        "--check-url", metavar="URL", help="an http(s) URL through the EIP that must answer 2xx after each move"
    )
    sub.add_argument("--reason", help="recorded in the history")


def build_request(args: argparse.Namespace, group: Mapping[str, str]) -> dict[str, Any]:
    request: dict[str, Any] = {"action": "drill", **group}
    if args.stay:
        request["stay"] = True
    if args.check_url:
        request["check_url"] = args.check_url
    if args.reason is not None:
        request["reason"] = args.reason
    return request


def render(drill: Mapping[str, Any]) -> str:
    rows = []
    for number, leg in enumerate(drill.get("legs") or [], start=1):
        rows.append(
            [
                str(number),
                str(leg.get("to")),
                "yes" if leg.get("moved") else "no",
                _seconds(leg.get("association_seconds")),
                _seconds(leg.get("check_seconds"))
                + (f" (HTTP {leg['check_status']})" if leg.get("check_status") else ""),
                str(leg.get("error") or "-"),
            ]
        )
    lines = [
        f"Drill {drill.get('id')}: {drill.get('result')} (from {drill.get('origin')})",
        table(["MOVE", "TO", "MOVED", "ASSOCIATED AFTER", "CHECK URL AFTER", "ERROR"], rows),
        f"Pins        {drill.get('pins')}",
    ]
    return "\n".join(lines)


def _seconds(value: object) -> str:
    return f"{value:.2f} s" if isinstance(value, int | float) else "-"
