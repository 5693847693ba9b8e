"""Least privilege on the lab: the proxy evaluates every call of the functions against template.yaml's
resolved policies as IAM does, refuses what they do not allow as AWS answers, and the resource-based
policies admit the services that invoke the monitor and publish through the topic's key.

Every other integration test runs under the same enforcement (conftest fails a test on any denial);
here the grants are broken on purpose to show the check fails, naming the call, resource and grant."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from nginx_eip_failover_lab.account import ACCOUNT_ID, REGION
from nginx_eip_failover_lab.environment import LabEnvironment
from nginx_eip_failover_lab.iam.enforcement import IamEnforcer, Verdict, lab_lookups
from nginx_eip_failover_lab.iam.policies import (
    CLOUDWATCH_PRINCIPAL,
    LAMBDA_ALARM_PRINCIPAL,
    StackPolicies,
    monitor_arn,
    role_may,
    service_may,
    stack_policies,
)
from nginx_eip_failover_lab.stack.template import MONITOR_FUNCTION
from support.lab_driving import LabFactory, cycle, loop_for

pytestmark = pytest.mark.integration

FLEET_SID = "MoveFleetAddressesTaggedForThisStack"
ENI_ARN = f"arn:aws:ec2:{REGION}:{ACCOUNT_ID}:network-interface/*"


def until(lab: LabEnvironment, done: Callable[[], bool], deadline: float = 30.0) -> list[dict[str, Any]]:
    """Monitor invocations (about 2 s each) until `done()` (a loaded machine may need more than one)."""
    payloads: list[dict[str, Any]] = []
    give_up = time.monotonic() + deadline
    while not done():
        assert time.monotonic() < give_up, "not done in time"
        payloads.append(loop_for(lab, 2.0))
    return payloads


def without_eni_grant(policies: StackPolicies) -> StackPolicies:
    """The monitor's policies with the network-interface ARN removed from the fleet statement."""
    statements = tuple(
        replace(s, resources=tuple(r for r in s.resources if r != ENI_ARN)) if s.source.endswith(FLEET_SID) else s
        for s in policies.of(MONITOR_FUNCTION)
    )
    return policies.with_identity(MONITOR_FUNCTION, statements)


def associations_by_eni(lab: LabEnvironment) -> list[Verdict]:
    return [
        verdict
        for verdict in lab.iam.verdicts()
        if verdict.call.operation == "AssociateAddress" and "NetworkInterfaceId" in verdict.call.parameters
    ]


def test_removing_the_eni_arn_from_the_fleet_statement_denies_the_recorded_move_by_eni(make_lab: LabFactory) -> None:
    # GIVEN a fleet group whose EIP goes by ENI + private IP, placed by the monitor under the template's policies
    lab = make_lab(address_set_group=True)
    group = lab.groups["addr"]
    until(lab, lambda: lab.group_holder("addr") == "node1")
    [recorded] = associations_by_eni(lab)
    assert recorded.allowed, recorded.describe()
    # WHEN the same recorded call is evaluated against the policy with the ENI ARN removed
    broken = without_eni_grant(lab.iam.policies)
    evaluator = IamEnforcer(broken, **lab_lookups(lab.client))
    verdict = evaluator.evaluate(recorded.role, recorded.call)
    # THEN it is denied, and the denial names the call, the resource and the grant that is missing
    assert not verdict.allowed
    explained = verdict.describe()
    assert "ec2:AssociateAddress" in explained and group.allocation_id in explained
    assert f"network-interface/{group.enis[0]}" in explained
    assert f"{FLEET_SID} grants it on [" in explained and ENI_ARN not in explained.split("grants it on [")[1]

    # WHEN the lab enforces that broken policy and node1 fails, THEN the move by ENI is refused as EC2
    # refuses it (403 UnauthorizedOperation, before EC2 sees it) and the EIP stays where it was
    proxy = lab.proxy
    assert proxy is not None
    proxy.iam = IamEnforcer(broken, **lab_lookups(lab.client))
    group.nodes["node1"].stop()
    tried = until(lab, lambda: any(call.fault for call in proxy.calls("AssociateAddress")))
    tried += [loop_for(lab, 2.0)]
    refused = [call for call in lab.proxy.calls("AssociateAddress") if call.fault == "iam UnauthorizedOperation"]
    assert refused and all(call.status == 403 and call.upstream_status is None for call in refused)
    assert "UnauthorizedOperation" in json.dumps(tried)  # the monitor reports EC2's answer
    # ... naming the IAM action and the resources the role must be granted it on
    assert (
        f"denied ec2:AssociateAddress on elastic-ip/{group.allocation_id}, network-interface/{group.enis[1]}"
        in json.dumps(tried)
    )
    # the rest of the set moved to node2: the split is reported (critical addresses_missing), not left silent
    assert any("addresses_missing" in payload["groups"]["addr"]["alerts"] for payload in tried)
    assert lab.group_placement("addr")[f"eip {group.allocation_id}"] == "node1"
    denied = lab.proxy.iam.acknowledge_denials()  # expected here: the teardown check fails on any other
    assert any(f"network-interface/{group.enis[1]}" in verdict.describe() for verdict in denied)


def test_an_untagged_fleet_resource_is_outside_the_abac_condition(make_lab: LabFactory) -> None:
    lab = make_lab(address_set_group=True)
    until(lab, lambda: lab.group_holder("addr") == "node1")
    [recorded] = associations_by_eni(lab)
    # WHEN the resources carried no nginx-eip-failover tag (as moto would report them untagged)
    untagged = IamEnforcer(lab.iam.policies, tags_of=lambda arn: {}, topic_key=lambda arn: None)
    verdict = untagged.evaluate(recorded.role, recorded.call)
    # THEN the move is denied because the condition does not hold on the EIP and the ENI
    assert not verdict.allowed
    denied = [check.resource.type for check in verdict.checks if not check.decision.allowed]
    assert denied == ["elastic-ip", "network-interface"]
    assert all("aws:ResourceTag/nginx-eip-failover" in check.decision.reason for check in verdict.checks)


def test_a_denied_dry_run_is_reported_by_preflight_naming_the_resource(make_lab: LabFactory) -> None:
    lab = make_lab()
    policies = lab.iam.policies
    control = "ControlFunction"
    without_pair = tuple(s for s in policies.of(control) if not s.source.endswith("MoveTheElasticIpBetweenThePair"))
    assert lab.proxy is not None
    lab.proxy.iam = IamEnforcer(policies.with_identity(control, without_pair), **lab_lookups(lab.client))
    payload = lab.control({"action": "preflight"}).payload
    rows = [row for row in payload["checks"] if row["check"] == "ec2:AssociateAddress (DryRun)"]
    assert len(rows) == 2 and not any(row["ok"] for row in rows)
    assert all(f"elastic-ip/{lab.allocation_id}" in (row["why_not"] or "") for row in rows), rows
    assert lab.proxy.count("AssociateAddress") == 0  # IAM refused them before EC2 saw them
    lab.proxy.iam.acknowledge_denials()


def test_every_call_of_a_failover_and_its_notification_is_allowed_with_the_topic_key(make_lab: LabFactory) -> None:
    lab = make_lab(ObservabilityProfile="full")  # the profile whose topic is under the stack's own key
    cycle(lab)
    lab.nodes["node1"].stop()
    until(lab, lambda: lab.holder() == "node2")
    verdicts = lab.iam.verdicts()
    assert verdicts and all(verdict.allowed for verdict in verdicts), [v.describe() for v in verdicts if not v.allowed]
    publishes = [verdict for verdict in verdicts if verdict.call.action == "sns:Publish"]
    assert publishes
    # SNS asks KMS as the publisher: the role grants GenerateDataKey and Decrypt, the key policy lets IAM in
    key_checks = {check.action for verdict in publishes for check in verdict.checks if check.resource.type == "key"}
    assert key_checks == {"kms:GenerateDataKey", "kms:Decrypt"}


def test_the_schedule_and_each_alarm_may_invoke_the_monitor_and_cloudwatch_may_use_the_topic_key(
    make_lab: LabFactory,
) -> None:
    lab = make_lab(ObservabilityProfile="full")  # the profile with the topic's key and its key policy
    assert lab.stack is not None
    policies = stack_policies(lab.stack)
    monitor = monitor_arn(policies)
    # the Scheduler's role (SAM's, for the ScheduleV2 event) may invoke the monitor, nothing else
    [schedule_role] = [role for role in policies.identity if role.endswith("Role")]
    assert role_may(policies, schedule_role, "lambda:InvokeFunction", monitor).allowed
    control = policies.function_arns["ControlFunction"]
    assert not role_may(policies, schedule_role, "lambda:InvokeFunction", control).allowed
    # each alarm that invokes the monitor may (its Lambda permission's SourceArn); another alarm may not
    invoking = [alarm for alarm in lab.stack.alarms if alarm.triggers_monitor]
    assert len(invoking) == 2
    for alarm in invoking:
        decision = service_may(policies, monitor, "lambda:InvokeFunction", LAMBDA_ALARM_PRINCIPAL, alarm.arn)
        assert decision.allowed, decision.reason
    foreign = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT_ID}:alarm:another-stack-node1-status-check"
    assert not service_may(policies, monitor, "lambda:InvokeFunction", LAMBDA_ALARM_PRINCIPAL, foreign).allowed
    # CloudWatch may use the topic's key for the stack's alarms (they publish to the encrypted topic)
    key = lab.stack.attributes[("NotificationKey", "Arn")]
    for alarm in lab.stack.alarms:
        for action in ("kms:GenerateDataKey", "kms:Decrypt"):
            assert service_may(policies, key, action, CLOUDWATCH_PRINCIPAL, alarm.arn).allowed, (alarm.name, action)
    assert not service_may(policies, key, "kms:GenerateDataKey", CLOUDWATCH_PRINCIPAL, foreign).allowed
    assert not service_may(policies, key, "kms:Decrypt", "events.amazonaws.com", invoking[0].arn).allowed


def test_an_operators_failover_of_an_address_set_runs_under_the_control_functions_own_grants(
    make_lab: LabFactory,
) -> None:
    # GIVEN the address set placed on node1 by the monitor
    lab = make_lab(address_set_group=True)
    until(lab, lambda: lab.group_holder("addr") == "node1")
    # WHEN an operator fails the group over through the ControlFunction
    answer = lab.control({"action": "failover", "target": "node2", "group": "addr", "reason": "iam test"})
    assert answer.ok, answer.error_message
    # THEN every address moved, each call allowed by the ControlFunction's tag-scoped fleet grants
    assert lab.group_holder("addr") == "node2"
    moves = [
        verdict
        for verdict in lab.iam.verdicts()
        if verdict.role == "ControlFunction"
        and verdict.call.operation in ("AssociateAddress", "AssignPrivateIpAddresses", "ReplaceRoute", "CreateRoute")
    ]
    assert {verdict.call.operation for verdict in moves} >= {"AssociateAddress", "AssignPrivateIpAddresses"}
    assert all(verdict.allowed for verdict in moves), [v.describe() for v in moves if not v.allowed]
    used = {source for verdict in moves for check in verdict.checks for source in check.decision.allowed_by}
    assert "ControlFunction Policies[0] MoveFleetAddressesTaggedForThisStack" in used
    assert "ControlFunction Policies[0] MoveFleetSecondaryIpsTaggedForThisStack" in used
