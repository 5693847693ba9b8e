"""NginxEipFailover synthesized with aws_cdk.assertions: its resources and every IAM statement of
every role. Runs under .venv-cdk (make cdk-test: `pytest --noconftest`, no lab or moto needed);
elsewhere aws_cdk is missing and the module is skipped. The functions' code is the sam build output."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

cdk = pytest.importorskip("aws_cdk", reason="aws-cdk-lib is in .venv-cdk: make cdk-test runs this")

from aws_cdk import assertions  # noqa: E402
from nginx_eip_failover_cdk import (  # noqa: E402
    CodeNotBuiltError,
    FailoverPolicy,
    HealthAuth,
    HealthChecks,
    Network,
    NginxEipFailover,
    Node,
    Observers,
    PropError,
)

EIP = "eipalloc-0a1b2c3d4e5f60718"
NODES = (
    Node("i-0a1b2c3d4e5f60718", "http://10.0.1.10:8080/health"),
    Node("i-0a1b2c3d4e5f60719", "http://10.0.2.10:8080/health"),
)
ENI_NODES = (
    Node("i-0a1b2c3d4e5f60718", "http://10.0.1.10:8080/health", 101, "eni-0a1b2c3d4e5f60718", "10.0.1.20"),
    Node("i-0a1b2c3d4e5f60719", "http://10.0.2.10:8080/health", 100, "eni-0a1b2c3d4e5f60719", "10.0.2.21"),
)
COMMON = [
    ("MoveTheElasticIpBetweenThePair", ["ec2:AssociateAddress"]),
    (
        "DescribeActionsSupportNoResourceScoping",
        ["ec2:DescribeAddresses", "ec2:DescribeInstances", "ec2:DescribeNetworkInterfaces", "ec2:DescribeRouteTables"],
    ),
    ("MoveFleetAddressesTaggedForThisStack", ["ec2:AssociateAddress"]),
    ("MoveFleetSecondaryIpsTaggedForThisStack", ["ec2:AssignPrivateIpAddresses"]),
    ("PointFleetRoutesTaggedForThisStack", ["ec2:ReplaceRoute", "ec2:CreateRoute"]),
    ("ReadAndConditionallyWriteState", ["dynamodb:GetItem", "dynamodb:PutItem"]),
]
KMS = [("PublishToTheEncryptedTopic", ["kms:Decrypt", "kms:GenerateDataKey*"])]
ALARMS = [("PreflightReadsTheNodeAlarms", ["cloudwatch:DescribeAlarms"])]
MONITOR_OWN = [
    ("AppendToTheDecisionLog", ["dynamodb:BatchWriteItem"]),
    ("HandOverProbingThroughTheMonitorLease", ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:BatchGetItem"]),
    ("Notify", ["sns:Publish"]),
]
CONTROL_OWN = [
    ("AppendToAndReadTheDecisionLog", ["dynamodb:BatchWriteItem", "dynamodb:Query"]),
    ("Notify", ["sns:Publish"]),
]
SCHEDULE = [(None, ["lambda:InvokeFunction"])]


def synth(**kwargs: Any) -> assertions.Template:
    app = cdk.App(context={"aws:cdk:enable-path-metadata": True})
    stack = cdk.Stack(app, "Failover")
    NginxEipFailover(stack, "Failover", **{"nodes": NODES, "elastic_ip_allocation_id": EIP, **kwargs})
    return assertions.Template.from_stack(stack)


def _named(template: assertions.Template, kind: str) -> dict[str, dict[str, Any]]:
    """Resources of a type by their construct ID (template.yaml's logical name)."""
    return {r["Metadata"]["aws:cdk:path"].split("/")[-1]: r for r in template.find_resources(kind).values()}


def _statements(role: dict[str, Any]) -> list[tuple[str | None, list[str]]]:
    [policy] = role["Properties"]["Policies"]
    return [
        (s.get("Sid"), s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
        for s in policy["PolicyDocument"]["Statement"]
    ]


def test_lean_by_instance_creates_the_templates_resources() -> None:
    template = synth()
    for kind, count in {
        "AWS::DynamoDB::Table": 3,
        "AWS::SNS::Topic": 1,
        "AWS::Logs::LogGroup": 2,
        "AWS::Lambda::Function": 2,
        "AWS::Lambda::EventInvokeConfig": 1,
        "AWS::Scheduler::Schedule": 1,
        "AWS::IAM::Role": 3,
        "AWS::CloudWatch::Alarm": 4,
        "AWS::Lambda::Permission": 2,
        "AWS::KMS::Key": 0,
        "AWS::KMS::Alias": 0,
        "AWS::CloudWatch::Dashboard": 0,
        "AWS::SNS::Subscription": 0,
        "AWS::EC2::VPCEndpoint": 0,
        "AWS::IAM::Policy": 0,
    }.items():
        template.resource_count_is(kind, count)
    template.has_resource("AWS::DynamoDB::Table", {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"})
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "nginx_eip_failover.handlers.monitor.lambda_handler",
            "Runtime": "python3.13",
            "Architectures": ["arm64"],
            "Timeout": 150,
            "TracingConfig": {"Mode": "PassThrough"},
            "Environment": {"Variables": assertions.Match.object_like({"OBSERVERS": "local", "FALL_THRESHOLD": "3"})},
        },
    )
    template.has_resource_properties(
        "AWS::Scheduler::Schedule",
        {
            "ScheduleExpression": "rate(1 minute)",
            "State": "ENABLED",
            "Target": assertions.Match.object_like({"Input": '{"trigger": "schedule"}'}),
        },
    )
    template.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig", {"MaximumRetryAttempts": 0, "MaximumEventAgeInSeconds": 60}
    )
    template.has_resource_properties("AWS::Lambda::Permission", {"Principal": "lambda.alarms.cloudwatch.amazonaws.com"})
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm", {"Namespace": "AWS/Lambda", "MetricName": "Invocations", "Threshold": 1}
    )
    outputs = {o.split("Failover", 1)[-1][:-8] for o in template.to_json()["Outputs"]}
    assert outputs == {
        "MonitorFunctionName",
        "MonitorFunctionArn",
        "MonitorFunctionRoleArn",
        "ControlFunctionRoleArn",
        "ControlFunctionName",
        "ControlFunctionArn",
        "StateTableName",
        "StateTableArn",
        "DecisionLogTableName",
        "NotificationTopicArn",
    }


def test_every_iam_statement_of_every_role_lean() -> None:
    roles = _named(synth(), "AWS::IAM::Role")
    assert set(roles) == {"MonitorFunctionRole", "ControlFunctionRole", "MonitorFunctionEveryMinuteRole"}
    assert _statements(roles["MonitorFunctionRole"]) == COMMON + MONITOR_OWN + ALARMS
    assert _statements(roles["ControlFunctionRole"]) == [
        *COMMON,
        *CONTROL_OWN,
        *ALARMS,
        ("PreflightReadsTheSchedule", ["scheduler:GetSchedule"]),
    ]
    assert _statements(roles["MonitorFunctionEveryMinuteRole"]) == SCHEDULE
    for name in ("MonitorFunctionRole", "ControlFunctionRole"):
        # SAM's: Lambda's basic execution, and X-Ray and VPC access (it adds both for an !If Tracing/VpcConfig).
        managed = json.dumps(roles[name]["Properties"]["ManagedPolicyArns"])
        names = ("AWSLambdaBasicExecutionRole", "AWSXrayWriteOnlyAccess", "AWSLambdaVPCAccessExecutionRole")
        assert all(f"policy/{n}" in managed or f"service-role/{n}" in managed for n in names), managed


def test_every_iam_statement_of_every_role_full_with_observers() -> None:
    template = synth(
        profile="full",
        network=Network(subnet_ids=("subnet-0a1b2c3d",), security_group_ids=("sg-0a1b2c3d",)),
        observers=Observers("subnet-0a1b2c3e", "subnet-0a1b2c3f"),
    )
    roles = _named(template, "AWS::IAM::Role")
    assert set(roles) == {
        "MonitorFunctionRole",
        "ControlFunctionRole",
        "MonitorFunctionEveryMinuteRole",
        "Observer2FunctionEveryMinuteRole",
        "Observer3FunctionEveryMinuteRole",
    }
    assert _statements(roles["MonitorFunctionRole"]) == COMMON + MONITOR_OWN + KMS + ALARMS
    assert _statements(roles["ControlFunctionRole"]) == [
        *COMMON,
        *CONTROL_OWN,
        *KMS,
        *ALARMS,
        ("PreflightReadsTheSchedule", ["scheduler:GetSchedule"]),
    ]
    for name in (
        "MonitorFunctionEveryMinuteRole",
        "Observer2FunctionEveryMinuteRole",
        "Observer3FunctionEveryMinuteRole",
    ):
        assert _statements(roles[name]) == SCHEDULE
    functions = _named(template, "AWS::Lambda::Function")
    monitor_role = functions["MonitorFunction"]["Properties"]["Role"]
    assert functions["Observer2Function"]["Properties"]["Role"] == monitor_role  # the same rights
    assert functions["Observer3Function"]["Properties"]["Environment"]["Variables"]["OBSERVERS"] == (
        "local,observer2,observer3"
    )
    [key] = template.find_resources("AWS::KMS::Key").values()
    sids = [s["Sid"] for s in key["Properties"]["KeyPolicy"]["Statement"]]
    assert sids == ["AccountAdministersKeyThroughIam", "StackAlarmsPublishToTopic"]
    template.resource_count_is("AWS::CloudWatch::Dashboard", 1)
    template.resource_count_is("AWS::KMS::Alias", 1)


def test_the_pair_decides_what_association_is_granted_on() -> None:
    def pair_resources(template: assertions.Template) -> str:
        role = _named(template, "AWS::IAM::Role")["MonitorFunctionRole"]
        [statement] = [
            s
            for s in role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
            if s["Sid"] == "MoveTheElasticIpBetweenThePair"
        ]
        return str(statement["Resource"])

    by_instance, by_eni = pair_resources(synth()), pair_resources(synth(nodes=ENI_NODES))
    assert "instance/${Instance}" in by_instance and "network-interface" not in by_instance
    assert "network-interface/${Eni}" in by_eni and "instance/" not in by_eni
    assert "eni-0a1b2c3d4e5f60718" in by_eni


def test_the_second_address_set_adds_its_own_association_grant_and_environment() -> None:
    second = (
        dataclasses.replace(ENI_NODES[0], second_private_ip_address="10.0.1.30"),
        dataclasses.replace(ENI_NODES[1], second_private_ip_address="10.0.2.31"),
    )
    template = synth(nodes=second, second_elastic_ip_allocation_id="eipalloc-0a1b2c3d4e5f60799")
    roles = _named(template, "AWS::IAM::Role")
    pair = [("MoveTheElasticIpBetweenThePair", ["ec2:AssociateAddress"])]
    second_grant = [("MoveTheSecondElasticIpBetweenThePair", ["ec2:AssociateAddress"])]
    assert _statements(roles["MonitorFunctionRole"]) == pair + second_grant + COMMON[1:] + MONITOR_OWN + ALARMS
    assert _statements(roles["ControlFunctionRole"])[:2] == pair + second_grant
    [statement] = [
        s
        for s in roles["MonitorFunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        if s["Sid"] == "MoveTheSecondElasticIpBetweenThePair"
    ]
    resources = json.dumps(statement["Resource"])
    assert "eipalloc-0a1b2c3d4e5f60799" in resources and resources.count("network-interface/${Eni}") == 2
    assert "eni-0a1b2c3d4e5f60718" in resources and "instance/" not in resources
    for function in _named(template, "AWS::Lambda::Function").values():
        variables = function["Properties"]["Environment"]["Variables"]
        assert (
            variables["SECOND_EIP_ALLOCATION_ID"],
            variables["NODE1_SECOND_PRIVATE_IP_ADDRESS"],
            variables["NODE2_SECOND_PRIVATE_IP_ADDRESS"],
        ) == ("eipalloc-0a1b2c3d4e5f60799", "10.0.1.30", "10.0.2.31")
    # Without it (the default), neither the grant nor a value.
    lean = _named(synth(nodes=ENI_NODES), "AWS::IAM::Role")["MonitorFunctionRole"]
    assert "MoveTheSecondElasticIpBetweenThePair" not in [sid for sid, _ in _statements(lean)]


def test_a_route_table_role_is_assumable_and_reaches_the_environment() -> None:
    role_arn = "arn:aws:iam::111122223333:role/route-mover"
    template = synth(
        route_table_role_arn=role_arn,
        route_table_role_external_id="nginx-eip-failover-example",
        network=Network(
            subnet_ids=("subnet-0a1b2c3d",),
            security_group_ids=("sg-0a1b2c3d",),
            create_vpc_endpoints=True,
            vpc_id="vpc-0a1b2c3d",
            route_table_ids=("rtb-0a1b2c3d",),
        ),
    )
    roles = _named(template, "AWS::IAM::Role")
    assume = [("AssumeTheRouteTableRole", ["sts:AssumeRole"])]
    for name in ("MonitorFunctionRole", "ControlFunctionRole"):
        assert _statements(roles[name])[: len(COMMON) + 1] == COMMON[:-1] + assume + COMMON[-1:], name
        [statement] = [
            s
            for s in roles[name]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
            if s["Sid"] == "AssumeTheRouteTableRole"
        ]
        assert statement["Resource"] == role_arn  # that role only
    for function in _named(template, "AWS::Lambda::Function").values():
        variables = function["Properties"]["Environment"]["Variables"]
        assert variables["ROUTE_TABLE_ROLE_ARN"] == role_arn
        assert variables["ROUTE_TABLE_ROLE_EXTERNAL_ID"] == "nginx-eip-failover-example"
        assert variables["AWS_STS_REGIONAL_ENDPOINTS"] == "regional"
    endpoints = _named(template, "AWS::EC2::VPCEndpoint")
    assert "StsInterfaceEndpoint" in endpoints and len(endpoints) == 6
    # Without a role (the default): no grant, and no STS endpoint even with the others.
    plain = synth(network=Network(("subnet-0a1b2c3d",), ("sg-0a1b2c3d",), True, "vpc-0a1b2c3d", ("rtb-0a1b2c3d",)))
    assert "StsInterfaceEndpoint" not in _named(plain, "AWS::EC2::VPCEndpoint")
    lean = _named(plain, "AWS::IAM::Role")["MonitorFunctionRole"]
    assert "AssumeTheRouteTableRole" not in [sid for sid, _ in _statements(lean)]


def test_health_check_secrets_are_readable_each_through_its_own_service_only() -> None:
    token = "arn:aws:ssm:us-east-1:123456789012:parameter/nginx/probe-token"
    cert = "arn:aws:secretsmanager:us-east-1:123456789012:secret:probe-cert-AbCdEf"
    template = synth(
        health_auth=HealthAuth(kind="header", secret_arn=token, client_cert_secret_arn=cert, fleet_secrets="tagged")
    )
    secrets = [
        ("ReadTheHealthCheckSecrets", ["secretsmanager:GetSecretValue"]),
        ("ReadTheHealthCheckParameters", ["ssm:GetParameter"]),
        ("ReadFleetHealthCheckSecretsTaggedForThisStack", ["secretsmanager:GetSecretValue"]),
        ("ReadFleetHealthCheckParametersTaggedForThisStack", ["ssm:GetParameter"]),
        ("DecryptTheHealthCheckSecretsThroughTheirService", ["kms:Decrypt"]),
    ]
    roles = _named(template, "AWS::IAM::Role")
    assert _statements(roles["MonitorFunctionRole"]) == COMMON + MONITOR_OWN + secrets + ALARMS
    by_sid = {
        s["Sid"]: s for s in roles["ControlFunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    }
    assert by_sid["ReadTheHealthCheckSecrets"]["Resource"] == [cert]
    assert by_sid["ReadTheHealthCheckParameters"]["Resource"] == [token]
    assert "Condition" in by_sid["ReadFleetHealthCheckSecretsTaggedForThisStack"]
    assert "kms:ViaService" in by_sid["DecryptTheHealthCheckSecretsThroughTheirService"]["Condition"]["StringEquals"]
    variables = _named(template, "AWS::Lambda::Function")["MonitorFunction"]["Properties"]["Environment"]["Variables"]
    assert (variables["HEALTH_CHECK_AUTH_KIND"], variables["HEALTH_CHECK_AUTH_SECRET_ARN"]) == ("header", token)
    # A token in SSM only: no Secrets Manager grant, no tagged ones.
    only_token = _named(synth(health_auth=HealthAuth(kind="basic", secret_arn=token)), "AWS::IAM::Role")
    sids = [sid for sid, _ in _statements(only_token["MonitorFunctionRole"])]
    assert "ReadTheHealthCheckParameters" in sids and "DecryptTheHealthCheckSecretsThroughTheirService" in sids
    assert not {"ReadTheHealthCheckSecrets", "ReadFleetHealthCheckSecretsTaggedForThisStack"} & set(sids)
    with pytest.raises(PropError, match=r"health_auth\.kind='header'"):
        synth(health_auth=HealthAuth(kind="header"))


def test_found_nodes_bring_the_lifecycle_function_its_rule_and_hooks() -> None:
    found = (
        Node("", "http://{private_ip}:8080/health", auto_scaling_group_name="nginx-plus-a"),
        Node("i-0a1b2c3d4e5f60719", "http://10.0.2.10:8080/health"),
    )
    template = synth(nodes=found, lifecycle_hook_timeout_seconds=300)
    roles = _named(template, "AWS::IAM::Role")
    assert _statements(roles["LifecycleFunctionRole"]) == [
        ("MoveTheElasticIpToAFixedNode", ["ec2:AssociateAddress"]),
        ("MoveToFoundInstancesTaggedForThisStack", ["ec2:AssociateAddress"]),
        (
            "DescribeActionsSupportNoResourceScoping",
            ["ec2:DescribeAddresses", "ec2:DescribeInstances", "autoscaling:DescribeAutoScalingGroups"],
        ),
        ("CompleteTheNodeGroupsLifecycleActions", ["autoscaling:CompleteLifecycleAction"]),
        ("ReadAndConditionallyWriteState", ["dynamodb:GetItem", "dynamodb:PutItem"]),
        ("Notify", ["sns:Publish"]),
    ]
    by_sid = {
        s["Sid"]: s for s in roles["LifecycleFunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    }
    fixed = json.dumps(by_sid["MoveTheElasticIpToAFixedNode"]["Resource"])
    assert "i-0a1b2c3d4e5f60719" in fixed and fixed.count("instance/") == 1  # the found node by tag only
    assert "nginx-plus-a" in json.dumps(by_sid["CompleteTheNodeGroupsLifecycleActions"]["Resource"])
    monitor = json.dumps(_named(template, "AWS::IAM::Role")["MonitorFunctionRole"]["Properties"]["Policies"])
    assert monitor.count("instance/${Instance}") == 1
    [policy] = template.find_resources("AWS::IAM::Policy").values()
    assert len(policy["Properties"]["Roles"]) == 2
    assert policy["Properties"]["PolicyDocument"]["Statement"][0]["Action"] == "autoscaling:DescribeAutoScalingGroups"
    [hook] = _named(template, "AWS::AutoScaling::LifecycleHook").items()
    assert hook[0] == "Node1TerminationHook"
    assert hook[1]["Properties"] == {
        "AutoScalingGroupName": "nginx-plus-a",
        "LifecycleTransition": "autoscaling:EC2_INSTANCE_TERMINATING",
        "HeartbeatTimeout": 300,
        "DefaultResult": "CONTINUE",
    }
    [rule] = template.find_resources("AWS::Events::Rule").values()
    assert rule["Properties"]["EventPattern"]["detail"] == {"AutoScalingGroupName": ["nginx-plus-a"]}
    template.has_resource_properties(
        "AWS::Lambda::Permission", {"Principal": "events.amazonaws.com", "Action": "lambda:InvokeFunction"}
    )
    functions = _named(template, "AWS::Lambda::Function")
    lifecycle = functions["LifecycleFunction"]["Properties"]
    assert lifecycle["Handler"] == "nginx_eip_failover.handlers.lifecycle.lambda_handler" and lifecycle["Timeout"] == 55
    assert lifecycle["Environment"]["Variables"]["NODE1_AUTO_SCALING_GROUP_NAME"] == "nginx-plus-a"
    variables = functions["MonitorFunction"]["Properties"]["Environment"]["Variables"]
    assert (
        variables["NODE1_AUTO_SCALING_GROUP_NAME"] == "nginx-plus-a"
        and "NODE2_AUTO_SCALING_GROUP_NAME" not in variables
    )
    alarms = _named(template, "AWS::CloudWatch::Alarm")
    assert alarms["Node1StatusCheckAlarm"]["Properties"]["Dimensions"] == [
        {"Name": "AutoScalingGroupName", "Value": "nginx-plus-a"}
    ]
    # Without a found node (the default): none of it.
    plain = synth()
    for kind in ("AWS::AutoScaling::LifecycleHook", "AWS::Events::Rule", "AWS::IAM::Policy"):
        plain.resource_count_is(kind, 0)
    assert "LifecycleFunction" not in _named(plain, "AWS::Lambda::Function")


def test_each_node_needs_an_instance_a_group_or_tags() -> None:
    with pytest.raises(
        PropError,
        match=r"node 2 needs Node2InstanceId, Node2AutoScalingGroupName or Node2InstanceTags .*instance_id=''",
    ):
        synth(nodes=(NODES[0], Node("", "http://10.0.2.10:8080/health")))
    with pytest.raises(PropError, match=r"Node2InstanceTags and Node2AutoScalingGroupName are both set.*'role=b'"):
        synth(nodes=(NODES[0], Node("", "http://10.0.2.10/", auto_scaling_group_name="g", instance_tags="role=b")))
    with pytest.raises(PropError, match=r"^nodes\[1\]\.instance_tags='role=b=c'"):
        synth(nodes=(NODES[0], Node("", "http://10.0.2.10/", instance_tags="role=b=c")))
    with pytest.raises(PropError, match=r"^nodes\[0\]\.availability_zone='eu-west'"):
        synth(nodes=(Node("", "http://10.0.1.10/", auto_scaling_group_name="g", availability_zone="eu-west"), NODES[1]))
    with pytest.raises(PropError, match=r"^lifecycle_hook_timeout_seconds='30'.*at least 60"):
        synth(lifecycle_hook_timeout_seconds=30)


def test_a_node_found_by_tags_has_no_alarm_and_no_auto_scaling() -> None:
    template = synth(nodes=(NODES[0], Node("", "http://{private_ip}:8080/health", instance_tags="role=nginx-plus")))
    resources = template.to_json()["Resources"]
    alarms = [r for r in resources.values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    assert not any("node2-status-check" in json.dumps(a["Properties"]["AlarmName"]) for a in alarms)
    assert any("node1-status-check" in json.dumps(a["Properties"]["AlarmName"]) for a in alarms)
    kinds = {r["Type"] for r in resources.values()}
    assert "AWS::AutoScaling::LifecycleHook" not in kinds
    text = json.dumps(resources)
    assert '"NODE2_INSTANCE_TAGS": "role=nginx-plus"' in text and "autoscaling:" not in text


def test_tuning_props_reach_the_environment() -> None:
    template = synth(
        health=HealthChecks(interval_seconds=0.5, timeout_seconds=0.5, fall_threshold=4),
        failover=FailoverPolicy(preempt=False, preempt_delay_seconds=30),
        enable_tracing=True,
        monitor_reserved_concurrency=5,
    )
    monitor = _named(template, "AWS::Lambda::Function")["MonitorFunction"]["Properties"]
    variables = monitor["Environment"]["Variables"]
    assert (variables["HEALTH_CHECK_INTERVAL_SECONDS"], variables["FALL_THRESHOLD"], variables["PREEMPT"]) == (
        "0.5",
        "4",
        "false",
    )
    assert variables["PREEMPT_DELAY_SECONDS"] == "30" and variables["POWERTOOLS_TRACE_DISABLED"] == "false"
    assert monitor["TracingConfig"] == {"Mode": "Active"} and monitor["ReservedConcurrentExecutions"] == 5


def test_a_token_passes_through_unchecked() -> None:
    app = cdk.App()
    stack = cdk.Stack(app, "Tokens")
    eip = cdk.CfnParameter(stack, "ElasticIpAllocationId").value_as_string
    NginxEipFailover(stack, "Failover", nodes=NODES, elastic_ip_allocation_id=eip)
    template = assertions.Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Environment": {
                "Variables": assertions.Match.object_like({"EIP_ALLOCATION_ID": {"Ref": "ElasticIpAllocationId"}})
            }
        },
    )


def test_bad_props_are_refused_naming_the_prop_and_value() -> None:
    with pytest.raises(
        PropError, match=r"^elastic_ip_allocation_id='eip-1' \(template parameter ElasticIpAllocationId\)"
    ):
        synth(elastic_ip_allocation_id="eip-1")
    with pytest.raises(PropError, match=r"health\.fall_threshold='0'.*must be at least 1"):
        synth(health=HealthChecks(fall_threshold=0))
    with pytest.raises(PropError, match="the pair by ENI needs all four"):
        synth(nodes=(ENI_NODES[0], NODES[1]))
    with pytest.raises(PropError, match=r"the second EIP needs .*second_elastic_ip_allocation_id='eipalloc-0a1b2c3d'"):
        synth(second_elastic_ip_allocation_id="eipalloc-0a1b2c3d")
    with pytest.raises(PropError, match=r"without RouteTableRoleArn .*route_table_role_external_id='ext-1'"):
        synth(route_table_role_external_id="ext-1")
    with pytest.raises(PropError, match=r"^route_table_role_arn='arn:aws:iam::1:role/r' \(template parameter"):
        synth(route_table_role_arn="arn:aws:iam::1:role/r")
    with pytest.raises(PropError, match=r"^profile='medium'"):
        synth(profile="medium")


def test_without_a_sam_build_the_construct_says_how_to_make_one(tmp_path: Any) -> None:
    with pytest.raises(CodeNotBuiltError, match="holds no nginx_eip_failover/handlers"):
        synth(code_directory=tmp_path)
