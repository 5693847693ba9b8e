"""A split address set (a partial move, or an address moved by hand) is repaired onto the holder,
with an alert naming the addresses and the same back-off as a failed move."""

from __future__ import annotations

from nginx_eip_failover.core.decision import ALERT_ADDRESSES_MISSING, Context, complete_move, decide
from support.core_builders import I1, settings, state, up

CFG = settings()
MISSING = ("ip 10.0.1.50", "route 192.168.100.1/32 in rtb-00000000000000001")


def test_the_holder_gets_its_missing_addresses_back_and_an_alert_names_them() -> None:
    current = state(I1, node1=up(), node2=up())
    decision = decide(current, I1, Context(CFG, 100.0, "t"), move_id="r1", missing=MISSING)
    assert decision.move is not None and decision.move.target == "node1"
    assert "repairing the address set" in decision.reason and "ip 10.0.1.50" in decision.reason
    assert ALERT_ADDRESSES_MISSING in decision.state.alerts
    [notice] = [n for n in decision.notices if n.kind == "addresses_missing"]
    assert "ip 10.0.1.50" in notice.message and "route 192.168.100.1/32" in notice.message


def test_repairs_back_off_and_the_alert_clears_once_the_set_is_whole() -> None:
    current = state(I1, node1=up(), node2=up())
    first = decide(current, I1, Context(CFG, 100.0, "t"), move_id="r1", missing=MISSING)
    # The repair's call left the same addresses behind: it still counts as done (the holder is right).
    done, _ = complete_move(
        first.state, "r1", I1, "AssignPrivateIpAddresses: InvalidParameterValue", Context(CFG, 100.5, "t")
    )
    soon = decide(done, I1, Context(CFG, 100.8, "t"), move_id="r2", missing=MISSING)
    assert soon.move is None and "retrying in" in soon.reason
    later = decide(done, I1, Context(CFG, 102.0, "t"), move_id="r2", missing=MISSING)
    assert later.move is not None
    again, _ = complete_move(later.state, "r2", I1, "still failing", Context(CFG, 102.1, "t"))
    assert decide(again, I1, Context(CFG, 103.5, "t"), move_id="r3", missing=MISSING).move is None  # waits 2 s now
    whole = decide(again, I1, Context(CFG, 110.0, "t"), move_id="r4")
    assert whole.move is None
    assert ALERT_ADDRESSES_MISSING not in whole.state.alerts and whole.state.repairs == 0
    assert "addresses_missing_cleared" in [n.kind for n in whole.notices]


def test_a_drained_or_failing_holder_is_failed_over_not_repaired() -> None:
    from support.core_builders import down

    failing = state(I1, node1=down(), node2=up())
    decision = decide(failing, I1, Context(CFG, 100.0, "t"), move_id="m", missing=MISSING)
    assert decision.move is not None and decision.move.target == "node2"
