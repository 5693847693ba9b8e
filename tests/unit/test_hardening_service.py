"""Hardening (issue 11), the service: nothing slow sits between a committed move and its EC2 call,
an aged decision is checked again, and a move that may have been taken over is never sent late."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from nginx_eip_failover.core.errors import ElasticIpError, MoveCancelledError
from nginx_eip_failover.core.ports import Association, BeforeSend, MoveResult, Notice, Observation, Snapshot
from nginx_eip_failover.core.state import ControllerState
from nginx_eip_failover.service.controller import FailoverController
from support.core_builders import I1, I2, down, settings, state, up

ALLOCATION = "eipalloc-00000000000000001"


@dataclass
class World:
    """A fake pair, EIP, store and topic sharing one event log and one clock."""

    now: float = 1000.0
    holder: str | None = I1
    node1_ok: bool = False
    node2_ok: bool = True
    events: list[str] = field(default_factory=list)
    snapshot: Snapshot = field(default_factory=lambda: Snapshot(ControllerState(), 0))
    save_takes: float = 0.0  # seconds a write takes (DynamoDB retrying)
    mover_reads_take: float = 0.0  # seconds the mover's own DescribeAddresses takes before it sends
    during_mover_reads: list[object] = field(default_factory=list)
    on_save: list[object] = field(default_factory=list)

    # Prober
    def probe_all(self, budget_seconds: float | None = None) -> list[Observation]:
        self.events.append("probe")
        return [Observation("node1", self.node1_ok, "n1", 1.0), Observation("node2", self.node2_ok, "n2", 1.0)]

    # EipPort
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
        self.now += self.mover_reads_take
        for hook in self.during_mover_reads:
            hook(self)  # type: ignore[operator]
        if before_send is not None and (cancelled := before_send()) is not None:
            raise MoveCancelledError(cancelled)
        self.events.append(f"associate {instance_id}")
        self.holder = instance_id
        return MoveResult(self.describe(), 1.0, 1.0)

    # StorePort
    def load(self, *, consistent: bool = True) -> Snapshot:
        return self.snapshot

    def save(self, new: ControllerState, expected_version: int) -> int:
        self.now += self.save_takes
        self.events.append("save" + (" intent" if new.move else ""))
        self.snapshot = Snapshot(new, expected_version + 1)
        for hook in self.on_save:
            hook(self)  # type: ignore[operator]
        return self.snapshot.version

    # NotifierPort
    def publish(self, notices: list[Notice]) -> None:
        self.events.append("publish " + ",".join(notice.kind for notice in notices))


def controller(world: World) -> FailoverController:
    return FailoverController(settings(), world, world, world, world, clock=lambda: world.now, new_id=lambda: "m1")


def failing_holder(world: World) -> World:
    world.snapshot = Snapshot(state(I1, node1=down(), node2=up()), 1)
    return world


def test_notices_are_published_after_the_ec2_call_not_between_intent_and_call() -> None:
    world = failing_holder(World())
    controller(world).run_cycle("monitor")
    associate = world.events.index(f"associate {I2}")
    assert world.events.index("save intent") < associate
    assert all(index > associate for index, event in enumerate(world.events) if event.startswith("publish"))


def test_an_aged_decision_whose_target_now_fails_is_not_sent_to_ec2() -> None:
    world = failing_holder(World(save_takes=15.0))  # the intent's write took 15 s of retries

    def target_dies(w: World) -> None:
        if w.snapshot.state.move is not None:
            w.node2_ok = False

    world.on_save.append(target_dies)
    report = controller(world).run_cycle("monitor")
    assert not any(event.startswith("associate") for event in world.events)
    assert world.holder == I1
    assert report.move_error is not None and "re-check" in report.move_error
    assert world.snapshot.state.move is None  # recorded as a failed move, so nothing waits on it
    assert world.snapshot.state.history[-1].event == "move_failed"


def test_an_aged_decision_whose_intent_was_taken_over_is_not_sent_to_ec2() -> None:
    world = failing_holder(World(save_takes=15.0))

    def taken_over(w: World) -> None:
        if w.snapshot.state.move is not None:  # another invocation abandoned it and decided again
            w.snapshot = Snapshot(replace(w.snapshot.state, move=None), w.snapshot.version + 1)

    world.on_save.append(taken_over)
    report = controller(world).run_cycle("monitor")
    assert not any(event.startswith("associate") for event in world.events)
    assert report.move_error is not None and "taken over" in report.move_error


def test_a_decision_aged_by_the_movers_own_slow_read_is_checked_again_before_the_send() -> None:
    # Simulator seed 2567: the decision was fresh when the mover began, but its DescribeAddresses
    # took seconds (retries); another invocation saw the target fail meanwhile, and the call went out.
    world = failing_holder(World(mover_reads_take=4.0))

    def target_dies(w: World) -> None:
        w.node2_ok = False

    world.during_mover_reads.append(target_dies)
    report = controller(world).run_cycle("monitor")
    assert not any(event.startswith("associate") for event in world.events)
    assert world.events.count("probe") == 2  # the decision's, and the re-check right before the send
    assert report.move_error is not None and "re-check" in report.move_error
    assert world.snapshot.state.move is None and world.snapshot.state.history[-1].event == "move_failed"


def test_a_fresh_decision_goes_straight_to_ec2_without_a_second_probe() -> None:
    world = failing_holder(World())
    controller(world).run_cycle("monitor")
    assert world.events.count("probe") == 1
    assert world.holder == I2


def test_the_last_cycle_of_an_invocation_commits_no_move() -> None:
    world = failing_holder(World())
    report = controller(world).run_cycle("monitor", time_left=lambda: 0.2)
    assert report.decision.move is None and "deferred" in report.decision.reason
    assert world.snapshot.state.move is None
    assert not any(event.startswith("associate") for event in world.events)


def test_the_ec2_adapter_sends_nothing_past_the_decisions_deadline() -> None:
    from nginx_eip_failover.adapters.ec2.elastic_ip import ElasticIpMover

    class Ec2:
        def __init__(self) -> None:
            self.calls: list[str] = []

        def describe_addresses(self, **_: object) -> dict[str, object]:
            self.calls.append("DescribeAddresses")
            return {"Addresses": [{"PublicIp": "203.0.113.1", "InstanceId": I1}]}

        def associate_address(self, **_: object) -> dict[str, object]:
            self.calls.append("AssociateAddress")
            return {}

    ec2 = Ec2()
    mover = ElasticIpMover(ec2, ALLOCATION)  # type: ignore[arg-type]
    try:
        mover.move(I2, not_after=0.0)  # long past
    except ElasticIpError as error:
        assert "not sent" in str(error)
    else:
        raise AssertionError("a late move must not be sent")
    assert ec2.calls == ["DescribeAddresses"]
