"""The CDK construct (constructs/) against template.yaml: its props mirror the template's parameters
(defaults, checks, messages), and for the same inputs its synthesized template grants, runs and
schedules what template.yaml does (iac_surface), with the same resources, properties and outputs.
The synthesizing tests run under make cdk-test (support.cdk_synth)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from nginx_eip_failover_lab.iac_surface import differences, logical, surface
from nginx_eip_failover_lab.iam.policies import stack_resolver
from nginx_eip_failover_lab.iam.policy_documents import deployed_stack
from nginx_eip_failover_lab.stack.intrinsics import NO_VALUE
from nginx_eip_failover_lab.stack.template import FUNCTION_TYPES, StackTemplate, find_template
from support.cdk_synth import cdk_parameters, cdk_props, parity_cases, synthesized

TEMPLATE = find_template()
SPEC_FIELDS = {
    "Type": "type",
    "Default": "default",
    "AllowedPattern": "allowed_pattern",
    "AllowedValues": "allowed_values",
    "MinValue": "min_value",
    "MaxValue": "max_value",
    "ConstraintDescription": "constraint_description",
}
REQUIRED = {
    "ElasticIpAllocationId": "eipalloc-0a1b2c3d4e5f60718",
    "Node1InstanceId": "i-0a1b2c3d4e5f60718",
    "Node2InstanceId": "i-0a1b2c3d4e5f60719",
    "Node1HealthCheckUrl": "http://10.0.1.10:8080/health",
    "Node2HealthCheckUrl": "http://10.0.2.10:8080/health",
}


def _no_token(_value: Any) -> None:
    return None


# -- the props mirror the parameters (no synth needed) -----------------------------------------------
def test_every_template_parameter_is_a_prop_with_the_same_checks() -> None:
    template_parameters = StackTemplate(TEMPLATE).parameters
    mirrored = {spec.name for spec in cdk_parameters.SPECS}
    assert sorted(set(template_parameters) - mirrored - set(cdk_parameters.NOT_MIRRORED)) == [], (
        "template.yaml parameters the construct does not mirror (add them to constructs/nginx_eip_failover_cdk)"
    )
    assert sorted(mirrored - set(template_parameters)) == []
    for spec in cdk_parameters.SPECS:
        raw = template_parameters[spec.name]
        for key, attribute in SPEC_FIELDS.items():
            expected = raw.get(key, "String" if key == "Type" else None)
            actual = getattr(spec, attribute)
            if isinstance(expected, list):
                expected = tuple(expected)
            assert actual == expected, f"{spec.name}.{key}: template.yaml has {expected!r}, the construct {actual!r}"


def test_the_props_defaults_are_the_templates() -> None:
    values = cdk_props.template_values(cdk_props.props_from_template_parameters(REQUIRED), _no_token)
    for name, raw in StackTemplate(TEMPLATE).parameters.items():
        if "Default" in raw:
            expected = [] if raw["Type"] == "CommaDelimitedList" else str(raw["Default"])
            assert values[name] == expected, name


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ElasticIpAllocationId", "eip-1234"),
        ("SecondElasticIpAllocationId", "eip-1234"),
        ("Node2SecondPrivateIpAddress", "10.0.2.256"),
        ("RouteTableRoleArn", "arn:aws:iam::1111:role/route-mover"),
        ("RouteTableRoleExternalId", "x"),
        ("Node1AutoScalingGroupName", "arn:aws:autoscaling:group"),
        ("LifecycleHookTimeoutSeconds", "30"),
        ("Node2InstanceTags", "a=b=c"),
        ("Node1HealthCheckUrl", "ftp://10.0.1.10/"),
        ("FallThreshold", "0"),
        ("HealthCheckIntervalSeconds", "0"),
        ("LogRetentionInDays", "13"),
        ("ObservabilityProfile", "medium"),
        ("MonitorReservedConcurrency", "-1"),
    ],
)
def test_a_value_the_template_refuses_is_refused_naming_the_prop(name: str, value: str) -> None:
    spec = cdk_parameters.BY_NAME[name]
    props = cdk_props.props_from_template_parameters({**REQUIRED, name: value})
    with pytest.raises(cdk_parameters.PropError) as refused:
        cdk_props.template_values(props, _no_token)
    message = str(refused.value)
    assert message.startswith(f"{spec.prop}=") and value.lstrip("-") in message and name in message
    if spec.constraint_description:
        assert spec.constraint_description in message


def test_the_templates_rules_are_checked_with_their_descriptions() -> None:
    half_eni = {**REQUIRED, "Node1NetworkInterfaceId": "eni-0123456789abcdef1"}
    observers = {**REQUIRED, "Observer2SubnetId": "subnet-0123456789abcdef3"}
    endpoints = {**REQUIRED, "CreateVpcEndpoints": "true", "SubnetIds": "subnet-01234567", "SecurityGroupIds": "sg-1"}
    second_by_instance = {
        **REQUIRED,
        "SecondElasticIpAllocationId": "eipalloc-0123456789abcdef9",
        "Node1SecondPrivateIpAddress": "10.0.1.30",
        "Node2SecondPrivateIpAddress": "10.0.2.31",
    }
    for values, message in (
        ({**REQUIRED, "Node1InstanceId": ""}, cdk_parameters.EACH_NODE_IS_NAMED[0]),
        ({**REQUIRED, "Node2InstanceId": ""}, cdk_parameters.EACH_NODE_IS_NAMED[1]),
        (
            {**REQUIRED, "Node2InstanceId": "", "Node2InstanceTags": "a=1", "Node2AutoScalingGroupName": "g"},
            cdk_parameters.found_by_tags_alone(2)[0],
        ),
        ({**REQUIRED, "Node1InstanceTags": "a=1"}, cdk_parameters.found_by_tags_alone(1)[1]),
        (half_eni, cdk_parameters.PAIR_BY_NETWORK_INTERFACE_NEEDS_ALL_FOUR),
        (second_by_instance, cdk_parameters.SECOND_ADDRESS_SET_NEEDS_THE_PAIR_BY_NETWORK_INTERFACE),
        (
            {**REQUIRED, "RouteTableRoleExternalId": "nginx-eip-failover-example"},
            cdk_parameters.ROUTE_TABLE_ROLE_EXTERNAL_ID_NEEDS_THE_ROLE,
        ),
        (
            {**REQUIRED, "Node1SecondPrivateIpAddress": "10.0.1.30"},
            cdk_parameters.SECOND_ADDRESS_SET_NEEDS_THE_PAIR_BY_NETWORK_INTERFACE,
        ),
        (observers, cdk_parameters.OBSERVER_PLACEMENT_NEEDS_SECURITY_GROUPS),
        ({**REQUIRED, "SubnetIds": "subnet-01234567"}, cdk_parameters.VPC_PLACEMENT_NEEDS_SECURITY_GROUPS),
        (endpoints, cdk_parameters.VPC_ENDPOINTS_NEED_VPC),
    ):
        with pytest.raises(cdk_parameters.PropError, match=re.escape(message)):
            cdk_props.template_values(cdk_props.props_from_template_parameters(values), _no_token)
    rules = StackTemplate(TEMPLATE).data["Rules"]
    descriptions = {a["AssertDescription"] for rule in rules.values() for a in rule["Assertions"]}
    assert {message for _, _, message in cdk_parameters.EXAMPLE_PLACEHOLDERS} <= descriptions
    for message in (
        *cdk_parameters.EACH_NODE_IS_NAMED,
        *cdk_parameters.found_by_tags_alone(1),
        *cdk_parameters.found_by_tags_alone(2),
        cdk_parameters.PAIR_BY_NETWORK_INTERFACE_NEEDS_ALL_FOUR,
        cdk_parameters.SECOND_ADDRESS_SET_NEEDS_THE_PAIR_BY_NETWORK_INTERFACE,
        cdk_parameters.ROUTE_TABLE_ROLE_EXTERNAL_ID_NEEDS_THE_ROLE,
        cdk_parameters.OBSERVER_PLACEMENT_NEEDS_SECURITY_GROUPS,
        cdk_parameters.VPC_PLACEMENT_NEEDS_SECURITY_GROUPS,
        cdk_parameters.VPC_ENDPOINTS_NEED_SUBNETS,
        cdk_parameters.VPC_ENDPOINTS_NEED_VPC,
        cdk_parameters.VPC_ENDPOINTS_NEED_ROUTE_TABLES,
    ):
        assert message in descriptions


def test_the_second_address_set_by_instance_is_refused_naming_each_prop_and_value() -> None:
    values = {**REQUIRED, "SecondElasticIpAllocationId": "eipalloc-0123456789abcdef9"}
    with pytest.raises(cdk_parameters.PropError) as refused:
        cdk_props.template_values(cdk_props.props_from_template_parameters(values), _no_token)
    assert str(refused.value).endswith(
        "(second_elastic_ip_allocation_id='eipalloc-0123456789abcdef9', nodes[0].second_private_ip_address='', "
        "nodes[1].second_private_ip_address='', nodes[0].network_interface_id='')"
    )
    complete = {
        **values,
        "Node1SecondPrivateIpAddress": "10.0.1.30",
        "Node2SecondPrivateIpAddress": "10.0.2.31",
        "Node1NetworkInterfaceId": "eni-0123456789abcdef1",
        "Node1PrivateIpAddress": "10.0.1.20",
        "Node2NetworkInterfaceId": "eni-0123456789abcdef2",
        "Node2PrivateIpAddress": "10.0.2.21",
    }
    accepted = cdk_props.template_values(cdk_props.props_from_template_parameters(complete), _no_token)
    assert accepted["Node2SecondPrivateIpAddress"] == "10.0.2.31"


# -- the synthesized template against template.yaml (make cdk-test) ------------------------------------
@pytest.mark.parametrize("case", sorted(parity_cases()))
def test_the_synthesized_stack_grants_runs_and_schedules_what_the_template_does(case: str) -> None:
    values = parity_cases()[case]
    expected = surface(values)
    found = surface({}, synthesized()[case])
    assert differences(expected, found, "the CDK construct") == []
    assert found["identity"] and found["schedules"] and found["environment"]


def test_an_action_added_to_template_yaml_only_fails_the_parity(tmp_path: Path) -> None:
    marker = "            - Sid: PreflightReadsTheSchedule\n"
    original = TEMPLATE.read_text()
    assert original.count(marker) == 1
    added = "            - Sid: AddedForTheTest\n              Effect: Allow\n              Action: ec2:DescribeTags\n"
    mutated = tmp_path / "template.yaml"
    mutated.write_text(original.replace(marker, added + "              Resource: '*'\n" + marker))
    found = differences(surface(parity_cases()["instance-lean"], mutated), surface({}, synthesized()["instance-lean"]))
    assert found == [
        'identity ControlFunction: actual lacks statement {"Action": ["ec2:DescribeTags"], "Effect": "Allow", '
        '"Resource": ["*"]}'
    ]


# Properties SAM writes for a function that the template spells differently (CodeUri, Policies,
# Events, EventInvokeConfig): compared through the resources SAM generates from them instead.
_SAM_ONLY = {"CodeUri", "Policies", "Events", "EventInvokeConfig", "Role"}
_CDK_ONLY = {"Code", "Role", "Tags", "TracingConfig"}


def _resolved(stack: Any, resource: dict[str, Any], drop: set[str]) -> Any:
    resolver = stack_resolver(stack)
    properties = {k: v for k, v in (resource.get("Properties") or {}).items() if k not in drop}
    return json.loads(logical(json.dumps(_plain(resolver.resolve(properties)), sort_keys=True)))


def _plain(value: Any) -> Any:
    """Resolved, with scalars as CloudFormation passes them to a resource (a Number parameter's "30"
    and a literal 30 are the same property value)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return [_plain(v) for v in value if v is not NO_VALUE]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v is not NO_VALUE}
    return value


@pytest.mark.parametrize("case", sorted(parity_cases()))
def test_the_synthesized_stack_has_the_templates_resources_and_outputs(case: str) -> None:
    sam_template = StackTemplate(TEMPLATE)
    sam = deployed_stack(sam_template, parity_cases()[case])
    cdk_template = StackTemplate(synthesized()[case])
    cdk = deployed_stack(cdk_template, {})
    resolver = stack_resolver(sam)
    expected: dict[str, str] = {}
    for logical_id, resource in sam_template.resources.items():
        if not resolver.included(resource):
            continue
        expected[logical_id] = resource["Type"]
        if resource["Type"] == "AWS::Serverless::Function":
            expected[logical_id] = "AWS::Lambda::Function"
            if "EventInvokeConfig" in resource["Properties"]:
                expected[f"{logical_id}EventInvokeConfig"] = "AWS::Lambda::EventInvokeConfig"
            if "Role" not in resource["Properties"]:
                expected[f"{logical_id}Role"] = "AWS::IAM::Role"
            for event, spec in (resource["Properties"].get("Events") or {}).items():
                # What SAM generates for each: a schedule and its role, or a rule and its permission.
                if spec["Type"] == "EventBridgeRule":
                    expected[f"{logical_id}{event}"] = "AWS::Events::Rule"
                    expected[f"{logical_id}{event}Permission"] = "AWS::Lambda::Permission"
                else:
                    expected[f"{logical_id}{event}"] = "AWS::Scheduler::Schedule"
                    expected[f"{logical_id}{event}Role"] = "AWS::IAM::Role"
    found = {k: r["Type"] for k, r in cdk_template.resources.items()}
    assert found == expected
    for logical_id, resource in sam_template.resources.items():
        if logical_id not in found:
            continue
        theirs = cdk_template.resources[logical_id]
        for policy in ("DeletionPolicy", "UpdateReplacePolicy"):
            assert theirs.get(policy) == resource.get(policy), f"{logical_id}.{policy}"
        if resource["Type"] in FUNCTION_TYPES:
            want = _resolved(sam, resource, _SAM_ONLY)
            got = _resolved(cdk, theirs, _CDK_ONLY)
            tracing = want.pop("Tracing")
            assert (theirs["Properties"]["TracingConfig"]["Mode"]) == tracing, logical_id
        else:
            want, got = _resolved(sam, resource, set()), _resolved(cdk, theirs, set())
        assert got == want, logical_id
    outputs = {
        re.sub(r"^Failover(.*)[0-9A-F]{8}$", r"\1", name): _resolved(cdk, output, set())
        for name, output in (cdk_template.data.get("Outputs") or {}).items()
    }
    want_outputs = {
        name: _resolved(sam, output, set())
        for name, output in sam_template.data["Outputs"].items()
        if resolver.included(output)
    }
    assert outputs == want_outputs
