"""The Terraform module (terraform/) against template.yaml (issue #28): the same IAM statements per role
(actions, resources, conditions), the same resource policies, environments and schedules, for both pair
shapes x both profiles and for the optional parts (observers, VPC, endpoints); every parameter mirrored
by a variable with its default and its constraint; every output mirrored. Terraform itself does not
run here: terraform/*.tf is parsed with python-hcl2 and evaluated (nginx_eip_failover_lab.terraform.hcl).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from nginx_eip_failover_lab.iac_surface import VARIANTS, differences, surface, variant_parameters
from nginx_eip_failover_lab.stack.template import StackTemplate, TemplateError, find_template, validate_parameter
from nginx_eip_failover_lab.terraform.hcl import Evaluator, HclError, read_module
from nginx_eip_failover_lab.terraform.surface import (
    MODULE_ONLY_VARIABLES,
    SAM_MANAGED_POLICIES,
    find_module,
    module_evaluator,
    module_value,
    module_values,
    snake_case,
    terraform_surface,
    validation_errors,
)

# Template parameters the module does not mirror (none today): a parameter added to template.yaml
# without a variable fails test_every_parameter_has_a_variable until it is added here or there.
NOT_MIRRORED: frozenset[str] = frozenset()

# Beyond the four variants: the optional parts, every condition of the template the other way round.
EVERYTHING_ON = {
    "SubnetIds": "subnet-0123456789abcdef0,subnet-0123456789abcdef1",
    "SecurityGroupIds": "sg-0123456789abcdef0",
    "CreateVpcEndpoints": "true",
    "VpcId": "vpc-0123456789abcdef0",
    "RouteTableIds": "rtb-0123456789abcdef0",
    "RouteTableRoleArn": "arn:aws:iam::111122223333:role/route-mover",
    "RouteTableRoleExternalId": "nginx-eip-failover-ext",
    "Observer2SubnetId": "subnet-0123456789abcdef2",
    "Observer3SubnetId": "subnet-0123456789abcdef3",
    "EnableTracing": "true",
    "NotificationEmail": "ops@example.com",
    "MonitorReservedConcurrency": "5",
    "Preempt": "false",
    "HealthCheckIntervalSeconds": "0.5",
    "HealthCheckTimeoutSeconds": "0.25",
    "LogLevel": "DEBUG",
    "PreflightIntervalSeconds": "0",
    # Authenticated health checks (docs/health-auth.md): a token in SSM, a client certificate in
    # Secrets Manager, fleet secrets by tag.
    "HealthCheckAuthKind": "header",
    "HealthCheckAuthSecretArn": "arn:aws:ssm:us-east-1:123456789012:parameter/nginx/probe-token",
    "HealthCheckAuthHeaderName": "X-Api-Key",
    "HealthCheckAuthFailureIsDown": "true",
    "HealthCheckClientCertSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:probe-cert-AbCdEf",
    "FleetHealthCheckSecrets": "tagged",
}
# Found nodes (docs/found-nodes.md): node 1 in its own group, then one group of both nodes across AZs.
NODE1_BY_GROUP = {"Node1InstanceId": "", "Node1AutoScalingGroupName": "nginx-node1"}
ONE_GROUP = {
    "Node1InstanceId": "",
    "Node2InstanceId": "",
    "Node1AutoScalingGroupName": "nginx-pair",
    "Node2AutoScalingGroupName": "nginx-pair",
    "Node1AvailabilityZone": "us-east-1a",
    "Node2AvailabilityZone": "us-east-1b",
}
# Found by tags: node 2 alone (node 1 fixed), node 2 by tags beside node 1 by group, both by tags.
NODE2_BY_TAGS = {"Node2InstanceId": "", "Node2InstanceTags": "role=nginx-plus,pair=edge"}
TAGS_BESIDE_GROUP = {**NODE1_BY_GROUP, **NODE2_BY_TAGS}
BOTH_BY_TAGS = {**NODE2_BY_TAGS, "Node1InstanceId": "", "Node1InstanceTags": "role=nginx-plus,pair=edge-1"}
ONE_OBSERVER = {"SecurityGroupIds": "sg-0123456789abcdef0", "Observer3SubnetId": "subnet-0123456789abcdef3"}
# Active/active (docs/active-active.md): the second address set, on the pair by ENI only.
SECOND_ADDRESS_SET = {
    "SecondElasticIpAllocationId": "eipalloc-0a1b2c3d4e5f60720",
    "Node1SecondPrivateIpAddress": "10.0.1.30",
    "Node2SecondPrivateIpAddress": "10.0.2.31",
}
# Values that pass every validation (the documented example IDs are refused, as template.yaml's Rules do).
VALID = {
    "name": "nginx-eip-failover",
    "function_zip": "build/function.zip",
    "elastic_ip_allocation_id": "eipalloc-0a1b2c3d4e5f60718",
    "node1_instance_id": "i-0a1b2c3d4e5f60718",
    "node2_instance_id": "i-0a1b2c3d4e5f60719",
    "node1_health_check_url": "http://10.0.1.10:8080/health",
    "node2_health_check_url": "https://10.0.2.10/health",
}


@pytest.fixture(scope="module")
def template() -> StackTemplate:
    return StackTemplate(find_template())


def _parity(parameters: dict[str, str], template_path: Path | None = None, module: Path | None = None) -> list[str]:
    return differences(surface(parameters, template_path), terraform_surface(parameters, module), "terraform")


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_each_variant_grants_runs_and_schedules_what_the_template_does(variant: str) -> None:
    parameters = variant_parameters(variant)
    found = terraform_surface(parameters)
    assert found["identity"]["MonitorFunction"] and found["identity"]["ControlFunction"]
    assert found["schedules"]["MonitorFunctionEveryMinute"]["Function"] == "MonitorFunction"
    assert _parity(parameters) == []


@pytest.mark.parametrize("extra", [EVERYTHING_ON, ONE_OBSERVER], ids=["everything-on", "one-observer"])
@pytest.mark.parametrize("variant", ["instance-lean", "eni-full"])
def test_the_optional_parts_match_too(variant: str, extra: dict[str, str]) -> None:
    parameters = {**variant_parameters(variant), **extra}
    found = terraform_surface(parameters)
    observers = [f for f in found["environment"] if f.startswith("Observer")]
    assert observers == (
        ["Observer2Function", "Observer3Function"] if extra is EVERYTHING_ON else ["Observer3Function"]
    )
    # The observers run under the monitor's role, each started by its own schedule and role.
    for observer in observers:
        assert found["identity"][observer] == found["identity"]["MonitorFunction"]
        assert found["schedules"][f"{observer}EveryMinute"]["Function"] == observer
    assert _parity(parameters) == []


@pytest.mark.parametrize("variant", ["eni-lean", "eni-full"])
def test_the_second_address_set_matches_too(variant: str) -> None:
    parameters = {**variant_parameters(variant), **SECOND_ADDRESS_SET}
    found = terraform_surface(parameters)
    second_eip = "arn:aws:ec2:us-east-1:123456789012:elastic-ip/eipalloc-0a1b2c3d4e5f60720"
    for function in ("MonitorFunction", "ControlFunction"):
        assert any(second_eip in statement["Resource"] for statement in found["identity"][function]), function
        assert found["environment"][function]["SECOND_EIP_ALLOCATION_ID"] == "eipalloc-0a1b2c3d4e5f60720"
        assert found["environment"][function]["NODE2_SECOND_PRIVATE_IP_ADDRESS"] == "10.0.2.31"
    assert _parity(parameters) == []
    # Without the set, no statement names the second EIP.
    unset = terraform_surface(variant_parameters(variant))
    assert not any(second_eip in statement["Resource"] for statement in unset["identity"]["MonitorFunction"])


def test_a_route_table_role_is_assumed_only_when_set() -> None:
    role = EVERYTHING_ON["RouteTableRoleArn"]
    grant = {"Effect": "Allow", "Action": ["sts:AssumeRole"], "Resource": [role]}
    for extra, granted in (({}, False), (EVERYTHING_ON, True)):
        found = terraform_surface({**variant_parameters("instance-lean"), **extra})
        for function in ("MonitorFunction", "ControlFunction"):
            assumes = [s for s in found["identity"][function] if "sts:AssumeRole" in s["Action"]]
            assert assumes == ([grant] if granted else [])
            assert found["environment"][function]["ROUTE_TABLE_ROLE_ARN"] == (role if granted else "")


def test_the_external_id_pattern_is_the_templates_within_its_length(template: StackTemplate) -> None:
    # The module checks the length apart (RE2 repeats at most 1000 times): both must agree at the edges.
    module = read_module(find_module())
    role = {"route_table_role_arn": EVERYTHING_ON["RouteTableRoleArn"]}
    spec = template.parameters["RouteTableRoleExternalId"]
    for value, valid in (("a", False), ("ab", True), ("x" * 1224, True), ("x" * 1225, False), ("a b", False)):
        errors = validation_errors(module, {**VALID, **role, "route_table_role_external_id": value})
        assert (errors == []) is valid, (len(value), errors)
        if valid:
            validate_parameter("RouteTableRoleExternalId", spec, value)
        else:
            with pytest.raises(TemplateError):
                validate_parameter("RouteTableRoleExternalId", spec, value)


@pytest.mark.parametrize(
    "extra", [NODE1_BY_GROUP, ONE_GROUP, {**ONE_GROUP, **EVERYTHING_ON}], ids=["node1", "one-group", "everything"]
)
@pytest.mark.parametrize("variant", ["instance-lean", "eni-full"])
def test_found_nodes_match_too(variant: str, extra: dict[str, str]) -> None:
    parameters = {**variant_parameters(variant), **extra}
    found = terraform_surface(parameters)
    assert (
        found["environment"]["LifecycleFunction"]["NODE1_AUTO_SCALING_GROUP_NAME"] == extra["Node1AutoScalingGroupName"]
    )
    assert (
        found["environment"]["MonitorFunction"]["NODE1_AUTO_SCALING_GROUP_NAME"] == extra["Node1AutoScalingGroupName"]
    )
    # The lifecycle function is started by its rule only; its permission names that rule.
    (permission,) = found["resource_based"]["arn:aws:lambda:us-east-1:123456789012:function:${LifecycleFunction}"]
    assert permission["Principal"] == {"Service": ["events.amazonaws.com"]}
    assert _parity(parameters) == []


def test_without_found_nodes_nothing_of_theirs_is_deployed() -> None:
    module = read_module(find_module())
    evaluator = module_evaluator(module, variant_parameters("instance-lean"))
    found_nodes = [a for a in module.resources if "lifecycle" in a or "found_nodes" in a or "termina" in a]
    assert len(found_nodes) >= 12, found_nodes
    assert [a for a in found_nodes if evaluator.included(a)] == []
    assert (
        "NODE1_AUTO_SCALING_GROUP_NAME"
        not in terraform_surface(variant_parameters("instance-lean"))["environment"]["MonitorFunction"]
    )


@pytest.mark.parametrize(
    ("extra", "hooks"),
    [
        (NODE1_BY_GROUP, ["node1"]),
        (ONE_GROUP, ["node1"]),
        ({**NODE1_BY_GROUP, "Node2InstanceId": "", "Node2AutoScalingGroupName": "nginx-node2"}, ["node1", "node2"]),
    ],
)
def test_the_hooks_and_the_rule_are_the_templates(
    template: StackTemplate, extra: dict[str, str], hooks: list[str]
) -> None:
    parameters = {**variant_parameters("instance-lean"), **extra}
    module = read_module(find_module())
    evaluator = module_evaluator(module, parameters)
    present = [n for n in ("node1", "node2") if evaluator.included(f"aws_autoscaling_lifecycle_hook.{n}_termination")]
    assert present == hooks
    for node in present:
        block = module.resources[f"aws_autoscaling_lifecycle_hook.{node}_termination"]
        spec = template.resources[f"{node.capitalize()}TerminationHook"]["Properties"]
        assert evaluator.argument(block, "lifecycle_transition") == spec["LifecycleTransition"]
        assert evaluator.argument(block, "default_result") == spec["DefaultResult"]
        assert evaluator.argument(block, "heartbeat_timeout") == 120
        assert (
            evaluator.argument(block, "autoscaling_group_name")
            == parameters[f"{node.capitalize()}AutoScalingGroupName"]
        )
    rule = module.resources["aws_cloudwatch_event_rule.instance_terminating"]
    pattern = json.loads(evaluator.argument(rule, "event_pattern"))
    event = template.resources["LifecycleFunction"]["Properties"]["Events"]["InstanceTerminating"]["Properties"]
    assert pattern["source"] == event["Pattern"]["source"]
    assert pattern["detail-type"] == event["Pattern"]["detail-type"]
    groups = [
        parameters[f"Node{n}AutoScalingGroupName"] for n in (1, 2) if parameters.get(f"Node{n}AutoScalingGroupName")
    ]
    assert pattern["detail"]["AutoScalingGroupName"] == groups


def test_an_action_added_to_the_template_only_fails_parity(tmp_path: Path) -> None:
    original = find_template().read_text()
    marker = "                - ec2:DescribeRouteTables\n"
    assert original.count(marker) == 2  # the monitor's statement, then the control function's
    changed = tmp_path / "template.yaml"
    changed.write_text(original.replace(marker, marker + "                - ec2:DescribeTags\n", 1))
    parameters = variant_parameters("instance-lean")
    found = _parity(parameters, changed)
    assert found, "parity must fail when template.yaml grants an action the module does not"
    assert all(line.startswith("identity MonitorFunction: terraform ") for line in found), found
    assert any("lacks statement" in line and "ec2:DescribeTags" in line for line in found), found
    assert _parity(parameters) == []  # the unchanged template still matches


def test_an_action_added_to_the_module_only_fails_parity(tmp_path: Path) -> None:
    module = tmp_path / "terraform"
    shutil.copytree(find_module(), module)
    iam = module / "iam.tf"
    marker = 'Action   = ["dynamodb:BatchWriteItem", "dynamodb:Query"]'
    assert iam.read_text().count(marker) == 1
    iam.write_text(
        iam.read_text().replace(marker, 'Action   = ["dynamodb:BatchWriteItem", "dynamodb:Query", "dynamodb:Scan"]')
    )
    found = _parity(variant_parameters("eni-lean"), module=module)
    assert any(
        line.startswith("identity ControlFunction: terraform has extra statement") and "dynamodb:Scan" in line
        for line in found
    ), found


def test_a_changed_condition_or_resource_fails_parity(tmp_path: Path) -> None:
    module = tmp_path / "terraform"
    shutil.copytree(find_module(), module)
    iam = module / "iam.tf"
    text = iam.read_text()
    # The by-instance targets where the by-ENI ones belong: the ENI variants must notice.
    iam.write_text(text.replace("local.pair_by_network_interface ? [", "!local.pair_by_network_interface ? [", 1))
    found = _parity(variant_parameters("eni-full"), module=module)
    assert any("network-interface/eni-0123456789abcdef1" in line and "lacks statement" in line for line in found)
    iam.write_text(
        text.replace('"aws:ResourceTag/nginx-eip-failover" = var.name', '"aws:ResourceTag/owner" = var.name')
    )
    found = _parity(variant_parameters("instance-lean"), module=module)
    assert any("aws:ResourceTag/owner" in line for line in found)


def test_a_grant_by_a_resource_type_the_surface_does_not_read_is_refused(tmp_path: Path) -> None:
    module = tmp_path / "terraform"
    shutil.copytree(find_module(), module)
    (module / "extra.tf").write_text(
        'resource "aws_iam_role_policy_attachment" "monitor_admin" {\n'
        "  role       = aws_iam_role.monitor.name\n"
        '  policy_arn = "arn:aws:iam::aws:policy/AdministratorAccess"\n'
        "}\n"
        'resource "aws_iam_policy" "extra" {\n'
        '  policy = "{}"\n'
        "}\n"
    )
    with pytest.raises(HclError, match=r"local\.logical_ids names no logical ID for aws_iam_policy\.extra"):
        terraform_surface(variant_parameters("instance-lean"), module)
    main = module / "main.tf"
    main.write_text(
        main.read_text().replace(
            "  logical_ids = {\n",
            '  logical_ids = {\n    "aws_iam_policy.extra" = "Extra"\n'
            '    "aws_iam_role_policy_attachment.monitor_admin" = "MonitorFunctionRole"\n',
        )
    )
    with pytest.raises(HclError, match=r"does not know the resource type of aws_iam_policy\.extra"):
        terraform_surface(variant_parameters("instance-lean"), module)
    # A managed policy beyond SAM's shows in the surface, and test_managed_policies refuses it.
    (module / "extra.tf").write_text((module / "extra.tf").read_text().split('resource "aws_iam_policy"')[0])
    main.write_text(main.read_text().replace('    "aws_iam_policy.extra" = "Extra"\n', ""))
    managed = terraform_surface(variant_parameters("instance-lean"), module)["managed_policies"]
    assert "arn:aws:iam::aws:policy/AdministratorAccess" in managed["MonitorFunctionRole"]


@pytest.mark.parametrize(
    ("extra", "vpc", "xray"),
    [({}, False, False), (EVERYTHING_ON, True, True), (ONE_OBSERVER, True, False)],
    ids=["defaults", "everything-on", "one-observer"],
)
def test_managed_policies_are_the_ones_sam_attaches(extra: dict[str, str], vpc: bool, xray: bool) -> None:
    managed = terraform_surface({**variant_parameters("instance-lean"), **extra})["managed_policies"]
    assert set(managed) == {"MonitorFunctionRole", "ControlFunctionRole"}
    for role, arns in managed.items():
        assert set(arns) <= SAM_MANAGED_POLICIES, role
        assert "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole" in arns
        assert ("arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess" in arns) is xray
    # The observers run in a VPC even when the monitor does not: the shared role needs ENI rights then.
    assert (
        "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole" in managed["MonitorFunctionRole"]
    ) is vpc


def test_every_logical_id_is_the_templates_or_one_sam_generates(template: StackTemplate) -> None:
    module = read_module(find_module())
    names = module_evaluator(module, variant_parameters("instance-lean")).local("logical_ids")
    generated = set()
    for function, resource in template.of_type("AWS::Serverless::Function").items():
        generated.add(f"{function}Role")
        for event, spec in ((resource.get("Properties") or {}).get("Events") or {}).items():
            # A schedule and its role; an EventBridge rule and its permission.
            extra = "Permission" if spec.get("Type") == "EventBridgeRule" else "Role"
            generated |= {f"{function}{event}", f"{function}{event}{extra}"}
    assert set(names) == set(module.resources)
    assert set(names.values()) <= set(template.resources) | generated
    # Every resource of the template has its counterpart (SAM's generated ones come with their function).
    assert set(template.resources) <= set(names.values())


def test_every_parameter_has_a_variable_with_the_same_default(template: StackTemplate) -> None:
    module = read_module(find_module())
    mirrored = {snake_case(p): p for p in template.parameters if p not in NOT_MIRRORED}
    assert set(module.variables) - set(mirrored) == set(MODULE_ONLY_VARIABLES)
    missing = sorted(
        f"{variable} ({parameter})" for variable, parameter in mirrored.items() if variable not in module.variables
    )
    assert not missing, f"template parameters without a variable in terraform/variables.tf: {missing}"
    reader = Evaluator(module, {}, _NoReferences())
    for variable, parameter in mirrored.items():
        spec = template.parameters[parameter]
        block = module.variables[variable]
        if "Default" not in spec:
            assert "default" not in block.attributes, f"{variable} has a default; {parameter} has none"
            continue
        default = spec["Default"]
        expected = module_value(block, default if isinstance(default, str) else json.dumps(default))
        assert reader.var(variable) == expected, f"{variable}'s default differs from {parameter}'s {default!r}"


class _NoReferences:
    def data(self, address: str, attribute: str) -> Any:
        raise HclError(f"a default reads data.{address}")

    def resource(self, address: str, index: int | None, attribute: str) -> Any:
        raise HclError(f"a default reads {address}")


def test_every_output_mirrors_one_of_the_templates(template: StackTemplate) -> None:
    module = read_module(find_module())
    assert set(module.outputs) == {snake_case(name) for name in template.data["Outputs"]}


def test_the_valid_values_and_every_default_pass_every_validation() -> None:
    module = read_module(find_module())
    assert validation_errors(module, VALID) == []
    enis = {
        "node1_network_interface_id": "eni-0123456789abcdef1",
        "node1_private_ip_address": "10.0.1.20",
        "node2_network_interface_id": "eni-0123456789abcdef2",
        "node2_private_ip_address": "10.0.2.21",
    }
    assert validation_errors(module, {**VALID, **enis}) == []
    second = {
        "second_elastic_ip_allocation_id": "eipalloc-0a1b2c3d4e5f60720",
        "node1_second_private_ip_address": "10.0.1.30",
        "node2_second_private_ip_address": "10.0.2.31",
    }
    assert validation_errors(module, {**VALID, **enis, **second}) == []
    found_nodes = {"node1_instance_id": "", "node1_auto_scaling_group_name": "nginx-node1"}
    assert validation_errors(module, {**VALID, **found_nodes, "node1_availability_zone": "us-east-1a"}) == []
    everything = {**VALID, **module_values(module, EVERYTHING_ON)}
    assert validation_errors(module, everything) == []


# variable -> (a value the template's parameter refuses too, or None for a module-only variable).
REFUSED: dict[str, Any] = {
    "name": "1-starts-with-a-digit",
    "function_zip": ".aws-sam/build/MonitorFunction",
    "elastic_ip_allocation_id": "eip-0a1b2c3d",
    "node1_instance_id": "node-1",
    "node2_instance_id": "i-XYZ",
    "node1_health_check_url": "ftp://10.0.1.10/health",
    "node2_health_check_url": "10.0.2.10:8080",
    "node1_priority": 256,
    "node2_priority": -1,
    "node1_network_interface_id": "eni-xyz",
    "node1_private_ip_address": "10.0.1.256",
    "node2_network_interface_id": "interface-1",
    "node2_private_ip_address": "10.0.2",
    "second_elastic_ip_allocation_id": "eipalloc-XYZ",
    "route_table_role_arn": "arn:aws:iam::1111:role/route-mover",
    "route_table_role_external_id": "has space",
    "node1_second_private_ip_address": "10.0.1.300",
    "node2_second_private_ip_address": "10.0.2.31/32",
    "health_check_interval_seconds": "0",
    "health_check_timeout_seconds": "-1",
    "fall_threshold": 0,
    "rise_threshold": 101,
    "health_check_ca_bundle": "relative/ca.pem",
    "preempt_delay_seconds": 86401,
    "min_seconds_between_moves": -5,
    "flap_window_seconds": 100000,
    "flap_suppress_threshold": 0,
    "vpc_id": "vpc-1",
    "observer2_subnet_id": "sub-1",
    "observer3_subnet_id": "subnet-XYZ",
    "observer_heartbeat_seconds": 301,
    "notification_email": "ops at example.com",
    "log_level": "TRACE",
    "log_retention_in_days": 2,
    "decision_log_retention_days": 0,
    "observability_profile": "max",
    "monitor_reserved_concurrency": "five",
    "preflight_interval_seconds": 90000,
    "health_check_auth_kind": "bearer",
    "health_check_auth_secret_arn": "my-token",
    "health_check_auth_header_name": "X Key",
    "health_check_client_cert_secret_arn": "arn:aws:s3:::bucket/cert.pem",
    "fleet_health_check_secrets": "all",
    "fleet_found_nodes": "auto-scaling-groups",
    "node1_auto_scaling_group_name": "arn:aws:autoscaling:group",
    "node1_availability_zone": "west",
    "node2_auto_scaling_group_name": "a:b",
    "node2_availability_zone": "eu-west-1",
    "lifecycle_hook_timeout_seconds": 30,
    "node1_instance_tags": "role",
    "node2_instance_tags": "a=b=c",
}


# Variables whose only validations are template.yaml's Rules (test_the_templates_rules_are_validations).
RULES_ONLY = frozenset({"subnet_ids", "create_vpc_endpoints"})


def test_a_bad_value_is_refused_with_a_message_naming_the_variable_and_the_value(template: StackTemplate) -> None:
    module = read_module(find_module())
    validated = {name for name, block in module.variables.items() if block.nested("validation")}
    assert validated - RULES_ONLY <= set(REFUSED), f"give a refused value for {sorted(validated - set(REFUSED))}"
    by_variable = {snake_case(p): p for p in template.parameters}
    for variable, bad in REFUSED.items():
        values = {**VALID, variable: bad}
        if variable in ("node1_network_interface_id", "node2_network_interface_id"):
            values |= {"node1_private_ip_address": "10.0.1.20", "node2_private_ip_address": "10.0.2.21"}
            values |= {"node2_network_interface_id": "eni-0123456789abcdef2"} if variable.startswith("node1") else {}
            values |= {"node1_network_interface_id": "eni-0123456789abcdef1"} if variable.startswith("node2") else {}
        errors = validation_errors(module, values)
        shown = bad if isinstance(bad, str) else json.dumps(bad)
        assert any(variable in e and shown in e for e in errors), f"{variable}={bad!r}: {errors}"
        if variable in by_variable:  # the template refuses it too
            parameter = by_variable[variable]
            with pytest.raises(TemplateError):
                validate_parameter(parameter, template.parameters[parameter], shown)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"node1_network_interface_id": "eni-0123456789abcdef1"}, "needs all four"),
        ({"health_check_auth_kind": "header"}, "needs health_check_auth_secret_arn"),
        ({"subnet_ids": ["subnet-0123456789abcdef0"]}, "security_group_ids must be set when subnet_ids"),
        ({"observer2_subnet_id": "subnet-0123456789abcdef0"}, "security_group_ids must be set when an observer"),
        (
            {"create_vpc_endpoints": True, "subnet_ids": ["subnet-0123456789abcdef0"], "security_group_ids": ["sg-1"]},
            "create_vpc_endpoints = true needs",
        ),
        ({"second_elastic_ip_allocation_id": "eipalloc-0a1b2c3d4e5f60720"}, "the second EIP needs"),
        ({"route_table_role_external_id": "nginx-eip-failover-ext"}, "set without route_table_role_arn"),
        ({"node2_second_private_ip_address": "10.0.2.31"}, "the second EIP needs"),
        (
            {
                "second_elastic_ip_allocation_id": "eipalloc-0a1b2c3d4e5f60720",
                "node1_second_private_ip_address": "10.0.1.30",
                "node2_second_private_ip_address": "10.0.2.31",
            },
            "the second EIP needs",  # not on the pair by instance
        ),
        (
            {"node1_instance_id": ""},
            "node 1 needs node1_instance_id, node1_auto_scaling_group_name or node1_instance_tags",
        ),
        (
            {"node2_instance_id": ""},
            "node 2 needs node2_instance_id, node2_auto_scaling_group_name or node2_instance_tags",
        ),
        # Node*FoundByTagsAlone: a node is named one way; an ENI is refused for a found node.
        (
            {"node2_instance_id": "", "node2_instance_tags": "role=b", "node2_auto_scaling_group_name": "g"},
            'node2_instance_tags ("role=b") and node2_auto_scaling_group_name ("g") are both set',
        ),
        (
            {"node1_instance_tags": "role=a"},
            'node1_instance_tags ("role=a") and node1_instance_id ("i-0a1b2c3d4e5f60718")',
        ),
        (
            {
                "node2_instance_id": "",
                "node2_instance_tags": "role=b",
                "node1_network_interface_id": "eni-0123456789abcdef1",
                "node1_private_ip_address": "10.0.1.20",
                "node2_network_interface_id": "eni-0123456789abcdef2",
                "node2_private_ip_address": "10.0.2.21",
            },
            'node2_network_interface_id ("eni-0123456789abcdef2") must be empty for a node found by node2_instance_',
        ),
        ({"elastic_ip_allocation_id": "eipalloc-0123456789abcdef0"}, "documented example eipalloc-0123456789abcdef0"),
        ({"node1_instance_id": "i-0123456789abcdef1"}, "documented example i-0123456789abcdef1"),
        ({"node2_instance_id": "i-0123456789abcdef2"}, "documented example i-0123456789abcdef2"),
    ],
)
def test_the_templates_rules_are_validations(values: dict[str, Any], message: str) -> None:
    errors = validation_errors(read_module(find_module()), {**VALID, **values})
    assert any(message in e for e in errors), errors


def test_the_evaluator_refuses_what_it_does_not_support(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(
        'variable "x" {\n  type = string\n  default = "a"\n}\n'
        'locals {\n  upper = upper(var.x)\n  joined = join("-", [var.x, "b"])\n  missing = local.nowhere\n}\n'
    )
    module = read_module(tmp_path)
    evaluator = Evaluator(module, {}, _NoReferences())
    assert evaluator.local("joined") == "a-b"
    with pytest.raises(HclError, match=r"does not support the function upper\(\)"):
        evaluator.local("upper")
    with pytest.raises(HclError, match=r"local\.nowhere is not defined"):
        evaluator.local("missing")
    (tmp_path / "main.tf").write_text('resource "x" "y" {\n  a = [\n}\n')
    with pytest.raises(HclError, match=r"main\.tf does not parse"):
        read_module(tmp_path)


def test_the_example_calls_the_module_with_the_documented_values() -> None:
    import hcl2

    root = find_template().parent
    example = hcl2.loads((root / "examples" / "terraform" / "main.tf").read_text())
    (call,) = [block for block in example["module"] if '"nginx_eip_failover"' in block]
    arguments = {key for key in call['"nginx_eip_failover"'] if not key.startswith("__") and key != "source"}
    assert arguments <= set(read_module(find_module()).variables)
    tfvars = hcl2.loads((root / "examples" / "terraform" / "terraform.tfvars.example").read_text())
    documented = (root / "docs" / "deploy.md").read_text()
    values = {key: str(value).strip('"') for key, value in tfvars.items() if not key.startswith("__")}
    assert set(values) - {"region"} <= arguments
    for key, value in values.items():
        if key == "region":  # the example's own variable, not a parameter
            continue
        assert f"`{value}`" in documented, f"{key} = {value!r} is not docs/deploy.md's example value"


@pytest.mark.parametrize(
    "extra",
    [NODE2_BY_TAGS, TAGS_BESIDE_GROUP, BOTH_BY_TAGS, {**BOTH_BY_TAGS, **EVERYTHING_ON}],
    ids=["node2", "beside-a-group", "both", "everything"],
)
@pytest.mark.parametrize("variant", ["instance-lean", "instance-full"])
def test_nodes_found_by_tags_match_too(variant: str, extra: dict[str, str]) -> None:
    parameters = {**variant_parameters(variant), **extra}
    found = terraform_surface(parameters)
    assert found["environment"]["MonitorFunction"]["NODE2_INSTANCE_TAGS"] == extra["Node2InstanceTags"]
    assert found["environment"]["ControlFunction"]["NODE2_INSTANCE_TAGS"] == extra["Node2InstanceTags"]
    assert _parity(parameters) == []
    module = read_module(find_module())
    evaluator = module_evaluator(module, parameters)
    # A tag lookup needs no Auto Scaling: nothing of the groups' is deployed for tags alone.
    by_group = "Node1AutoScalingGroupName" in extra
    assert evaluator.included("aws_iam_role_policy.found_nodes_lookup_monitor") is by_group
    assert evaluator.included("aws_lambda_function.lifecycle") is by_group
    # Nor a status-check alarm: nothing names the instance at deploy time.
    assert evaluator.included("aws_cloudwatch_metric_alarm.node2_status_check") is False
    assert evaluator.included("aws_cloudwatch_metric_alarm.node1_status_check") is ("Node1InstanceTags" not in extra)
