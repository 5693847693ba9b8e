"""The container's cached state: reused between cycles, refreshed by age, never extended by reuse."""

from __future__ import annotations

from dataclasses import dataclass, field

from nginx_eip_failover.core.ports import Association, BeforeSend, MoveResult, Observation, Snapshot
from nginx_eip_failover.core.state import ControllerState
from nginx_eip_failover.service.controller import SNAPSHOT_MAX_AGE_SECONDS, FailoverController
from support.core_builders import I1, settings


@dataclass
class CountingStore:
    snapshot: Snapshot = field(default_factory=lambda: Snapshot(ControllerState(), 0))
    loads: list[bool] = field(default_factory=list)  # the `consistent` flag of each load

    def load(self, *, consistent: bool = True) -> Snapshot:
        self.loads.append(consistent)
        return self.snapshot

    def save(self, state: ControllerState, expected_version: int) -> int:
        assert expected_version == self.snapshot.version
        self.snapshot = Snapshot(state, expected_version + 1)
        return self.snapshot.version


class SteadyPair:
    def probe_all(self, budget_seconds: float | None = None) -> list[Observation]:
        return [Observation("node1", True, "ok", 1.0), Observation("node2", True, "ok", 1.0)]

    def describe(self) -> Association:
        return Association("eipalloc-00000000000000001", "203.0.113.1", I1)

    def move(
        self,
        instance_id: str,
        *,
        not_after: float | None = None,
        priority: int = 0,
        before_send: BeforeSend | None = None,
    ) -> MoveResult:
        raise AssertionError("a steady pair never moves")

    def publish(self, notices: list) -> None:
        pass


def test_steady_cycles_reuse_the_cache_and_refresh_it_by_age() -> None:
    clock = [0.0]
    store = CountingStore()
    pair = SteadyPair()
    failover = FailoverController(
        settings(), store, pair, pair, pair, clock=lambda: 1000.0 + clock[0], monotonic=lambda: clock[0]
    )
    failover.run_cycle("test")  # reads, then writes the first observations
    failover.run_cycle("test")  # the rise streak completes: one more write, which is fresh
    assert store.loads == [True]
    settled = store.snapshot.version
    for _ in range(int(SNAPSHOT_MAX_AGE_SECONDS)):
        clock[0] += 1.0
        failover.run_cycle("test")  # nothing changes: no read, no write
    assert store.loads == [True]
    assert store.snapshot.version == settled
    clock[0] += 1.0
    failover.run_cycle("test")
    assert store.loads == [True, False]  # refreshed by age, eventually consistent
