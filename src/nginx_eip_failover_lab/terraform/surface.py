"""What the Terraform module (terraform/) grants, runs and schedules, in the form of `iac_surface`, for
given template.yaml parameter values: the other side of the Terraform parity test (issue #28).

    python -m nginx_eip_failover_lab.terraform.surface [--variant eni-full] [--check]

The module is parsed with python-hcl2 and evaluated by `hcl` (no Terraform, no provider,
no AWS). Each resource is named by template.yaml's logical ID through the module's own table,
`local.logical_ids`; a computed attribute (an ARN, a generated name) reads as `iac_surface` writes
CloudFormation's, with the physical name as `${LogicalId}` (`COMPUTED`). A resource type this file does
not know fails the reading, so a grant added by a new kind of resource cannot go unseen.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nginx_eip_failover_lab.account import ACCOUNT_ID, REGION
from nginx_eip_failover_lab.iac_surface import VARIANTS, _statements, differences, surface, variant_parameters
from nginx_eip_failover_lab.iam.evaluation import Statement
from nginx_eip_failover_lab.iam.policies import _permission_statement
from nginx_eip_failover_lab.iam.policy_documents import STACK_NAME
from nginx_eip_failover_lab.stack.template import find_template

from .hcl import Block, Evaluator, HclError, Module, read_module, to_string

PARTITION = "aws"
# The module's variables that are no template parameter, and the values the parity check gives them:
# `name` stands for the stack name; the package's path is not part of any surface.
MODULE_ONLY_VARIABLES = {"name": STACK_NAME, "function_zip": "build/function.zip"}

# The data sources' attributes the module reads (the lab's account and region, as iac_surface uses).
DATA = {
    ("aws_partition.current", "partition"): PARTITION,
    ("aws_region.current", "name"): REGION,
    ("aws_caller_identity.current", "account_id"): ACCOUNT_ID,
}

# (resource type, attribute) -> what the attribute reads; {name} is the resource's physical name,
# `${LogicalId}` (the template leaves it to CloudFormation) unless NAMED_BY_ARGUMENT says otherwise.
# The ARN formats are the providers' (and CloudFormation's) documented ones.
COMPUTED: dict[tuple[str, str], str] = {
    ("aws_dynamodb_table", "name"): "{name}",
    ("aws_dynamodb_table", "arn"): "arn:{partition}:dynamodb:{region}:{account}:table/{name}",
    ("aws_sns_topic", "arn"): "arn:{partition}:sns:{region}:{account}:{name}",
    ("aws_kms_key", "arn"): "arn:{partition}:kms:{region}:{account}:key/{name}",
    ("aws_kms_key", "key_id"): "{name}",
    ("aws_lambda_function", "arn"): "arn:{partition}:lambda:{region}:{account}:function:{name}",
    ("aws_lambda_function", "function_name"): "{name}",
    ("aws_scheduler_schedule", "arn"): "arn:{partition}:scheduler:{region}:{account}:schedule/default/{name}",
    ("aws_scheduler_schedule", "name"): "{name}",
    ("aws_cloudwatch_metric_alarm", "arn"): "arn:{partition}:cloudwatch:{region}:{account}:alarm:{name}",
    ("aws_cloudwatch_metric_alarm", "alarm_name"): "{name}",
    ("aws_cloudwatch_dashboard", "dashboard_name"): "{name}",
    ("aws_cloudwatch_log_group", "name"): "{name}",
    ("aws_iam_role", "arn"): "arn:{partition}:iam::{account}:role/{name}",
    ("aws_iam_role", "id"): "{name}",
    ("aws_iam_role", "name"): "{name}",
    ("aws_security_group", "id"): "{name}",
    ("aws_cloudwatch_event_rule", "arn"): "arn:{partition}:events:{region}:{account}:rule/{name}",
    ("aws_cloudwatch_event_rule", "name"): "{name}",
}
# Resources whose name template.yaml sets too (AlarmName, DashboardName): their name is compared as set.
NAMED_BY_ARGUMENT = {"aws_cloudwatch_metric_alarm": "alarm_name", "aws_cloudwatch_dashboard": "dashboard_name"}

# Resource types that grant nothing (no policy argument is read from them), and the arguments that
# would make one grant something, refused when set.
PLAIN_TYPES: dict[str, tuple[str, ...]] = {
    "aws_dynamodb_table": (),
    "aws_kms_alias": (),
    "aws_sns_topic": ("policy", "delivery_policy"),
    "aws_sns_topic_subscription": (),
    "aws_cloudwatch_log_group": (),
    "aws_iam_role": ("inline_policy", "managed_policy_arns", "permissions_boundary"),
    "aws_lambda_function": (),
    "aws_lambda_function_event_invoke_config": ("destination_config",),
    "aws_scheduler_schedule": ("group_name",),
    "aws_cloudwatch_metric_alarm": (),
    "aws_cloudwatch_dashboard": (),
    "aws_security_group": (),
    "aws_vpc_endpoint": ("policy",),
    "aws_cloudwatch_event_rule": ("role_arn",),
    "aws_cloudwatch_event_target": ("role_arn",),
    "aws_autoscaling_lifecycle_hook": ("role_arn", "notification_target_arn"),
}
GRANTING_TYPES = ("aws_iam_role_policy", "aws_iam_role_policy_attachment", "aws_lambda_permission", "aws_kms_key")

# What SAM attaches to a function's generated role, which the module attaches too (policies.py does
# not list them: the runtime uses them, the functions' code does not). Anything else is refused.
SAM_MANAGED_POLICIES = frozenset(
    {
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
        "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
        "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
    }
)


def find_module(template: Path | None = None) -> Path:
    """terraform/ beside template.yaml."""
    return (template or find_template()).parent / "terraform"


def snake_case(name: str) -> str:
    """A template parameter's or output's name as the module's: Node1InstanceId -> node1_instance_id."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def type_name(block: Block) -> str:
    """A variable's type constraint as written (string, number, bool, list(string))."""
    tree = block.attributes.get("type")
    if tree is None:
        return "any"
    return re.sub(r"\s+", "", "".join(str(token) for token in tree.scan_values(lambda _: True)))


def module_value(block: Block, value: str) -> Any:
    """A template parameter's value (always a string to CloudFormation) as the module's variable takes it."""
    kind = type_name(block)
    if kind == "string":
        return value
    if kind == "number":
        number = float(value)
        return int(number) if number.is_integer() else number
    if kind == "bool":
        if value not in ("true", "false"):
            raise HclError(f"{block.labels[0]} is a bool; the parameter's value {value!r} is not true or false")
        return value == "true"
    if kind == "list(string)":
        return [item.strip() for item in value.split(",")] if value else []
    raise HclError(f"variable {block.labels[0]} has type {kind}, which no template parameter maps to")


def module_values(module: Module, parameters: Mapping[str, str]) -> dict[str, Any]:
    """The module's variable values for these template parameter values (the rest keep their defaults)."""
    values: dict[str, Any] = dict(MODULE_ONLY_VARIABLES)
    for parameter, value in parameters.items():
        variable = snake_case(parameter)
        if variable not in module.variables:
            raise HclError(f"template parameter {parameter} has no variable {variable} in the module")
        values[variable] = module_value(module.variables[variable], value)
    return values


class LogicalNames:
    """References as the surface reads them: computed attributes by logical ID, the rest as set."""

    def __init__(self, module: Module) -> None:
        self.module = module
        self.logical: dict[str, str] = {}
        self.evaluator: Evaluator | None = None

    def data(self, address: str, attribute: str) -> Any:
        if (address, attribute) not in DATA:
            raise HclError(f"data.{address}.{attribute} is not one the surface knows ({sorted(DATA)})")
        return DATA[(address, attribute)]

    def resource(self, address: str, index: int | None, attribute: str) -> Any:
        assert self.evaluator is not None
        kind = address.split(".")[0]
        block = self.module.resources[address]
        if (kind, attribute) in COMPUTED:
            if kind in NAMED_BY_ARGUMENT:
                name = to_string(self.evaluator.argument(block, NAMED_BY_ARGUMENT[kind]))
            else:
                name = "${" + self.logical[address] + "}"
            return COMPUTED[(kind, attribute)].format(name=name, partition=PARTITION, region=REGION, account=ACCOUNT_ID)
        if attribute in block.attributes:
            return self.evaluator.eval(block.attributes[attribute])
        raise HclError(f"{address}.{attribute}: not an attribute the surface knows (COMPUTED) nor an argument set")


def module_evaluator(module: Module, parameters: Mapping[str, str]) -> Evaluator:
    names = LogicalNames(module)
    evaluator = Evaluator(module, module_values(module, parameters), names)
    names.evaluator = evaluator
    table = evaluator.local("logical_ids")
    names.logical = {str(k): str(v) for k, v in dict(table).items()}
    missing = sorted(set(module.resources) - set(names.logical))
    if missing:
        raise HclError(f"local.logical_ids names no logical ID for {', '.join(missing)}")
    unknown = sorted(
        address
        for address in module.resources
        if address.split(".")[0] not in PLAIN_TYPES and address.split(".")[0] not in GRANTING_TYPES
    )
    if unknown:
        raise HclError(f"the surface does not know the resource type of {', '.join(unknown)}")
    for address, block in module.resources.items():
        refused = [a for a in PLAIN_TYPES.get(address.split(".")[0], ()) if a in block.attributes or block.nested(a)]
        if refused:
            raise HclError(f"{address} sets {', '.join(refused)}, which the surface does not read")
    return evaluator


def _logical_of(value: str, what: str) -> str:
    match = re.search(r"\$\{([A-Za-z0-9]+)\}$", value)
    if match is None:
        raise HclError(f"{what} is {value!r}, not a resource of the module")
    return match.group(1)


def _document(text: Any, where: str) -> list[dict[str, Any]]:
    document = json.loads(text) if isinstance(text, str) else text
    statements = document.get("Statement") if isinstance(document, dict) else None
    if statements is None:
        raise HclError(f"{where}: the policy has no Statement")
    return list(statements) if isinstance(statements, list) else [statements]


def terraform_surface(parameters: Mapping[str, str], directory: Path | None = None) -> dict[str, Any]:
    """IAM, environments and schedules of the module applied with these template parameter values."""
    module = read_module(directory or find_module())
    evaluator = module_evaluator(module, parameters)
    names = evaluator.references
    assert isinstance(names, LogicalNames)
    included = sorted(address for address in module.resources if evaluator.included(address))

    def of_type(kind: str) -> list[tuple[str, Block]]:
        return [(a, module.resources[a]) for a in included if a.split(".")[0] == kind]

    role_statements: dict[str, list[Statement]] = {}
    for address, block in of_type("aws_iam_role_policy"):
        role = _logical_of(to_string(evaluator.argument(block, "role")), f"{address}.role")
        for raw in _document(evaluator.argument(block, "policy"), address):
            role_statements.setdefault(role, []).append(Statement.parse(address, raw))
    managed: dict[str, list[str]] = {}
    for address, block in of_type("aws_iam_role_policy_attachment"):
        role = _logical_of(to_string(evaluator.argument(block, "role")), f"{address}.role")
        managed.setdefault(role, []).append(to_string(evaluator.argument(block, "policy_arn")))

    identity: dict[str, list[Statement]] = {}
    function_arns: dict[str, str] = {}
    environments: dict[str, Any] = {}
    roles_of_functions: set[str] = set()
    for address, block in of_type("aws_lambda_function"):
        function = names.logical[address]
        function_arns[names.resource(address, None, "arn")] = function
        role = _logical_of(to_string(evaluator.argument(block, "role")), f"{address}.role")
        roles_of_functions.add(role)
        identity[function] = role_statements.get(role, [])
        variables: dict[str, Any] = {}
        for environment in block.nested("environment"):
            variables.update(evaluator.argument(environment, "variables", {}))
        # A map(string) converts every primitive to its string, as Terraform does.
        environments[function] = {key: to_string(value) for key, value in variables.items()}
    for role, statements in role_statements.items():
        if role not in roles_of_functions:
            identity[role] = statements

    resource_based: dict[str, list[Statement]] = {}
    for address, block in of_type("aws_lambda_permission"):
        target = to_string(evaluator.argument(block, "function_name"))
        arn = target if target.startswith("arn:") else f"arn:{PARTITION}:lambda:{REGION}:{ACCOUNT_ID}:function:{target}"
        properties = {
            "Action": evaluator.argument(block, "action"),
            "Principal": evaluator.argument(block, "principal"),
            "SourceArn": evaluator.argument(block, "source_arn"),
            "SourceAccount": evaluator.argument(block, "source_account"),
        }
        resource_based.setdefault(arn, []).append(_permission_statement(names.logical[address], properties, arn))
    for address, block in of_type("aws_kms_key"):
        key_arn = names.resource(address, 0 if evaluator.count(address) is not None else None, "arn")
        for raw in _document(evaluator.argument(block, "policy"), address):
            # In a key policy "*" means this key.
            raw = {**raw, "Resource": key_arn if raw.get("Resource") == "*" else raw.get("Resource")}
            resource_based.setdefault(key_arn, []).append(Statement.parse(address, raw))

    schedules: dict[str, Any] = {}
    for address, block in of_type("aws_scheduler_schedule"):
        (target_block,) = block.nested("target")
        arn = to_string(evaluator.argument(target_block, "arn"))
        if arn not in function_arns:
            raise HclError(f"{address} targets {arn}, which is no function of the module")
        schedules[names.logical[address]] = {
            "Function": function_arns[arn],
            "ScheduleExpression": evaluator.argument(block, "schedule_expression"),
            "Input": evaluator.argument(target_block, "input"),
            "State": evaluator.argument(block, "state", "ENABLED"),
        }

    return {
        "identity": {owner: _statements(tuple(s)) for owner, s in sorted(identity.items())},
        "resource_based": {arn: _statements(tuple(s)) for arn, s in sorted(resource_based.items())},
        "environment": dict(sorted(environments.items())),
        "schedules": dict(sorted(schedules.items())),
        "managed_policies": {role: sorted(arns) for role, arns in sorted(managed.items())},
    }


def validation_errors(module: Module, values: Mapping[str, Any]) -> list[str]:
    """The error messages of the module's variable validations that these values fail."""
    evaluator = Evaluator(module, values, LogicalNames(module))
    found: list[str] = []
    for _, block in sorted(module.variables.items()):
        for validation in block.nested("validation"):
            if evaluator.argument(validation, "condition") is not True:
                found.append(to_string(evaluator.argument(validation, "error_message")))
    return found


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m nginx_eip_failover_lab.terraform.surface")
    parser.add_argument("--variant", default="instance-lean", choices=sorted(VARIANTS))
    parser.add_argument("--module", type=Path, default=None, help="the module's directory (default: terraform/)")
    parser.add_argument("--check", action="store_true", help="compare with template.yaml's; exit 1 on a difference")
    args = parser.parse_args(argv)
    parameters = variant_parameters(args.variant)
    found = terraform_surface(parameters, args.module)
    if not args.check:
        json.dump(found, sys.stdout, indent=2, sort_keys=True)
        sys.stdout.write("\n")
        return 0
    problems = differences(surface(parameters), found, "terraform")
    for problem in problems:
        print(problem)
    print(f"{args.variant}: {len(problems)} differences between template.yaml and terraform/")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
