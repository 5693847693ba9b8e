"""Reliability: AWS faults injected by the lab's proxy in front of the moto server - EC2 and DynamoDB
throttling, 5xx, timeouts and lost answers. Retries are bounded (botocore standard mode, 3 attempts),
no fault makes a double move, every failure is in the logs and the EMF metrics, and the next cycles
recover (a failed move backs off: decision.move_backoff_seconds)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from nginx_eip_failover.core.decision import move_backoff_seconds
from nginx_eip_failover_lab.aws.proxy import Fault
from nginx_eip_failover_lab.environment import LabEnvironment
from nginx_eip_failover_lab.invoke import InvokeResult
from support.lab_driving import cycle, cycle_result, cycles, json_logs, loop_for, ok, place_on_node1, until_holder

pytestmark = pytest.mark.integration

MAX_ATTEMPTS = 3  # aws_clients._CONFIG: botocore standard retry mode, total_max_attempts
READ_TIMEOUT = 5.0  # aws_clients._CONFIG
DEADLINE = 60.0


def metric_totals(result: InvokeResult) -> dict[str, float]:
    """Sum of every EMF metric the invocation printed (Powertools writes them to the log stream)."""
    totals: dict[str, float] = {}
    for line in result.logs.splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(record, dict) or "_aws" not in record:
            continue
        for directive in record["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                value = record[metric["Name"]]
                totals[metric["Name"]] = totals.get(metric["Name"], 0.0) + sum(
                    value if isinstance(value, list) else [value]
                )
    return totals


def error_logs(result: InvokeResult) -> list[dict[str, Any]]:
    return [record for record in json_logs(result) if record.get("level") == "ERROR"]


def about_to_fail_over(lab: LabEnvironment) -> None:
    """EIP on node1, node1 stopped and FallThreshold-1 failed probes recorded: the next cycle decides."""
    place_on_node1(lab)
    lab.nodes["node1"].stop()
    cycles(lab, 2)
    assert lab.proxy is not None
    lab.proxy.reset()


def test_transient_throttling_and_5xx_are_absorbed_by_bounded_retries(lab: LabEnvironment) -> None:
    about_to_fail_over(lab)
    assert lab.proxy is not None
    # WHEN the deciding cycle meets throttling and 5xx on every AWS call it makes, each fewer times
    # than botocore's attempts
    faults = [
        Fault("GetItem", service="dynamodb", status=400, code="ThrottlingException"),
        Fault("DescribeAddresses", service="ec2", status=500, code="InternalError"),
        Fault("PutItem", service="dynamodb", status=400, code="ProvisionedThroughputExceededException", times=2),
        Fault("AssociateAddress", service="ec2", status=503, code="RequestLimitExceeded", times=2),
    ]
    for fault in faults:
        lab.proxy.inject(fault)
    # Time for the retries' backoff (up to a second each): a cycle left with less than the move
    # reserve would rightly commit no move.
    result = cycle_result(lab, remaining_ms=6000)  # the warm container that counted the failures
    # THEN every fault was met and retried, and the failover happened in that same cycle, once
    payload = ok(result)
    assert [fault.hits for fault in faults] == [1, 1, 2, 2]
    assert [move["to"] for move in payload["moves"]] == ["node2"]
    assert payload["move_errors"] == [] and payload["cycle_errors"] == []
    assert len(lab.proxy.calls("AssociateAddress")) == 3 and lab.proxy.count("AssociateAddress") == 1
    assert lab.holder() == "node2"
    metrics = metric_totals(result)
    assert metrics.get("EipMoves") == 1 and "MoveFailures" not in metrics and "CycleErrors" not in metrics


def test_persistent_ec2_throttling_fails_moves_with_backoff_then_recovers(lab: LabEnvironment) -> None:
    about_to_fail_over(lab)
    assert lab.proxy is not None
    lab.notifications()
    # WHEN every AssociateAddress is throttled while node1 is down, for one invocation of a few seconds
    lab.proxy.inject(Fault("AssociateAddress", service="ec2", status=503, code="RequestLimitExceeded", times=None))
    result = lab.monitor(remaining_ms=6000)
    payload = ok(result)
    # THEN each move attempt made exactly MAX_ATTEMPTS calls, none took effect, the EIP stayed on node1
    failed = lab.history("move_failed")
    started = [e for e in lab.history("move_started") if e["node"] == "node2"]
    assert 1 <= len(failed) == len(started) == len(payload["move_errors"])
    assert len(lab.proxy.calls("AssociateAddress")) == MAX_ATTEMPTS * len(failed)
    assert lab.proxy.count("AssociateAddress") == 0
    assert lab.holder() == "node1" and payload["moves"] == []
    # AND the attempts backed off: 1 s after the first failure, 2 s after the second, ...
    for index in range(1, len(started)):
        assert started[index]["at"] - failed[index - 1]["at"] >= move_backoff_seconds(index)
    # AND the failure is reported: EC2's error in the result, the history and an ERROR log per failed
    # move, the MoveFailures metric, one SNS notice (not one per attempt) and the move_failing alert
    assert all("RequestLimitExceeded" in error for error in payload["move_errors"])
    assert all("RequestLimitExceeded" in entry["reason"] for entry in failed)
    logged = [r for r in error_logs(result) if "RequestLimitExceeded" in json.dumps(r)]
    assert len(logged) >= len(failed)
    assert metric_totals(result)["MoveFailures"] == len(failed)
    assert [n["kind"] for n in lab.notifications()].count("move_failed") == 1
    assert "move_failing" in payload["alerts"]
    # WHEN EC2 stops throttling
    lab.proxy.clear_faults()
    until_holder(lab, "node2")
    # THEN the next cycles complete the failover with one effective call, and the alert clears
    assert lab.proxy.count("AssociateAddress") == 1
    state = lab.state()
    assert state["move_failures"] == 0 and "move_failing" not in state["alerts"]
    assert len([e for e in lab.history("move_completed") if e["node"] == "node2"]) == 1


def test_persistent_dynamodb_faults_fail_the_cycle_and_never_move_without_a_committed_intent(
    lab: LabEnvironment,
) -> None:
    about_to_fail_over(lab)
    assert lab.proxy is not None
    for fault, action, code in [
        (
            Fault("GetItem", service="dynamodb", status=500, code="InternalServerError", times=None),
            "GetItem",
            "InternalServerError",
        ),
        (
            Fault(
                "PutItem",
                service="dynamodb",
                status=400,
                code="ProvisionedThroughputExceededException",
                times=None,
            ),
            "PutItem",
            "ProvisionedThroughputExceededException",
        ),
    ]:
        lab.proxy.reset()
        lab.proxy.inject(fault)
        # WHEN the state table cannot be read (5xx) / written (throttled) in the deciding cycle
        result = lab.monitor(remaining_ms=1500)
        lab.proxy.clear_faults()
        # THEN the invocation fails (Lambda's Errors metric and alarm see it), naming the call and the
        # error; the retries were bounded; the CycleErrors metric and an ERROR log report it
        assert not result.ok and result.error_type == "MonitorCyclesFailedError", result.payload
        assert action in (result.error_message or "") and code in (result.error_message or "")
        # (a scheduled invocation also registers in the monitor lease after its cycle: another PutItem,
        # which meets the same fault and only costs a warning; and a cold start reads the fleet
        # document: another GetItem, whose failure keeps the groups already loaded; and the handler
        # reads the emergency stop first: one more GetItem, whose failure does not stop the cycle)
        assert len(lab.proxy.calls(action)) == MAX_ATTEMPTS * (3 if action == "GetItem" else 2)
        assert metric_totals(result)["CycleErrors"] == 1
        assert any(record["message"] == "cycle failed" for record in error_logs(result))
        # AND nothing moved: without a committed intent there is no AssociateAddress
        assert lab.proxy.calls("AssociateAddress") == []
        assert lab.holder() == "node1"
    # WHEN DynamoDB is back, the next cycle fails over (node1's third failed probe). On a loaded
    # machine the two failed invocations can outlast the pause a failure streak allows
    # (MIN_PROBE_GAP_SECONDS), and node1's failures start a new streak: FallThreshold more cycles.
    moves: list[str] = []
    for _ in range(3):
        moves += [move["to"] for move in cycle(lab)["moves"]]
        if moves:
            break
    assert moves == ["node2"]
    assert lab.proxy.count("AssociateAddress") == 1


def test_a_lost_answer_to_the_committed_intent_still_moves_in_the_same_cycle(lab: LabEnvironment) -> None:
    about_to_fail_over(lab)
    assert lab.proxy is not None
    # WHEN DynamoDB applies the intent's write but its answer is lost (500 after the write); botocore
    # retries the write, whose condition then fails on the version the first attempt wrote
    lost = lab.proxy.inject(Fault("PutItem", service="dynamodb", when="after", status=500, code="InternalServerError"))
    payload = ok(cycle_result(lab))
    # THEN the invocation knows the write was its own and moves the EIP now (before the fix it took
    # it for another invocation's move in progress and left the EIP on the down node until the
    # move timeout)
    assert lost.hits == 1
    assert [move["to"] for move in payload["moves"]] == ["node2"], payload["decision"]
    assert lab.holder() == "node2" and lab.proxy.count("AssociateAddress") == 1
    assert [e["event"] for e in lab.history("move_started", "move_completed")][-2:] == [
        "move_started",
        "move_completed",
    ]
    assert lab.state()["move"] is None


def test_timeouts_on_the_intent_write_and_on_associate_address_make_one_move(lab: LabEnvironment) -> None:
    about_to_fail_over(lab)
    assert lab.proxy is not None
    # WHEN the intent's PutItem and the AssociateAddress each get no answer within botocore's read
    # timeout (the proxy forwards them to moto only after READ_TIMEOUT + 1 s), so both are retried
    slow = READ_TIMEOUT + 1.0
    slow_write = lab.proxy.inject(Fault("PutItem", service="dynamodb", kind="delay", delay_seconds=slow))
    slow_move = lab.proxy.inject(Fault("AssociateAddress", service="ec2", kind="delay", delay_seconds=slow))
    payload = ok(cycle_result(lab))
    # THEN the cycle made one decision and completed it
    assert slow_write.hits == slow_move.hits == 1
    assert [move["to"] for move in payload["moves"]] == ["node2"], payload
    assert lab.holder() == "node2"
    give_up = time.monotonic() + DEADLINE
    while len(lab.proxy.calls("AssociateAddress")) < 2 and time.monotonic() < give_up:
        time.sleep(0.1)  # the timed-out original reaches moto late
    # AND the timed-out call and its retry are the same request (same target): EC2 saw it twice,
    # the EIP moved once, one move in the history, and the next cycles see no drift and move nothing
    assert lab.proxy.count("AssociateAddress") == 2
    assert len(lab.history("move_started")) - 1 == len(lab.history("move_completed")) - 1 == 1
    after = loop_for(lab, 1.0)
    assert after["moves"] == [] and lab.history("drift") == []
    assert lab.holder() == "node2" and lab.state()["move"] is None
