"""A dry run's answer: what a cycle or an operator request would do now, and why (FailoverController.plan)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nginx_eip_failover.core.decision import Decision
from nginx_eip_failover.core.ports import Observation


@dataclass
class Plan:
    would: str  # "move", "nothing" or "refuse"
    reason: str
    observations: list[Observation]
    decision: Decision | None

    def answer(self) -> dict[str, Any]:
        """The JSON a dry run answers: what would happen, why, and on which probes."""
        decision = self.decision
        move = decision.move if decision is not None else None
        return {
            "dry_run": True,
            "would": self.would,
            "reason": self.reason,
            "move": {"to": move.target, "from": move.source} if move is not None else None,
            "notices": [notice.kind for notice in decision.notices] if decision is not None else [],
            "nodes": (
                {name: health.status for name, health in sorted(decision.state.nodes.items())}
                if decision is not None
                else {}
            ),
            "alerts": sorted(decision.state.alerts) if decision is not None else [],
            "pin": decision.state.pin.node if decision is not None and decision.state.pin else None,
            "drains": sorted(decision.state.drains) if decision is not None else [],
            "probes": {o.node: {"ok": o.ok, "detail": o.detail} for o in self.observations},
        }
