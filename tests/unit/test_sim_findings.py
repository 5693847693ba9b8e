"""Defects the simulator found (python -m nginx_eip_failover_sim), each pinned by a test that fails
on the code before its fix. The blip cases are in test_blip_counting.py."""

from __future__ import annotations

from dataclasses import dataclass, replace

from nginx_eip_failover.core.decision import Context, decide
from nginx_eip_failover.core.ports import Notice
from nginx_eip_failover.core.state import NodeHealth
from nginx_eip_failover.service.controller import NOTIFY_RESERVE_SECONDS, FailoverController
from nginx_eip_failover.service.operator_requests import parse_control_request
from nginx_eip_failover_sim.world import SNS_WORST_SECONDS
from support.core_builders import I1, down, recorded, settings, state, up
from support.decision_log_scenario import World


def test_the_eip_is_not_sent_to_a_node_whose_latest_probe_failed() -> None:
    # Seed 248: both nodes failing; node1 (the holder) is down first, node2 is still "up" with a
    # failure streak under way. The failover must wait for node2's next good probe.
    cfg = settings(fall_threshold=3)
    failing = replace(up(cfg=cfg), ok_streak=0, fail_streak=1, last_failed_at=99.0, streak_started_at=99.0)
    decision = decide(state(node1=down(cfg=cfg), node2=failing), I1, Context(cfg, 100.0, "monitor"), move_id="m1")
    assert decision.move is None
    assert "no other node is up" in decision.reason
    recovered = replace(failing, ok_streak=1, fail_streak=0, last_failed_at=None)
    decision = decide(state(node1=down(cfg=cfg), node2=recovered), I1, Context(cfg, 101.0, "monitor"), move_id="m2")
    assert decision.move is not None and decision.move.target == "node2"


@dataclass
class SlowTopicWorld(World):
    """Each SNS publish takes 8 s: the SNS client's worst case (aws_clients.SNS_CONFIG)."""

    def publish(self, notices: list[Notice]) -> None:
        self.now += SNS_WORST_SECONDS
        super().publish(notices)


def test_an_operator_request_answers_within_its_invocation_even_when_sns_is_slow() -> None:
    # Seed 61: an operator failover's notices (the move, then the decision's) took 20 s each, and
    # the request answered after its 30 s invocation had ended. Here the request starts with 17 s
    # left (a slow cold start) and each publish takes the SNS client's worst case.
    world = SlowTopicWorld(holder=I1)
    cfg = settings()
    world.stored = ("", 0)
    controller = FailoverController(cfg, world, world, world, world, clock=lambda: world.now, new_id=lambda: "m1")
    controller.run_cycle("monitor")
    controller.run_cycle("monitor")  # both nodes up
    request = parse_control_request({"action": "failover", "target": "node2", "reason": "kernel"}, cfg)
    world.fail_moves = 1
    assert controller.run_control(request, "operator").move_error  # the move_failing alert is raised
    started = world.now
    world.notices.clear()
    budget = 17.0
    report = controller.run_control(request, "operator", lambda: budget - (world.now - started))
    assert report.moved_to == "node2"
    # Two notices (the move, and the alert cleared): the second would have ended past the budget.
    assert world.now - started <= budget - (NOTIFY_RESERVE_SECONDS - SNS_WORST_SECONDS)
    assert [notice.kind for notice in world.notices] == ["move"]  # the other was logged only


def test_the_notice_reserve_covers_the_sns_clients_worst_case() -> None:
    # CI, 2026-12-03: the reserve was 25 s of the ControlFunction's 30 s, so an operator failover
    # that reached its move after 5 s (19 cold starts on two CPUs) sent no move notice at all.
    from nginx_eip_failover.adapters.aws_clients import SNS_CONFIG

    retries: dict[str, object] = SNS_CONFIG.retries or {}
    attempts = int(str(retries["total_max_attempts"]))
    connect, read = float(SNS_CONFIG.connect_timeout), float(SNS_CONFIG.read_timeout)
    first_backoffs = 2.0 * (attempts - 1)  # standard mode: rand(0, 1) * 2 ** attempt, at most 2 s first
    worst = attempts * (connect + read) + first_backoffs
    assert worst <= SNS_WORST_SECONDS < NOTIFY_RESERVE_SECONDS
    assert NOTIFY_RESERVE_SECONDS <= 30.0 / 2  # at least half the ControlFunction's time is for the work


def test_a_down_nodes_failures_write_nothing() -> None:
    # The streak's newest failure is tracked only while it can still take the node down.
    cfg = settings()
    health = NodeHealth(status="down", fail_streak=cfg.fall_threshold, last_failed_at=5.0)
    from nginx_eip_failover.core.decision import Verdict

    current = state(node1=health, node2=up(cfg=cfg))
    after = recorded(current, {"node1": Verdict(False, "refused")}, Context(cfg, 50.0, "m"), 50.0)
    assert after == current


def test_an_operator_failover_to_a_node_whose_latest_probe_failed_is_refused() -> None:
    # Seeds 380 and 404: the target was still "up" (its failures had not spanned FallThreshold).
    import pytest

    from nginx_eip_failover.core.errors import RefusedError
    from nginx_eip_failover.service.operator_requests import apply_control

    cfg = settings(fall_threshold=3)
    failing = replace(up(cfg=cfg), ok_streak=0, fail_streak=1, last_failed_at=99.0)
    current = state(node1=up(cfg=cfg), node2=failing)
    request = parse_control_request({"action": "failover", "target": "node2"}, cfg)
    with pytest.raises(RefusedError, match="node2 failed its latest probe") as refused:
        apply_control(current, request, I1, Context(cfg, 100.0, "operator"), move_id="m1")
    assert refused.value.code == "target_down"
    forced = parse_control_request({"action": "failover", "target": "node2", "force": True}, cfg)
    assert apply_control(current, forced, I1, Context(cfg, 100.0, "operator"), move_id="m1").move is not None


def test_a_split_address_set_is_not_repaired_onto_a_holder_whose_latest_probe_failed() -> None:
    # Seed 366: the stragglers were sent to the holder right after its probe failed.
    cfg = settings(fall_threshold=3)
    failing = replace(up(cfg=cfg), ok_streak=0, fail_streak=1, last_failed_at=99.0)
    current = state(node1=failing, node2=up(cfg=cfg))
    decision = decide(current, I1, Context(cfg, 100.0, "monitor"), move_id="m1", missing=("eip-2",))
    assert decision.move is None
    repaired = decide(
        state(node1=up(cfg=cfg), node2=up(cfg=cfg)),
        I1,
        Context(cfg, 100.0, "monitor"),
        move_id="m2",
        missing=("eip-2",),
    )
    assert repaired.move is not None and repaired.move.target == "node1"
