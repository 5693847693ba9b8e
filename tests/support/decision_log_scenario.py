"""A scripted incident driven through the real FailoverController with in-memory fakes, its decision
log kept in memory (as JSON, the way the table stores it): the input of the replay and explain tests."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from nginx_eip_failover.core.config import Settings
from nginx_eip_failover.core.errors import ConflictError, ElasticIpError, MoveCancelledError
from nginx_eip_failover.core.log_records import LogRecord, record_from_dict, record_json
from nginx_eip_failover.core.ports import Association, BeforeSend, MoveResult, Notice, Observation, Snapshot
from nginx_eip_failover.core.state import ControllerState, state_from_dict, state_to_dict
from nginx_eip_failover.service.controller import FailoverController
from nginx_eip_failover.service.decision_journal import DecisionJournal
from nginx_eip_failover.service.operator_requests import parse_control_request
from support.core_builders import I1, I2, settings

ALLOCATION = "eipalloc-00000000000000001"
START = 1_780_000_000.0


@dataclass
class MemoryLog:
    """The DecisionLog port in memory; records go through their JSON form, as in the table."""

    lines: list[str] = field(default_factory=list)
    fail: bool = False
    appends: list[int] = field(default_factory=list)

    def append(self, records: Sequence[LogRecord]) -> None:
        if self.fail:
            raise OSError("log table unavailable")
        self.appends.append(len(records))
        self.lines.extend(record_json(record) for record in records)

    def read(
        self, since: float, until: float | None = None, limit: int = 500, *, after: str | None = None
    ) -> list[LogRecord]:
        records = sorted((record_from_dict(json.loads(line)) for line in self.lines), key=lambda r: r.key)
        return [r for r in records if r.at >= since and (until is None or r.at <= until)][:limit]

    def records(self) -> list[LogRecord]:
        return [record_from_dict(json.loads(line)) for line in self.lines]


@dataclass
class World:
    """Two nodes, the EIP, the state store (JSON round trip, conditional writes) and a topic."""

    now: float = START
    holder: str | None = None
    ok: dict[str, bool] = field(default_factory=lambda: {"node1": True, "node2": True})
    stored: tuple[str, int] = ("", 0)
    fail_moves: int = 0
    notices: list[Notice] = field(default_factory=list)

    def probe_all(self, budget_seconds: float | None = None) -> list[Observation]:
        return [
            Observation(node, ok, "HTTP 200, 1/1 peers up" if ok else "connection refused", 1.5 if ok else 0.4)
            for node, ok in self.ok.items()
        ]

    def describe(self) -> Association:
        return Association(ALLOCATION, "203.0.113.1", self.holder)

    def move(
        self,
        instance_id: str,
        *,
        not_after: float | None = None,
        priority: int = 0,
        before_send: BeforeSend | None = None,
    ) -> MoveResult:
        if before_send is not None and (cancelled := before_send()) is not None:
            raise MoveCancelledError(cancelled)
        if self.fail_moves:
            self.fail_moves -= 1
            raise ElasticIpError("AssociateAddress: InternalError: try again")
        self.holder = instance_id
        return MoveResult(self.describe(), 20.0, 30.0)

    def load(self, *, consistent: bool = True) -> Snapshot:
        text, version = self.stored
        return Snapshot(state_from_dict(json.loads(text)) if text else ControllerState(), version)

    def save(self, new: ControllerState, expected_version: int) -> int:
        if expected_version != self.stored[1]:
            raise ConflictError("changed")
        self.stored = (json.dumps(state_to_dict(new)), expected_version + 1)
        return expected_version + 1

    def publish(self, notices: list[Notice]) -> None:
        self.notices.extend(notices)


@dataclass
class Incident:
    world: World
    log: MemoryLog
    controller: FailoverController
    settings: Settings
    marks: dict[str, float] = field(default_factory=dict)

    def cycle(self, count: int = 1) -> None:
        for _ in range(count):
            self.controller.run_cycle("monitor:schedule")
            self.world.now += 1.0

    def control(self, request: dict[str, Any]) -> None:
        parsed = parse_control_request(request, self.settings)
        self.controller.run_control(parsed, "operator")
        self.world.now += 1.0


def incident_settings() -> Settings:
    return settings(
        interval_seconds=1.0,
        fall_threshold=3,
        rise_threshold=2,
        preempt_delay_seconds=10.0,
        min_seconds_between_moves=0.0,
    )


def build_incident(**overrides: Any) -> Incident:
    """A failover, a failback after the preempt delay, an operator failover and unpin, and a failed
    move retried after its back-off."""
    cfg = replace(incident_settings(), **overrides)
    world = World()
    log = MemoryLog()
    ids = iter(f"m{n:04d}" for n in range(1, 10_000))
    controller = FailoverController(
        cfg,
        world,
        world,
        world,
        world,
        clock=lambda: world.now,
        new_id=lambda: next(ids),
        journal=DecisionJournal(log, cfg, writer="w1"),
    )
    incident = Incident(world, log, controller, cfg)
    incident.cycle(5)  # placement on node1, then steady
    assert world.holder == I1
    incident.marks["node1_fails"] = world.now
    world.ok["node1"] = False
    incident.cycle(6)  # down after 3 probes: failover to node2
    assert world.holder == I2
    incident.marks["node1_back"] = world.now
    world.ok["node1"] = True
    incident.cycle(16)  # up after 2 probes, failback after 10 s up
    assert world.holder == I1
    incident.control({"action": "failover", "target": "node2", "reason": "kernel upgrade on node1"})
    assert world.holder == I2
    incident.cycle(3)
    incident.control({"action": "unpin", "reason": "done"})
    incident.cycle(3)
    assert world.holder == I1  # node1 up long enough: back at once
    incident.marks["node1_fails_again"] = world.now
    world.ok["node1"] = False
    world.fail_moves = 1
    incident.cycle(3)  # down: the failover's AssociateAddress fails once
    assert world.holder == I1
    incident.cycle(3)  # retried after the back-off
    assert world.holder == I2
    return incident
