"""The state item's short history: bounded in count and bytes, the newest entry always kept, and
every accepted control action in it with its reason (the decision log keeps the rest)."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from nginx_eip_failover.core.bounds import MAX_ENTRY_REASON_BYTES
from nginx_eip_failover.core.decision import Context
from nginx_eip_failover.core.state import (
    HISTORY_LIMIT,
    HISTORY_MAX_BYTES,
    ControllerState,
    HistoryEntry,
    entry_size,
    state_to_dict,
)
from nginx_eip_failover.service.operator_requests import apply_control, parse_control_request
from support.core_builders import I1, settings, state, up

CFG = settings()
# One read unit of a strongly consistent GetItem is 4 KB: what a steady pair's item should stay under.
READ_UNIT_BYTES = 4096


def _entry(at: float, reason: str) -> HistoryEntry:
    return HistoryEntry(at=at, event="drained", reason=reason, by="operator", node="node2")


def test_the_default_history_is_short_now_that_the_decision_log_keeps_everything() -> None:
    assert CFG.history_limit == HISTORY_LIMIT == 20


def test_a_history_of_typical_entries_keeps_a_pair_item_within_one_read_unit() -> None:
    current = state(I1, node1=up(), node2=up())
    for index in range(200):
        reason = f"node1 answered 502 Bad Gateway from http://10.0.0.{index % 250}:8080/health after 12 ms"
        entry = HistoryEntry(at=1000.0 + index, event="node_down", reason=reason, by="monitor", node="node1")
        current = current.with_history(entry, HISTORY_LIMIT)
    assert len(current.history) == HISTORY_LIMIT
    # Measured as adapters/dynamodb/state_store.py writes it (compact JSON in one string attribute).
    text = json.dumps(state_to_dict(current), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    item_bytes = len(text.encode())
    assert item_bytes <= READ_UNIT_BYTES, item_bytes


@hyp_settings(max_examples=60, deadline=None)
@given(st.lists(st.text(min_size=0, max_size=800), min_size=1, max_size=40))
def test_history_stays_within_its_bytes_and_always_holds_the_newest_entry(reasons: list[str]) -> None:
    current = ControllerState()
    for index, reason in enumerate(reasons):
        entry = _entry(float(index), reason)
        current = current.with_history(entry, HISTORY_LIMIT)
        assert current.history[-1] == entry
        sizes = [entry_size(e) for e in current.history]
        # Over the cap only when the newest entry alone is (its own fields are bounded).
        assert sum(sizes) <= HISTORY_MAX_BYTES or len(sizes) == 1


def test_an_accepted_control_action_with_the_longest_reason_is_in_the_history_with_it() -> None:
    current = state(I1, node1=up(), node2=up())
    for index in range(5):
        current = current.with_history(_entry(float(index), "x" * 1500), HISTORY_LIMIT)
    reason = "\U0001f525" * 500  # the longest reason accepted: 2,000 bytes of UTF-8
    request = parse_control_request({"action": "drain", "node": "node2", "reason": reason}, CFG)
    drained = apply_control(current, request, I1, Context(CFG, 100.0, "operator"), move_id="m1").state
    recorded = [e for e in drained.history if e.event == "control_drain"]
    assert len(recorded) == 1
    assert recorded[0].reason.startswith("\U0001f525")
    assert entry_size(recorded[0]) <= MAX_ENTRY_REASON_BYTES + 512
