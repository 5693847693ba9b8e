"""What a deployment of the stack grants and runs, in a form another IaC tool's output can be compared
with: every IAM statement (identity and resource-based: effect, actions, resources, conditions,
principals), each function's environment and each schedule, for given parameter values.

    python -m nginx_eip_failover_lab.iac_surface [--eni] [--full] > surface.json

It is read from template.yaml at call time (nothing is restated here), so a parameter or statement
another change adds shows up at once. Physical names are written as `${LogicalId}`: a CDK construct
or a Terraform module names its resources differently, but must grant the same thing on the same
logical resource. The CDK and Terraform parity tests (issue #28) compare their output with this.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from .iam.evaluation import Statement
from .iam.policies import stack_policies, stack_resolver
from .iam.policy_documents import BY_NETWORK_INTERFACE, EXAMPLE_PARAMETERS, STACK_NAME, deployed_stack
from .stack.intrinsics import NO_VALUE
from .stack.template import FUNCTION_TYPES, StackTemplate, find_template

# deployed_stack names every resource f"{STACK_NAME}-{logical_id}-EXAMPLE"; the resolver makes up the
# rest as CloudFormation does, with a random 12-character suffix (physical_suffix).
_PHYSICAL = re.compile(re.escape(STACK_NAME) + r"-([A-Z][A-Za-z0-9]+)-(?:EXAMPLE|[A-Z0-9]{12})\b")

# The four deployments the parity tests cover: both pair shapes x both observability profiles.
VARIANTS: dict[str, dict[str, str]] = {
    "instance-lean": {},
    "instance-full": {"ObservabilityProfile": "full"},
    "eni-lean": dict(BY_NETWORK_INTERFACE),
    "eni-full": {**BY_NETWORK_INTERFACE, "ObservabilityProfile": "full"},
}


def logical(value: str) -> str:
    """A resolved string with each physical name written as its resource's `${LogicalId}`."""
    return _PHYSICAL.sub(lambda match: "${" + match.group(1) + "}", value)


def _statement(statement: Statement) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "Effect": statement.effect,
        "Action": sorted(statement.actions),
        "Resource": sorted(logical(r) for r in statement.resources),
    }
    if statement.not_actions:
        raw["NotAction"] = sorted(statement.not_actions)
    if statement.not_resources:
        raw["NotResource"] = sorted(logical(r) for r in statement.not_resources)
    if statement.principals is not None:
        raw["Principal"] = {kind: sorted(values) for kind, values in sorted(statement.principals.items())}
    if statement.conditions:
        raw["Condition"] = {
            op: {key: sorted(logical(v) for v in values) for key, values in sorted(block.items())}
            for op, block in sorted(statement.conditions.items())
        }
    return raw


def _statements(statements: tuple[Statement, ...]) -> list[dict[str, Any]]:
    # Order and Sids are not part of what a policy grants; the comparison is of the set.
    return sorted((_statement(s) for s in statements), key=lambda s: json.dumps(s, sort_keys=True))


def _plain(value: Any) -> Any:
    """A resolved value with physical names made logical; a value left unresolved fails loudly."""
    if isinstance(value, str):
        return logical(value)
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, list):
        return [_plain(item) for item in value if item is not NO_VALUE]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items() if item is not NO_VALUE}
    raise TypeError(f"unresolved value {value!r} in the surface")


def surface(parameters: dict[str, str], template_path: Path | None = None) -> dict[str, Any]:
    """IAM, environments and schedules of the stack deployed with these parameter values."""
    template = StackTemplate(template_path or find_template())
    stack = deployed_stack(template, parameters)
    policies = stack_policies(stack)
    resolver = stack_resolver(stack)
    environments: dict[str, Any] = {}
    schedules: dict[str, Any] = {}
    for logical_id, resource in sorted(template.of_type(*FUNCTION_TYPES).items()):
        if not resolver.included(resource):
            continue
        variables = resolver.resolve(template.raw_environment(logical_id))
        environments[logical_id] = _plain({k: v for k, v in variables.items() if v is not NO_VALUE})
        for name, event in sorted(((resource.get("Properties") or {}).get("Events") or {}).items()):
            if event.get("Type") not in ("ScheduleV2", "Schedule"):
                continue
            properties = resolver.resolve(event.get("Properties") or {})
            schedules[logical_id + name] = {
                "Function": logical_id,
                "ScheduleExpression": _plain(properties.get("ScheduleExpression")),
                "Input": _plain(properties.get("Input")),
                "State": _plain(properties.get("State", "ENABLED")),
            }
    for logical_id, (function, properties) in template.schedules().items():
        # The plain CloudFormation form (a CDK synth): the same schedule, by the same logical ID.
        if function not in environments or not resolver.included(template.resources[logical_id]):
            continue
        target = properties.get("Target") or {}
        schedules[logical_id] = {
            "Function": function,
            "ScheduleExpression": _plain(resolver.resolve(properties.get("ScheduleExpression"))),
            "Input": _plain(resolver.resolve(target.get("Input"))),
            "State": _plain(resolver.resolve(properties.get("State", "ENABLED"))),
        }
    return {
        "identity": {role: _statements(s) for role, s in sorted(policies.identity.items())},
        "resource_based": {logical(arn): _statements(s) for arn, s in sorted(policies.resource_based.items())},
        "environment": environments,
        "schedules": schedules,
    }


def differences(expected: dict[str, Any], actual: dict[str, Any], label: str = "actual") -> list[str]:
    """Where `actual` (a CDK synth's or a Terraform module's surface) differs from `expected`
    (template.yaml's), one line per missing or extra statement, variable or schedule, so a parity
    failure says what to add to the construct or module."""
    found: list[str] = []
    for section in ("identity", "resource_based"):
        want, got = expected.get(section, {}), actual.get(section, {})
        for owner in sorted(set(want) | set(got)):
            wanted = [json.dumps(s, sort_keys=True) for s in want.get(owner, [])]
            present = [json.dumps(s, sort_keys=True) for s in got.get(owner, [])]
            found += [f"{section} {owner}: {label} lacks statement {s}" for s in wanted if s not in present]
            found += [f"{section} {owner}: {label} has extra statement {s}" for s in present if s not in wanted]
    for section in ("environment", "schedules"):
        want, got = expected.get(section, {}), actual.get(section, {})
        for owner in sorted(set(want) | set(got)):
            if owner not in got:
                found.append(f"{section}: {label} lacks {owner}")
            elif owner not in want:
                found.append(f"{section}: {label} has extra {owner}")
            else:
                for key in sorted(set(want[owner]) | set(got[owner])):
                    if want[owner].get(key) != got[owner].get(key):
                        found.append(
                            f"{section} {owner}.{key}: template.yaml has {want[owner].get(key)!r}, "
                            f"{label} has {got[owner].get(key)!r}"
                        )
    return found


def variant_parameters(variant: str) -> dict[str, str]:
    if variant not in VARIANTS:
        raise ValueError(f"variant={variant!r} is not one of {sorted(VARIANTS)}")
    return {**EXAMPLE_PARAMETERS, **VARIANTS[variant]}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m nginx_eip_failover_lab.iac_surface")
    parser.add_argument("--variant", default="instance-lean", choices=sorted(VARIANTS))
    parser.add_argument("--template", type=Path, default=None)
    args = parser.parse_args(argv)
    json.dump(surface(variant_parameters(args.variant), args.template), sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
