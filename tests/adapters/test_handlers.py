"""Both handlers end to end, in-process: moto for AWS, two tiny HTTP servers as the NGINX nodes,
and the environment the template gives the functions."""

from __future__ import annotations

import functools
import json
import math
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

from nginx_eip_failover.adapters import aws_clients
from nginx_eip_failover.adapters.dynamodb.monitor_lease import lease_key
from nginx_eip_failover.adapters.dynamodb.state_store import state_key
from nginx_eip_failover.core.config import load_settings
from nginx_eip_failover.core.errors import ConfigError, InvalidRequestError, MonitorCyclesFailedError, RefusedError
from nginx_eip_failover.handlers import control, monitor, wiring
from nginx_eip_failover.service import controller as controller_module
from nginx_eip_failover.service.operator_requests import parse_control_request
from nginx_eip_failover_lab.lambda_context import LambdaContextDouble
from support.moto_pair import create_pair
from support.moto_tables import create_table

EVENTS = Path(__file__).resolve().parents[2] / "events"
FALL = 2
RISE = 2
SCHEDULE = {"trigger": "schedule"}
TABLE = "nginx-eip-failover-state"
REQUEST_ID = "c6af9ac6-7b61-11e6-9a41-93e812345678"
LOG_TABLE = "nginx-eip-failover-decision-log"
LEASE_TABLE = "nginx-eip-failover-lease"


def lease_item_key(stack: Stack) -> dict[str, Any]:
    return {"pk": {"S": lease_key(stack.allocation_id)}}


def alarm(instance_id: str) -> dict[str, Any]:
    return {
        "source": "aws.cloudwatch",
        "alarmArn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:node1-status",
        "accountId": "123456789012",
        "time": "2026-11-25T13:00:05.123+0000",
        "region": "us-east-1",
        "alarmData": {
            "alarmName": "node1-status",
            "state": {"value": "ALARM", "reason": "threshold", "timestamp": "2026-11-25T13:00:05.123+0000"},
            "configuration": {
                "metrics": [
                    {
                        "id": "m1",
                        "metricStat": {
                            "metric": {
                                "namespace": "AWS/EC2",
                                "name": "StatusCheckFailed",
                                "dimensions": {"InstanceId": instance_id},
                            },
                            "period": 60,
                            "stat": "Maximum",
                        },
                    }
                ]
            },
        },
    }


INTERVAL = 0.2


def context(seconds: float = 0.0) -> LambdaContextDouble:
    """A context with `seconds` of the invocation left."""
    return LambdaContextDouble(seconds * 1000, memory_limit_in_mb=256, aws_request_id=REQUEST_ID)


@dataclass
class Stack:
    ec2: Any
    dynamodb: Any
    sqs: Any
    queue: str
    table: str
    allocation_id: str
    node1_id: str
    node2_id: str
    node1: Any
    node2: Any
    associate_calls: list[str] = field(default_factory=list)

    def monitor(self, event: Any = SCHEDULE, seconds: float = 0.0) -> dict[str, Any]:
        # Invocations one probe interval apart at least, as real ones are: hysteresis counts by
        # time, so back-to-back single-cycle invocations would never add up to FallThreshold.
        time.sleep(INTERVAL)
        return monitor.lambda_handler(event, context(seconds))  # type: ignore[no-any-return]

    def control(self, request: Any) -> dict[str, Any]:
        return control.lambda_handler(request, context())  # type: ignore[no-any-return]

    def holder(self) -> str | None:
        address = self.ec2.describe_addresses(AllocationIds=[self.allocation_id])["Addresses"][0]
        return address.get("InstanceId") or None

    def item(self) -> dict[str, Any] | None:
        key = {"pk": {"S": state_key(self.allocation_id)}}
        return self.dynamodb.get_item(TableName=self.table, Key=key, ConsistentRead=True).get("Item")  # type: ignore[no-any-return]

    def lease(self) -> dict[str, Any] | None:
        key = lease_item_key(self)
        return self.dynamodb.get_item(TableName=LEASE_TABLE, Key=key, ConsistentRead=True).get("Item")  # type: ignore[no-any-return]

    def stored_state(self) -> dict[str, Any]:
        item = self.item()
        assert item is not None
        return json.loads(item["state"]["S"])  # type: ignore[no-any-return]

    def notices(self) -> list[str]:
        found: list[str] = []
        while messages := self.sqs.receive_message(QueueUrl=self.queue, MaxNumberOfMessages=10).get("Messages"):
            for message in messages:
                found.append(json.loads(message["Body"])["MessageAttributes"]["kind"]["Value"])
                self.sqs.delete_message(QueueUrl=self.queue, ReceiptHandle=message["ReceiptHandle"])
        return found

    def fail(self, server: Any) -> None:
        server.respond(500, b"upstream unavailable", content_type="text/plain")


@pytest.fixture(scope="module")
def aws(moto_module: None, boto_session: boto3.session.Session) -> dict[str, Any]:
    clients = {name: boto_session.client(name, region_name="us-east-1") for name in ("ec2", "dynamodb", "sns", "sqs")}
    create_table(clients["dynamodb"], TABLE)
    create_table(clients["dynamodb"], LOG_TABLE, sort_key="sk")
    create_table(clients["dynamodb"], LEASE_TABLE)
    return clients


@pytest.fixture
def stack(
    aws: dict[str, Any],
    base_env: dict[str, str],
    node_server: Callable[[], Any],
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> Stack:
    """Two fresh instances, a fresh EIP (so a fresh state item), a topic with a queue, two nodes."""
    ec2, sns, sqs = aws["ec2"], aws["sns"], aws["sqs"]
    created = create_pair(ec2)
    (node1_id, node2_id), allocation_id = created.instance_ids, created.allocation_id
    name = f"notices-{abs(hash(request.node.nodeid))}"
    topic = sns.create_topic(Name=name)["TopicArn"]
    queue = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    node1, node2 = node_server(), node_server()
    env = {
        **base_env,
        **created.env([node1.url(), node2.url()]),
        "HEALTH_CHECK_INTERVAL_SECONDS": str(INTERVAL),
        "HEALTH_CHECK_TIMEOUT_SECONDS": str(INTERVAL),
        "FALL_THRESHOLD": str(FALL),
        "RISE_THRESHOLD": str(RISE),
        "PREEMPT_DELAY_SECONDS": "0",
        "MIN_SECONDS_BETWEEN_MOVES": "0",
        "STATE_TABLE_NAME": TABLE,
        "DECISION_LOG_TABLE_NAME": LOG_TABLE,
        "MONITOR_LEASE_TABLE_NAME": LEASE_TABLE,
        "NOTIFICATION_TOPIC_ARN": topic,
    }
    for variable, value in env.items():
        monkeypatch.setenv(variable, value)
    # One-cycle invocations here have no time left by their context; in Lambda the last cycle of
    # an invocation commits no move (tested below), here every cycle may.
    monkeypatch.setattr(controller_module, "MOVE_TIME_RESERVE_SECONDS", -math.inf)
    world = Stack(ec2, aws["dynamodb"], sqs, queue, TABLE, allocation_id, node1_id, node2_id, node1, node2)
    # The controller's own EC2 client (cached per container): count its AssociateAddress calls.
    aws_clients.ec2().meta.events.register(
        "before-call.ec2.AssociateAddress", lambda **_: world.associate_calls.append("call")
    )
    return world


# --- MonitorFunction ------------------------------------------------------------------------------


def test_the_first_scheduled_run_puts_the_eip_on_the_higher_priority_node(stack: Stack) -> None:
    result = stack.monitor()
    assert result["trigger"] == "schedule"
    assert result["cycles"] == 1
    assert stack.holder() == stack.node1_id
    assert result["eip"] == {"instance_id": stack.node1_id, "holder": "node1"}
    assert result["nodes"] == {"node1": "up", "node2": "up"}
    assert [move["to"] for move in result["moves"]] == ["node1"]
    assert "move" in stack.notices()
    again = stack.monitor(SCHEDULE)
    assert again["moves"] == []
    assert stack.associate_calls == ["call"]


def test_a_failing_holder_loses_the_eip_after_fall_threshold_cycles(stack: Stack) -> None:
    stack.monitor()
    stack.notices()
    stack.fail(stack.node1)
    for _ in range(FALL - 1):
        result = stack.monitor()
        assert stack.holder() == stack.node1_id
        assert result["moves"] == []
    result = stack.monitor()
    assert stack.holder() == stack.node2_id
    assert [move["to"] for move in result["moves"]] == ["node2"]
    assert result["nodes"] == {"node1": "down", "node2": "up"}
    assert "move" in stack.notices()
    events = [entry["event"] for entry in stack.stored_state()["history"]]
    assert events[-3:] == ["node_down", "move_started", "move_completed"]


def test_an_alarm_while_the_holder_is_healthy_moves_nothing(stack: Stack) -> None:
    stack.monitor()
    calls = len(stack.associate_calls)
    result = stack.monitor(alarm(stack.node1_id))
    assert result["trigger"] == "alarm"
    assert result["moves"] == []
    assert stack.holder() == stack.node1_id
    assert len(stack.associate_calls) == calls


def test_an_alarm_invocation_on_a_warm_container_starts_its_failure_runs_afresh(stack: Stack) -> None:
    # What starts an alarm invocation is often the failure itself: a run carried over from the
    # container's last invocation would add up blips whose successes another container saw and did
    # not write (simulator scenario short_gaps). A scheduled one-cycle invocation continues it.
    stack.monitor()
    stack.fail(stack.node1)
    stack.monitor()  # node1's first failure, on the warm container
    for _ in range(FALL):
        result = stack.monitor(alarm(stack.node1_id))  # one cycle each: each a run of one
        assert result["cycles"] == 1
        assert result["moves"] == []
        assert stack.holder() == stack.node1_id
    result = stack.monitor()  # the schedule's next invocation: the alarm's run of one, continued
    assert [move["to"] for move in result["moves"]] == ["node2"]
    assert stack.holder() == stack.node2_id


def test_an_alarm_starts_probing_and_the_probes_move_the_eip_within_one_invocation(stack: Stack) -> None:
    stack.monitor()
    stack.fail(stack.node1)
    # Room for several 0.2 s cycles besides the 1 s margin and the 0.5 s probe timeout, even on a busy machine.
    result = stack.monitor(alarm(stack.node1_id), seconds=3.5)
    assert result["cycles"] >= FALL
    assert stack.holder() == stack.node2_id
    assert [move["to"] for move in result["moves"]] == ["node2"]


def test_a_node_that_accepts_but_never_answers_never_gets_the_eip(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # the kernel accepts; nobody answers
        monkeypatch.setenv("NODE1_HEALTH_CHECK_URL", f"http://127.0.0.1:{silent.getsockname()[1]}/api/9/x")
        result = stack.monitor()
    assert stack.holder() == stack.node2_id
    # node1 has failed once (a node with no history fails like an up node: FallThreshold probes)
    assert result["nodes"] == {"node1": "unknown", "node2": "up"}


def test_both_nodes_down_leaves_the_eip_and_raises_an_alert(stack: Stack) -> None:
    stack.monitor()
    stack.notices()
    stack.fail(stack.node1)
    stack.fail(stack.node2)
    for _ in range(FALL):
        result = stack.monitor()
    assert stack.holder() == stack.node1_id
    assert result["nodes"] == {"node1": "down", "node2": "down"}
    assert "no_node_up" in result["alerts"]
    assert "no_node_up" in stack.notices()


def test_an_invalid_monitor_event_is_rejected_before_anything_is_written(stack: Stack) -> None:
    with pytest.raises(InvalidRequestError, match="detail-type"):
        stack.monitor({"detail-type": "EC2 Instance State-change Notification", "source": "aws.ec2"})
    assert stack.item() is None
    assert stack.holder() is None


def test_a_corrupt_state_item_fails_the_invocation_and_is_left_alone(stack: Stack) -> None:
    key = {"pk": {"S": state_key(stack.allocation_id)}}
    stack.dynamodb.put_item(TableName=stack.table, Item={**key, "version": {"N": "4"}, "state": {"S": "{oops"}})
    before = stack.item()
    with pytest.raises(MonitorCyclesFailedError, match="not a valid state"):
        stack.monitor()
    assert stack.item() == before
    assert stack.holder() is None


def test_a_bad_configuration_fails_naming_the_variable_before_any_aws_client(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    aws_clients.ec2.cache_clear()
    monkeypatch.setenv("NODE2_PRIORITY", "101")
    with pytest.raises(ConfigError, match="NODE2_PRIORITY") as raised:
        stack.monitor()
    assert '"101"' in str(raised.value)
    assert aws_clients.ec2.cache_info().currsize == 0
    assert aws_clients.dynamodb.cache_info().currsize == 0


def test_a_scheduled_run_registers_in_the_monitor_lease_and_an_alarm_does_not(stack: Stack) -> None:
    stack.monitor(alarm(stack.node1_id))
    assert stack.lease() is None
    before = time.time()
    stack.monitor()
    lease = stack.lease()
    assert lease is not None
    assert lease["invocation"] == {"S": REQUEST_ID}
    assert before - 1 <= float(lease["started_at"]["N"]) <= time.time()


def test_a_scheduled_run_hands_over_to_a_newer_scheduled_invocation(stack: Stack) -> None:
    stack.monitor()
    # GIVEN a newer scheduled invocation has registered (it started later and is probing)
    newer = {"started_at": {"N": f"{time.time() + 30:.3f}"}, "invocation": {"S": "newer-request"}}
    stack.dynamodb.put_item(TableName=LEASE_TABLE, Item={**lease_item_key(stack), **newer})
    # WHEN this one runs with plenty of time left
    result = stack.monitor(seconds=10.0)
    # THEN it probes once, sees the newer one and stops, leaving the lease alone
    assert result["cycles"] == 1 and result["ended"] == "handed_over"
    assert stack.lease() == {**lease_item_key(stack), **newer}


def test_an_alarm_run_probes_for_its_window_whatever_the_lease_says(stack: Stack) -> None:
    newer = {"started_at": {"N": f"{time.time() + 30:.3f}"}, "invocation": {"S": "newer-request"}}
    stack.dynamodb.put_item(TableName=LEASE_TABLE, Item={**lease_item_key(stack), **newer})
    # Room for a second cycle after the first one's margin and probe timeout, even on a busy machine
    # (a first cycle there builds its clients and takes a second or more).
    result = stack.monitor(alarm(stack.node1_id), seconds=5.0)
    assert result["trigger"] == "alarm" and result["cycles"] > 1 and result["ended"] == "out_of_time"


def test_without_a_lease_table_a_scheduled_run_probes_until_its_deadline(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MONITOR_LEASE_TABLE_NAME")
    newer = {"started_at": {"N": f"{time.time() + 30:.3f}"}, "invocation": {"S": "newer-request"}}
    stack.dynamodb.put_item(TableName=LEASE_TABLE, Item={**lease_item_key(stack), **newer})
    result = stack.monitor(seconds=5.0)  # room for a second cycle even on a busy machine
    assert result["cycles"] > 1 and result["ended"] == "out_of_time"
    assert stack.lease() == {**lease_item_key(stack), **newer}


# --- ControlFunction ------------------------------------------------------------------------------


def test_status_reports_the_eip_nodes_pins_drains_and_moves(stack: Stack) -> None:
    stack.monitor()
    before = stack.item()
    result = stack.control({"action": "status"})
    assert result["ok"] is True
    status = result["status"]
    assert status["eip"]["allocation_id"] == stack.allocation_id
    assert status["eip"]["public_ip"]
    assert status["eip"]["instance_id"] == stack.node1_id
    assert status["eip"]["node"] == "node1"
    node1 = status["nodes"]["node1"]
    assert (node1["name"], node1["instance_id"], node1["priority"], node1["up"]) == ("node1", stack.node1_id, 101, True)
    assert {"ok_streak", "fail_streak"} <= set(node1)
    assert status["pin"] is None
    assert status["drains"] == []
    assert [move["node"] for move in status["recent_moves"]] == ["node1"]
    assert stack.item() == before  # status never writes


def test_failover_moves_and_pins_until_unpin(stack: Stack) -> None:
    stack.monitor()
    result = stack.control({"action": "failover", "target": "node2", "reason": "patch node1"})
    assert result["ok"] is True
    assert result["moved_to"] == "node2"
    assert stack.holder() == stack.node2_id
    assert result["status"]["pin"]["node"] == "node2"
    assert result["status"]["pin"]["reason"] == "patch node1"
    # Preempt is on with no delay: only the pin keeps the EIP on the lower-priority node.
    for _ in range(3):
        stack.monitor()
    assert stack.holder() == stack.node2_id
    unpinned = stack.control({"action": "unpin", "reason": "done"})
    assert unpinned["status"]["pin"] is None
    assert unpinned["moved_to"] == "node1"
    assert stack.holder() == stack.node1_id
    recorded = [(e["event"], e["reason"]) for e in stack.stored_state()["history"] if e["event"].startswith("control_")]
    assert recorded == [("control_failover", "patch node1"), ("control_unpin", "done")]


def test_a_pinned_node_that_goes_down_still_loses_the_eip(stack: Stack) -> None:
    stack.monitor()
    stack.control({"action": "failover", "target": "node2", "reason": "test"})
    stack.fail(stack.node2)
    for _ in range(FALL):
        stack.monitor()
    assert stack.holder() == stack.node1_id


def test_drain_moves_the_eip_away_and_undrain_makes_the_node_eligible(stack: Stack) -> None:
    stack.monitor()
    drained = stack.control({"action": "drain", "node": "node1", "reason": "kernel update"})
    assert drained["moved_to"] == "node2"
    assert drained["status"]["drains"] == ["node1"]
    assert drained["status"]["nodes"]["node1"]["drain"]["reason"] == "kernel update"
    for _ in range(3):
        stack.monitor()
    assert stack.holder() == stack.node2_id
    undrained = stack.control({"action": "undrain", "node": stack.node1_id})
    assert undrained["status"]["drains"] == []
    assert undrained["moved_to"] == "node1"  # preempt, no delay: node1 takes it back at once
    assert stack.holder() == stack.node1_id


def test_a_drained_holder_keeps_the_eip_when_the_other_node_is_down(stack: Stack) -> None:
    stack.monitor()
    stack.fail(stack.node2)
    for _ in range(FALL):
        stack.monitor()
    result = stack.control({"action": "drain", "node": "node1", "reason": "r"})
    assert result["moved_to"] is None
    assert stack.holder() == stack.node1_id


def test_control_acts_on_the_stored_state_not_on_a_containers_cached_copy(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack.monitor()
    stack.control({"action": "drain", "node": "node2", "reason": "r"})
    first_container = wiring.fleet()
    wiring.controller.cache_clear()  # a second container undrains node2
    wiring.fleet.cache_clear()
    stack.control({"action": "undrain", "node": "node2"})
    # Back to the first one (the handler looks wiring.fleet up at each invocation).
    monkeypatch.setattr(wiring, "fleet", functools.cache(lambda: first_container))
    result = stack.control({"action": "failover", "target": "node2", "reason": "after undrain"})
    assert result["moved_to"] == "node2"
    assert stack.holder() == stack.node2_id


INVALID: list[Any] = [
    {"action": "reboot"},
    {"action": ["status"]},  # not a string: once a TypeError from the fleet dispatch
    {"action": "failover", "target": "node3"},
    {"action": "failover", "target": "node2", "force": "yes"},
    {"action": "drain", "node": "node1", "target": "node2"},
    {"action": "drain"},
    {"action": "unpin", "reason": 5},
    ["status"],
]


def test_invalid_requests_raise_and_change_nothing(stack: Stack) -> None:
    stack.monitor()
    before, holder = stack.item(), stack.holder()
    for request in INVALID:
        with pytest.raises(InvalidRequestError):
            stack.control(request)
        assert stack.item() == before, request
    assert stack.holder() == holder


def test_a_refused_failover_changes_nothing(stack: Stack) -> None:
    stack.monitor()
    stack.fail(stack.node2)
    for _ in range(FALL):
        stack.monitor()
    before = stack.item()
    calls = len(stack.associate_calls)
    with pytest.raises(RefusedError) as raised:
        stack.control({"action": "failover", "target": "node2", "reason": "try"})
    assert raised.value.field == "target"
    assert '"node2"' in str(raised.value)
    assert stack.item() == before
    assert stack.holder() == stack.node1_id
    assert len(stack.associate_calls) == calls


def test_a_forced_failover_to_a_down_node_moves_the_eip(stack: Stack) -> None:
    stack.monitor()
    stack.fail(stack.node2)
    for _ in range(FALL):
        stack.monitor()
    result = stack.control({"action": "failover", "target": "node2", "force": True, "reason": "probes lie"})
    assert result["moved_to"] == "node2"
    assert stack.holder() == stack.node2_id


def test_failover_to_a_drained_node_is_refused_and_changes_nothing(stack: Stack) -> None:
    stack.monitor()
    stack.control({"action": "drain", "node": "node2", "reason": "r"})
    before = stack.item()
    with pytest.raises(RefusedError, match="drained"):
        stack.control({"action": "failover", "target": "node2", "force": True})
    assert stack.item() == before


def test_every_action_has_one_function_in_the_table() -> None:
    from nginx_eip_failover.handlers.control_actions import actions
    from nginx_eip_failover.service.operator_requests import ACTIONS

    assert actions.names() == set(ACTIONS)


def test_the_control_event_is_read_once(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    """One parse per invocation, whatever the action: no branch reads the event again."""
    from nginx_eip_failover.service import operator_requests as control_module  # the handler imports it per call

    parses: list[object] = []
    real = control_module.parse_control_request

    def counted(event: object, settings: Any) -> Any:
        parses.append(event)
        return real(event, settings)

    monkeypatch.setattr(control_module, "parse_control_request", counted)
    stack.monitor()
    for request in (
        {"action": "status"},
        {"action": "plan"},
        {"action": "drain", "node": "node2", "reason": "patch", "dry_run": True},
        {"action": "drain", "node": "node2", "reason": "patch"},
        {"action": "log"},
        {"action": "fleet_show"},
    ):
        parses.clear()
        assert stack.control(request)["ok"] is True, request
        assert parses == [request]


def test_the_sample_control_events_run_in_an_operators_order(stack: Stack) -> None:
    samples = sorted(EVENTS.glob("control*.json"))
    if not samples:
        pytest.skip("no events/control*.json yet")
    settings = load_settings()
    actions = {parse_control_request(json.loads(path.read_text()), settings).action for path in samples}
    assert actions == {"status", "failover", "unpin", "drain", "undrain", "plan", "preflight", "log", "drill"}
    stack.monitor()
    order = ["status", "failover", "unpin", "drain", "undrain", "failover-force", "unpin"]
    for name in order:
        path = EVENTS / f"control-{name}.json"
        if path.exists():
            result = stack.control(json.loads(path.read_text()))
            assert result["ok"] is True, (name, result)
            assert result["status"]["eip"]["allocation_id"] == stack.allocation_id
    log = stack.control(json.loads((EVENTS / "control-log.json").read_text()))
    assert log["ok"] is True and log["action"] == "log" and log["enabled"] is True
    ops = [record["op"] for record in log["records"] if record["type"] == "change"]
    assert ops[:2] == ["cycle", "outcome"]  # the placement, then its outcome
    assert ops.count("control") == 6


def test_the_sample_monitor_events_run(stack: Stack) -> None:
    samples = sorted(EVENTS.glob("monitor*.json"))
    if not samples:
        pytest.skip("no events/monitor*.json yet")
    for path in samples:
        result = stack.monitor(json.loads(path.read_text()))
        assert result["cycles"] >= 1
    assert stack.holder() == stack.node1_id


# --- ObservabilityProfile --------------------------------------------------------------------------


def _emf_metric_names(output: str) -> set[str]:
    names: set[str] = set()
    for line in output.splitlines():
        if '"_aws"' in line:
            record = json.loads(line)
            for directive in record["_aws"]["CloudWatchMetrics"]:
                names.update(metric["Name"] for metric in directive["Metrics"])
    return names


@pytest.mark.parametrize(
    ("profile", "continuous"),
    [("lean", set()), ("full", {"MonitorCycles", "NodeUp", "ProbeLatency"})],
)
def test_only_the_full_profile_publishes_the_continuous_metrics(
    stack: Stack,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    profile: str,
    continuous: set[str],
) -> None:
    monkeypatch.setenv("OBSERVABILITY_PROFILE", profile)
    wiring.controller.cache_clear()
    wiring.fleet.cache_clear()
    stack.monitor()  # places the EIP: a move, an event metric in both profiles
    capsys.readouterr()
    stack.monitor()  # a steady cycle
    names = _emf_metric_names(capsys.readouterr().out)
    # What a steady minute publishes is billed every hour of the month ($0.30 a metric): lean, none.
    assert names & {"MonitorCycles", "NodeUp", "ProbeLatency"} == continuous
