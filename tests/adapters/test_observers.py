"""Three observers deciding through the real state store and observer board (moto's DynamoDB).

Each observer is a FailoverController with its own ObserverExchange; what each one's probes see is
scripted (a partition is a per-observer view of the nodes), the EIP is an in-memory holder.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import boto3
import pytest
from moto import mock_aws

from nginx_eip_failover.adapters.dynamodb.observer_board import ObserverBoardTable, observer_key
from nginx_eip_failover.adapters.dynamodb.state_store import StateStore
from nginx_eip_failover.core.decision import ALERT_OBSERVER_ISOLATED
from nginx_eip_failover.core.errors import MoveCancelledError, StateStoreError
from nginx_eip_failover.core.ports import Association, BeforeSend, MoveResult, Notice, Observation, ObserverReport
from nginx_eip_failover.service.controller import FailoverController
from nginx_eip_failover.service.observer_exchange import ObserverExchange
from support.core_builders import I1, I2, settings
from support.moto_tables import create_table

STATE, LEASES = "state", "leases"
ALLOCATION = "eipalloc-00000000000000001"
OBSERVERS = ("a", "b", "c")


@pytest.fixture
def dynamodb(boto_session: boto3.session.Session) -> Iterator[Any]:
    with mock_aws():
        client = boto_session.client("dynamodb", region_name="us-east-1")
        create_table(client, STATE)
        create_table(client, LEASES)
        yield client


@dataclass
class Eip:
    holder: str | None = I1
    moves: list[str] = field(default_factory=list)

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
        self.holder = instance_id
        self.moves.append(instance_id)
        return MoveResult(self.describe(), 1.0, 1.0)


@dataclass
class World:
    """What each observer's probes see: node -> answering, per observer (a partition is local)."""

    up: dict[str, bool] = field(default_factory=lambda: {"node1": True, "node2": True})
    cut: dict[str, set[str]] = field(default_factory=dict)  # observer -> nodes it cannot reach
    notices: list[Notice] = field(default_factory=list)

    def prober(self, observer: str) -> Any:
        world = self

        class Probes:
            def probe_all(self, budget_seconds: float | None = None) -> list[Observation]:
                return [
                    Observation(node, ok, "200 OK" if ok else "connection refused", 1.0, observer)
                    for node, up in world.up.items()
                    for ok in [up and node not in world.cut.get(observer, set())]
                ]

        return Probes()

    def publish(self, notices: list[Notice]) -> None:
        self.notices.extend(notices)


@dataclass
class CountingBoard:
    board: ObserverBoardTable
    published: int = 0
    reads: int = 0

    def publish(self, report: ObserverReport) -> None:
        self.published += 1
        self.board.publish(report)

    def read(self, observers: Any) -> list[ObserverReport]:
        self.reads += 1
        return self.board.read(observers)


class Lab:
    def __init__(self, dynamodb: Any) -> None:
        self.now = 1000.0
        self.world = World()
        self.eip = Eip()
        self.cfg = settings(
            interval_seconds=0.25,
            timeout_seconds=0.2,
            fall_threshold=3,
            rise_threshold=2,
            observers=OBSERVERS,
            observer_heartbeat_seconds=10.0,
            lease_table_name=LEASES,
        )
        self.boards = {name: CountingBoard(ObserverBoardTable(dynamodb, LEASES, ALLOCATION)) for name in OBSERVERS}
        self.controllers = {}
        for name in OBSERVERS:
            cfg = replace(self.cfg, observer=name)
            self.controllers[name] = FailoverController(
                cfg,
                StateStore(dynamodb, STATE, ALLOCATION),
                self.eip,
                self.world.prober(name),
                self.world,
                clock=lambda: self.now,
                observers=ObserverExchange(cfg, self.boards[name]),
            )

    def run(self, seconds: float, alive: tuple[str, ...] = OBSERVERS) -> None:
        """Every live observer runs a cycle per interval, a little out of phase with the others."""
        for _ in range(round(seconds / 0.25)):
            for index, name in enumerate(alive):
                self.now += 0.25 / len(alive) if index else 0.0
                self.controllers[name].run_cycle(name)
            self.now += 0.25 - 0.25 * (len(alive) - 1) / len(alive)

    def state(self) -> Any:
        return self.controllers["a"].status()


@pytest.fixture
def lab(dynamodb: Any) -> Lab:
    lab = Lab(dynamodb)
    lab.run(2.0)  # both nodes come up; node1 holds the EIP
    assert lab.eip.holder == I1
    return lab


def test_steady_observers_write_only_heartbeats_and_read_nothing(lab: Lab) -> None:
    before = {name: (board.published, board.reads) for name, board in lab.boards.items()}
    lab.run(30.0)
    for name, board in lab.boards.items():
        assert board.reads == before[name][1]
        assert board.published - before[name][0] in (3, 4)  # one per 10 s heartbeat


def test_one_observer_cut_from_node1_does_not_move_the_eip(lab: Lab) -> None:
    lab.world.cut["b"] = {"node1"}
    lab.run(10.0)
    assert lab.eip.moves == []
    assert lab.boards["b"].reads > 0  # its failures made it look at the others


def test_node1_down_fails_over_on_the_majority(lab: Lab) -> None:
    lab.world.up["node1"] = False
    stopped = lab.now
    lab.run(3.0)
    assert lab.eip.moves == [I2]
    history = lab.controllers["a"]._store.load().state.history
    down = next(e for e in history if e.event == "node_down" and e.node == "node1")
    assert "observers" in down.reason  # the verdict names who voted
    # fall 3 at 0.25 s: two intervals of failures, plus about an interval to hear the others
    assert down.at - stopped <= 1.0


def test_an_isolated_observer_raises_then_clears_the_alert_and_moves_nothing(lab: Lab) -> None:
    lab.world.cut["c"] = {"node1", "node2"}
    lab.run(4.0)  # discounted at once, but not yet worth an alert (ISOLATED_ALERT_MIN_SECONDS)
    assert ALERT_OBSERVER_ISOLATED not in lab.controllers["a"]._store.load().state.alerts
    lab.run(3.0)
    assert lab.eip.moves == []
    assert ALERT_OBSERVER_ISOLATED in lab.controllers["a"]._store.load().state.alerts
    assert [n.kind for n in lab.world.notices].count("observer_isolated") == 1
    lab.world.cut.clear()
    lab.run(20.0)  # the others' cached state refreshes within SNAPSHOT_MAX_AGE_SECONDS
    assert ALERT_OBSERVER_ISOLATED not in lab.controllers["a"]._store.load().state.alerts
    assert "observer_isolated_cleared" in [n.kind for n in lab.world.notices]
    assert lab.eip.moves == []


def test_a_blip_cutting_one_observer_from_everything_raises_no_alert(lab: Lab) -> None:
    lab.world.cut["c"] = {"node1", "node2"}
    lab.run(0.25)  # one probe round
    lab.world.cut.clear()
    lab.run(3.0)
    assert "observer_isolated" not in [n.kind for n in lab.world.notices]
    assert lab.eip.moves == []


def test_a_two_second_hiccup_of_one_observers_network_raises_no_alert(lab: Lab) -> None:
    # The 30-minute soak's hiccups (0.3-2 s, every link) raised observer_isolated 50 times when the
    # alert waited only FallThreshold probes.
    for _ in range(3):
        lab.world.cut["c"] = {"node1", "node2"}
        lab.run(2.0)
        lab.world.cut.clear()
        lab.run(2.0)
    assert "observer_isolated" not in [n.kind for n in lab.world.notices]
    assert lab.eip.moves == []


def test_a_second_fault_beside_an_isolated_observer_is_still_no_majority(lab: Lab) -> None:
    lab.world.cut["c"] = {"node1", "node2"}
    lab.world.cut["b"] = {"node1"}
    lab.run(10.0)
    assert lab.eip.moves == []


def test_a_killed_observer_does_not_stop_the_failover(lab: Lab) -> None:
    lab.run(40.0, alive=("a", "b"))  # c died: its report goes stale
    lab.world.up["node1"] = False
    lab.run(3.0, alive=("a", "b"))
    assert lab.eip.moves == [I2]


def test_a_lone_survivor_never_moves_on_its_own_vote(lab: Lab) -> None:
    lab.run(40.0, alive=("a",))
    lab.world.up["node1"] = False
    lab.run(5.0, alive=("a",))
    assert lab.eip.moves == []


def test_the_board_item_round_trips_is_small_and_never_goes_back_in_time(dynamodb: Any) -> None:
    board = ObserverBoardTable(dynamodb, LEASES, ALLOCATION)
    newer = ObserverReport(
        "b",
        1001.5,
        {"node1": False, "node2": True},
        {"node1": "x" * 5000, "node2": "200 OK"},
        failing_since={"node1": 1001.0},
        seen_at={"node1": 1001.75},
    )
    board.publish(newer)
    board.publish(ObserverReport("b", 1000.0, {"node1": True, "node2": True}))
    (read,) = board.read(["a", "b", "c"])
    assert read.at == 1001.5 and read.ok == {"node1": False, "node2": True}
    assert read.failing_since == {"node1": 1001.0} and read.seen_at == {"node1": 1001.75}
    assert len(read.details["node1"].encode()) <= 200
    item = dynamodb.get_item(TableName=LEASES, Key={"pk": {"S": observer_key(ALLOCATION, "b")}})["Item"]
    assert len(str(item).encode()) < 1024


def test_board_errors_are_state_store_errors_naming_the_table(dynamodb: Any) -> None:
    board = ObserverBoardTable(dynamodb, "no-such-table", ALLOCATION)
    with pytest.raises(StateStoreError, match="no-such-table"):
        board.publish(ObserverReport("a", 1.0, {"node1": True}))
    with pytest.raises(StateStoreError, match="no-such-table"):
        board.read(["a"])
