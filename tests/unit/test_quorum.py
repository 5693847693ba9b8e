"""The quorum rule of core/quorum over random observer reports, and the isolation alert it drives."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from nginx_eip_failover.core.decision import ALERT_OBSERVER_ISOLATED, Context, node_verdicts, record_isolation
from nginx_eip_failover.core.ports import Observation, ObserverReport
from nginx_eip_failover.core.quorum import (
    ISOLATED_ALERT_MIN_SECONDS,
    combine,
    isolated_alert_after,
    majority,
    report_of,
)
from nginx_eip_failover.core.state import ControllerState
from support.core_builders import settings

NODES = ("node1", "node2")
THREE = ("a", "b", "c")
NOW = 1000.0
STALE = 30.0


def report(observer: str, node1: bool | None, node2: bool | None, age: float = 0.0) -> ObserverReport:
    ok = {node: value for node, value in zip(NODES, (node1, node2), strict=True) if value is not None}
    return ObserverReport(observer, NOW - age, ok, {node: "ok" if v else "refused" for node, v in ok.items()})


reports_strategy = st.lists(
    st.builds(
        report,
        observer=st.sampled_from(THREE),
        node1=st.sampled_from([True, False, None]),
        node2=st.sampled_from([True, False, None]),
        age=st.sampled_from([0.0, 1.0, 29.0, 31.0, 500.0]),
    ),
    max_size=6,
)


@given(reports=reports_strategy, observers=st.sampled_from([("a",), ("a", "b"), THREE]))
def test_a_node_fails_only_on_a_majority_of_the_configured_observers(
    reports: list[ObserverReport], observers: tuple[str, ...]
) -> None:
    view = combine(reports, observers, NODES, NOW, STALE)
    for node, verdict in view.verdicts.items():
        if verdict.ok:
            continue
        # The newest report of each observer (the first of equals), if fresh and not isolated: who voted.
        newest: dict[str, ObserverReport] = {}
        for r in reports:
            if r.observer not in newest or r.at > newest[r.observer].at:
                newest[r.observer] = r
        voters = {
            name
            for name, r in newest.items()
            if name in observers and name not in view.isolated and NOW - r.at <= STALE and r.ok.get(node) is False
        }
        assert len(voters) >= majority(len(observers)), (node, voters)


@given(lost=st.sampled_from(THREE), other_node_up=st.booleans(), lost_said=st.sampled_from([True, False, None]))
def test_losing_one_of_three_observers_still_fails_a_node_over(
    lost: str, other_node_up: bool, lost_said: bool | None
) -> None:
    # GIVEN node1 down as seen by the two live observers; the third stopped reporting long ago
    reports = [report(name, False, other_node_up) for name in THREE if name != lost]
    reports.append(report(lost, lost_said, True, age=STALE + 1))
    # WHEN the quorum combines them
    view = combine(reports, THREE, NODES, NOW, STALE)
    # THEN node1 fails, and the silent one is stale, not a vote
    assert view.verdicts["node1"].ok is False
    assert view.stale == {lost}


@given(partitioned=st.sampled_from(THREE))
def test_one_observer_cut_from_node1_is_outvoted(partitioned: str) -> None:
    reports = [report(name, name != partitioned, True) for name in THREE]
    view = combine(reports, THREE, NODES, NOW, STALE)
    assert view.verdicts["node1"].ok is True
    assert not view.isolated


@given(isolated=st.sampled_from(THREE), cut=st.sampled_from(THREE))
def test_an_isolated_observer_is_discounted_so_a_second_fault_cannot_make_a_majority(isolated: str, cut: str) -> None:
    # GIVEN one observer that reaches nothing and (maybe another) one cut from node1
    reports = [report(name, name not in (isolated, cut), name != isolated) for name in THREE]
    view = combine(reports, THREE, NODES, NOW, STALE)
    # THEN the isolated one is named and its votes do not count: node1 has not failed
    assert view.isolated == {isolated}
    assert view.verdicts["node1"].ok is True


def test_every_observer_failing_every_node_is_an_outage_not_an_isolation() -> None:
    view = combine([report(name, False, False) for name in THREE], THREE, NODES, NOW, STALE)
    assert not view.isolated
    assert {node: v.ok for node, v in view.verdicts.items()} == {"node1": False, "node2": False}


def test_two_observers_of_three_stale_give_no_verdict_for_a_failure() -> None:
    reports = [report("a", False, True), report("b", True, True, age=STALE + 5), report("c", True, True, age=900)]
    view = combine(reports, THREE, NODES, NOW, STALE)
    assert "node1" not in view.verdicts  # one vote is not a majority of three; no verdict either way
    assert view.verdicts["node2"].ok is True


@given(oks=st.lists(st.booleans(), min_size=2, max_size=2), details=st.lists(st.text(max_size=40), min_size=2))
def test_one_observer_is_exactly_node_verdicts_of_its_own_probes(oks: list[bool], details: list[str]) -> None:
    observations = [
        Observation(node, ok, detail, 1.0) for node, ok, detail in zip(NODES, oks, details[:2], strict=True)
    ]
    view = combine([report_of("local", observations, NOW)], ("local",), NODES, NOW, STALE)
    # Reports carry each node's verdict, not its probe latency: a failure's `seen_after` (when within
    # the round it was seen) stays with the observer that probed. With one observer the exchange
    # therefore uses node_verdicts itself (ObserverExchange.record); here the verdicts must agree.
    expected = node_verdicts(observations)
    assert {n: (v.ok, v.detail) for n, v in view.verdicts.items()} == {n: (v.ok, v.detail) for n, v in expected.items()}


def test_the_isolation_alert_is_raised_once_and_cleared_with_history() -> None:
    ctx = Context(settings(), NOW, "monitor")
    state, raised = record_isolation(ControllerState(), frozenset({"b"}), "b sees every node fail", ctx)
    assert ALERT_OBSERVER_ISOLATED in state.alerts
    assert [n.kind for n in raised] == ["observer_isolated"]
    again, repeated = record_isolation(state, frozenset({"b"}), "b sees every node fail", ctx)
    assert repeated == () and again == state  # persisting: no new notice, no new history
    cleared, notices = record_isolation(state, frozenset(), "", ctx)
    assert ALERT_OBSERVER_ISOLATED not in cleared.alerts
    assert [n.kind for n in notices] == ["observer_isolated_cleared"]
    assert [e.event for e in cleared.history] == ["observer_isolated", "observer_isolated_cleared"]


def test_failures_carry_their_start_from_round_to_round() -> None:
    def round_(ok1: bool, ok2: bool, at: float, previous: ObserverReport | None) -> ObserverReport:
        observations = [Observation("node1", ok1, "", 1.0), Observation("node2", ok2, "", 1.0)]
        return report_of("c", observations, at, previous)

    first = round_(False, True, 10.0, None)
    second = round_(False, False, 10.25, first)
    third = round_(False, False, 10.5, second)
    assert third.failing_since == {"node1": 10.0, "node2": 10.25}
    assert round_(True, False, 10.75, third).failing_since == {"node2": 10.25}


def test_an_isolation_is_alerted_only_once_it_lasts() -> None:
    # GIVEN observer c failing every node since 999.9 (node2 only since then), the others fine
    c = ObserverReport("c", NOW, {"node1": False, "node2": False}, failing_since={"node1": 990.0, "node2": 999.9})
    view = combine([c, report("a", True, True), report("b", True, True)], THREE, NODES, NOW, STALE)
    # THEN its votes are discounted at once, but it has been isolated for 0.1 s only
    assert view.isolated == {"c"} and view.isolated_since == {"c": 999.9}
    assert view.isolated_for(0.5, NOW) == frozenset()
    assert view.isolated_for(0.5, NOW + 0.4) == {"c"}


def test_the_isolation_alert_waits_a_nodes_failure_and_never_less_than_five_seconds() -> None:
    assert isolated_alert_after(3, 0.25) == ISOLATED_ALERT_MIN_SECONDS == 5.0
    assert isolated_alert_after(3, 10.0) == 20.0  # as long as a node's failure must last
    assert isolated_alert_after(1, 0.25) == 5.0


def test_a_failure_counts_from_when_the_majority_had_seen_it() -> None:
    # Probes sent at 10.0 (a, the decider) and 10.1 (b), answered with a 5xx inside a blip that began
    # at 10.3: counting from the probes' start would stretch one blip back to before it began.
    def failing(observer: str, at: float, latency: float) -> ObserverReport:
        observations = [Observation("node1", False, "HTTP 500", latency * 1000), Observation("node2", True, "ok", 1.0)]
        return report_of(observer, observations, at)

    a, b = failing("a", 10.0, 0.35), failing("b", 10.1, 0.3)
    assert a.seen_at == {"node1": 10.35} and b.seen_at["node1"] == 10.4
    c = ObserverReport("c", 10.2, {"node1": True, "node2": True})
    view = combine([a, b, c], THREE, NODES, 10.5, STALE, probed_at=10.0)
    # the second observer's failure (2 of 3 needed) was seen 0.4 s after the decider's probes began
    assert not view.verdicts["node1"].ok
    assert abs(view.verdicts["node1"].seen_after - 0.4) < 1e-9
    # a report written without seen times (an older version) counts from its own probe time
    old_b = ObserverReport("b", 10.1, b.ok, b.details)
    assert (
        abs(combine([a, old_b, c], THREE, NODES, 10.5, STALE, probed_at=10.0).verdicts["node1"].seen_after - 0.35)
        < 1e-9
    )


def test_a_timed_out_probe_counts_from_when_it_was_sent() -> None:
    observations = [Observation("node1", False, "no answer within 0.2s", 200.0, timed_out=True)]
    assert report_of("a", observations, 10.0).seen_at == {"node1": 10.0}
