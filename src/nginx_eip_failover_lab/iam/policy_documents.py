"""The template's IAM policies as the JSON documents a deployed stack has, for a policy linter.

    python -m nginx_eip_failover_lab.iam.policy_documents OUT_DIR

writes one document per role (each function's, and the role SAM generates for the schedule) and per
resource policy (the monitor's Lambda permissions, the notification key's policy), for both shapes
of the pair (by instance, and by ENI + private IP), resolved with example parameter values and the
ARNs CloudFormation would give (no AWS, no moto), and exits 1 when a statement grants a resource
that one of its actions is never authorized against (`resource_mismatches`, from the Service
Authorization Reference). `make iam-lint` then runs parliament on the documents.
"""

from __future__ import annotations

import fnmatch
import json
import re
import sys
from pathlib import Path
from typing import Any

from nginx_eip_failover_lab.account import ACCOUNT_ID, REGION
from nginx_eip_failover_lab.stack.intrinsics import Resolver
from nginx_eip_failover_lab.stack.provisioner import LabStack
from nginx_eip_failover_lab.stack.template import StackTemplate, find_template
from nginx_eip_failover_lab.stack.triggers import alarm_definitions

from .evaluation import Statement
from .policies import stack_policies
from .requests import privileges, resource_types

STACK_NAME = "nginx-eip-failover"
EXAMPLE_PARAMETERS = {
    "ElasticIpAllocationId": "eipalloc-0123456789abcdef0",
    "Node1InstanceId": "i-0123456789abcdef1",
    "Node2InstanceId": "i-0123456789abcdef2",
    "Node1HealthCheckUrl": "http://10.0.1.10:8080/health",
    "Node2HealthCheckUrl": "http://10.0.2.10:8080/health",
}
BY_NETWORK_INTERFACE = {
    "Node1NetworkInterfaceId": "eni-0123456789abcdef1",
    "Node1PrivateIpAddress": "10.0.1.20",
    "Node2NetworkInterfaceId": "eni-0123456789abcdef2",
    "Node2PrivateIpAddress": "10.0.2.21",
}
# What !Ref returns for resources whose reference is an ARN (the rest is a physical name).
_REF_IS_ARN = {"AWS::SNS::Topic": "arn:aws:sns:{region}:{account}:{name}"}
_ARN_ATTRIBUTES = {
    "AWS::DynamoDB::Table": "arn:aws:dynamodb:{region}:{account}:table/{name}",
    "AWS::KMS::Key": "arn:aws:kms:{region}:{account}:key/{name}",
    "AWS::Events::Rule": "arn:aws:events:{region}:{account}:rule/{name}",
}


def deployed_stack(template: StackTemplate, parameters: dict[str, str]) -> LabStack:
    """The stack as CloudFormation would name it, without creating anything."""
    resolver = Resolver(template, parameters, STACK_NAME)
    for logical_id, resource in template.resources.items():
        kind = str(resource.get("Type"))
        name = f"{STACK_NAME}-{logical_id}-EXAMPLE"
        if kind in _REF_IS_ARN:
            resolver.physical[logical_id] = _REF_IS_ARN[kind].format(region=REGION, account=ACCOUNT_ID, name=name)
        if kind in _ARN_ATTRIBUTES:
            resolver.physical[logical_id] = name
            arn = _ARN_ATTRIBUTES[kind].format(region=REGION, account=ACCOUNT_ID, name=name)
            resolver.attributes[(logical_id, "Arn")] = arn
    return LabStack(
        name=STACK_NAME,
        template=template,
        parameters=dict(parameters),
        physical_ids=dict(resolver.physical),
        function_env={},
        schedule_input={},
        alarms=alarm_definitions(template, resolver),
        attributes=dict(resolver.attributes),
    )


def _sid(statement: Statement) -> str:
    """The statement's Sid, or (a Lambda permission, SAM's generated role) its logical ID."""
    words = statement.source.split()
    chosen = words[-1] if len(words) > 1 and not words[1].startswith("(") else words[0]
    return re.sub(r"[^0-9A-Za-z]", "", chosen)


def _document(statements: tuple[Statement, ...], *, resource_policy: bool, this: str = "") -> dict[str, Any]:
    """A policy document; in a key policy, the key itself is written "*" as key policies say it."""
    rendered = []
    for statement in statements:
        raw: dict[str, Any] = {"Sid": _sid(statement), "Effect": statement.effect}
        if resource_policy and statement.principals is not None:
            raw["Principal"] = {kind: list(values) for kind, values in statement.principals.items()}
        raw["Action"] = list(statement.actions)
        raw["Resource"] = ["*" if this.startswith("arn:aws:kms:") and r == this else r for r in statement.resources]
        if statement.conditions:
            raw["Condition"] = {
                op: {k: list(v) for k, v in block.items()} for op, block in statement.conditions.items()
            }
        rendered.append(raw)
    return {"Version": "2012-10-17", "Statement": rendered}


# Both pair shapes and both observability profiles: the instance form in the default (lean) profile,
# the ENI form in the full one, whose customer managed key brings the key policy and the KMS grants.
FOUND_NODES = {  # docs/found-nodes.md: both nodes in Auto Scaling groups, the lifecycle function's role too
    "Node1InstanceId": "",
    "Node2InstanceId": "",
    "Node1AutoScalingGroupName": "nginx-plus-a",
    "Node2AutoScalingGroupName": "nginx-plus-b",
}
SHAPES: tuple[tuple[str, dict[str, str]], ...] = (
    ("by-instance", {}),
    ("by-eni", {**BY_NETWORK_INTERFACE, "ObservabilityProfile": "full"}),
    ("found-nodes", FOUND_NODES),
)


def write_documents(out: Path, template_path: Path | None = None) -> list[Path]:
    template = StackTemplate(template_path or find_template())
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for shape, extra in SHAPES:
        policies = stack_policies(deployed_stack(template, {**EXAMPLE_PARAMETERS, **extra}))
        documents = {f"role-{role}": (s, "") for role, s in policies.identity.items()}
        for arn, statements in policies.resource_based.items():
            service, name = arn.split(":")[2], arn.rsplit(":", 1)[-1].rsplit("/", 1)[-1]
            documents[f"resource-{service}-{name}"] = (statements, arn)
        for name, (statements, owner) in documents.items():
            document = _document(statements, resource_policy=bool(owner), this=owner)
            path = out / f"{shape}.{name}.json"
            path.write_text(json.dumps(document, indent=2) + "\n")
            written.append(path)
    return written


def resource_mismatches(template_path: Path | None = None) -> list[str]:
    """Grants of a resource no action of the statement is authorized against (parliament only checks
    that *some* resource of a statement fits each action; IAM would simply never use the others)."""
    template = StackTemplate(template_path or find_template())
    problems: list[str] = []
    for _, extra in SHAPES:
        policies = stack_policies(deployed_stack(template, {**EXAMPLE_PARAMETERS, **extra}))
        for statements in policies.identity.values():
            for statement in statements:
                for action in _expanded(statement.actions):
                    formats = [arn for arn, _ in resource_types(action).values()]
                    for resource in statement.resources:
                        if resource != "*" and not any(_fits(arn_format, resource) for arn_format in formats):
                            problems.append(f"{statement.source}: {action} is never authorized against {resource}")
    return sorted(set(problems))


def _expanded(actions: tuple[str, ...]) -> list[str]:
    """Actions with their wildcards expanded over the Service Authorization Reference."""
    found: list[str] = []
    for pattern in actions:
        prefix, _, name = pattern.partition(":")
        if "*" not in name and "?" not in name:
            found.append(pattern)
            continue
        for privilege in privileges(prefix):
            if fnmatch.fnmatchcase(privilege.lower(), name.lower()):
                found.append(f"{prefix}:{privilege}")
    return found


def _fits(arn_format: str, resource: str) -> bool:
    """Could `resource` (a grant, wildcards allowed) name a resource of this ARN format?"""
    pattern = re.escape(arn_format)
    pattern = re.sub(r"\\\$\\\{[^}]+\\\}", "[^:]*", pattern)  # each placeholder
    grant = resource.replace("*", "x")  # a wildcard stands for some identifier
    return re.fullmatch(pattern, grant) is not None


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m nginx_eip_failover_lab.iam.policy_documents OUT_DIR", file=sys.stderr)
        return 2
    for path in write_documents(Path(argv[0])):
        print(path)
    problems = resource_mismatches()
    for problem in problems:
        print(f"resource mismatch: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
