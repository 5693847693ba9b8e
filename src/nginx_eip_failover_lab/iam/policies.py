"""The stack's IAM policies as deployed, read from template.yaml and resolved with the lab's names.

- Identity policies: each function's role (SAM's `Policies` inline statements), and the role SAM
  generates for a `ScheduleV2` event without a `RoleArn` (SAM documents it: `lambda:InvokeFunction`
  on the target function, trusted by scheduler.amazonaws.com).
- The same in plain CloudFormation (a CDK synth, tests/iac/test_cdk_parity.py): each function's
  AWS::IAM::Role (its inline policies and the AWS::IAM::Policy resources attached to it), and each
  AWS::Scheduler::Schedule's role, named by its logical ID as SAM names the one it generates.
- Resource-based policies: each function's `AWS::Lambda::Permission`s (as Lambda writes them in
  the function's policy: the principal, `aws:SourceArn` as ArnLike and `aws:SourceAccount` as
  StringEquals), the one SAM generates for an `EventBridgeRule` event (`<Function><Event>Permission`:
  events.amazonaws.com from that rule), and each KMS key's `KeyPolicy` (its `Resource: "*"` is the key
  itself).

SAM's managed AWSLambdaBasicExecutionRole (CloudWatch Logs for the runtime) is not listed: the
functions' code makes no Logs API call, Lambda's runtime writes the logs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nginx_eip_failover_lab.account import ACCOUNT_ID, REGION
from nginx_eip_failover_lab.stack.intrinsics import Resolver
from nginx_eip_failover_lab.stack.provisioner import LabStack
from nginx_eip_failover_lab.stack.template import FUNCTION_TYPES, MONITOR_FUNCTION, TemplateError

from .evaluation import Decision, Statement, evaluate

LAMBDA_ALARM_PRINCIPAL = "lambda.alarms.cloudwatch.amazonaws.com"
CLOUDWATCH_PRINCIPAL = "cloudwatch.amazonaws.com"
ACCOUNT_ROOT = f"arn:aws:iam::{ACCOUNT_ID}:root"


@dataclass(frozen=True)
class StackPolicies:
    identity: Mapping[str, tuple[Statement, ...]]  # role owner (function or generated role) -> statements
    resource_based: Mapping[str, tuple[Statement, ...]]  # resource ARN -> its policy's statements
    function_arns: Mapping[str, str]  # function logical ID -> ARN

    def of(self, principal: str) -> tuple[Statement, ...]:
        return self.identity.get(principal, ())

    def with_identity(self, principal: str, statements: tuple[Statement, ...]) -> StackPolicies:
        """A copy with one principal's statements replaced (tests break a grant on purpose)."""
        return StackPolicies({**self.identity, principal: statements}, self.resource_based, self.function_arns)


def stack_resolver(stack: LabStack) -> Resolver:
    """A resolver that gives every !Ref and !GetAtt the value the lab's stack has."""
    resolver = Resolver(stack.template, stack.parameters, stack.name)
    resolver.pseudo["AWS::StackName"] = stack.name
    resolver.physical.update(stack.physical_ids)
    resolver.attributes.update(stack.attributes)
    for alarm in stack.alarms:
        resolver.attributes[(alarm.logical_id, "Arn")] = alarm.arn
    for logical_id, (_, event) in _schedule_events(stack).items():
        group = str((event.get("Properties") or {}).get("GroupName") or "default")
        arn = f"arn:aws:scheduler:{REGION}:{ACCOUNT_ID}:schedule/{group}/{resolver.ref(logical_id)}"
        resolver.attributes[(logical_id, "Arn")] = arn
    for logical_id, (_, properties) in stack.template.schedules().items():
        group = str(properties.get("GroupName") or "default")
        name = properties.get("Name") or resolver.ref(logical_id)
        resolver.attributes[(logical_id, "Arn")] = f"arn:aws:scheduler:{REGION}:{ACCOUNT_ID}:schedule/{group}/{name}"
    return resolver


def _schedule_events(stack: LabStack) -> dict[str, tuple[str, dict[str, Any]]]:
    """SAM's logical ID of each ScheduleV2 event's schedule -> (its function, the event)."""
    found = {}
    for function, resource in stack.template.of_type("AWS::Serverless::Function").items():
        for name, event in ((resource.get("Properties") or {}).get("Events") or {}).items():
            if event.get("Type") == "ScheduleV2":
                found[function + name] = (function, event)
    return found


def stack_policies(stack: LabStack) -> StackPolicies:
    resolver = stack_resolver(stack)
    identity: dict[str, tuple[Statement, ...]] = {}
    function_arns: dict[str, str] = {}
    for logical_id, resource in stack.template.of_type(*FUNCTION_TYPES).items():
        if not resolver.included(resource):
            continue
        function_arns[logical_id] = str(resolver.get_att(logical_id, "Arn"))
        if resource.get("Type") == "AWS::Lambda::Function":
            identity[logical_id] = _role_statements(_role_of(resource), stack, resolver)
        else:
            identity[logical_id] = _function_statements(logical_id, resource, resolver)
    for logical_id, resource in stack.template.of_type("AWS::IAM::Policy").items():
        # A policy of its own attached to SAM-generated roles (`Roles: [!Ref MonitorFunctionRole]`),
        # e.g. the found nodes' lookup: its statements are that function's too.
        if not resolver.included(resource):
            continue
        properties = resource.get("Properties") or {}
        document = resolver.resolve(properties.get("PolicyDocument") or {})
        raw_statements = document.get("Statement") or []
        for role in properties.get("Roles") or []:
            owner = str(role.get("Ref", "")) if isinstance(role, dict) else ""
            if owner in stack.template.resources:
                continue  # a role of the template's own (a CDK synth): _role_statements read it
            if owner.endswith("Role") and owner[: -len("Role")] in identity:
                function = owner[: -len("Role")]
                identity[function] = (
                    *identity[function],
                    *(
                        Statement.parse(logical_id, raw)
                        for raw in (raw_statements if isinstance(raw_statements, list) else [raw_statements])
                    ),
                )
    for logical_id, resource in stack.template.of_type(*FUNCTION_TYPES).items():
        # A function that runs under another function's SAM-generated role (the observers use the
        # monitor's: `Role: !GetAtt MonitorFunctionRole.Arn`) has that function's statements.
        role = (resource.get("Properties") or {}).get("Role")
        target = role.get("Fn::GetAtt") if isinstance(role, dict) else None
        if logical_id in identity and isinstance(target, list) and str(target[0]).endswith("Role"):
            owner = str(target[0])[: -len("Role")]
            identity[logical_id] = identity.get(owner, ())
    for logical_id, (function, event) in _schedule_events(stack).items():
        if function not in function_arns:
            continue  # the function is not in this stack (its condition is false)
        if (event.get("Properties") or {}).get("RoleArn") is not None:
            continue  # the template brings its own role: its AWS::IAM::Role would be read here
        role = f"{logical_id}Role"
        identity[role] = (
            Statement(
                source=f"{role} (generated by SAM for the ScheduleV2 event)",
                effect="Allow",
                actions=("lambda:InvokeFunction",),
                resources=(function_arns[function],),
            ),
        )
    for logical_id, (function, properties) in stack.template.schedules().items():
        if function not in function_arns or not resolver.included(stack.template.resources[logical_id]):
            continue
        role = _role_of({"Properties": {"Role": (properties.get("Target") or {}).get("RoleArn")}})
        identity[role] = _role_statements(role, stack, resolver)
    resource_based: dict[str, list[Statement]] = {}
    for logical_id, resource in stack.template.of_type("AWS::Lambda::Permission").items():
        if not resolver.included(resource):
            continue
        properties = resolver.resolve(resource.get("Properties") or {})
        function = str(properties["FunctionName"])
        arn = function if function.startswith("arn:") else f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{function}"
        resource_based.setdefault(arn, []).append(_permission_statement(logical_id, properties, arn))
    for (target, event_name), rule_arn in _event_bridge_rules(stack).items():
        # SAM's EventBridgeRule event: a rule {Function}{Event} and the permission {Function}{Event}Permission.
        if target in function_arns:
            rule = {"Action": "lambda:InvokeFunction", "Principal": "events.amazonaws.com", "SourceArn": rule_arn}
            target_arn = function_arns[target]
            resource_based.setdefault(target_arn, []).append(
                _permission_statement(f"{target}{event_name}Permission", rule, target_arn)
            )
    for logical_id, resource in stack.template.of_type("AWS::KMS::Key").items():
        if not resolver.included(resource):
            continue
        properties = resolver.resolve(resource.get("Properties") or {})
        key_arn = str(resolver.get_att(logical_id, "Arn"))
        for index, raw in enumerate((properties.get("KeyPolicy") or {}).get("Statement") or []):
            # In a key policy "*" means this key.
            raw = {**raw, "Resource": key_arn if raw.get("Resource") == "*" else raw.get("Resource")}
            resource_based.setdefault(key_arn, []).append(Statement.parse(f"{logical_id} KeyPolicy[{index}]", raw))
    return StackPolicies(identity, {arn: tuple(items) for arn, items in resource_based.items()}, function_arns)


def _function_statements(logical_id: str, resource: Mapping[str, Any], resolver: Resolver) -> tuple[Statement, ...]:
    policies = (resource.get("Properties") or {}).get("Policies") or []
    if not isinstance(policies, list):
        policies = [policies]
    statements: list[Statement] = []
    for index, policy in enumerate(policies):
        resolved = resolver.resolve(policy)
        if not (isinstance(resolved, dict) and "Statement" in resolved):
            raise TemplateError(
                f"{logical_id} Policies[{index}]: {str(resolved)[:80]!r} is not an inline policy document; "
                "the lab evaluates inline statements only (a managed policy or SAM policy template is not expanded)"
            )
        raw_statements = resolved["Statement"]
        for raw in raw_statements if isinstance(raw_statements, list) else [raw_statements]:
            statements.append(Statement.parse(f"{logical_id} Policies[{index}]", raw))
    return tuple(statements)


def _role_of(resource: Mapping[str, Any]) -> str:
    """The logical ID of the AWS::IAM::Role a function (or a schedule target) runs as: `Fn::GetAtt R.Arn`."""
    role = (resource.get("Properties") or {}).get("Role")
    target = role.get("Fn::GetAtt") if isinstance(role, dict) else None
    if not (isinstance(target, list) and len(target) == 2 and target[1] == "Arn"):
        raise TemplateError(f"role {str(role)[:80]!r} is not a !GetAtt of a role of the template")
    return str(target[0])


def _role_statements(role: str, stack: LabStack, resolver: Resolver) -> tuple[Statement, ...]:
    if stack.template.resources.get(role, {}).get("Type") != "AWS::IAM::Role":
        raise TemplateError(f"{stack.template.path}: {role} is not an AWS::IAM::Role of the template")
    statements: list[Statement] = []
    for source, document in stack.template.role_statements(role):
        raw_statements = (resolver.resolve(document) or {}).get("Statement") or []
        for raw in raw_statements if isinstance(raw_statements, list) else [raw_statements]:
            statements.append(Statement.parse(source, raw))
    return tuple(statements)


def _event_bridge_rules(stack: LabStack) -> dict[tuple[str, str], str]:
    """(function, event) -> the ARN of the rule SAM makes of each EventBridgeRule event (named by
    CloudFormation as `{stack}-{Function}{Event}-...`)."""
    rules: dict[tuple[str, str], str] = {}
    for function, resource in stack.template.of_type("AWS::Serverless::Function").items():
        for event, spec in ((resource.get("Properties") or {}).get("Events") or {}).items():
            if isinstance(spec, dict) and spec.get("Type") == "EventBridgeRule":
                name = stack.physical_ids.get(f"{function}{event}", f"{stack.name}-{function}{event}-EXAMPLE")
                rules[(function, event)] = f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{name}"
    return rules


def _permission_statement(logical_id: str, properties: Mapping[str, Any], function_arn: str) -> Statement:
    principal = str(properties["Principal"])
    kind = "Service" if principal.endswith(".amazonaws.com") else "AWS"
    if kind == "AWS" and principal.isdigit():
        principal = f"arn:aws:iam::{principal}:root"
    conditions: dict[str, dict[str, tuple[str, ...]]] = {}
    if properties.get("SourceArn"):
        conditions["ArnLike"] = {"aws:SourceArn": (str(properties["SourceArn"]),)}
    if properties.get("SourceAccount"):
        conditions["StringEquals"] = {"aws:SourceAccount": (str(properties["SourceAccount"]),)}
    return Statement(
        source=f"{logical_id} (Lambda permission)",
        effect="Allow",
        actions=(str(properties["Action"]),),
        resources=(function_arn,),
        principals={kind: (principal,)},
        conditions=conditions,
    )


# -- the service principals' side: who may invoke the monitor, and use the topic's key --------------
def service_may(policies: StackPolicies, resource_arn: str, action: str, service: str, source_arn: str) -> Decision:
    """A service principal acting for `source_arn` (an alarm, a schedule) on a resource with a policy."""
    context = {"aws:SourceArn": source_arn, "aws:SourceAccount": ACCOUNT_ID}
    statements = policies.resource_based.get(resource_arn, ())
    return evaluate(statements, action, resource_arn, context, principal={"Service": service})


def role_may(policies: StackPolicies, role: str, action: str, resource_arn: str) -> Decision:
    """A role of the stack (a function's, the schedule's) calling `action` on `resource_arn`."""
    decision = evaluate(policies.of(role), action, resource_arn, {})
    resource_policy = policies.resource_based.get(resource_arn)
    if not decision.allowed or resource_policy is None or not resource_arn.startswith("arn:aws:kms:"):
        return decision
    # A KMS key admits IAM policies only when its key policy lets the account (root) in.
    delegated = evaluate(resource_policy, action, resource_arn, {}, principal={"AWS": ACCOUNT_ROOT})
    if delegated.allowed:
        return decision
    return Decision(False, f"the key policy of {resource_arn} does not let IAM policies grant {action}")


def monitor_arn(policies: StackPolicies) -> str:
    return policies.function_arns[MONITOR_FUNCTION]
