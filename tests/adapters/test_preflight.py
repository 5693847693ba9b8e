"""Preflight: each check's ok and broken paths (moto; botocore's Stubber where moto cannot deny),
the table, the alert's one notice each way, the claim that runs it once per period, and the monitor's
periodic runner."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from nginx_eip_failover.adapters.dynamodb.preflight_store import PreflightStore, alert_key, run_key
from nginx_eip_failover.adapters.ec2.preflight_checks import (
    Ec2PreflightChecks,
    check_associate,
    check_instances,
    check_replace_route,
)
from nginx_eip_failover.adapters.health_probe import HealthProber
from nginx_eip_failover.adapters.triggers import TriggerPreflightChecks, check_alarms, check_schedule
from nginx_eip_failover.core.config import NodeConfig, Settings, load_settings
from nginx_eip_failover.core.errors import ConfigError, ConflictError
from nginx_eip_failover.core.ports import AlertRecord, Notice
from nginx_eip_failover.core.preflight import (
    ALERT,
    CheckRow,
    NotDue,
    PreflightReport,
    PreflightTargets,
    alert_notice,
    failed,
    function_name,
    ok,
    render_table,
    skipped,
)
from nginx_eip_failover.handlers.preflight_wiring import interval_from_env, periodic_preflight, targets_from_env
from nginx_eip_failover.observability import metrics
from nginx_eip_failover.service.preflight import Preflight
from nginx_eip_failover.service.preflight_periodic import PeriodicPreflight, due
from nginx_eip_failover_lab.aws.moto_gaps import aws_address_semantics
from support.moto_pair import create_pair
from support.moto_tables import create_table

TABLE = "preflight-state"
MONITOR_ARN = "arn:aws:lambda:us-east-1:123456789012:function:stack-MonitorFunction-ABC"
OTHER_ARN = "arn:aws:lambda:us-east-1:123456789012:function:something-else"


class Notices:
    def __init__(self) -> None:
        self.sent: list[Notice] = []

    def publish(self, notices: list[Notice]) -> None:
        self.sent.extend(notices)

    def kinds(self) -> list[str]:
        kinds = [notice.kind for notice in self.sent]
        self.sent.clear()
        return kinds


@pytest.fixture(scope="module")
def aws(moto_module: None, boto_session: boto3.session.Session) -> dict[str, Any]:
    services = ("ec2", "dynamodb", "events", "scheduler", "cloudwatch")
    clients = {name: boto_session.client(name, region_name="us-east-1") for name in services}
    create_table(clients["dynamodb"], TABLE)
    return clients


@dataclass
class World:
    aws: dict[str, Any]
    settings: Settings
    nodes: list[Any]
    rule: str
    alarms: tuple[str, str]
    notices: Notices = field(default_factory=Notices)

    @property
    def ec2(self) -> Any:
        return self.aws["ec2"]

    def targets(self, **changes: Any) -> PreflightTargets:
        base = PreflightTargets(monitor_function=MONITOR_ARN, schedule_rule=self.rule, alarm_names=self.alarms)
        return replace(base, **changes)

    def preflight(self, *, settings: Settings | None = None, **overrides: Any) -> Preflight:
        settings = settings or self.settings
        arguments: dict[str, Any] = {
            "ec2": Ec2PreflightChecks(self.ec2),
            "store": PreflightStore(self.aws["dynamodb"], settings.table_name, settings.allocation_id),
            "prober": HealthProber(settings.nodes, settings.timeout_seconds, observer="preflight"),
            "notifier": self.notices,
            "targets": self.targets(),
            "triggers": TriggerPreflightChecks(
                cloudwatch=self.aws["cloudwatch"], events=self.aws["events"], scheduler=self.aws["scheduler"]
            ),
        }
        arguments.update(overrides)
        return Preflight(settings, **arguments)

    def report(self, **overrides: Any) -> PreflightReport:
        report = self.preflight(**overrides).run()
        assert isinstance(report, PreflightReport)
        return report

    def item(self, key: str) -> dict[str, Any] | None:
        answer = self.aws["dynamodb"].get_item(TableName=TABLE, Key={"pk": {"S": key}}, ConsistentRead=True)
        return answer.get("Item")  # type: ignore[no-any-return]

    def holder(self) -> str | None:
        address = self.ec2.describe_addresses(AllocationIds=[self.settings.allocation_id])["Addresses"][0]
        return address.get("InstanceId") or None


@pytest.fixture
def world(
    aws: dict[str, Any], base_env: dict[str, str], node_server: Callable[[], Any], request: pytest.FixtureRequest
) -> World:
    """A fresh pair and EIP, two healthy nodes, an enabled rule and two alarms that invoke the monitor."""
    ec2 = aws["ec2"]
    created = create_pair(ec2)
    ids = list(created.instance_ids)
    nodes = [node_server(), node_server()]
    env = {
        **base_env,
        **created.env([node.url() for node in nodes], HEALTH_CHECK_TIMEOUT_SECONDS="0.5", STATE_TABLE_NAME=TABLE),
    }
    suffix = str(abs(hash(request.node.nodeid)))
    rule = f"schedule-{suffix}"
    aws["events"].put_rule(Name=rule, ScheduleExpression="rate(1 minute)", State="ENABLED")
    aws["events"].put_targets(Rule=rule, Targets=[{"Id": "monitor", "Arn": MONITOR_ARN, "Input": "{}"}])
    alarms = (f"node1-{suffix}", f"node2-{suffix}")
    for name, instance in zip(alarms, ids, strict=True):
        put_alarm(aws, name, instance, [MONITOR_ARN])
    return World(aws, load_settings(env), nodes, rule, alarms)


def put_alarm(aws: dict[str, Any], name: str, instance: str, actions: list[str], enabled: bool = True) -> None:
    aws["cloudwatch"].put_metric_alarm(
        AlarmName=name,
        Namespace="AWS/EC2",
        MetricName="StatusCheckFailed",
        Dimensions=[{"Name": "InstanceId", "Value": instance}],
        Statistic="Maximum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        AlarmActions=actions,
        ActionsEnabled=enabled,
    )


def rows_of(report: PreflightReport, check: str) -> list[CheckRow]:
    return [row for row in report.rows if row.check.startswith(check)]


# ------------------------------------------------------------------------------------- pure parts


@pytest.mark.parametrize(
    ("last", "now", "interval", "expected"),
    [
        (None, 1000.0, 900.0, True),  # nothing known: run
        (100.0, 999.0, 900.0, False),
        (100.0, 1000.0, 900.0, True),
        (100.0, 5000.0, 900.0, True),
        (None, 1000.0, 0.0, False),  # 0 = off
        (100.0, 5000.0, 0.0, False),
        (9000.0, 1000.0, 900.0, True),  # a last run far in the future (a wrong clock) does not hold it back
        (1500.0, 1000.0, 900.0, False),  # a little ahead (clock skew between containers): wait
    ],
)
def test_due(last: float | None, now: float, interval: float, expected: bool) -> None:
    assert due(last, now, interval) is expected


def test_render_table_aligns_columns_and_ends_with_the_verdict() -> None:
    rows = [
        ok("ec2:DescribeAddresses", "eipalloc-1", "exists"),
        failed("ec2:AssociateAddress (DryRun)", "node1: eipalloc-1 -> i-1", "denied"),
        skipped("schedule", "-", "not configured"),
    ]
    lines = render_table(rows).splitlines()
    assert lines[0].split() == ["check", "target", "result", "why", "not", "/", "seen"]
    column = lines[0].index("result")
    assert [line[column : column + 4] for line in lines[1:4]] == ["ok  ", "FAIL", "skip"]
    assert lines[2].endswith("denied")
    assert lines[-1] == "preflight FAILED: 1 of 3 checks failed, 1 skipped (not configured)"
    assert render_table(rows[:1]).splitlines()[-1] == "preflight passed: 1 checks ok"


def test_rows_as_dicts_carry_the_why_not_only_when_failed() -> None:
    assert failed("c", "t", "broken").as_dict() == {
        "check": "c",
        "target": "t",
        "ok": False,
        "status": "failed",
        "why_not": "broken",
        "detail": "broken",
    }
    assert ok("c", "t", "fine").as_dict()["why_not"] is None
    assert skipped("c", "t", "not configured").as_dict()["ok"] is True


def test_one_notice_when_it_starts_failing_and_one_when_it_clears() -> None:
    bad, good = [failed("c", "t", "broken"), ok("d", "u", "fine")], [ok("d", "u", "fine")]
    raised = alert_notice(False, bad, "eipalloc-1")
    assert raised is not None and (raised.kind, raised.severity) == (ALERT, "critical")
    assert "1 of 2 checks failed" in raised.message and "c t: broken" in raised.message
    assert alert_notice(True, bad, "eipalloc-1") is None
    cleared = alert_notice(True, good, "eipalloc-1")
    assert cleared is not None and (cleared.kind, cleared.severity) == (f"{ALERT}_cleared", "info")
    assert alert_notice(False, good, "eipalloc-1") is None


def test_function_name_of_arns_and_names() -> None:
    assert function_name(MONITOR_ARN) == "stack-MonitorFunction-ABC"
    assert function_name(MONITOR_ARN + ":live") == "stack-MonitorFunction-ABC"
    assert function_name("stack-MonitorFunction-ABC") == "stack-MonitorFunction-ABC"


def test_long_aws_messages_lose_the_encoded_part_and_are_bounded() -> None:
    row = failed("c", "t", "UnauthorizedOperation: no. Encoded authorization failure message: " + "x" * 5000)
    assert row.detail == "UnauthorizedOperation: no"
    assert len(failed("c", "t", "y" * 5000).detail) <= 500


# ----------------------------------------------------------------------------------------- checks


def test_every_check_passes_and_nothing_changes(world: World) -> None:
    report = world.report()
    assert report.ok, render_table(report.rows)
    assert [row.check for row in report.rows] == [
        "ec2:DescribeAddresses",
        "ec2:DescribeInstances",
        "ec2:DescribeInstances",
        "ec2:AssociateAddress (DryRun)",
        "ec2:AssociateAddress (DryRun)",
        "health probe",
        "health probe",
        "dynamodb:PutItem (conditional)",
        "dynamodb:GetItem",
        "events:DescribeRule + ListTargetsByRule",
        "cloudwatch:DescribeAlarms",
        "cloudwatch:DescribeAlarms",
    ]
    assert {row.detail for row in rows_of(report, "ec2:AssociateAddress")} == {"allowed (DryRunOperation)"}
    # Nothing a failover uses changed: the EIP is where it was, the state item does not exist.
    assert world.holder() is None
    assert world.item(f"eip#{world.settings.allocation_id}") is None
    assert world.notices.kinds() == []


def test_a_denied_associate_address_names_the_action_the_eip_and_the_instance(aws: dict[str, Any]) -> None:
    client = boto3.session.Session().client("ec2", region_name="us-east-1")
    node = NodeConfig("node1", "i-0123456789abcdef1", "http://127.0.0.1/", 101)
    expected = {
        "AllocationId": "eipalloc-0123456789abcdef0",
        "InstanceId": node.instance_id,
        "AllowReassociation": True,
        "DryRun": True,
    }
    message = (
        "You are not authorized to perform this operation. User: arn:aws:sts::123456789012:assumed-role/r/s is not "
        "authorized to perform: ec2:AssociateAddress on resource: arn:aws:ec2:us-east-1:123456789012:elastic-ip/"
        "eipalloc-0123456789abcdef0 because no identity-based policy allows the ec2:AssociateAddress action. "
        "Encoded authorization failure message: AAAAxyz"
    )
    with Stubber(client) as stubber:
        stubber.add_client_error("associate_address", "UnauthorizedOperation", message, 403, expected_params=expected)
        row = check_associate(client, "eipalloc-0123456789abcdef0", node)
    assert row.status == "failed"
    assert row.target == "node1: eipalloc-0123456789abcdef0 -> i-0123456789abcdef1"
    assert row.why_not is not None
    assert row.why_not.startswith(
        "ec2:AssociateAddress denied for elastic-ip/eipalloc-0123456789abcdef0 with instance/i-0123456789abcdef1: "
        "UnauthorizedOperation: User: arn:aws:sts::123456789012:assumed-role/r/s is not authorized"
    )
    assert "on resource: arn:aws:ec2:us-east-1:123456789012:elastic-ip/eipalloc-0123456789abcdef0" in row.why_not
    assert "Encoded" not in row.why_not


@pytest.mark.parametrize(
    "message",
    [
        "You are not authorized to perform this operation. Encoded authorization failure message: AAAAxyz",
        "You are not authorized to perform this operation.",
        "",
    ],
    ids=["boilerplate-and-encoded", "boilerplate", "empty"],
)
def test_a_denial_with_only_ec2s_boilerplate_reads_cleanly(message: str) -> None:
    """EC2 often says nothing but its boilerplate and the encoded message: the row names the action,
    the resource and the code, and ends there (no dangling "UnauthorizedOperation:")."""
    client = boto3.session.Session().client("ec2", region_name="us-east-1")
    node = NodeConfig("node1", "i-0123456789abcdef1", "http://127.0.0.1/", 101)
    with Stubber(client) as stubber:
        stubber.add_client_error("associate_address", "UnauthorizedOperation", message, 403)
        row = check_associate(client, "eipalloc-0123456789abcdef0", node)
    assert row.why_not == (
        "ec2:AssociateAddress denied for elastic-ip/eipalloc-0123456789abcdef0 with instance/i-0123456789abcdef1: "
        "UnauthorizedOperation (EC2 gave no detail: decode the message with sts:DecodeAuthorizationMessage, "
        "or see CloudTrail)"
    )


def test_an_answer_without_dry_run_operation_is_not_proof(aws: dict[str, Any]) -> None:
    client = boto3.session.Session().client("ec2", region_name="us-east-1")
    node = NodeConfig("node2", "i-0123456789abcdef2", "http://127.0.0.1/", 100)
    with Stubber(client) as stubber:
        stubber.add_response("associate_address", {"AssociationId": "eipassoc-1"})
        row = check_associate(client, "eipalloc-0123456789abcdef0", node)
    assert row.status == "failed" and "without DryRunOperation" in row.detail


def test_other_ec2_errors_are_reported_as_they_are(world: World) -> None:
    node = replace(world.settings.nodes[0], instance_id="i-0000000000000dead")
    row = check_associate(world.ec2, world.settings.allocation_id, node)
    assert row.status == "failed"
    assert row.detail == "InvalidInstanceID.NotFound: The instance ID 'i-0000000000000dead' does not exist"


def test_a_missing_eip_and_a_missing_instance_fail_their_rows(world: World) -> None:
    nodes = (world.settings.nodes[0], replace(world.settings.nodes[1], instance_id="i-0000000000000dead"))
    settings = replace(world.settings, allocation_id="eipalloc-0000000000000dead", nodes=nodes)
    report = world.report(settings=settings)
    (eip,) = rows_of(report, "ec2:DescribeAddresses")
    assert eip.status == "failed" and eip.detail.startswith("InvalidAllocationID.NotFound")
    node1, node2 = rows_of(report, "ec2:DescribeInstances")
    assert node1.status == "ok" and node1.detail == "exists (running)"
    assert node2.status == "failed" and "i-0000000000000dead" in node2.detail
    assert not report.ok


def test_a_terminated_instance_can_never_take_the_eip(world: World) -> None:
    world.ec2.terminate_instances(InstanceIds=[world.settings.nodes[1].instance_id])
    rows = check_instances(world.ec2, world.settings.nodes)
    assert [row.status for row in rows] == ["ok", "failed"]
    assert rows[1].detail == "instance is terminated: it can never take the EIP"


def test_a_node_that_does_not_answer_fails_with_the_probes_reason(world: World) -> None:
    world.nodes[1].respond(503, b"down", content_type="text/plain")
    report = world.report()
    node1, node2 = rows_of(report, "health probe")
    assert node1.status == "ok" and node1.detail.startswith("HTTP 200")
    assert node2.status == "failed" and node2.detail == "HTTP 503"
    assert node2.target == f"node2 {world.settings.nodes[1].health_check_url}"


def test_a_table_the_function_may_not_write_fails_naming_the_action(world: World) -> None:
    client = boto3.session.Session().client("dynamodb", region_name="us-east-1")
    denial = "User: arn:aws:sts::123456789012:assumed-role/r/s is not authorized to perform: dynamodb:{} on resource: x"
    with Stubber(client) as stubber:
        stubber.add_client_error("put_item", "AccessDeniedException", denial.format("PutItem"), 400)
        stubber.add_client_error("get_item", "AccessDeniedException", denial.format("GetItem"), 400)
        report = world.report(store=PreflightStore(client, TABLE, world.settings.allocation_id))
    (write,) = rows_of(report, "dynamodb:PutItem")
    (read,) = rows_of(report, "dynamodb:GetItem")
    assert write.status == read.status == "failed"
    assert "AccessDeniedException" in write.detail and "dynamodb:PutItem" in write.detail
    assert "dynamodb:GetItem" in read.detail
    # The alert cannot be stored, so this container sends its notice once, not once per run.
    assert world.notices.kinds() == [ALERT]
    preflight = world.preflight(store=PreflightStore(client, TABLE, world.settings.allocation_id))
    with Stubber(client) as stubber:
        for _ in range(2):
            stubber.add_client_error("put_item", "AccessDeniedException", "denied", 400)
            stubber.add_client_error("get_item", "AccessDeniedException", "denied", 400)
        preflight.run()
        preflight.run()
    assert world.notices.kinds() == [ALERT]


def test_a_missing_table_fails_both_table_rows(world: World) -> None:
    report = world.report(settings=replace(world.settings, table_name="no-such-table"))
    assert [row.status for row in rows_of(report, "dynamodb:")] == ["failed", "failed"]
    assert all("ResourceNotFoundException" in row.detail for row in rows_of(report, "dynamodb:"))


# --------------------------------------------------------------------------------- schedule, alarms


def test_the_rule_must_be_enabled_and_invoke_the_monitor(world: World) -> None:
    events = world.aws["events"]
    (row,) = check_schedule(world.targets(), scheduler=None, events=events)
    assert row.status == "ok" and "enabled, rate(1 minute), invokes stack-MonitorFunction-ABC" in row.detail
    (row,) = check_schedule(world.targets(monitor_function=OTHER_ARN), scheduler=None, events=events)
    assert row.status == "failed" and row.detail == "enabled, but does not invoke the monitor function something-else"
    events.disable_rule(Name=world.rule)
    (row,) = check_schedule(world.targets(), scheduler=None, events=events)
    assert row.status == "failed" and row.detail.startswith("rule is DISABLED")
    (row,) = check_schedule(world.targets(schedule_rule="no-such-rule"), scheduler=None, events=events)
    assert row.status == "failed" and row.detail.startswith("ResourceNotFoundException")


def test_a_scheduler_schedule_is_checked_the_same_way(world: World) -> None:
    scheduler = world.aws["scheduler"]
    name = f"{world.rule}-v2"
    scheduler.create_schedule(
        Name=name,
        ScheduleExpression="rate(1 minute)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": MONITOR_ARN, "RoleArn": "arn:aws:iam::123456789012:role/scheduler"},
    )
    targets = world.targets(schedule_rule=None, schedule_name=name)
    (row,) = check_schedule(targets, scheduler=scheduler, events=None)
    assert (row.check, row.target, row.status) == ("scheduler:GetSchedule", f"schedule default/{name}", "ok")
    scheduler.update_schedule(
        Name=name,
        ScheduleExpression="rate(1 minute)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": MONITOR_ARN, "RoleArn": "arn:aws:iam::123456789012:role/scheduler"},
        State="DISABLED",
    )
    (row,) = check_schedule(targets, scheduler=scheduler, events=None)
    assert row.status == "failed" and row.detail.startswith("schedule is DISABLED")
    (row,) = check_schedule(replace(targets, schedule_name="nope"), scheduler=scheduler, events=None)
    assert row.status == "failed" and row.detail.startswith("ResourceNotFoundException")


def test_an_unconfigured_schedule_or_alarm_list_is_a_skipped_row() -> None:
    (schedule,) = check_schedule(PreflightTargets(), scheduler=None, events=None)
    (alarms,) = check_alarms(None, PreflightTargets())
    for row in (schedule, alarms):
        assert row.status == "skipped" and row.ok and row.detail.startswith("not configured")


def test_each_alarm_must_exist_be_enabled_and_invoke_the_monitor(world: World) -> None:
    cloudwatch = world.aws["cloudwatch"]
    instance = world.settings.nodes[1].instance_id
    put_alarm(world.aws, world.alarms[1], instance, [OTHER_ARN, "arn:aws:sns:us-east-1:123456789012:topic"])
    rows = check_alarms(cloudwatch, world.targets(alarm_names=(*world.alarms, "missing-alarm")))
    assert [row.status for row in rows] == ["ok", "failed", "failed"]
    assert rows[0].detail.startswith("invokes stack-MonitorFunction-ABC; state ")
    assert rows[1].detail == (
        "does not invoke the monitor function stack-MonitorFunction-ABC; its alarm actions: "
        f"{OTHER_ARN}, arn:aws:sns:us-east-1:123456789012:topic"
    )
    assert rows[2].detail.startswith("not found")
    put_alarm(world.aws, world.alarms[1], instance, [MONITOR_ARN], enabled=False)
    assert check_alarms(cloudwatch, world.targets())[1].detail.startswith("actions are disabled")
    put_alarm(world.aws, world.alarms[1], instance, [])
    assert check_alarms(cloudwatch, world.targets())[1].detail.startswith("invokes no Lambda function")


def test_without_a_known_monitor_any_lambda_action_will_do(world: World) -> None:
    put_alarm(world.aws, world.alarms[1], world.settings.nodes[1].instance_id, [OTHER_ARN])
    rows = check_alarms(world.aws["cloudwatch"], world.targets(monitor_function=None))
    assert [row.status for row in rows] == ["ok", "ok"]


# ---------------------------------------------------------------------------- alert and run record


def test_the_alert_item_is_written_only_when_the_result_changes(world: World) -> None:
    key = alert_key(world.settings.allocation_id)
    world.nodes[1].respond(503, b"down", content_type="text/plain")
    first = world.report()
    assert [notice.kind for notice in first.notices] == [ALERT]
    assert world.notices.kinds() == [ALERT]
    stored = world.item(key)
    assert stored is not None and stored["version"]["N"] == "1" and stored["raised"]["BOOL"] is True
    world.report()  # the same failure again: no notice, the item is not rewritten
    assert world.notices.kinds() == []
    assert world.item(key) == stored
    world.nodes[0].respond(503, b"down", content_type="text/plain")  # more fails: recorded, no new notice
    world.report()
    assert world.notices.kinds() == []
    again = world.item(key)
    assert again is not None and again["version"]["N"] == "2" and again["since"] == stored["since"]
    for node in world.nodes:
        node.respond(200, {"peers": [{"state": "up"}]})
    cleared = world.report()
    assert cleared.ok and [notice.kind for notice in cleared.notices] == [f"{ALERT}_cleared"]
    assert world.notices.kinds() == [f"{ALERT}_cleared"]
    final = world.item(key)
    assert final is not None and final["version"]["N"] == "3" and final["raised"]["BOOL"] is False
    world.report()
    assert world.item(key) == final and world.notices.kinds() == []


def test_a_run_within_the_period_of_another_is_not_due(world: World) -> None:
    preflight = world.preflight()
    first = preflight.run(now=10_000.0, min_age=900.0)
    assert isinstance(first, PreflightReport)
    # Another container (its own Preflight) a minute later: the claim is lost, and says when it ran.
    assert world.preflight().run(now=10_060.0, min_age=900.0) == NotDue(10_000.0)
    stored = world.item(run_key(world.settings.allocation_id))
    assert stored is not None and stored["last_run_at"]["N"] == "10000.000"
    assert isinstance(world.preflight().run(now=10_900.0, min_age=900.0), PreflightReport)
    # An operator's run (min_age 0) always runs.
    assert isinstance(world.preflight().run(now=10_901.0), PreflightReport)


def test_a_result_recorded_meanwhile_by_another_run_sends_no_second_notice(world: World) -> None:
    class Racing(PreflightStore):
        def save_alert(self, record: AlertRecord, expected_version: int) -> int:
            raise ConflictError("changed meanwhile")

    world.nodes[1].respond(503, b"down", content_type="text/plain")
    report = world.report(store=Racing(world.aws["dynamodb"], TABLE, world.settings.allocation_id))
    assert not report.ok and report.notices == () and world.notices.kinds() == []


def test_a_check_that_raises_is_a_failed_row_not_a_failed_preflight(world: World) -> None:
    class Broken:
        def probe_all(self) -> list[Any]:
            raise RuntimeError("boom")

    report = world.report(prober=Broken())
    (row,) = rows_of(report, "health probe")
    assert row.status == "failed" and row.detail == "unexpected error: RuntimeError: boom"


def test_an_unreadable_alert_item_is_reported(world: World) -> None:
    world.aws["dynamodb"].put_item(
        TableName=TABLE, Item={"pk": {"S": alert_key(world.settings.allocation_id)}, "raised": {"S": "?"}}
    )
    (row,) = rows_of(world.report(), "dynamodb:GetItem")
    assert row.status == "failed" and "is not a preflight record" in row.detail


# ----------------------------------------------------------------------------------- periodic runs


class FakePreflight:
    """Counts runs; answers what the table would (the last run, kept across containers)."""

    def __init__(
        self,
        table: dict[str, float],
        *,
        fail: bool = False,
        gate: threading.Event | None = None,
        passing: bool = False,
    ) -> None:
        self.passing = passing
        self.table = table
        self.runs: list[float] = []
        self.attempts = 0
        self.fail = fail
        self.gate = gate

    def run(self, *, now: float | None = None, min_age: float = 0.0) -> PreflightReport | NotDue:
        assert now is not None
        self.attempts += 1
        if self.gate is not None:
            self.gate.wait(5)
        if self.fail:
            raise RuntimeError("no settings")
        last = self.table.get("last")
        if last is not None and last > now - min_age:
            return NotDue(last)
        self.table["last"] = now
        self.runs.append(now)
        if self.passing:
            return PreflightReport(ran_at=now, rows=(ok("d", "u", "fine"),))
        return PreflightReport(ran_at=now, rows=(failed("c", "t", "broken"), ok("d", "u", "fine")))


class Clock:
    def __init__(self, now: float = 100_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def periodic(
    preflight: FakePreflight, clock: Clock, interval: float = 900.0, *, metric_every_run: bool = False
) -> tuple[PeriodicPreflight, list[int]]:
    builds: list[int] = []

    def build() -> Any:
        builds.append(1)
        return preflight

    return PeriodicPreflight(build, interval, clock=clock, metric_every_run=metric_every_run), builds


def tick(runner: PeriodicPreflight) -> None:
    runner.tick()
    runner.finish(5.0)


def test_periodic_runs_once_per_period_and_makes_no_call_in_between() -> None:
    table: dict[str, float] = {}
    clock, preflight = Clock(), FakePreflight(table)
    runner, builds = periodic(preflight, clock)
    assert builds == []  # nothing is built before the first tick (no cold-start cost)
    tick(runner)
    assert preflight.runs == [100_000.0] and builds == [1]
    assert runner.last_report is not None and not runner.last_report.ok
    for seconds in (1, 60, 899):
        clock.now = 100_000.0 + seconds
        before = len(preflight.runs)
        runner.tick()  # not due by what the container knows: no thread, no call
        assert runner._thread is None and len(preflight.runs) == before
    clock.now = 100_900.0
    tick(runner)
    assert preflight.runs == [100_000.0, 100_900.0] and builds == [1]


def test_a_new_container_learns_the_last_run_from_its_lost_claim() -> None:
    table: dict[str, float] = {}
    clock = Clock()
    first, _ = periodic(FakePreflight(table), clock)
    tick(first)
    clock.now += 120
    other = FakePreflight(table)
    second, _ = periodic(other, clock)
    tick(second)  # one attempt: the claim is lost and says when the last run was
    assert (other.attempts, other.runs) == (1, [])
    clock.now += 600
    tick(second)
    assert other.attempts == 1  # not due by what it learned: no call at all
    clock.now = 100_000.0 + 900
    tick(second)
    assert (other.attempts, other.runs) == (2, [100_900.0])


def test_interval_zero_never_runs() -> None:
    clock, preflight = Clock(), FakePreflight({})
    runner, builds = periodic(preflight, clock, interval=0)
    for _ in range(3):
        tick(runner)
        clock.now += 10_000
    assert preflight.runs == [] and builds == []


def test_tick_never_waits_for_a_slow_run_and_finish_is_bounded() -> None:
    gate = threading.Event()
    clock, preflight = Clock(), FakePreflight({}, gate=gate)
    runner, _ = periodic(preflight, clock)
    started = time.monotonic()
    runner.tick()
    runner.tick()  # a run is in progress: no second one
    runner.finish(0.05)
    assert time.monotonic() - started < 1.0
    assert preflight.runs == []
    gate.set()
    runner.finish(5.0)
    assert preflight.runs == [100_000.0]


def test_a_run_that_raises_is_logged_and_retried_next_period_not_every_cycle() -> None:
    clock, preflight = Clock(), FakePreflight({}, fail=True)
    runner, _ = periodic(preflight, clock)
    tick(runner)
    clock.now += 60
    preflight.fail = False
    tick(runner)
    assert preflight.runs == []
    clock.now += 900
    tick(runner)
    assert preflight.runs == [clock.now]


def test_a_failed_run_emits_the_failures_metric() -> None:
    metrics.clear_metrics()
    clock, preflight = Clock(), FakePreflight({})
    runner, _ = periodic(preflight, clock)
    tick(runner)
    assert metrics.metric_set["PreflightFailures"]["Value"] == [1.0]
    metrics.clear_metrics()


def test_a_passed_run_emits_no_metric_in_lean_and_a_zero_in_full() -> None:
    # lean: a metric published every hour is billed all month; one published on failure only is not.
    metrics.clear_metrics()
    runner, _ = periodic(FakePreflight({}, passing=True), Clock())
    tick(runner)
    assert "PreflightFailures" not in metrics.metric_set
    runner, _ = periodic(FakePreflight({}, passing=True), Clock(), metric_every_run=True)
    tick(runner)
    assert metrics.metric_set["PreflightFailures"]["Value"] == [0.0]
    metrics.clear_metrics()


# ------------------------------------------------------------------------------------------ wiring


def test_interval_from_the_environment() -> None:
    assert interval_from_env({}) == 900.0
    assert interval_from_env({"PREFLIGHT_INTERVAL_SECONDS": "0"}) == 0.0
    assert interval_from_env({"PREFLIGHT_INTERVAL_SECONDS": " 60 "}) == 60.0
    for bad in ("-1", "x", "inf", "86401"):
        with pytest.raises(ConfigError, match="PREFLIGHT_INTERVAL_SECONDS"):
            interval_from_env({"PREFLIGHT_INTERVAL_SECONDS": bad})


def test_a_bad_interval_turns_the_periodic_run_off_instead_of_failing_the_monitor(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PREFLIGHT_INTERVAL_SECONDS", "soon")
    assert periodic_preflight().interval == 0.0


def test_targets_from_the_environment() -> None:
    env = {
        "ALARM_NAMES": "s-node1-status-check, s-node2-status-check,",
        "SCHEDULE_RULE_NAME": "s-MonitorFunctionEveryMinute-X",
        "AWS_LAMBDA_FUNCTION_NAME": "s-MonitorFunction-Y",
    }
    monitor = targets_from_env(env, in_monitor=True)
    assert monitor.alarm_names == ("s-node1-status-check", "s-node2-status-check")
    assert monitor.monitor_function == "s-MonitorFunction-Y"  # its own name
    assert targets_from_env(env, in_monitor=False).monitor_function is None  # not the control function's
    control = targets_from_env({**env, "MONITOR_FUNCTION_ARN": MONITOR_ARN, "SCHEDULE_NAME": "n"}, in_monitor=False)
    assert (control.monitor_function, control.schedule_name, control.schedule_group) == (MONITOR_ARN, "n", "default")
    assert targets_from_env({}, in_monitor=False) == PreflightTargets()


# --- address sets: every call a move makes, with DryRun where EC2 has it --------------------------------


def test_a_denied_replace_route_names_the_action_and_the_route_table() -> None:
    from nginx_eip_failover.core.addresses import RouteSpec

    client = boto3.session.Session().client("ec2", region_name="us-east-1")
    node = NodeConfig("node2", "i-0123456789abcdef2", "http://127.0.0.1/", 100, "eni-0123456789abcdef2")
    route = RouteSpec("192.168.100.1/32", ("rtb-0123456789abcdef0",))
    expected = {
        "RouteTableId": "rtb-0123456789abcdef0",
        "NetworkInterfaceId": "eni-0123456789abcdef2",
        "DestinationCidrBlock": "192.168.100.1/32",
        "DryRun": True,
    }
    with Stubber(client) as stubber:
        stubber.add_client_error(
            "replace_route",
            "UnauthorizedOperation",
            "You are not authorized to perform this operation. x",
            403,
            expected_params=expected,
        )
        row = check_replace_route(client, node, route, "rtb-0123456789abcdef0")
        stubber.add_client_error(
            "replace_route",
            "DryRunOperation",
            "would have succeeded",
            412,
            expected_params={**expected, "DestinationCidrBlock": "192.168.100.1/32"},
        )
        allowed = check_replace_route(client, node, route, "rtb-0123456789abcdef0")
    assert row.status == "failed" and row.why_not is not None
    assert row.why_not.startswith("ec2:ReplaceRoute denied for route-table/rtb-0123456789abcdef0")
    assert allowed.status == "ok"


def test_an_eip_by_private_ip_is_dry_run_on_the_nodes_eni_and_ipv6_routes_use_their_field() -> None:
    from nginx_eip_failover.core.addresses import RouteSpec

    client = boto3.session.Session().client("ec2", region_name="us-east-1")
    node = NodeConfig("node1", "i-0123456789abcdef1", "http://127.0.0.1/", 101, "eni-0123456789abcdef1")
    with Stubber(client) as stubber:
        stubber.add_client_error(
            "associate_address",
            "DryRunOperation",
            "ok",
            412,
            expected_params={
                "AllocationId": "eipalloc-0123456789abcdef0",
                "NetworkInterfaceId": "eni-0123456789abcdef1",
                "PrivateIpAddress": "10.0.1.20",
                "AllowReassociation": True,
                "DryRun": True,
            },
        )
        stubber.add_client_error(
            "replace_route",
            "DryRunOperation",
            "ok",
            412,
            expected_params={
                "RouteTableId": "rtb-0123456789abcdef0",
                "NetworkInterfaceId": "eni-0123456789abcdef1",
                "DestinationIpv6CidrBlock": "2001:db8::1/128",
                "DryRun": True,
            },
        )
        eip = check_associate(client, "eipalloc-0123456789abcdef0", node, "10.0.1.20")
        route = check_replace_route(
            client, node, RouteSpec("2001:db8::1/128", ("rtb-0123456789abcdef0",)), "rtb-0123456789abcdef0"
        )
    assert eip.status == "ok" and eip.target == "node1: eipalloc-0123456789abcdef0 -> eni-0123456789abcdef1 10.0.1.20"
    assert route.status == "ok"


def test_a_fleet_groups_preflight_covers_every_address_of_its_set(world: World) -> None:
    from nginx_eip_failover.core.addresses import AddressSet, ElasticIpSpec, RouteSpec, SecondaryIpSpec

    ec2 = world.ec2
    vpc = ec2.create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.77.1.0/24")["Subnet"]["SubnetId"]
    enis = [ec2.create_network_interface(SubnetId=subnet)["NetworkInterface"]["NetworkInterfaceId"] for _ in range(2)]
    table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    second = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nodes = tuple(replace(node, network_interface_id=eni) for node, eni in zip(world.settings.nodes, enis, strict=True))
    addresses = AddressSet(
        (ElasticIpSpec(world.settings.allocation_id), ElasticIpSpec(second)),
        (SecondaryIpSpec("10.77.1.50"),),
        (RouteSpec("192.168.77.1/32", (table,)),),
    )
    settings = replace(world.settings, group="web", nodes=nodes, addresses=addresses)
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="192.168.77.1/32", NetworkInterfaceId=enis[0])
    with aws_address_semantics():  # EC2's DryRun on routes (moto's own changes the route)
        report = world.report(settings=settings)
    [route] = ec2.describe_route_tables(RouteTableIds=[table])["RouteTables"][0]["Routes"][1:]
    assert route["NetworkInterfaceId"] == enis[0]  # the dry runs moved nothing
    checks = [
        (row.check, row.status) for row in report.rows if row.check.startswith(("ec2:As", "ec2:Rep", "ec2:DescribeN"))
    ]
    assert checks.count(("ec2:AssociateAddress (DryRun)", "ok")) == 4  # 2 EIPs x 2 nodes
    assert checks.count(("ec2:DescribeNetworkInterfaces", "ok")) == 2  # no DryRun for AssignPrivateIpAddresses
    assert ("ec2:ReplaceRoute (DryRun)", "failed") in checks or ("ec2:ReplaceRoute (DryRun)", "ok") in checks
    assert [row.target for row in report.rows if row.check == "ec2:DescribeAddresses"] == [
        settings.allocation_id,
        second,
    ]
