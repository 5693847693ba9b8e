"""A `terraform test` file that has Terraform itself compare the module's IAM with template.yaml's.

    python -m nginx_eip_failover_lab.terraform.test_file OUT_DIR

copies terraform/*.tf to OUT_DIR and writes OUT_DIR/tests/parity.tftest.hcl: for each of iac_surface's
four variants, a plan under a mocked aws provider (no AWS, no credentials) whose assertions compare
every statement of the functions' and the schedule's role policies, the monitor's Lambda permissions
and (full profile) the key policy, the functions' environments and the schedule, as Terraform
evaluates them, with template.yaml's surface. The
mock gives each computed ARN the form iac_surface writes, its name the logical ID (bare: `_bare`), so
the two read alike.
`make terraform-validate` runs it where a terraform binary is installed; it is the check that the
evaluator of tests/iac/test_terraform_parity.py (terraform.hcl) reads the module as Terraform does.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

from nginx_eip_failover_lab.account import ACCOUNT_ID, REGION
from nginx_eip_failover_lab.iac_surface import VARIANTS, surface, variant_parameters

from .hcl import read_module
from .surface import LogicalNames, find_module, module_evaluator, module_values

# The module's validations refuse the documented example IDs (template.yaml's rule, which the lab's
# surface does not apply): the plans use these instead, on both sides.
PLAN_IDS = {
    "ElasticIpAllocationId": "eipalloc-0a1b2c3d4e5f60718",
    "Node1InstanceId": "i-0a1b2c3d4e5f60718",
    "Node2InstanceId": "i-0a1b2c3d4e5f60719",
}
# Each role policy of the module -> the owner iac_surface files its statements under (an owner's
# statements are those of all its policies a plan has).
ROLE_POLICIES = {
    "aws_iam_role_policy.monitor": "MonitorFunction",
    "aws_iam_role_policy.control": "ControlFunction",
    "aws_iam_role_policy.monitor_schedule": "MonitorFunctionEveryMinuteRole",
    "aws_iam_role_policy.found_nodes_lookup_monitor": "MonitorFunction",
    "aws_iam_role_policy.found_nodes_lookup_control": "ControlFunction",
    "aws_iam_role_policy.lifecycle": "LifecycleFunction",
}
LAMBDA_PERMISSIONS = (
    "aws_lambda_permission.node1_status_check_alarm",
    "aws_lambda_permission.node2_status_check_alarm",
    "aws_lambda_permission.instance_terminating",
)
# Beyond iac_surface's four variants: found nodes (one group of both nodes, in a VPC with endpoints; and
# node 2 by tags), where the lifecycle function, its rule's permission and the lookup policies are planned too.
EXTRA_RUNS = {
    "found_nodes": {
        **variant_parameters("instance-full"),
        **PLAN_IDS,
        "Node1InstanceId": "",
        "Node2InstanceId": "",
        "Node1AutoScalingGroupName": "nginx-pair",
        "Node2AutoScalingGroupName": "nginx-pair",
        "Node1AvailabilityZone": "us-east-1a",
        "Node2AvailabilityZone": "us-east-1b",
        "SubnetIds": "subnet-0123456789abcdef0",
        "SecurityGroupIds": "sg-0123456789abcdef0",
        "CreateVpcEndpoints": "true",
        "VpcId": "vpc-0123456789abcdef0",
        "RouteTableIds": "rtb-0123456789abcdef0",
    },
    # Node 2 found by tags beside node 1 in a group: node 2's alarm and its permission are not planned.
    "found_by_tags": {
        **variant_parameters("instance-full"),
        **PLAN_IDS,
        "Node1InstanceId": "",
        "Node2InstanceId": "",
        "Node1AutoScalingGroupName": "nginx-node1",
        "Node2InstanceTags": "role=nginx-plus,pair=edge",
    },
}
# Resources whose computed ARN a policy of the variants names: mocked as iac_surface writes them.
ARN_OVERRIDES = (
    "aws_dynamodb_table.state",
    "aws_dynamodb_table.decision_log",
    "aws_dynamodb_table.monitor_lease",
    "aws_sns_topic.notification",
    "aws_kms_key.notification",
    "aws_lambda_function.monitor",
    "aws_lambda_function.control",
    "aws_scheduler_schedule.monitor",
    "aws_cloudwatch_metric_alarm.node1_status_check",
    "aws_cloudwatch_metric_alarm.node2_status_check",
    "aws_cloudwatch_metric_alarm.monitor_not_running",
    "aws_cloudwatch_metric_alarm.monitor_errors",
    "aws_iam_role.monitor",
    "aws_iam_role.control",
    "aws_iam_role.monitor_schedule",
    "aws_iam_role.lifecycle",
    "aws_lambda_function.lifecycle",
    "aws_cloudwatch_event_rule.instance_terminating",
)
# Further computed attributes an environment names (SCHEDULE_NAME), mocked the same way.
NAME_OVERRIDES = ("aws_scheduler_schedule.monitor",)


def _bare(text: str) -> str:
    """`${MonitorFunction}` as `MonitorFunction`: the provider refuses `${}` in a function name or ARN
    it is given, so the mock's ARNs name the logical ID bare, and so do the expectations."""
    return re.sub(r"\$\{([A-Za-z0-9]+)\}", r"\1", text)


def _hcl(value: Any) -> str:
    """A JSON value as an HCL literal (a `${` left is escaped, so it stays text)."""
    return json.dumps(value).replace("${", "$${")


def _compact(statement: dict[str, Any]) -> str:
    # Terraform's jsonencode: no spaces, object keys in lexical order.
    return _bare(json.dumps(statement, sort_keys=True, separators=(",", ":")))


# One statement of a decoded policy, normalized as iac_surface writes it (no Sid; lists sorted).
_NORMALIZED = (
    "jsonencode(merge("
    "{{ Effect = s.Effect, Action = sort(flatten([s.Action])), Resource = sort(flatten([{resource}])) }}, "
    "{{ for k, c in {{ Condition = try(s.Condition, null) }} : k => "
    "{{ for op, block in c : op => {{ for key, v in block : key => sort(flatten([v])) }} }} if c != null }}, "
    "{{ for k, p in {{ Principal = try(s.Principal, null) }} : k => "
    "{{ for kind, v in p : kind => sort(flatten([v])) }} if p != null }}"
    "))"
)


def _set_assert(actual: str, expected: list[str], what: str) -> str:
    wanted = "[" + ", ".join(_hcl(s) for s in expected) + "]"
    what = what.replace("${", "$${")
    return (
        "  assert {\n"
        f"    condition     = toset({actual}) == toset({wanted})\n"
        f'    error_message = "{what}: Terraform has ${{jsonencode(setsubtract(toset({actual}), toset({wanted})))}}'
        f' beyond template.yaml, lacks ${{jsonencode(setsubtract(toset({wanted}), toset({actual})))}}"\n'
        "  }\n"
    )


def _environment_assert(function: str, variables: dict[str, str], module: Any, addresses: dict[str, str]) -> str:
    """The function's environment as template.yaml has it; a variable that is a table's name (`!Ref
    StateTable`) is the module's table's name, which the module sets (a mock cannot stand in for it)."""
    entries = []
    for key, value in sorted(variables.items()):
        ref = re.fullmatch(r"\$\{([A-Za-z0-9]+)\}", value)
        address = addresses.get(ref.group(1)) if ref else None
        if address is not None and "name" in module.resources[address].attributes:
            entries.append(f"{_hcl(key)} = {address}.name")
        else:
            entries.append(f"{_hcl(key)} = {_hcl(_bare(value))}")
    wanted = "{ " + ", ".join(entries) + " }"
    actual = f"{function}.environment[0].variables"
    return (
        "  assert {\n"
        f"    condition     = jsonencode({actual}) == jsonencode({wanted})\n"
        f"    error_message = \"{function}: Terraform's environment ${{jsonencode({actual})}} is not template.yaml's"
        f' ${{jsonencode({wanted})}}"\n'
        "  }"
    )


def _schedule_assert(schedule: str, wanted: dict[str, Any], addresses: dict[str, str]) -> str:
    function = addresses[str(wanted["Function"])]
    checks = {
        f"{schedule}.schedule_expression": _hcl(wanted["ScheduleExpression"]),
        f"{schedule}.state": _hcl(wanted["State"]),
        f"{schedule}.target[0].input": _hcl(wanted["Input"]),
        f"{schedule}.target[0].arn": f"{function}.arn",
    }
    condition = " && ".join(f"{actual} == {value}" for actual, value in checks.items())
    return (
        "  assert {\n"
        f"    condition     = {condition}\n"
        f'    error_message = "{schedule} is not template.yaml\'s {wanted["Function"]} schedule"\n'
        "  }"
    )


def parity_test_text(directory: Path | None = None) -> str:
    module = read_module(directory or find_module())
    lines = [
        "# Written by python -m nginx_eip_failover_lab.terraform.test_file (make terraform-validate): do not edit.",
        'mock_provider "aws" {',
        "  override_during = plan",
        "  override_data {\n    target = data.aws_caller_identity.current",
        f'    values = {{ account_id = "{ACCOUNT_ID}" }}\n  }}',
        f'  override_data {{\n    target = data.aws_region.current\n    values = {{ name = "{REGION}" }}\n  }}',
        '  override_data {\n    target = data.aws_partition.current\n    values = { partition = "aws" }\n  }',
        "}",
        "",
    ]
    evaluator = module_evaluator(module, {**variant_parameters("eni-full"), **PLAN_IDS})
    names = evaluator.references
    assert isinstance(names, LogicalNames)
    for address in ARN_OVERRIDES:
        index = 0 if evaluator.count(address) is not None else None
        mocked = {"arn": _bare(names.resource(address, index, "arn"))}
        if address in NAME_OVERRIDES:
            mocked["name"] = _bare(names.resource(address, index, "name"))
        overrides = ", ".join(f"{attribute} = {_hcl(value)}" for attribute, value in mocked.items())
        lines.append(
            f"override_resource {{\n  target          = {address}\n  override_during = plan\n"
            f"  values          = {{ {overrides} }}\n}}\n"
        )
    addresses = {
        logical: address
        for address, logical in sorted(names.logical.items(), reverse=True)
        if address.split(".")[0] in ("aws_lambda_function", "aws_dynamodb_table", "aws_scheduler_schedule")
    }
    runs = {variant.replace("-", "_"): {**variant_parameters(variant), **PLAN_IDS} for variant in sorted(VARIANTS)}
    for name, parameters in {**runs, **EXTRA_RUNS}.items():
        lines += [*_run(name, parameters, module, addresses), ""]
    return "\n".join(lines)


def _indexed(address: str, module: Any) -> str:
    """A resource's address as an expression: its one instance when it is counted."""
    return f"{address}[0]" if "count" in module.resources[address].attributes else address


def _run(name: str, parameters: dict[str, str], module: Any, addresses: dict[str, str]) -> list[str]:
    """One plan of the module with these parameters, asserting template.yaml's surface for them."""
    expected = surface(parameters)
    evaluator = module_evaluator(module, parameters)
    values = module_values(module, parameters)
    values.pop("function_zip")  # from the command line: -var function_zip=...
    run = [f'run "{name}" {{', "  command = plan", "  variables {"]
    run += [f"    {variable} = {_hcl(value)}" for variable, value in sorted(values.items())]
    run.append("  }")
    policies: dict[str, list[str]] = {}
    for address, owner in ROLE_POLICIES.items():
        if evaluator.included(address):
            policies.setdefault(owner, []).append(_indexed(address, module))
    if sorted(expected["identity"]) != sorted(policies):
        raise ValueError(f"{name}: template.yaml's roles {sorted(expected['identity'])} are not the ones compared")
    for owner, statements in sorted(expected["identity"].items()):
        documents = ", ".join(f"jsondecode({address}.policy)" for address in policies[owner])
        actual = (
            f"flatten([for d in [{documents}] : [for s in d.Statement : "
            + _NORMALIZED.format(resource="s.Resource")
            + "]])"
        )
        run.append(_set_assert(actual, [_compact(s) for s in statements], owner).rstrip("\n"))
    permissions: dict[str, list[str]] = {}
    for address in LAMBDA_PERMISSIONS:
        if evaluator.included(address):
            block = module.resources[address]
            function = str(evaluator.argument(block, "function_name"))
            p = _indexed(address, module)
            condition = f'ArnLike = {{ "aws:SourceArn" = [{p}.source_arn] }}'
            if "source_account" in block.attributes:
                condition += f', StringEquals = {{ "aws:SourceAccount" = [{p}.source_account] }}'
            permissions.setdefault(function, []).append(
                f"jsonencode({{ Action = [{p}.action], Condition = {{ {condition} }}, "
                f'Effect = "Allow", Principal = {{ Service = [{p}.principal] }}, Resource = [{p}.function_name] }})'
            )
    for arn, statements in expected["resource_based"].items():
        if arn.startswith("arn:aws:lambda:"):
            actual = "[" + ", ".join(permissions.get(arn, [])) + "]"
        elif arn.startswith("arn:aws:kms:"):
            key = "aws_kms_key.notification[0]"
            actual = (
                f"[for s in jsondecode({key}.policy).Statement : "
                + _NORMALIZED.format(resource=f's.Resource == "*" ? {key}.arn : s.Resource')
                + "]"
            )
        else:
            raise ValueError(f"no Terraform counterpart known for the resource policy of {arn}")
        run.append(_set_assert(actual, [_compact(s) for s in statements], f"the policy of {arn}").rstrip("\n"))
    for function, variables in expected["environment"].items():
        run.append(_environment_assert(_indexed(addresses[function], module), variables, module, addresses))
    for schedule, wanted in expected["schedules"].items():
        run.append(_schedule_assert(addresses[schedule], wanted, addresses))
    run.append("}")
    return run


def write(out: Path, directory: Path | None = None) -> Path:
    source = directory or find_module()
    if out.exists():
        shutil.rmtree(out)
    (out / "tests").mkdir(parents=True)
    for path in sorted(source.glob("*.tf")):
        shutil.copy2(path, out / path.name)
    target = out / "tests" / "parity.tftest.hcl"
    target.write_text(parity_test_text(source))
    return target


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m nginx_eip_failover_lab.terraform.test_file OUT_DIR", file=sys.stderr)
        return 2
    print(write(Path(argv[0])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
