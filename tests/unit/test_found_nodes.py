"""Found nodes (core/found_nodes, service/found_nodes, service/lifecycle): which instance a node is,
the rise rule for a replaced instance, and a lifecycle termination of the holder, with fakes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import ClassVar

import pytest
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from nginx_eip_failover.core.config import NodeConfig, load_settings
from nginx_eip_failover.core.decision import Context, Verdict, decide, failing_in, is_eligible
from nginx_eip_failover.core.errors import ConfigError, ElasticIpError, NodeFinderError
from nginx_eip_failover.core.found_nodes import (
    NO_INSTANCE,
    Candidate,
    choose_instances,
    rebase_on_instances,
    resolved_nodes,
)
from nginx_eip_failover.core.node_finders import NodeFinder
from nginx_eip_failover.core.ports import Association, BeforeSend, MoveResult, Notice, Observation, Snapshot
from nginx_eip_failover.core.state import ControllerState, NodeHealth, state_from_dict, state_to_dict
from nginx_eip_failover.service.controller import FailoverController
from nginx_eip_failover.service.found_nodes import FIND_MAX_AGE_SECONDS, FoundNodes
from nginx_eip_failover.service.lifecycle import handle_termination, parse_lifecycle_event
from support.core_builders import I1, I2, new_world, recorded, settings, up

GROUP1, GROUP2 = "nginx-a", "nginx-b"
NEW2 = "i-0000000000000eee5"


def found(node: NodeConfig, group: str, url: str | None = None) -> NodeConfig:
    template = url or node.health_check_url
    return replace(node, instance_id=NO_INSTANCE, finder=NodeFinder(auto_scaling_group=group), url_template=template)


def found_settings(**overrides: object):  # type: ignore[no-untyped-def]
    base = settings(**overrides)
    n1, n2 = base.nodes
    return replace(base, nodes=(found(n1, GROUP1), found(n2, GROUP2)))


# ---------------------------------------------------------------- choosing instances (pure)


def test_a_node_keeps_its_instance_while_it_is_in_service_and_takes_the_oldest_free_one_otherwise() -> None:
    cfg = found_settings()
    both = [Candidate("i-0000000000000b", "10.0.0.2", 20.0), Candidate("i-0000000000000a", "10.0.0.1", 10.0)]
    shared = {"node1": both, "node2": both}
    assert {k: v and v.instance_id for k, v in choose_instances(cfg.nodes, shared, {}).items()} == {
        "node1": "i-0000000000000a",
        "node2": "i-0000000000000b",
    }
    # node2 keeps "a" (it had it), so node1 takes "b": nobody steals a node's instance
    chosen = choose_instances(cfg.nodes, shared, {"node2": "i-0000000000000a"})
    assert (chosen["node1"].instance_id, chosen["node2"].instance_id) == ("i-0000000000000b", "i-0000000000000a")  # type: ignore[union-attr]
    assert choose_instances(cfg.nodes, {"node1": both[:1]}, {})["node2"] is None


candidate_ids = st.sampled_from([f"i-00000000000000{n:02d}" for n in range(6)])


@hyp_settings(max_examples=300, deadline=None)
@given(
    first=st.lists(candidate_ids, max_size=4),
    second=st.lists(candidate_ids, max_size=4),
    previous=st.dictionaries(st.sampled_from(["node1", "node2"]), candidate_ids),
)
def test_chosen_instances_are_distinct_candidates_and_sticky(
    first: list[str], second: list[str], previous: dict[str, str]
) -> None:
    cfg = found_settings()
    candidates = {
        "node1": [Candidate(i, None, float(n)) for n, i in enumerate(first)],
        "node2": [Candidate(i, None, float(n)) for n, i in enumerate(second)],
    }
    chosen = choose_instances(cfg.nodes, candidates, previous)
    picked = [c.instance_id for c in chosen.values() if c is not None]
    assert len(picked) == len(set(picked))
    for node, candidate in chosen.items():
        names = [c.instance_id for c in candidates[node]]
        if candidate is not None:
            assert candidate.instance_id in names
        elif names:  # nothing free: every candidate is the other node's
            assert set(names) <= set(picked)
    for node, had in previous.items():
        other = "node2" if node == "node1" else "node1"
        contested = previous.get(other) == had and had in [c.instance_id for c in candidates[other]]
        if had in [c.instance_id for c in candidates[node]] and not contested:
            assert chosen[node] is not None and chosen[node].instance_id == had  # type: ignore[union-attr]


def test_a_url_names_the_resolved_instances_private_ip() -> None:
    cfg = found_settings()
    node = replace(cfg.nodes[0], url_template="https://{private_ip}:8443/api/9/http/upstreams/app")
    (resolved,) = resolved_nodes([node], {"node1": Candidate(I1, "10.0.1.7")})
    assert (resolved.instance_id, resolved.health_check_url) == (I1, "https://10.0.1.7:8443/api/9/http/upstreams/app")
    (none,) = resolved_nodes([node], {"node1": None})
    assert none.instance_id == NO_INSTANCE


# ---------------------------------------------------------------- the rise rule (pure)


def _resolved(cfg, one: str, two: str):  # type: ignore[no-untyped-def]
    n1, n2 = cfg.nodes
    return replace(cfg, nodes=(replace(n1, instance_id=one), replace(n2, instance_id=two)))


def test_rebase_leaves_fixed_nodes_and_a_fixed_nodes_stored_state_unchanged() -> None:
    cfg = settings()
    before = ControllerState(nodes={"node1": up(), "node2": up()}, association=I1, observed=True)
    assert rebase_on_instances(before, cfg, 100.0, "t") is before
    assert "instance_id" not in state_to_dict(before)["nodes"]["node1"]  # stored byte for byte as before


def test_a_replaced_instance_starts_unknown_and_its_old_results_do_not_count() -> None:
    cfg = _resolved(found_settings(), I1, NEW2)
    before = ControllerState(
        nodes={"node1": replace(up(), instance_id=I1), "node2": replace(up(), instance_id=I2)},
        association=I1,
        observed=True,
    )
    after = rebase_on_instances(before, cfg, 100.0, "t")
    assert after.nodes["node1"] == before.nodes["node1"]
    node2 = after.nodes["node2"]
    assert (node2.status, node2.instance_id, node2.last_failed_at) == ("unknown", NEW2, 100.0)
    assert after.history[-1].event == "node_instance_changed"
    assert state_from_dict(state_to_dict(after)) == after
    assert not is_eligible(after, "node2")


def test_an_unknown_found_node_needs_rise_threshold_successes_a_fixed_one_one() -> None:
    cfg = _resolved(found_settings(rise_threshold=3), I1, NEW2)
    joined = ControllerState(nodes={"node2": NodeHealth(instance_id=NEW2, last_failed_at=0.0)})
    fixed = ControllerState()
    for now in (1.0, 2.0):
        ctx = Context(cfg, now, "t")
        new_world_state = recorded(joined, {"node2": Verdict(True, "ok")}, ctx)
        assert new_world_state.health("node2").status == "unknown"
        joined = new_world_state
    assert recorded(joined, {"node2": Verdict(True, "ok")}, Context(cfg, 3.0, "t")).health("node2").status == "up"
    new_world()
    plain = settings(rise_threshold=3)
    assert recorded(fixed, {"node2": Verdict(True, "ok")}, Context(plain, 1.0, "t2")).health("node2").status == "up"


events = st.lists(
    st.tuples(
        st.booleans(),  # node1's probe
        st.booleans(),  # node2's probe
        st.sampled_from([None, None, None, None, "replace2", "replace1"]),  # an instance replaced before it
    ),
    min_size=1,
    max_size=60,
)


@hyp_settings(max_examples=300, deadline=None)
@given(sequence=events, rise=st.integers(1, 4), fall=st.integers(1, 3))
def test_the_address_reaches_an_instance_only_after_rise_threshold_successes_of_it(
    sequence: list[tuple[bool, bool, str | None]], rise: int, fall: int
) -> None:
    """Whatever the probes and replacements: the EIP is associated with an instance only after that
    instance's node passed RiseThreshold consecutive probes since the instance became the node's."""
    new_world()
    base = found_settings(rise_threshold=rise, fall_threshold=fall, min_seconds_between_moves=0.0)
    instances = {"node1": I1, "node2": I2}
    serial = 0
    streak: dict[str, int] = {"node1": 0, "node2": 0}
    risen: dict[str, bool] = {"node1": False, "node2": False}  # RiseThreshold in a row since its instance came
    state = ControllerState()
    association: str | None = None
    now = 1000.0
    for ok1, ok2, event in sequence:
        now += 1.0
        if event is not None:
            node = "node2" if event == "replace2" else "node1"
            serial += 1
            if association == instances[node]:
                association = None  # EC2 disassociates a terminated instance's EIP
            instances[node] = f"i-{serial:017x}"
            streak[node] = 0
            risen[node] = False
        cfg = _resolved(base, instances["node1"], instances["node2"])
        state = rebase_on_instances(state, cfg, now - 0.5, "t")
        results = {"node1": Verdict(ok1, "ok" if ok1 else "fail"), "node2": Verdict(ok2, "ok" if ok2 else "fail")}
        for node, ok in (("node1", ok1), ("node2", ok2)):
            streak[node] = streak[node] + 1 if ok else 0
            risen[node] = risen[node] or streak[node] >= rise
        ctx = Context(cfg, now, "t", failing_in(results))
        state = recorded(state, results, ctx, now)
        decision = decide(state, association, ctx, move_id=f"m{now}")
        state = decision.state
        if decision.move is not None:
            target = decision.move.target
            assert risen[target], (target, streak, rise)
            association = instances[target]
            from nginx_eip_failover.core.decision import complete_move

            state, _ = complete_move(state, decision.move.id, association, None, ctx)


# ---------------------------------------------------------------- configuration


def _env(**extra: str) -> dict[str, str]:
    env = {
        "EIP_ALLOCATION_ID": "eipalloc-00000000000000001",
        "NODE1_INSTANCE_ID": I1,
        "NODE1_HEALTH_CHECK_URL": "http://127.0.0.1:1/health",
        "NODE1_PRIORITY": "101",
        "NODE2_INSTANCE_ID": "",
        "NODE2_HEALTH_CHECK_URL": "http://{private_ip}:8080/health",
        "NODE2_PRIORITY": "100",
        "NODE2_AUTO_SCALING_GROUP_NAME": GROUP2,
        "STATE_TABLE_NAME": "state",
    }
    env.update(extra)
    return env


def test_a_node_found_by_group_or_tags_is_configured() -> None:
    node2 = load_settings(_env(NODE2_AVAILABILITY_ZONE="eu-west-1b")).nodes[1]
    assert node2.finder == NodeFinder(GROUP2, "eu-west-1b")
    assert (node2.instance_id, node2.url_template) == ("", "http://{private_ip}:8080/health")
    tagged = load_settings(_env(NODE2_AUTO_SCALING_GROUP_NAME="", NODE2_INSTANCE_TAGS="Role=nginx, Leg=b")).nodes[1]
    assert tagged.finder == NodeFinder(tags=(("Role", "nginx"), ("Leg", "b")))
    assert (
        load_settings(_env(NODE2_AUTO_SCALING_GROUP_NAME="", NODE2_INSTANCE_ID=I2, NODE2_HEALTH_CHECK_URL="http://h/"))
        .nodes[1]
        .finder
        is None
    )


@pytest.mark.parametrize(
    ("extra", "variable", "value"),
    [
        ({"NODE2_INSTANCE_ID": I2}, "NODE2_INSTANCE_ID", I2),
        ({"NODE2_AVAILABILITY_ZONE": "west"}, "NODE2_AVAILABILITY_ZONE", "west"),
        (
            {"NODE2_AUTO_SCALING_GROUP_NAME": "arn:aws:autoscaling:x"},
            "NODE2_AUTO_SCALING_GROUP_NAME",
            "arn:aws:autoscaling:x",
        ),
        ({"NODE2_INSTANCE_TAGS": "Role=nginx"}, "NODE2_INSTANCE_TAGS", "Role=nginx"),
        ({"NODE2_AUTO_SCALING_GROUP_NAME": "", "NODE2_INSTANCE_TAGS": "Role"}, "NODE2_INSTANCE_TAGS", "Role"),
        ({"NODE1_HEALTH_CHECK_URL": "http://{private_ip}/"}, "NODE1_HEALTH_CHECK_URL", "http://{private_ip}/"),
        ({"NODE1_AVAILABILITY_ZONE": "eu-west-1a"}, "NODE1_AVAILABILITY_ZONE", "eu-west-1a"),
        (
            {"NODE2_NETWORK_INTERFACE_ID": "eni-0123456789abcdef0"},
            "NODE2_NETWORK_INTERFACE_ID",
            "eni-0123456789abcdef0",
        ),
    ],
)
def test_a_bad_found_node_names_the_variable_and_value(extra: dict[str, str], variable: str, value: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(_env(**extra))
    assert raised.value.variable == variable
    assert raised.value.value == value


# ---------------------------------------------------------------- the service, with fakes


@dataclass
class Store:
    snapshot: Snapshot = field(default_factory=lambda: Snapshot(ControllerState(), 0))

    def load(self, *, consistent: bool = True) -> Snapshot:
        return self.snapshot

    def save(self, state: ControllerState, expected_version: int) -> int:
        assert expected_version == self.snapshot.version
        self.snapshot = Snapshot(state, expected_version + 1)
        return self.snapshot.version


@dataclass
class World:
    """EC2 and Auto Scaling as the fakes see them: which instance is in service where, which answers."""

    in_service: dict[str, list[str]]  # group -> instances
    answering: set[str]  # instances whose nginx answers
    terminating: dict[str, list[str]] = field(default_factory=dict)  # group -> Terminating:Wait instances
    association: str | None = None
    moves: list[str] = field(default_factory=list)
    describes: int = 0
    fail_describe: bool = False
    fail_move: bool = False
    completed: list[tuple[str, str, str]] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)
    log: list[str] = field(default_factory=list)

    # NodeFinderPort
    def candidates(self, nodes: Sequence[NodeConfig]) -> dict[str, list[Candidate]]:
        self.describes += 1
        if self.fail_describe:
            raise NodeFinderError("DescribeAutoScalingGroups: Throttling")
        found: dict[str, list[Candidate]] = {}
        for n in nodes:
            if n.finder is not None:
                group = str(n.finder.auto_scaling_group)
                found[n.name] = [Candidate(i, None, float(k)) for k, i in enumerate(self.in_service[group])] + [
                    Candidate(i, None, 0.0, leaving=True) for i in self.terminating.get(group, [])
                ]
        return found

    # EipPort
    def describe(self) -> Association:
        return Association("eipalloc-00000000000000001", "203.0.113.1", self.association)

    def move(
        self,
        instance_id: str,
        *,
        not_after: float | None = None,
        priority: int = 0,
        before_send: BeforeSend | None = None,
    ) -> MoveResult:
        if self.fail_move:
            raise ElasticIpError("AssociateAddress: InternalError")
        self.association = instance_id
        self.moves.append(instance_id)
        self.log.append(f"move {instance_id}")
        return MoveResult(self.describe(), 1.0, 1.0)

    # NotifierPort
    def publish(self, notices: list[Notice]) -> None:
        self.notices.extend(notices)

    # LifecyclePort
    def complete(self, group: str, hook: str, instance_id: str, token: str | None, result: str) -> None:
        self.completed.append((group, instance_id, result))
        self.log.append(f"complete {instance_id}")


class Probes:
    def __init__(self, world: World, nodes: Sequence[NodeConfig]) -> None:
        self.world, self.nodes = world, tuple(nodes)

    def probe_all(self, budget_seconds: float | None = None) -> list[Observation]:
        return [
            Observation(
                n.name,
                n.instance_id in self.world.answering,
                "ok" if n.instance_id in self.world.answering else "refused",
                1.0,
            )
            for n in self.nodes
        ]


def controller(world: World, **overrides: object) -> tuple[FailoverController, list[float]]:
    clock = [0.0]
    cfg = found_settings(min_seconds_between_moves=0.0, **overrides)
    finder = FoundNodes(world, lambda nodes: Probes(world, nodes), monotonic=lambda: clock[0])
    failover = FailoverController(
        cfg,
        Store(),
        world,
        finder,
        world,
        clock=lambda: 1000.0 + clock[0],
        monotonic=lambda: clock[0],
        found_nodes=finder,
    )
    return failover, clock


def cycles(failover: FailoverController, clock: list[float], count: int) -> None:
    for _ in range(count):
        clock[0] += 1.0
        failover.run_cycle("monitor")


def test_node2_replaced_while_node1_serves_then_node1_dies_the_address_reaches_the_new_node2_after_rise() -> None:
    world = World(in_service={GROUP1: [I1], GROUP2: [I2]}, answering={I1, I2})
    failover, clock = controller(world, rise_threshold=3)
    cycles(failover, clock, 5)
    assert world.association == I1
    # node2's instance is replaced: the old one stops, the new one answers at once
    world.in_service[GROUP2] = [NEW2]
    world.answering = {I1, NEW2}
    clock[0] += FIND_MAX_AGE_SECONDS
    cycles(failover, clock, 1)
    assert failover.settings.node("node2").instance_id == NEW2
    assert failover._store.load().state.health("node2").status == "unknown"  # type: ignore[attr-defined]
    cycles(failover, clock, 10)
    assert world.moves == [I1]  # the address never left node1
    # node1 dies: the address reaches the new node2, which has passed its rise by now
    world.answering = {NEW2}
    cycles(failover, clock, 5)
    assert world.association == NEW2


def test_a_new_instance_does_not_take_the_address_before_rise_threshold() -> None:
    world = World(in_service={GROUP1: [I1], GROUP2: [I2]}, answering={I1, I2})
    failover, clock = controller(world, rise_threshold=4, fall_threshold=1)
    cycles(failover, clock, 6)
    assert world.association == I1
    world.in_service[GROUP2] = [NEW2]
    world.answering = {NEW2}  # node1 dies as node2 is replaced
    clock[0] += FIND_MAX_AGE_SECONDS
    seen = []
    for _ in range(6):
        cycles(failover, clock, 1)
        seen.append(world.association)
    # the replacement's first success (the cycle that found it) does not count: 4 more before it may
    assert seen[:4] == [I1, I1, I1, I1] and world.association == NEW2


def test_describes_are_cached_a_failed_one_keeps_the_last_answer_for_a_bound() -> None:
    world = World(in_service={GROUP1: [I1], GROUP2: [I2]}, answering={I1, I2})
    failover, clock = controller(world)
    cycles(failover, clock, 5)
    assert world.describes == 1  # 5 cycles inside FIND_MAX_AGE_SECONDS
    world.fail_describe = True
    clock[0] += FIND_MAX_AGE_SECONDS
    cycles(failover, clock, 1)  # kept
    clock[0] += 200.0
    with pytest.raises(NodeFinderError):
        failover.run_cycle("monitor")


def test_a_node_with_no_instance_in_service_fails_its_probes_without_one() -> None:
    world = World(in_service={GROUP1: [I1], GROUP2: []}, answering={I1, I2})
    failover, clock = controller(world)
    cycles(failover, clock, 6)
    state = failover._store.load().state  # type: ignore[attr-defined]
    assert state.health("node2").status == "down"
    assert state.health("node2").instance_id == NO_INSTANCE
    assert world.association == I1


LIFECYCLE = {
    "source": "aws.autoscaling",
    "detail-type": "EC2 Instance-terminate Lifecycle Action",
    "detail": {
        "LifecycleActionToken": "87654321-4321-4321-4321-210987654321",
        "AutoScalingGroupName": GROUP1,
        "LifecycleHookName": "drain-first",
        "EC2InstanceId": I1,
        "LifecycleTransition": "autoscaling:EC2_INSTANCE_TERMINATING",
    },
}


def test_a_lifecycle_termination_of_the_holder_moves_the_address_first_then_completes() -> None:
    world = World(in_service={GROUP1: [I1], GROUP2: [I2]}, answering={I1, I2})
    failover, clock = controller(world)
    cycles(failover, clock, 5)
    assert world.association == I1
    world.in_service[GROUP1] = []  # Terminating:Wait is not InService
    clock[0] += FIND_MAX_AGE_SECONDS
    event = parse_lifecycle_event(LIFECYCLE, frozenset({GROUP1, GROUP2}))
    result = handle_termination(failover, event, world, world)
    assert world.log == [f"move {I1}", f"move {I2}", f"complete {I1}"]
    assert result["node"] == "node1" and result["held"] is True and "problem" not in result
    state = failover._store.load().state  # type: ignore[attr-defined]
    assert "node1" not in state.drains  # undrained: the replacement rises on its own


def test_a_lifecycle_action_is_completed_even_when_the_move_fails_with_a_notice() -> None:
    world = World(in_service={GROUP1: [I1], GROUP2: [I2]}, answering={I1, I2})
    failover, clock = controller(world)
    cycles(failover, clock, 5)
    world.fail_move = True
    world.in_service[GROUP1] = []
    event = parse_lifecycle_event(LIFECYCLE, frozenset({GROUP1, GROUP2}))
    result = handle_termination(failover, event, world, world)
    assert world.completed == [(GROUP1, I1, "CONTINUE")]
    assert "move failed" in result["problem"]
    assert [n.kind for n in world.notices if n.kind == "lifecycle_move_failed"] == ["lifecycle_move_failed"]


@pytest.mark.parametrize(
    ("path", "value", "field_name"),
    [
        (("source",), "aws.ec2", "source"),
        (("detail", "AutoScalingGroupName"), "someone-else", "detail.AutoScalingGroupName"),
        (("detail", "EC2InstanceId"), "i-xyz", "detail.EC2InstanceId"),
        (("detail", "LifecycleTransition"), "autoscaling:EC2_INSTANCE_LAUNCHING", "detail.LifecycleTransition"),
    ],
)
def test_a_bad_lifecycle_event_names_the_field_and_value(path: tuple[str, ...], value: str, field_name: str) -> None:
    from nginx_eip_failover.core.errors import InvalidRequestError

    event = {**LIFECYCLE, "detail": dict(LIFECYCLE["detail"])}  # type: ignore[arg-type]
    target = event if len(path) == 1 else event["detail"]
    target[path[-1]] = value  # type: ignore[index]
    with pytest.raises(InvalidRequestError) as raised:
        parse_lifecycle_event(event, frozenset({GROUP1, GROUP2}))
    assert (raised.value.field, raised.value.value) == (field_name, value)


def test_a_terminating_holder_fails_its_probes_and_loses_the_address_without_the_lifecycle_function() -> None:
    world = World(in_service={GROUP1: [I1], GROUP2: [I2]}, answering={I1, I2})
    failover, clock = controller(world)
    cycles(failover, clock, 5)
    assert world.association == I1
    # Auto Scaling terminates node1's instance; its nginx still answers, nobody runs the hook
    world.in_service[GROUP1], world.terminating[GROUP1] = [], [I1]
    clock[0] += FIND_MAX_AGE_SECONDS
    cycles(failover, clock, 5)
    state = failover._store.load().state  # type: ignore[attr-defined]
    assert world.association == I2  # moved off it: it was node1's (no foreign_holder), and it failed
    assert "foreign_holder" not in state.alerts
    assert world.moves == [I1, I2]
    # once the address is off it, node1 lets the leaving instance go (its next describe) and never gets it back
    clock[0] += FIND_MAX_AGE_SECONDS
    cycles(failover, clock, 5)
    assert failover.settings.node("node1").instance_id == NO_INSTANCE
    assert world.moves == [I1, I2]


def test_a_leaving_instance_is_kept_only_by_its_node_while_it_holds_the_address() -> None:
    cfg = found_settings()
    leaving = Candidate(I1, None, 0.0, leaving=True)
    fresh = Candidate("i-000000000000000f", None, 5.0)
    kept = choose_instances(cfg.nodes, {"node1": [leaving, fresh]}, {"node1": I1}, holder=I1)
    assert kept["node1"] == leaving
    dropped = choose_instances(cfg.nodes, {"node1": [leaving, fresh]}, {"node1": I1}, holder=I2)
    assert dropped["node1"] == fresh
    never_taken = choose_instances(cfg.nodes, {"node1": [leaving]}, {}, holder=I1)
    assert never_taken["node1"] is None


class CountingProbes(Probes):
    """Probes that count each instance's consecutive successes, as the controller saw them."""

    streaks: ClassVar[dict[str, int]] = {}

    def probe_all(self, budget_seconds: float | None = None) -> list[Observation]:
        observations = super().probe_all(budget_seconds)
        for node, observation in zip(self.nodes, observations, strict=True):
            CountingProbes.streaks[node.instance_id] = (
                CountingProbes.streaks.get(node.instance_id, 0) + 1 if observation.ok else 0
            )
        return observations


@dataclass
class CheckedWorld(World):
    rise: int = 2
    serial: int = 0
    seen_leaving: set[str] = field(default_factory=set)  # every instance a lookup showed terminating

    def candidates(self, nodes: Sequence[NodeConfig]) -> dict[str, list[Candidate]]:
        self.describes += 1
        found: dict[str, list[Candidate]] = {}
        for n in nodes:
            if n.finder is not None:
                group = str(n.finder.auto_scaling_group)
                # A replacement is launched after the instance it replaces (the oldest is chosen first).
                found[n.name] = [Candidate(i, None, self._launched(i)) for i in self.in_service[group]] + [
                    Candidate(i, None, self._launched(i), leaving=True) for i in self.terminating.get(group, [])
                ]
        self.seen_leaving |= {c.instance_id for listed in found.values() for c in listed if c.leaving}
        return found

    def _launched(self, instance: str) -> float:
        return 0.0 if instance in (I1, I2) else float(int(instance[2:], 16))

    def move(
        self,
        instance_id: str,
        *,
        not_after: float | None = None,
        priority: int = 0,
        before_send: BeforeSend | None = None,
    ) -> MoveResult:
        # Lookups are cached (FIND_MAX_AGE_SECONDS): what counts is what a lookup had shown terminating.
        assert instance_id not in self.seen_leaving, f"the address was sent to terminating {instance_id}"
        assert CountingProbes.streaks.get(instance_id, 0) >= self.rise, (instance_id, CountingProbes.streaks, self.rise)
        return super().move(instance_id, not_after=not_after, priority=priority, before_send=before_send)

    def replace(self, group: str) -> None:
        """The group's instance is gone (no hook) and a new one serves at once."""
        for old in self.in_service[group]:
            self.answering.discard(old)
            if self.association == old:
                self.association = None  # EC2 disassociates a terminated instance's EIP
        self.serial += 1
        new = f"i-{self.serial:017x}"
        self.in_service[group] = [new]
        self.answering.add(new)

    def terminate(self, group: str) -> None:
        """The group's instance waits on its hook (still answering), a replacement serves at once."""
        self.terminating[group] = [*self.terminating.get(group, []), *self.in_service[group]]
        self.serial += 1
        new = f"i-{self.serial:017x}"
        self.in_service[group] = [new]
        self.answering.add(new)

    def finish(self, group: str) -> None:
        """The hook's instances are terminated."""
        for old in self.terminating.pop(group, []):
            self.answering.discard(old)
            if self.association == old:
                self.association = None


steps = st.lists(
    st.tuples(
        st.sampled_from(["cycle", "cycle", "cycle", "cycle", "replace", "terminate", "finish", "down", "up"]),
        st.sampled_from([GROUP1, GROUP2]),
        st.sampled_from([0.5, 1.0, 1.0, 4.0, 11.0]),
    ),
    min_size=1,
    max_size=70,
)


@hyp_settings(max_examples=150, deadline=None)
@given(sequence=steps, rise=st.integers(1, 4), fall=st.integers(1, 3))
def test_the_service_never_sends_the_address_to_a_leaving_or_unrisen_instance(
    sequence: list[tuple[str, str, float]], rise: int, fall: int
) -> None:
    """Whatever replacements, hook terminations, outages and lookup delays: the controller never moves
    the address to a terminating instance, nor to one it has not seen pass RiseThreshold probes."""
    new_world()
    CountingProbes.streaks = {}
    world = CheckedWorld(in_service={GROUP1: [I1], GROUP2: [I2]}, answering={I1, I2}, rise=rise)
    clock = [0.0]
    cfg = found_settings(min_seconds_between_moves=0.0, rise_threshold=rise, fall_threshold=fall)
    finder = FoundNodes(world, lambda nodes: CountingProbes(world, nodes), monotonic=lambda: clock[0])
    failover = FailoverController(
        cfg,
        Store(),
        world,
        finder,
        world,
        clock=lambda: 1000.0 + clock[0],
        monotonic=lambda: clock[0],
        found_nodes=finder,
    )
    for action, group, dt in sequence:
        clock[0] += dt
        if action == "cycle":
            failover.run_cycle("monitor")
        elif action == "replace":
            world.replace(group)
        elif action == "terminate":
            world.terminate(group)
        elif action == "finish":
            world.finish(group)
        else:
            instances = world.in_service[group]
            world.answering = (
                (world.answering | set(instances)) if action == "up" else (world.answering - set(instances))
            )


def test_a_terminating_peer_is_let_go_at_once_and_the_address_waits_for_its_replacement() -> None:
    world = CheckedWorld(in_service={GROUP1: [I1], GROUP2: [I2]}, answering={I1, I2}, rise=3)
    CountingProbes.streaks = {}
    clock = [0.0]
    cfg = found_settings(min_seconds_between_moves=0.0, rise_threshold=3, fall_threshold=2)
    finder = FoundNodes(world, lambda nodes: CountingProbes(world, nodes), monotonic=lambda: clock[0])
    failover = FailoverController(
        cfg,
        Store(),
        world,
        finder,
        world,
        clock=lambda: 1000.0 + clock[0],
        monotonic=lambda: clock[0],
        found_nodes=finder,
    )
    cycles(failover, clock, 5)
    assert world.association == I1
    world.terminate(GROUP2)  # node2's instance waits on its hook, still answering; a replacement serves
    (replacement,) = world.in_service[GROUP2]
    clock[0] += FIND_MAX_AGE_SECONDS
    world.answering.discard(I1)  # and node1 dies
    cycles(failover, clock, 1)
    assert failover.settings.node("node2").instance_id == replacement  # not the leaving one, even if older
    cycles(failover, clock, 6)
    assert world.association == replacement  # only after the replacement rose (CheckedWorld.move checks)
