"""template.yaml keeps the contract: functions, parameters, environment, least privilege, triggers, alarms.

The template is read as data (tests/template_loader.py); nothing here talks to AWS.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from nginx_eip_failover.service.monitor_events import parse_monitor_event
from template_loader import load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = ROOT / "template.yaml"
EVENTS_DIR = ROOT / "events"

FUNCTIONS = {
    "MonitorFunction": ("nginx_eip_failover.handlers.monitor.lambda_handler", 150),
    "ControlFunction": ("nginx_eip_failover.handlers.control.lambda_handler", 30),
}

CONTRACT_PARAMETERS = (
    "ElasticIpAllocationId",
    "Node1InstanceId",
    "Node2InstanceId",
    "Node1HealthCheckUrl",
    "Node2HealthCheckUrl",
    "Node1Priority",
    "Node2Priority",
    "HealthCheckIntervalSeconds",
    "HealthCheckTimeoutSeconds",
    "FallThreshold",
    "RiseThreshold",
    "Preempt",
    "PreemptDelaySeconds",
)

# Variable -> the parameter it is a plain !Ref of, on both functions.
PARAMETER_VARIABLES = {
    "EIP_ALLOCATION_ID": "ElasticIpAllocationId",
    "NODE1_INSTANCE_ID": "Node1InstanceId",
    "NODE1_HEALTH_CHECK_URL": "Node1HealthCheckUrl",
    "NODE1_PRIORITY": "Node1Priority",
    "NODE2_INSTANCE_ID": "Node2InstanceId",
    "NODE2_HEALTH_CHECK_URL": "Node2HealthCheckUrl",
    "NODE2_PRIORITY": "Node2Priority",
    "HEALTH_CHECK_INTERVAL_SECONDS": "HealthCheckIntervalSeconds",
    "HEALTH_CHECK_TIMEOUT_SECONDS": "HealthCheckTimeoutSeconds",
    "FALL_THRESHOLD": "FallThreshold",
    "RISE_THRESHOLD": "RiseThreshold",
    "PREEMPT": "Preempt",
    "PREEMPT_DELAY_SECONDS": "PreemptDelaySeconds",
    "MIN_SECONDS_BETWEEN_MOVES": "MinSecondsBetweenMoves",
    "FLAP_WINDOW_SECONDS": "FlapWindowSeconds",
    "FLAP_SUPPRESS_THRESHOLD": "FlapSuppressThreshold",
    "HEALTH_CHECK_CA_BUNDLE": "HealthCheckCaBundle",
    "POWERTOOLS_LOG_LEVEL": "LogLevel",
    "DECISION_LOG_RETENTION_DAYS": "DecisionLogRetentionDays",
}
OTHER_VARIABLES: dict[str, Any] = {
    "STATE_TABLE_NAME": {"Ref": "StateTable"},
    "DECISION_LOG_TABLE_NAME": {"Ref": "DecisionLogTable"},
    "NOTIFICATION_TOPIC_ARN": {"Ref": "NotificationTopic"},
    "POWERTOOLS_SERVICE_NAME": "nginx-eip-failover",
    "POWERTOOLS_METRICS_NAMESPACE": "NginxEipFailover",
    "POWERTOOLS_TRACE_DISABLED": {"Fn::If": ["TracingEnabled", "false", "true"]},
}

LEASE_VARIABLE = "MONITOR_LEASE_TABLE_NAME"
OBSERVER_VARIABLES = ("OBSERVER_NAME", "OBSERVERS", "OBSERVER_HEARTBEAT_SECONDS")
# DescribeInstances: preflight checks the nodes exist (fleet groups name the ENIs their addresses land on).
DESCRIBE_ACTIONS = {
    "ec2:DescribeAddresses",
    "ec2:DescribeInstances",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeRouteTables",
}
FLEET_ACTIONS = {"ec2:AssociateAddress", "ec2:AssignPrivateIpAddresses", "ec2:ReplaceRoute", "ec2:CreateRoute"}
# A cold start and a probe cycle: the time the next invocation needs before it probes.
MONITOR_MARGIN_SECONDS = 10
# Preflight's reads (test_preflight_template.py checks their scope), and what only the control function
# gets: the monitor cannot reference its own ARN or its schedule without a circular dependency.
PREFLIGHT_READS = {"cloudwatch:DescribeAlarms", "scheduler:GetSchedule"}
PREFLIGHT_CONTROL_ONLY = {"MONITOR_FUNCTION_ARN", "SCHEDULE_NAME"}
PREFLIGHT_CONTROL_ONLY_SID = "PreflightReadsTheSchedule"
ALARM_PRINCIPAL = "lambda.alarms.cloudwatch.amazonaws.com"
METRICS = ("NodeUp", "ProbeLatency", "EipMoves", "MoveFailures", "NoHealthyNode", "MonitorCycles")
# The contract's fields, and the drill's own (`stay`, `check_url`: service/operator_requests.py).
CONTROL_FIELDS = {
    "action",
    "target",
    "reason",
    "force",
    "node",
    "since",
    "until",
    "limit",
    "after",
    "stay",
    "check_url",
}
# The decision log's table: append (BatchWriteItem) for both, read (Query) for the ControlFunction only.
DECISION_LOG_ACTIONS = {
    "MonitorFunction": {"dynamodb:BatchWriteItem"},
    "ControlFunction": {"dynamodb:BatchWriteItem", "dynamodb:Query"},
}


PROFILES = ("lean", "full")
PROFILE_CONDITION = "FullObservability"
# Conditions false with the default parameters whose `!If`s in_profile resolves to their else branch
# (and whose resources it drops): the second address set; the route tables' role; health checks' secrets.
OFF_BY_DEFAULT = frozenset(
    {
        "HasSecondAddressSet",
        "HasRouteTableRole",
        "ReadsHealthCheckSecrets",
        "HasHealthCheckAuthSecret",
        "HasHealthCheckClientCert",
        "ReadsTaggedHealthCheckSecrets",
        "ReadsAnyHealthCheckSecret",
        "ReadsSecretsManagerSecrets",
        "ReadsSsmParameters",
        "AuthSecretInSecretsManager",
        "AuthSecretInSsm",
        "ClientCertInSecretsManager",
        "ClientCertInSsm",
        "CreateHealthCheckSecretEndpoints",
    }
)
_NO_VALUE = object()


def in_profile(template: dict[str, Any], profile: str) -> dict[str, Any]:
    """The template as CloudFormation deploys it with ObservabilityProfile=`profile`: resources and
    outputs of the other profile dropped, its `!If`s resolved; every other intrinsic left as it is."""
    full = profile == "full"

    def walk(value: Any) -> Any:
        if isinstance(value, list):
            return [item for item in (walk(item) for item in value) if item is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        branch = value.get("Fn::If")
        if len(value) == 1 and isinstance(branch, list) and branch[0] in OFF_BY_DEFAULT:
            # An opt-in statement (test_the_second_address_set_is_granted_only_its_eip_on_the_pairs_enis).
            return _NO_VALUE if branch[2] == {"Ref": "AWS::NoValue"} else walk(branch[2])
        if len(value) == 1 and isinstance(branch, list) and branch[0] == PROFILE_CONDITION:
            chosen = branch[1] if full else branch[2]
            return _NO_VALUE if chosen == {"Ref": "AWS::NoValue"} else walk(chosen)
        return {key: item for key, item in ((key, walk(item)) for key, item in value.items()) if item is not _NO_VALUE}

    resolved: dict[str, Any] = walk(template)
    for section in ("Resources", "Outputs"):
        resolved[section] = {
            name: entry
            for name, entry in resolved[section].items()
            if (entry.get("Condition") != PROFILE_CONDITION or full) and entry.get("Condition") not in OFF_BY_DEFAULT
        }
    return resolved


@pytest.fixture(scope="module")
def raw_template() -> dict[str, Any]:
    return load_template(TEMPLATE_PATH)


# Every test of the deployed template runs in both profiles: the contract must hold in each.
@pytest.fixture(scope="module", params=PROFILES)
def template(request: pytest.FixtureRequest, raw_template: dict[str, Any]) -> dict[str, Any]:
    return in_profile(raw_template, str(request.param))


@pytest.fixture(scope="module")
def resources(template: dict[str, Any]) -> dict[str, Any]:
    return dict(template["Resources"])


def _properties(resources: dict[str, Any], logical_id: str) -> dict[str, Any]:
    return dict(resources[logical_id].get("Properties") or {})


def _of_type(resources: dict[str, Any], kind: str) -> dict[str, Any]:
    return {name: resource for name, resource in resources.items() if resource["Type"] == kind}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _statements(resources: dict[str, Any], function: str) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = []
    for policy in _properties(resources, function).get("Policies") or []:
        assert isinstance(policy, dict) and set(policy) == {"Statement"}, (
            f"{function}: only inline statements, no managed policies or SAM policy templates: {policy}"
        )
        statements.extend(policy["Statement"])
    assert statements, f"{function} has no inline policy statements"
    return statements


def _sub_text(value: Any) -> str:
    assert isinstance(value, dict) and "Fn::Sub" in value, value
    sub = value["Fn::Sub"]
    return str(sub[0] if isinstance(sub, list) else sub)


# ------------------------------------------------------------------------------------------- loader


def test_loader_turns_short_form_tags_into_long_form(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(
        "Resources:\n"
        "  A:\n"
        "    Properties:\n"
        "      R: !Ref X\n"
        "      G: !GetAtt B.Arn\n"
        "      S: !Sub '${AWS::Region}-x'\n"
        "      I: !If [C, 1, !Ref AWS::NoValue]\n"
        "      N: !Not [!Condition C]\n"
        "      J: !Join\n"
        "        - ','\n"
        "        - [a, b]\n"
    )
    properties = load_template(path)["Resources"]["A"]["Properties"]
    assert properties == {
        "R": {"Ref": "X"},
        "G": {"Fn::GetAtt": ["B", "Arn"]},
        "S": {"Fn::Sub": "${AWS::Region}-x"},
        "I": {"Fn::If": ["C", 1, {"Ref": "AWS::NoValue"}]},
        "N": {"Fn::Not": [{"Condition": "C"}]},
        "J": {"Fn::Join": [",", ["a", "b"]]},
    }


def test_loader_rejects_a_non_template(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("- just\n- a list\n")
    with pytest.raises(ValueError, match="not a CloudFormation template"):
        load_template(path)


# ------------------------------------------------------------------------------------------ functions


def test_is_a_sam_template(template: dict[str, Any]) -> None:
    assert template["Transform"] == "AWS::Serverless-2016-10-31"


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_function_runtime_and_handler(resources: dict[str, Any], function: str) -> None:
    handler, timeout = FUNCTIONS[function]
    assert resources[function]["Type"] == "AWS::Serverless::Function"
    properties = _properties(resources, function)
    assert properties["Runtime"] == "python3.13"
    assert properties["Architectures"] == ["arm64"]
    assert properties["CodeUri"].rstrip("/") == "src"
    assert properties["Handler"] == handler
    assert properties["MemorySize"] == 128
    assert properties["Timeout"] == timeout
    assert (ROOT / "src" / "requirements.txt").is_file()
    module = ROOT / "src" / (handler.rsplit(".", 1)[0].replace(".", "/") + ".py")
    assert module.is_file(), f"{function}'s handler module {module} is missing"


def test_monitor_timeout_outlasts_the_longest_gap_between_two_scheduled_starts(resources: dict[str, Any]) -> None:
    # Each start falls at some second of its minute, so two consecutive starts are up to 120 s apart;
    # the invocation before must still be probing (a cold start and a cycle later) when the next one
    # takes over. The hand-off ends it as soon as that one is probing, so a longer timeout costs nothing.
    timeout = _properties(resources, "MonitorFunction")["Timeout"]
    assert 120 + MONITOR_MARGIN_SECONDS <= timeout <= 180


def test_monitor_reserved_concurrency_is_optional_and_off_by_default(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    parameter = template["Parameters"]["MonitorReservedConcurrency"]
    assert parameter["Default"] == ""
    pattern = re.compile(str(parameter["AllowedPattern"]))
    assert all(pattern.fullmatch(value) for value in ("", "0", "5", "100"))
    assert not any(pattern.fullmatch(value) for value in ("-1", "five", "2.5", " 5"))
    # empty and 0 both mean "none reserved": 0 passed on to Lambda would throttle every invocation
    assert template["Conditions"]["HasMonitorReservedConcurrency"] == {
        "Fn::Not": [
            {
                "Fn::Or": [
                    {"Fn::Equals": [{"Ref": "MonitorReservedConcurrency"}, ""]},
                    {"Fn::Equals": [{"Ref": "MonitorReservedConcurrency"}, "0"]},
                ]
            }
        ]
    }
    assert _properties(resources, "MonitorFunction")["ReservedConcurrentExecutions"] == {
        "Fn::If": ["HasMonitorReservedConcurrency", {"Ref": "MonitorReservedConcurrency"}, {"Ref": "AWS::NoValue"}]
    }
    assert "ReservedConcurrentExecutions" not in _properties(resources, "ControlFunction")


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_vpc_placement_and_tracing_are_conditional(resources: dict[str, Any], function: str) -> None:
    properties = _properties(resources, function)
    assert properties["VpcConfig"] == {
        "Fn::If": [
            "HasVpcConfig",
            {"SubnetIds": {"Ref": "SubnetIds"}, "SecurityGroupIds": {"Ref": "SecurityGroupIds"}},
            {"Ref": "AWS::NoValue"},
        ]
    }
    assert properties["Tracing"] == {"Fn::If": ["TracingEnabled", "Active", "PassThrough"]}


# ----------------------------------------------------------------------------------------- parameters


@pytest.mark.parametrize("name", CONTRACT_PARAMETERS)
def test_contract_parameter_exists(template: dict[str, Any], name: str) -> None:
    assert name in template["Parameters"]


def test_every_parameter_is_described_and_constrained(template: dict[str, Any]) -> None:
    for name, spec in template["Parameters"].items():
        assert str(spec.get("Description", "")).strip(), f"{name} has no Description"
        if spec["Type"] == "CommaDelimitedList":
            continue
        constraints = {"AllowedPattern", "AllowedValues", "MinValue", "MaxValue"} & set(spec)
        assert constraints, f"{name} has no AllowedPattern/AllowedValues/MinValue/MaxValue"


def test_parameter_defaults(template: dict[str, Any]) -> None:
    defaults = {name: spec.get("Default") for name, spec in template["Parameters"].items()}
    assert defaults["Node1Priority"] == 101
    assert defaults["Node2Priority"] == 100
    assert defaults["HealthCheckIntervalSeconds"] == "1"
    assert defaults["HealthCheckTimeoutSeconds"] == "1"
    assert defaults["FallThreshold"] == 3
    assert defaults["RiseThreshold"] == 2
    assert defaults["Preempt"] == "true"
    assert defaults["PreemptDelaySeconds"] == 60
    assert defaults["MinSecondsBetweenMoves"] == 0  # contract rule 3: no default may stretch PreemptDelaySeconds
    assert defaults["FlapWindowSeconds"] == 300
    assert defaults["FlapSuppressThreshold"] == 3
    assert defaults["HealthCheckCaBundle"] == ""
    assert defaults["NotificationEmail"] == ""
    assert defaults["CreateVpcEndpoints"] == "false"
    assert defaults["LogLevel"] == "INFO"
    assert defaults["EnableTracing"] == "false"
    assert defaults["ObservabilityProfile"] == "lean"  # docs/cost.md: why
    for required in ("ElasticIpAllocationId", "Node1InstanceId", "Node2InstanceId"):
        assert "Default" not in template["Parameters"][required], f"{required} must be given by the operator"


def test_number_parameter_ranges(template: dict[str, Any]) -> None:
    parameters = template["Parameters"]
    for name in ("Node1Priority", "Node2Priority"):
        assert (parameters[name]["Type"], parameters[name]["MinValue"], parameters[name]["MaxValue"]) == (
            "Number",
            0,
            255,
        )
    for name in ("FallThreshold", "RiseThreshold", "FlapSuppressThreshold"):
        assert (parameters[name]["MinValue"], parameters[name]["MaxValue"]) == (1, 100)
    for name in ("PreemptDelaySeconds", "MinSecondsBetweenMoves", "FlapWindowSeconds"):
        assert parameters[name]["MinValue"] == 0
    for name in ("Preempt", "CreateVpcEndpoints", "EnableTracing"):
        assert parameters[name]["AllowedValues"] == ["true", "false"]


PATTERN_CASES = {
    "ElasticIpAllocationId": (
        ["eipalloc-0123456789abcdef0", "eipalloc-12345678"],
        ["eipalloc-", "eipalloc-XYZ12345", "i-0123456789abcdef0", "eipalloc-0123456789abcdef01"],
    ),
    "Node1InstanceId": (
        ["i-0123456789abcdef0", "i-12345678"],
        ["i-1234567", "i-0123456789ABCDEF0", "eipalloc-12345678", " i-12345678"],
    ),
    "Node2HealthCheckUrl": (
        ["http://10.0.1.10:8080/api/9/http/upstreams/backend", "https://node2.example/health"],
        ["ftp://node2/health", "10.0.1.10:8080/health", "http://", ""],
    ),
    "HealthCheckIntervalSeconds": (
        ["1", "0.5", ".25", "2.5", "10", "60", "0.05"],
        ["0", "0.0", ".0", "-1", "1.", "abc", "", "1e3", "1,5"],
    ),
    "HealthCheckTimeoutSeconds": (["1", "0.2", "30"], ["0", "-0.5", "x"]),
    "HealthCheckCaBundle": (["", "/opt/ca.pem", "/var/task/certs/ca.pem"], ["ca.pem", "/opt/my ca.pem"]),
    "NotificationEmail": (["", "ops@example.com"], ["ops", "ops@", "a b@example.com"]),
    "VpcId": (["", "vpc-0123456789abcdef0"], ["vpc-", "subnet-0123456789abcdef0"]),
}


@pytest.mark.parametrize("name", sorted(PATTERN_CASES))
def test_allowed_patterns(template: dict[str, Any], name: str) -> None:
    pattern = re.compile(str(template["Parameters"][name]["AllowedPattern"]))
    good, bad = PATTERN_CASES[name]
    for value in good:
        assert pattern.fullmatch(value), f"{name} should accept {value!r}"
    for value in bad:
        assert not pattern.fullmatch(value), f"{name} should reject {value!r}"


# ---------------------------------------------------------------------------------------- environment


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_environment_of_each_function(template: dict[str, Any], resources: dict[str, Any], function: str) -> None:
    variables = _properties(resources, function)["Environment"]["Variables"]
    for variable, parameter in PARAMETER_VARIABLES.items():
        assert variables.get(variable) == {"Ref": parameter}, f"{function}: {variable}"
        assert parameter in template["Parameters"]
    for variable, value in OTHER_VARIABLES.items():
        assert variables.get(variable) == value, f"{function}: {variable}"


def test_both_functions_get_the_same_environment_and_none_from_globals(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    monitor = dict(_properties(resources, "MonitorFunction")["Environment"]["Variables"])
    control = _properties(resources, "ControlFunction")["Environment"]["Variables"]
    # the monitor alone hands probing over, through the lease table, and is an observer
    assert monitor.pop(LEASE_VARIABLE) == {"Ref": "MonitorLeaseTable"}
    for variable in OBSERVER_VARIABLES:
        monitor.pop(variable)
    assert monitor == {name: value for name, value in control.items() if name not in PREFLIGHT_CONTROL_ONLY}
    globals_function = (template.get("Globals") or {}).get("Function") or {}
    assert "Environment" not in globals_function, "set the environment on each function (a harness reads it there)"


def test_no_hard_coded_aws_endpoint(template: dict[str, Any]) -> None:
    for function in FUNCTIONS:
        variables = template["Resources"][function]["Properties"]["Environment"]["Variables"]
        assert not any(name.startswith("AWS_ENDPOINT_URL") for name in variables)


# -------------------------------------------------------------------------------------------- IAM


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_associate_address_is_scoped_to_the_eip_and_the_pair(resources: dict[str, Any], function: str) -> None:
    statements = [
        s
        for s in _statements(resources, function)
        if "ec2:AssociateAddress" in _as_list(s["Action"]) and "Condition" not in s
    ]
    assert len(statements) == 1
    (statement,) = statements
    assert _as_list(statement["Action"]) == ["ec2:AssociateAddress"]
    # By instance (the default), or by the nodes' ENIs when the pair goes by ENI + private IP.
    condition, by_eni, by_instance = statement["Resource"]["Fn::If"]
    assert condition == "PairByNetworkInterface"
    prefix = "arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:"
    # A found node (by group or tags) has no fixed instance (docs/found-nodes.md): its ARN is left out.
    for index, resource in enumerate(by_instance):
        if "Fn::If" in resource:
            condition, found, fixed = resource["Fn::If"]
            assert (condition, found) == (f"Node{index}Found", {"Ref": "AWS::NoValue"})
            by_instance = [*by_instance[:index], fixed, *by_instance[index + 1 :]]
    assert sorted(_sub_text(resource) for resource in by_instance) == sorted(
        [
            prefix + "elastic-ip/${ElasticIpAllocationId}",
            prefix + "instance/${Node1InstanceId}",
            prefix + "instance/${Node2InstanceId}",
        ]
    )
    assert sorted(_sub_text(resource) for resource in by_eni) == sorted(
        [
            prefix + "elastic-ip/${ElasticIpAllocationId}",
            prefix + "network-interface/${Node1NetworkInterfaceId}",
            prefix + "network-interface/${Node2NetworkInterfaceId}",
        ]
    )


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_the_second_address_set_is_granted_only_its_eip_on_the_pairs_enis(
    raw_template: dict[str, Any], function: str
) -> None:
    # Active/active (SecondElasticIpAllocationId): one opt-in statement, nothing without it.
    policies = raw_template["Resources"][function]["Properties"]["Policies"]
    conditional = [
        s["Fn::If"] for p in policies for s in p["Statement"] if isinstance(s, dict) and "Fn::If" in s and len(s) == 1
    ]
    [(condition, statement, otherwise)] = [c for c in conditional if c[0] == "HasSecondAddressSet"]
    assert otherwise == {"Ref": "AWS::NoValue"}
    assert raw_template["Conditions"][condition] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "SecondElasticIpAllocationId"}, ""]}]
    }
    assert statement["Action"] == "ec2:AssociateAddress" and "Condition" not in statement
    prefix = "arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:"
    assert sorted(_sub_text(resource) for resource in statement["Resource"]) == sorted(
        [
            prefix + "elastic-ip/${SecondElasticIpAllocationId}",
            prefix + "network-interface/${Node1NetworkInterfaceId}",
            prefix + "network-interface/${Node2NetworkInterfaceId}",
        ]
    )


# The resource types EC2 authorizes each fleet action against (the Service Authorization Reference).
FLEET_RESOURCE_TYPES = {
    "ec2:AssociateAddress": ["elastic-ip/*", "instance/*", "network-interface/*"],
    "ec2:AssignPrivateIpAddresses": ["network-interface/*"],
    "ec2:ReplaceRoute": ["route-table/*"],
    "ec2:CreateRoute": ["route-table/*"],
}


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_fleet_moves_are_scoped_by_the_stacks_tag(resources: dict[str, Any], function: str) -> None:
    """ABAC: a fleet's resources are unknown at deploy time; only those tagged for this stack move,
    each action on the resource types it is authorized against and no other."""
    tagged = [s for s in _statements(resources, function) if "Condition" in s]
    assert {action for s in tagged for action in _as_list(s["Action"])} == FLEET_ACTIONS
    for statement in tagged:
        condition = {"StringEquals": {"aws:ResourceTag/nginx-eip-failover": {"Ref": "AWS::StackName"}}}
        assert statement["Condition"] == condition
        kinds = sorted(_sub_text(resource).rsplit(":", 1)[1] for resource in _as_list(statement["Resource"]))
        for action in _as_list(statement["Action"]):
            assert kinds == FLEET_RESOURCE_TYPES[action], (statement["Sid"], action)


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_only_describe_actions_use_a_wildcard_resource(resources: dict[str, Any], function: str) -> None:
    for statement in _statements(resources, function):
        assert statement["Effect"] == "Allow"
        actions = set(_as_list(statement["Action"]))
        assert not any(action == "*" or action.endswith(":*") for action in actions), actions
        if "*" in _as_list(statement["Resource"]):  # (an Fn::If of two lists is never "*")
            assert actions <= DESCRIBE_ACTIONS, f"{function}: {sorted(actions - DESCRIBE_ACTIONS)} on '*'"


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_data_actions_are_scoped_to_the_stack_resources(resources: dict[str, Any], function: str) -> None:
    granted: dict[str, list[Any]] = {}
    for statement in _statements(resources, function):
        for action in _as_list(statement["Action"]):
            granted.setdefault(action, []).extend(_as_list(statement["Resource"]))
    dynamodb = {action for action in granted if action.startswith("dynamodb:")}
    observers = {"dynamodb:BatchGetItem"} if function == "MonitorFunction" else set()
    assert dynamodb == {"dynamodb:GetItem", "dynamodb:PutItem", *DECISION_LOG_ACTIONS[function], *observers}
    tables = [{"Fn::GetAtt": ["StateTable", "Arn"]}]
    if function == "MonitorFunction":
        tables.append({"Fn::GetAtt": ["MonitorLeaseTable", "Arn"]})
        # observers read each other's reports from the lease table, nowhere else
        assert granted["dynamodb:BatchGetItem"] == [{"Fn::GetAtt": ["MonitorLeaseTable", "Arn"]}]
    for action in ("dynamodb:GetItem", "dynamodb:PutItem"):
        assert granted[action] == tables
    for action in DECISION_LOG_ACTIONS[function]:
        assert granted[action] == [{"Fn::GetAtt": ["DecisionLogTable", "Arn"]}]
    assert {action for action in granted if action.startswith("sns:")} == {"sns:Publish"}
    assert granted["sns:Publish"] == [{"Ref": "NotificationTopic"}]
    for action in (action for action in granted if action.startswith("kms:")):
        assert granted[action] == [{"Fn::GetAtt": ["NotificationKey", "Arn"]}]
    assert set(granted) <= {
        *FLEET_ACTIONS,
        *DESCRIBE_ACTIONS,
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        *observers,
        "sns:Publish",
        "kms:Decrypt",
        "kms:GenerateDataKey*",
        *DECISION_LOG_ACTIONS[function],
        *PREFLIGHT_READS,
    }


def test_both_functions_have_the_same_rights_but_the_lease_the_log_and_the_schedule(resources: dict[str, Any]) -> None:
    monitor = _statements(resources, "MonitorFunction")
    lease = [s for s in monitor if {"Fn::GetAtt": ["MonitorLeaseTable", "Arn"]} in _as_list(s["Resource"])]
    lease_actions = {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:BatchGetItem"}
    assert len(lease) == 1 and set(_as_list(lease[0]["Action"])) == lease_actions

    def others(statements: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            s
            for s in statements
            if s not in lease and "DecisionLog" not in str(s["Resource"]) and s["Sid"] != PREFLIGHT_CONTROL_ONLY_SID
        ]

    assert others(monitor) == others(_statements(resources, "ControlFunction"))


# ------------------------------------------------------------------------------------------ triggers


def test_schedule_every_minute_with_explicit_input(resources: dict[str, Any]) -> None:
    events = _properties(resources, "MonitorFunction")["Events"]
    # EventBridge Scheduler (AWS::Scheduler::Schedule), not a legacy EventBridge scheduled rule
    assert {event["Type"] for event in events.values()} == {"ScheduleV2"}
    schedules = [event["Properties"] for event in events.values()]
    assert len(schedules) == 1
    (schedule,) = schedules
    assert schedule["ScheduleExpression"] == "rate(1 minute)"
    assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert json.loads(schedule["Input"]) == {"trigger": "schedule"}
    assert schedule.get("State", "ENABLED") == "ENABLED"
    assert schedule.get("OmitName") is True, "a generated name: two stacks in one account must not collide"
    assert "Schedule" not in schedule, "ScheduleV2 takes ScheduleExpression"
    assert not _of_type(resources, "AWS::Events::Rule")
    assert not _properties(resources, "ControlFunction").get("Events"), "operators invoke the control function"


def test_the_schedule_input_is_what_the_monitor_accepts(resources: dict[str, Any]) -> None:
    (schedule,) = (event["Properties"] for event in _properties(resources, "MonitorFunction")["Events"].values())
    assert parse_monitor_event(json.loads(schedule["Input"])).kind == "schedule"


def test_describe_instances_is_granted_for_preflight_only_on_the_describe_statement(resources: dict[str, Any]) -> None:
    for function in FUNCTIONS:
        granting = [s for s in _statements(resources, function) if "ec2:DescribeInstances" in _as_list(s["Action"])]
        assert [s["Sid"] for s in granting] == ["DescribeActionsSupportNoResourceScoping"], function


@pytest.mark.parametrize("node", ["1", "2"])
def test_one_status_check_alarm_per_node_invokes_the_monitor(resources: dict[str, Any], node: str) -> None:
    logical_id = f"Node{node}StatusCheckAlarm"
    alarm = _properties(resources, logical_id)
    assert resources[logical_id]["Type"] == "AWS::CloudWatch::Alarm"
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/EC2", "StatusCheckFailed")
    by_instance = {"Name": "InstanceId", "Value": {"Ref": f"Node{node}InstanceId"}}
    # A found node's alarm watches its Auto Scaling group (docs/found-nodes.md).
    by_group = {"Name": "AutoScalingGroupName", "Value": {"Ref": f"Node{node}AutoScalingGroupName"}}
    assert alarm["Dimensions"] == [{"Fn::If": [f"Node{node}ByGroup", by_group, by_instance]}]
    assert (alarm["Statistic"], alarm["Period"], alarm["EvaluationPeriods"]) == ("Maximum", 60, 1)
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanOrEqualToThreshold", 1)
    assert _sub_text(alarm["AlarmName"]) == "${AWS::StackName}-node" + node + "-status-check"
    assert alarm["AlarmActions"] == [{"Fn::GetAtt": ["MonitorFunction", "Arn"]}]

    permissions = [
        properties
        for resource in _of_type(resources, "AWS::Lambda::Permission").values()
        if (properties := resource["Properties"]).get("SourceArn") == {"Fn::GetAtt": [logical_id, "Arn"]}
    ]
    assert len(permissions) == 1, f"one lambda permission scoped to {logical_id}"
    (permission,) = permissions
    assert permission["Action"] == "lambda:InvokeFunction"
    assert permission["Principal"] == ALARM_PRINCIPAL
    assert permission["SourceAccount"] == {"Ref": "AWS::AccountId"}
    assert permission["FunctionName"] in ({"Fn::GetAtt": ["MonitorFunction", "Arn"]}, {"Ref": "MonitorFunction"})


def test_every_alarm_invoke_permission_is_scoped_to_one_alarm(resources: dict[str, Any]) -> None:
    alarms = _of_type(resources, "AWS::CloudWatch::Alarm")
    invoking = {
        name
        for name, alarm in alarms.items()
        if "MonitorFunction" in json.dumps(alarm["Properties"].get("AlarmActions"))
    }
    assert invoking == {"Node1StatusCheckAlarm", "Node2StatusCheckAlarm"}
    scoped = set()
    for permission in _of_type(resources, "AWS::Lambda::Permission").values():
        properties = permission["Properties"]
        if properties["Principal"] == ALARM_PRINCIPAL:
            assert "SourceAccount" in properties
            source = properties["SourceArn"]["Fn::GetAtt"]
            assert source[1] == "Arn" and source[0] in alarms
            scoped.add(source[0])
    assert scoped == invoking


# ------------------------------------------------------------------------------------ state and topic


def test_monitor_lease_table(resources: dict[str, Any]) -> None:
    table = resources["MonitorLeaseTable"]
    assert table["Type"] == "AWS::DynamoDB::Table"
    # coordination only (which invocation probes now): nothing to keep after the stack
    assert (table["DeletionPolicy"], table["UpdateReplacePolicy"]) == ("Delete", "Delete")
    properties = table["Properties"]
    assert properties["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert properties["AttributeDefinitions"] == [{"AttributeName": "pk", "AttributeType": "S"}]
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["SSESpecification"]["SSEEnabled"] is True
    assert "TableName" not in properties


def test_state_table(resources: dict[str, Any]) -> None:
    table = resources["StateTable"]
    assert table["Type"] == "AWS::DynamoDB::Table"
    assert table["DeletionPolicy"] == "Retain"
    assert table["UpdateReplacePolicy"] == "Retain"
    properties = table["Properties"]
    assert properties["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert properties["AttributeDefinitions"] == [{"AttributeName": "pk", "AttributeType": "S"}]
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert properties["SSESpecification"]["SSEEnabled"] is True
    assert "TableName" not in properties, "let CloudFormation name it, so two stacks can share an account"


def test_decision_log_table_is_append_only_with_a_ttl(template: dict[str, Any], resources: dict[str, Any]) -> None:
    table = resources["DecisionLogTable"]
    properties = table["Properties"]
    assert properties["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert properties["SSESpecification"]["SSEEnabled"] is True
    assert "TableName" not in properties
    assert template["Parameters"]["DecisionLogRetentionDays"]["Default"] == 14


def test_topic_is_encrypted_with_a_key_the_alarms_may_use(raw_template: dict[str, Any]) -> None:
    resources = in_profile(raw_template, "full")["Resources"]
    assert resources["NotificationTopic"]["Type"] == "AWS::SNS::Topic"
    assert _properties(resources, "NotificationTopic")["KmsMasterKeyId"] == {"Ref": "NotificationKey"}
    key = _properties(resources, "NotificationKey")
    assert key["EnableKeyRotation"] is True
    cloudwatch = [s for s in key["KeyPolicy"]["Statement"] if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}]
    assert len(cloudwatch) == 1
    assert cloudwatch[0]["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert set(cloudwatch[0]["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}


def test_email_subscription_is_optional(template: dict[str, Any], resources: dict[str, Any]) -> None:
    subscription = resources["NotificationEmailSubscription"]
    assert subscription["Condition"] == "HasNotificationEmail"
    assert subscription["Properties"]["Protocol"] == "email"
    assert template["Conditions"]["HasNotificationEmail"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "NotificationEmail"}, ""]}]
    }


def test_vpc_endpoints_only_with_vpc_placement(template: dict[str, Any], resources: dict[str, Any]) -> None:
    endpoints = _of_type(resources, "AWS::EC2::VPCEndpoint")
    services = {_sub_text(endpoint["Properties"]["ServiceName"]).rsplit(".", 1)[1] for endpoint in endpoints.values()}
    # test_vpc_endpoints.py: from the code; STS only for routes in another account (RouteTableRoleArn),
    # autoscaling only for found nodes (docs/found-nodes.md)
    assert services == {"dynamodb", "ec2", "sns", "monitoring", "scheduler", "sts", "autoscaling"}
    narrower = ("CreateStsEndpoint", "CreateAutoScalingEndpoint")
    for endpoint in endpoints.values():
        assert endpoint["Condition"] in ("CreateEndpoints", *narrower)
    for condition in narrower:
        assert {"Condition": "CreateEndpoints"} in template["Conditions"][condition]["Fn::And"]
    assert {"Condition": "HasVpcConfig"} in template["Conditions"]["CreateEndpoints"]["Fn::And"]


# -------------------------------------------------------------------------------- operator visibility


def test_dashboard_shows_health_moves_latency_and_errors(raw_template: dict[str, Any]) -> None:
    dashboard = in_profile(raw_template, "full")["Resources"]["Dashboard"]
    assert dashboard["Type"] == "AWS::CloudWatch::Dashboard"
    text = _sub_text(dashboard["Properties"]["DashboardBody"])
    # The node alarms are a variable: a node found by tags has none (Node*HasStatusCheckAlarm).
    body = json.loads(re.sub(r"\$\{[^}]+\}", "x", text.replace("${NodeStatusCheckAlarms}", "")))
    node_alarms = json.dumps(dashboard["Properties"]["DashboardBody"]["Fn::Sub"][1]["NodeStatusCheckAlarms"])
    for node in ("1", "2"):
        assert f'"Node{node}HasStatusCheckAlarm"' in node_alarms and f"Node{node}StatusCheckAlarm.Arn" in node_alarms
    metrics = [line for widget in body["widgets"] for line in widget["properties"].get("metrics", [])]
    named = {(line[0], line[1]) for line in metrics}
    for metric in METRICS:
        assert ("NginxEipFailover", metric) in named
    for line in metrics:
        if line[0] == "NginxEipFailover":
            assert line[2:4] == ["service", "nginx-eip-failover"], line
    nodes = {line[5] for line in metrics if line[1] in ("NodeUp", "ProbeLatency")}
    assert nodes == {"node1", "node2"}
    for function in FUNCTIONS:
        assert '"AWS/Lambda", "Errors", "FunctionName", "${' + function + '}"' in text


def test_monitor_not_running_alarm(template: dict[str, Any], resources: dict[str, Any]) -> None:
    alarm = _properties(resources, "MonitorNotRunningAlarm")
    if template["Resources"].get("Dashboard"):  # full: the monitor's own cycle count
        assert (alarm["Namespace"], alarm["MetricName"]) == ("NginxEipFailover", "MonitorCycles")
        assert alarm["Dimensions"] == [{"Name": "service", "Value": "nginx-eip-failover"}]
    else:  # lean publishes no continuous custom metric: Lambda's own count of the monitor's invocations
        assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/Lambda", "Invocations")
        assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "MonitorFunction"}}]
    assert alarm["Statistic"] == "Sum"
    assert (alarm["Period"], alarm["EvaluationPeriods"], alarm.get("DatapointsToAlarm", 3)) == (60, 3, 3)
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("LessThanThreshold", 1)
    assert alarm["TreatMissingData"] == "breaching"
    assert alarm["AlarmActions"] == [{"Ref": "NotificationTopic"}]


def test_monitor_errors_alarm_watches_the_monitor_only(resources: dict[str, Any]) -> None:
    # Control requests that are refused raise on purpose; they must not page anyone.
    alarm = _properties(resources, "MonitorErrorsAlarm")
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/Lambda", "Errors")
    assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "MonitorFunction"}}]
    assert alarm["AlarmActions"] == [{"Ref": "NotificationTopic"}]
    assert "FunctionErrorsAlarm" not in resources


def test_outputs(template: dict[str, Any]) -> None:
    outputs = template["Outputs"]
    expected = {
        "MonitorFunctionName": {"Ref": "MonitorFunction"},
        "ControlFunctionName": {"Ref": "ControlFunction"},
        "StateTableName": {"Ref": "StateTable"},
        "NotificationTopicArn": {"Ref": "NotificationTopic"},
        "MonitorFunctionArn": {"Fn::GetAtt": ["MonitorFunction", "Arn"]},
        "ControlFunctionArn": {"Fn::GetAtt": ["ControlFunction", "Arn"]},
    }
    for name, value in expected.items():
        assert outputs[name]["Value"] == value


def test_every_checkov_suppression_gives_a_reason(resources: dict[str, Any]) -> None:
    for name, resource in resources.items():
        for skip in ((resource.get("Metadata") or {}).get("checkov") or {}).get("skip") or []:
            assert re.fullmatch(r"CKV2?_AWS_\d+", skip["id"]), (name, skip)
            assert len(str(skip.get("comment", "")).strip()) > 30, f"{name}: {skip['id']} needs a reason"


# --------------------------------------------------------------------------------------------- events


def _events() -> list[Path]:
    return sorted(EVENTS_DIR.glob("*.json"))


def test_sample_events_exist() -> None:
    names = {path.name for path in _events()}
    assert names >= {
        "monitor-schedule-input.json",
        "monitor-scheduled-event.json",
        "monitor-alarm.json",
        "control-status.json",
        "control-failover.json",
        "control-failover-force.json",
        "control-unpin.json",
        "control-drain.json",
        "control-undrain.json",
    }


@pytest.mark.parametrize("path", _events(), ids=lambda path: path.name)
def test_sample_event_is_valid_json(path: Path) -> None:
    assert isinstance(json.loads(path.read_text(encoding="utf-8")), dict)


@pytest.mark.parametrize("path", sorted(EVENTS_DIR.glob("control-*.json")), ids=lambda path: path.name)
def test_control_samples_use_only_the_contract_fields(path: Path) -> None:
    request = json.loads(path.read_text(encoding="utf-8"))
    assert set(request) <= CONTROL_FIELDS
    assert request["action"] in {"status", "failover", "unpin", "drain", "undrain", "plan", "preflight", "log", "drill"}


def test_monitor_samples(resources: dict[str, Any]) -> None:
    schedule = json.loads((EVENTS_DIR / "monitor-schedule-input.json").read_text())
    template_input = next(iter(_properties(resources, "MonitorFunction")["Events"].values()))["Properties"]["Input"]
    assert schedule == json.loads(template_input)

    scheduled = json.loads((EVENTS_DIR / "monitor-scheduled-event.json").read_text())
    assert (scheduled["source"], scheduled["detail-type"], scheduled["detail"]) == ("aws.events", "Scheduled Event", {})

    alarm = json.loads((EVENTS_DIR / "monitor-alarm.json").read_text())
    assert alarm["source"] == "aws.cloudwatch"
    assert alarm["alarmArn"].endswith(":alarm:" + alarm["alarmData"]["alarmName"])
    assert alarm["alarmData"]["state"]["value"] == "ALARM"
    metric = alarm["alarmData"]["configuration"]["metrics"][0]["metricStat"]["metric"]
    assert (metric["namespace"], metric["name"]) == ("AWS/EC2", "StatusCheckFailed")
    assert re.fullmatch(r"i-[0-9a-f]{8,17}", metric["dimensions"]["InstanceId"])


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_functions_build_with_precompiled_bytecode(resources: dict[str, Any], function: str) -> None:
    # sam's default pip builder ships no .pyc, and /var/task is read-only: every cold start would
    # compile the package and Powertools again. src/Makefile compiles them at build time.
    assert resources[function]["Metadata"]["BuildMethod"] == "makefile"
    makefile = (ROOT / "src" / "Makefile").read_text()
    assert f"build-{function}" in makefile
    assert "compileall" in makefile
    assert "--python-version 3.13" in makefile and "aarch64" in makefile


# ----------------------------------------------------------------------------- observability profiles


def test_observability_profile_is_one_parameter_passed_to_both_functions(raw_template: dict[str, Any]) -> None:
    spec = raw_template["Parameters"]["ObservabilityProfile"]
    assert spec["AllowedValues"] == ["lean", "full"]
    assert raw_template["Conditions"][PROFILE_CONDITION] == {"Fn::Equals": [{"Ref": "ObservabilityProfile"}, "full"]}
    for function in FUNCTIONS:
        variables = raw_template["Resources"][function]["Properties"]["Environment"]["Variables"]
        assert variables["OBSERVABILITY_PROFILE"] == {"Ref": "ObservabilityProfile"}


def test_full_profile_pays_for_the_dashboard_and_the_key(raw_template: dict[str, Any]) -> None:
    resources = in_profile(raw_template, "full")["Resources"]
    assert {"Dashboard", "NotificationKey", "NotificationKeyAlias"} <= set(resources)
    assert "DashboardName" in in_profile(raw_template, "full")["Outputs"]
    for function in FUNCTIONS:
        actions = {a for s in _statements(resources, function) for a in _as_list(s["Action"])}
        assert {"kms:Decrypt", "kms:GenerateDataKey*"} <= actions


def test_lean_profile_keeps_what_safety_needs_and_nothing_more(raw_template: dict[str, Any]) -> None:
    lean = in_profile(raw_template, "lean")
    resources = lean["Resources"]
    # Paid for only in full: the dashboard ($3), the customer managed key ($1) and its rights.
    assert not {"Dashboard", "NotificationKey", "NotificationKeyAlias"} & set(resources)
    assert "DashboardName" not in lean["Outputs"]
    assert "KmsMasterKeyId" not in _properties(resources, "NotificationTopic")
    for function in FUNCTIONS:
        actions = {a for s in _statements(resources, function) for a in _as_list(s["Action"])}
        assert not {a for a in actions if a.startswith("kms:")}, function
    # Kept: the node alarms that start probing, the two operator alarms, their notices, the logs.
    alarms = _of_type(resources, "AWS::CloudWatch::Alarm")
    assert set(alarms) == {
        "Node1StatusCheckAlarm",
        "Node2StatusCheckAlarm",
        "MonitorNotRunningAlarm",
        "MonitorErrorsAlarm",
    }
    for name in ("MonitorNotRunningAlarm", "MonitorErrorsAlarm"):
        assert alarms[name]["Properties"]["AlarmActions"] == [{"Ref": "NotificationTopic"}]
        # Lambda's own metrics: lean publishes no custom metric these alarms could miss.
        assert alarms[name]["Properties"]["Namespace"] == "AWS/Lambda"
    assert {"MonitorLogGroup", "ControlLogGroup", "NotificationTopic"} <= set(resources)


def test_no_resource_of_one_profile_is_referenced_from_the_other(raw_template: dict[str, Any]) -> None:
    for profile in PROFILES:
        resolved = in_profile(raw_template, profile)
        text = json.dumps({"Resources": resolved["Resources"], "Outputs": resolved["Outputs"]})
        for name, resource in raw_template["Resources"].items():
            if resource.get("Condition") == PROFILE_CONDITION and profile == "lean":
                assert f'"{name}"' not in text and "${" + name not in text, f"lean still refers to {name}"


# ------------------------------------------------------------------------- found nodes: by tags

TAGS_GOOD = ["", "role=nginx-plus", "role=nginx-plus,pair=edge-a", "Name=", "a=1,b=2,c=3,d=4,e=5", "k y=v w"]
TAGS_BAD = ["role", "=v", "a=b=c", "a=1,", ",a=1", "a=1,b=2,c=3,d=4,e=5,f=6", "k" * 129 + "=v", "k=" + "v" * 257]


@pytest.mark.parametrize("node", ["1", "2"])
def test_instance_tags_parameters_accept_the_parsers_grammar(raw_template: dict[str, Any], node: str) -> None:
    """Node*InstanceTags's AllowedPattern and NODEn_INSTANCE_TAGS's parser agree (core/node_finders)."""
    from nginx_eip_failover.core.errors import ConfigError
    from nginx_eip_failover.core.node_finders import load_node_finder

    spec = raw_template["Parameters"][f"Node{node}InstanceTags"]
    assert (spec["Type"], spec["Default"]) == ("String", "")
    assert "nginx-eip-failover=<stack name>" in " ".join(str(spec["Description"]).split())
    assert f"Node{node}InstanceTags" in str(spec["ConstraintDescription"])
    pattern = re.compile(str(spec["AllowedPattern"]))
    for value in TAGS_GOOD:
        assert pattern.fullmatch(value), f"should accept {value!r}"
        if value:
            finder = load_node_finder({f"NODE{node}_INSTANCE_TAGS": value}, f"NODE{node}_")
            assert finder is not None and len(finder.tags) == value.count(",") + 1
    for value in TAGS_BAD:
        assert not pattern.fullmatch(value), f"should reject {value!r}"
        with pytest.raises(ConfigError) as error:
            load_node_finder({f"NODE{node}_INSTANCE_TAGS": value}, f"NODE{node}_")
        assert f"NODE{node}_INSTANCE_TAGS" in str(error.value)
    groups = raw_template["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
    (found,) = [g["Parameters"] for g in groups if f"Node{node}AutoScalingGroupName" in g["Parameters"]]
    assert f"Node{node}InstanceTags" in found


def _rule_failures(raw_template: dict[str, Any], **parameters: str) -> list[str]:
    """The AssertDescriptions of the template's Rules that fail with `parameters` (the lab's intrinsics)."""
    from nginx_eip_failover_lab.stack.intrinsics import Resolver
    from nginx_eip_failover_lab.stack.template import StackTemplate

    resolver = Resolver(StackTemplate(TEMPLATE_PATH), parameters, "stack")
    failures = []
    for name, rule in raw_template["Rules"].items():
        if "EachMemberEquals" in json.dumps(rule):
            continue  # list rules (SubnetIds, ...): not the nodes'
        if "RuleCondition" in rule and not resolver.resolve(rule["RuleCondition"]):
            continue
        failures += [
            f"{name}: {a['AssertDescription']}" for a in rule["Assertions"] if not resolver.resolve(a["Assert"])
        ]
    return failures


NAMED = {
    "ElasticIpAllocationId": "eipalloc-0a1b2c3d",
    "Node1InstanceId": "i-0a1b2c3d",
    "Node2InstanceId": "i-0a1b2c3e",
    "Node1HealthCheckUrl": "http://10.0.0.1/health",
    "Node2HealthCheckUrl": "http://{private_ip}/health",
}


@pytest.mark.parametrize(
    ("extra", "failing"),
    [
        ({}, []),
        ({"Node2InstanceId": "", "Node2InstanceTags": "role=nginx"}, []),
        ({"Node1InstanceId": "", "Node1InstanceTags": "a=1", "Node2InstanceId": "", "Node2InstanceTags": "a=2"}, []),
        (
            {
                "Node1InstanceId": "",
                "Node1AutoScalingGroupName": "g",
                "Node2InstanceId": "",
                "Node2InstanceTags": "a=2",
            },
            [],
        ),
        ({"Node2InstanceId": ""}, ["node 2 needs Node2InstanceId, Node2AutoScalingGroupName or Node2InstanceTags"]),
        (
            {"Node2InstanceId": "", "Node2InstanceTags": "a=1", "Node2AutoScalingGroupName": "g"},
            ["Node2InstanceTags and Node2AutoScalingGroupName are both set"],
        ),
        ({"Node1InstanceTags": "a=1"}, ["Node1InstanceTags and Node1InstanceId are both set"]),
        (
            {
                "Node2InstanceId": "",
                "Node2InstanceTags": "a=1",
                "Node1NetworkInterfaceId": "eni-0a1b2c3d",
                "Node1PrivateIpAddress": "10.0.0.1",
                "Node2NetworkInterfaceId": "eni-0a1b2c3e",
                "Node2PrivateIpAddress": "10.0.0.2",
            },
            ["Node2NetworkInterfaceId must be empty for a node found by Node2InstanceTags"],
        ),
    ],
)
def test_rules_a_node_is_named_one_way_tags_included(
    raw_template: dict[str, Any], extra: dict[str, str], failing: list[str]
) -> None:
    failures = _rule_failures(raw_template, **{**NAMED, **extra})
    assert len(failures) == len(failing), failures
    for failure, expected in zip(failures, failing, strict=True):
        assert expected in failure


def test_a_node_found_by_tags_has_no_alarm_hook_or_auto_scaling_grant(raw_template: dict[str, Any]) -> None:
    conditions = raw_template["Conditions"]
    resources = raw_template["Resources"]
    for node in ("1", "2"):
        assert conditions[f"Node{node}ByTags"] == {
            "Fn::Not": [{"Fn::Equals": [{"Ref": f"Node{node}InstanceTags"}, ""]}]
        }
        assert conditions[f"Node{node}Found"] == {
            "Fn::Or": [{"Condition": f"Node{node}ByGroup"}, {"Condition": f"Node{node}ByTags"}]
        }
        assert conditions[f"Node{node}HasStatusCheckAlarm"] == {"Fn::Not": [{"Condition": f"Node{node}ByTags"}]}
        for resource in (f"Node{node}StatusCheckAlarm", f"Node{node}StatusCheckAlarmPermission"):
            assert resources[resource]["Condition"] == f"Node{node}HasStatusCheckAlarm"
    # Auto Scaling (the lookup policy, the endpoint, the hooks, LifecycleFunction) stays the groups' only.
    # (a fleet that finds nodes by group, FleetFoundNodes, also needs the lookup grant and the endpoint).
    groups_only = ("AnyNodeByGroup", "DescribesAutoScalingGroups", "CreateAutoScalingEndpoint")
    assert "Tags" not in "".join(json.dumps(conditions[name]) for name in groups_only)
    assert conditions["DescribesAutoScalingGroups"] == {
        "Fn::Or": [{"Condition": "AnyNodeByGroup"}, {"Condition": "FleetFindsByGroup"}]
    }
    for name in ("FoundNodesLookupPolicy", "LifecycleFunction", "AutoScalingInterfaceEndpoint"):
        assert resources[name]["Condition"] in groups_only, name


@pytest.mark.parametrize(
    "function", ["MonitorFunction", "Observer2Function", "Observer3Function", "ControlFunction", "LifecycleFunction"]
)
def test_every_function_that_finds_nodes_gets_the_tags_and_describe_instances(
    raw_template: dict[str, Any], function: str
) -> None:
    variables = raw_template["Resources"][function]["Properties"]["Environment"]["Variables"]
    for node in ("1", "2"):
        assert variables[f"NODE{node}_INSTANCE_TAGS"] == {
            "Fn::If": [f"Node{node}ByTags", {"Ref": f"Node{node}InstanceTags"}, {"Ref": "AWS::NoValue"}]
        }
    # The observers run under MonitorFunction's role; a tag lookup is one DescribeInstances.
    role_of = {"Observer2Function": "MonitorFunction", "Observer3Function": "MonitorFunction"}
    statements = raw_template["Resources"][role_of.get(function, function)]["Properties"]["Policies"][0]["Statement"]
    describing = [s for s in statements if "Action" in s and "ec2:DescribeInstances" in _as_list(s["Action"])]
    assert describing and all(s["Resource"] == "*" for s in describing)


@pytest.mark.parametrize(
    ("extra", "names"),
    [
        ({}, "stack-node1-status-check,stack-node2-status-check"),
        ({"Node2InstanceId": "", "Node2InstanceTags": "a=1"}, "stack-node1-status-check"),
        ({"Node1InstanceId": "", "Node1InstanceTags": "a=1"}, "stack-node2-status-check"),
        ({"Node1InstanceId": "", "Node1InstanceTags": "a=1", "Node2InstanceId": "", "Node2InstanceTags": "a=2"}, ""),
    ],
)
def test_the_preflight_checks_the_alarms_there_are(
    raw_template: dict[str, Any], extra: dict[str, str], names: str
) -> None:
    from nginx_eip_failover_lab.stack.intrinsics import Resolver
    from nginx_eip_failover_lab.stack.template import StackTemplate

    resolver = Resolver(StackTemplate(TEMPLATE_PATH), {**NAMED, **extra}, "stack")
    for function in ("MonitorFunction", "ControlFunction"):
        variables = raw_template["Resources"][function]["Properties"]["Environment"]["Variables"]
        assert resolver.resolve(variables["ALARM_NAMES"]) == names
