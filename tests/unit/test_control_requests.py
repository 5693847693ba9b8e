"""Operator requests: strict parsing, and their pure effect on the state (apply_control)."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from nginx_eip_failover.core.config import Settings
from nginx_eip_failover.core.decision import Context, Decision, complete_move, decide
from nginx_eip_failover.core.errors import InvalidRequestError, RefusedError
from nginx_eip_failover.core.state import ControllerState, Drain, MoveIntent, NodeHealth, Pin
from nginx_eip_failover.service.operator_requests import MAX_REASON_LENGTH, apply_control, parse_control_request

LONG_REASON = "r" * (MAX_REASON_LENGTH + 1)

# (request, field the message must name, text of the value the message must show)
MALFORMED: list[tuple[Any, str, str]] = [
    ([], "request", "[]"),
    ("status", "request", '"status"'),
    (None, "request", "null"),
    (42, "request", "42"),
    ({}, "action", "null"),
    ({"target": "node2"}, "action", "null"),
    ({"action": "reboot"}, "action", '"reboot"'),
    ({"action": "STATUS"}, "action", '"STATUS"'),
    ({"action": 1}, "action", "1"),
    ({"action": None}, "action", "null"),
    ({"action": ["status"]}, "action", '["status"]'),
    ({"action": "status", "verbose": True}, "verbose", "true"),
    ({"action": "status", "reason": "why"}, "reason", '"why"'),
    ({"action": "failover"}, "target", "null"),
    ({"action": "failover", "target": "node3"}, "target", '"node3"'),
    ({"action": "failover", "target": "i-00000000000000fff"}, "target", '"i-00000000000000fff"'),
    ({"action": "failover", "target": "Node2"}, "target", '"Node2"'),
    ({"action": "failover", "target": ""}, "target", '""'),
    ({"action": "failover", "target": 2}, "target", "2"),
    ({"action": "failover", "target": None}, "target", "null"),
    ({"action": "failover", "target": ["node2"]}, "target", '["node2"]'),
    ({"action": "failover", "target": "node2", "force": "true"}, "force", '"true"'),
    ({"action": "failover", "target": "node2", "force": 1}, "force", "1"),
    ({"action": "failover", "target": "node2", "force": None}, "force", "null"),
    ({"action": "failover", "target": "node2", "reason": 7}, "reason", "7"),
    ({"action": "failover", "target": "node2", "reason": None}, "reason", "null"),
    ({"action": "failover", "target": "node2", "reason": LONG_REASON}, "reason", LONG_REASON[:40]),
    ({"action": "failover", "node": "node2"}, "node", '"node2"'),
    ({"action": "failover", "target": "node2", "node": "node2"}, "node", '"node2"'),
    ({"action": "drain"}, "node", "null"),
    ({"action": "drain", "target": "node1"}, "target", '"node1"'),
    ({"action": "drain", "node": "node9"}, "node", '"node9"'),
    ({"action": "drain", "node": {"name": "node1"}}, "node", '{"name": "node1"}'),
    ({"action": "drain", "node": "node1", "force": True}, "force", "true"),
    ({"action": "undrain"}, "node", "null"),
    ({"action": "undrain", "node": False}, "node", "false"),
    ({"action": "unpin", "target": "node1"}, "target", '"node1"'),
    ({"action": "unpin", "reason": ["a"]}, "reason", '["a"]'),
]


@pytest.mark.parametrize(("request_", "field", "shown"), MALFORMED, ids=[str(i) for i in range(len(MALFORMED))])
def test_a_malformed_request_names_the_field_and_the_value(
    settings: Settings, request_: Any, field: str, shown: str
) -> None:
    with pytest.raises(InvalidRequestError) as raised:
        parse_control_request(request_, settings)
    assert raised.value.field == field
    message = str(raised.value)
    assert f"'{field}'" in message
    assert shown in message


def test_the_catalogue_is_large_enough() -> None:
    assert len(MALFORMED) >= 20


def test_an_unknown_node_error_lists_the_known_nodes(settings: Settings) -> None:
    with pytest.raises(InvalidRequestError, match=r"node1 \(i-0123456789abcdef1\), node2 \(i-0123456789abcdef2\)"):
        parse_control_request({"action": "drain", "node": "node3"}, settings)


@pytest.mark.parametrize(
    ("request_", "action", "node", "reason", "force"),
    [
        ({"action": "status"}, "status", None, "", False),
        ({"action": "failover", "target": "node2"}, "failover", "node2", "", False),
        (
            {"action": "failover", "target": "i-0123456789abcdef2", "reason": "patch"},
            "failover",
            "node2",
            "patch",
            False,
        ),
        ({"action": "failover", "target": "node1", "force": True, "reason": " x "}, "failover", "node1", "x", True),
        ({"action": "failover", "target": "node1", "force": False}, "failover", "node1", "", False),
        ({"action": "unpin"}, "unpin", None, "", False),
        ({"action": "unpin", "reason": "done"}, "unpin", None, "done", False),
        ({"action": "drain", "node": "node1", "reason": "kernel update"}, "drain", "node1", "kernel update", False),
        ({"action": "drain", "node": "i-0123456789abcdef1"}, "drain", "node1", "", False),
        ({"action": "undrain", "node": "i-0123456789abcdef2"}, "undrain", "node2", "", False),
        (
            {"action": "undrain", "node": "node2", "reason": "r" * MAX_REASON_LENGTH},
            "undrain",
            "node2",
            "r" * 500,
            False,
        ),
    ],
)
def test_valid_requests_parse(
    settings: Settings,
    request_: dict[str, Any],
    action: str,
    node: str | None,
    reason: str,
    force: bool,
) -> None:
    parsed = parse_control_request(json.loads(json.dumps(request_)), settings)
    assert parsed.action == action
    assert (parsed.node.name if parsed.node else None) == node
    assert parsed.reason == reason
    assert parsed.force is force


# --- apply_control: the pure effect of an accepted request ---------------------------------------

NOW = 10_000.0
ACTOR = "operator"


def up(since: float = 0.0) -> NodeHealth:
    return NodeHealth(status="up", ok_streak=2, since=since, reason="HTTP 200")


def down(since: float = 0.0) -> NodeHealth:
    return NodeHealth(status="down", fail_streak=3, since=since, reason="HTTP 500")


def current(settings: Settings, holder: str | None, **nodes: NodeHealth) -> tuple[ControllerState, str | None]:
    association = settings.node(holder).instance_id if holder else None
    return ControllerState(nodes=nodes, association=association, observed=True), association


def apply(
    settings: Settings, state: ControllerState, association: str | None, request: dict[str, Any], now: float = NOW
) -> Decision:
    parsed = parse_control_request(request, settings)
    return apply_control(state, parsed, association, Context(settings, now, ACTOR), move_id="m1")


def events(decision: Decision) -> list[str]:
    return [entry.event for entry in decision.state.history]


def test_failover_to_an_up_node_pins_it_and_moves_the_eip(settings: Settings) -> None:
    state, association = current(settings, "node1", node1=up(), node2=up())
    decision = apply(settings, state, association, {"action": "failover", "target": "node2", "reason": "patch node1"})
    assert decision.move is not None
    assert (decision.move.target, settings.node(decision.move.target).instance_id) == (
        "node2",
        settings.node("node2").instance_id,
    )
    assert decision.move.source == "node1"
    assert decision.state.pin == Pin(node="node2", reason="patch node1", by=ACTOR, at=NOW)
    assert decision.state.move is not None and decision.state.move.id == "m1"
    assert events(decision) == ["control_failover", "move_started"]
    assert decision.state.history[0].reason == "patch node1"


@pytest.mark.parametrize("target_health", [down(), NodeHealth()], ids=["down", "unknown"])
def test_failover_to_a_node_that_is_not_up_is_refused_without_force(
    settings: Settings, target_health: NodeHealth
) -> None:
    state, association = current(settings, "node1", node1=up(), node2=target_health)
    with pytest.raises(RefusedError) as raised:
        apply(settings, state, association, {"action": "failover", "target": "node2"})
    assert raised.value.field == "target"
    assert '"node2"' in str(raised.value)
    assert "force" in str(raised.value)


def test_forced_failover_to_a_down_node_moves_and_records_the_force(settings: Settings) -> None:
    state, association = current(settings, "node1", node1=up(), node2=down())
    decision = apply(
        settings, state, association, {"action": "failover", "target": "node2", "force": True, "reason": "probe lies"}
    )
    assert decision.move is not None and decision.move.target == "node2"
    assert decision.state.pin is not None and decision.state.pin.node == "node2"
    assert decision.state.history[0].detail == {"force": True}


@pytest.mark.parametrize("force", [False, True])
def test_failover_to_a_drained_node_is_refused_even_with_force(settings: Settings, force: bool) -> None:
    state, association = current(settings, "node1", node1=up(), node2=up())
    state = replace(state, drains={"node2": Drain(reason="maintenance", by=ACTOR, at=1.0)})
    with pytest.raises(RefusedError, match="drained") as raised:
        apply(settings, state, association, {"action": "failover", "target": "node2", "force": force})
    assert raised.value.field == "target"


def test_failover_while_a_move_is_in_progress_is_refused(settings: Settings) -> None:
    state, association = current(settings, "node1", node1=up(), node2=up())
    intent = MoveIntent(id="other", target="node2", source="node1", reason="x", by="monitor", started_at=NOW - 1)
    with pytest.raises(RefusedError, match="in progress"):
        apply(settings, replace(state, move=intent), association, {"action": "failover", "target": "node1"})


def test_failover_to_the_current_holder_only_pins(settings: Settings) -> None:
    state, association = current(settings, "node2", node1=up(), node2=up())
    decision = apply(settings, state, association, {"action": "failover", "target": "node2", "reason": "keep"})
    assert decision.move is None
    assert decision.state.move is None
    assert decision.state.pin is not None and decision.state.pin.node == "node2"
    assert events(decision) == ["control_failover"]


def test_failover_from_a_foreign_instance_needs_force(settings: Settings) -> None:
    state = ControllerState(nodes={"node1": up(), "node2": up()}, association=None, observed=True)
    with pytest.raises(RefusedError) as refused:
        apply(settings, state, "i-00000000000000fff", {"action": "failover", "target": "node1"})
    assert refused.value.field == "force"
    assert "i-00000000000000fff" in str(refused.value)


def test_forced_failover_takes_the_eip_back_from_a_foreign_instance(settings: Settings) -> None:
    state = ControllerState(nodes={"node1": up(), "node2": up()}, association=None, observed=True)
    decision = apply(settings, state, "i-00000000000000fff", {"action": "failover", "target": "node1", "force": True})
    assert decision.move is not None and decision.move.target == "node1"
    assert decision.move.source is not None and "i-00000000000000fff" in decision.move.source


def test_a_pin_blocks_preemption_until_unpin(settings: Settings) -> None:
    state, association = current(settings, "node1", node1=up(), node2=up())
    decision = apply(settings, state, association, {"action": "failover", "target": "node2"})
    moved = settings.node("node2").instance_id
    state = complete_move(decision.state, "m1", moved, None, Context(settings, NOW + 1, ACTOR))[0]
    assert state.move is None and state.pin is not None
    later = NOW + 10 * (settings.preempt_delay_seconds + settings.min_seconds_between_moves)
    kept = decide(state, moved, Context(settings, later, "monitor"), move_id="m2")
    assert kept.move is None
    unpinned = apply(settings, kept.state, moved, {"action": "unpin", "reason": "done"}, now=later)
    assert unpinned.state.pin is None
    assert unpinned.move is not None and unpinned.move.target == "node1"
    assert unpinned.state.history[-2].event == "control_unpin"
    assert unpinned.state.history[-2].reason == "done"


def test_drain_of_the_holder_moves_the_eip_to_the_other_up_node(settings: Settings) -> None:
    state, association = current(settings, "node1", node1=up(), node2=up())
    decision = apply(settings, state, association, {"action": "drain", "node": "node1", "reason": "kernel"})
    assert decision.move is not None and decision.move.target == "node2"
    assert decision.state.drains["node1"] == Drain(reason="kernel", by=ACTOR, at=NOW)
    assert events(decision) == ["control_drain", "move_started"]


def test_drain_of_the_holder_keeps_the_eip_when_the_other_node_is_down(settings: Settings) -> None:
    state, association = current(settings, "node1", node1=up(), node2=down())
    decision = apply(settings, state, association, {"action": "drain", "node": "node1"})
    assert decision.move is None
    assert decision.state.move is None
    assert "node1" in decision.state.drains
    assert "stays" in decision.reason


def test_drain_of_the_standby_moves_nothing_and_makes_it_ineligible(settings: Settings) -> None:
    state, association = current(settings, "node1", node1=up(), node2=up())
    drained = apply(settings, state, association, {"action": "drain", "node": "node2"})
    assert drained.move is None
    failing = replace(drained.state, nodes={"node1": down(NOW), "node2": up()})
    decision = decide(failing, association, Context(settings, NOW + 1, "monitor"), move_id="m2")
    assert decision.move is None


def test_undrain_makes_the_node_eligible_again(settings: Settings) -> None:
    state, association = current(settings, "node2", node1=up(), node2=up())
    state = replace(state, drains={"node1": Drain(reason="kernel", by=ACTOR, at=1.0)}, last_move_at=1.0)
    decision = apply(settings, state, association, {"action": "undrain", "node": "node1", "reason": "patched"})
    assert decision.state.drains == {}
    # node1 has higher priority and has been up far longer than the preempt delay: failback.
    assert decision.move is not None and decision.move.target == "node1"
    assert decision.state.history[0].event == "control_undrain"
    assert decision.state.history[0].reason == "patched"


@pytest.mark.parametrize(
    "request_",
    [
        {"action": "failover", "target": "node2", "reason": "r-failover"},
        {"action": "unpin", "reason": "r-unpin"},
        {"action": "drain", "node": "node2", "reason": "r-drain"},
        {"action": "undrain", "node": "node2", "reason": "r-undrain"},
        {"action": "unpin"},
    ],
    ids=["failover", "unpin", "drain", "undrain", "no-reason"],
)
def test_every_accepted_action_is_recorded_with_its_reason(settings: Settings, request_: dict[str, Any]) -> None:
    state, association = current(settings, "node1", node1=up(), node2=up())
    decision = apply(settings, state, association, request_)
    recorded = [entry for entry in decision.state.history if entry.event == f"control_{request_['action']}"]
    assert len(recorded) == 1
    assert recorded[0].reason == request_.get("reason", "(no reason given)")
    assert recorded[0].by == ACTOR
    assert recorded[0].at == NOW
    assert recorded[0].node == (request_.get("node") or request_.get("target"))


def test_history_stays_bounded(settings: Settings) -> None:
    settings = replace(settings, history_limit=3)
    state, association = current(settings, "node1", node1=up(), node2=up())
    for index in range(5):
        state = apply(settings, state, association, {"action": "unpin", "reason": f"r{index}"}).state
    assert [entry.reason for entry in state.history] == ["r2", "r3", "r4"]
