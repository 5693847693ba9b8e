"""IAM's policy evaluation, for the statements the template writes: is an action on a resource allowed?

As IAM decides (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html):
an explicit Deny in any matching statement wins; otherwise some matching Allow is needed; otherwise
the implicit deny. A statement matches when its Action (or NotAction) matches the action (wildcards,
case-insensitive), its Resource (or NotResource) matches the resource's ARN (wildcards,
case-sensitive), its Principal (resource-based policies) matches the caller, and every Condition
operator holds for the request's context (all keys of an operator, any value of a key). A call that
involves several resources (EC2's AssociateAddress: the address and the instance or ENI) is allowed
only when each one is.

Condition operators: the String*, Arn*, Numeric*, Bool and Null families, with IfExists, and the
ForAnyValue:/ForAllValues: set prefixes. An operator outside these raises: the lab never guesses.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

ContextValue = str | list[str]


@dataclass(frozen=True)
class Statement:
    """One policy statement, resolved (no intrinsics left), and where it comes from in the template."""

    source: str  # "MonitorFunction Policies[0] MoveTheElasticIpBetweenThePair"
    effect: str
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    not_resources: tuple[str, ...] = ()
    # Resource-based policies only: {"Service": [...], "AWS": [...]}; None for identity policies.
    principals: Mapping[str, tuple[str, ...]] | None = None
    conditions: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)

    @classmethod
    def parse(cls, source: str, raw: Mapping[str, Any]) -> Statement:
        def strings(value: Any) -> tuple[str, ...]:
            if value is None:
                return ()
            return tuple(str(item) for item in (value if isinstance(value, list) else [value]))

        principal = raw.get("Principal")
        principals = None
        if principal is not None:
            principals = {"*": ("*",)} if principal == "*" else {k: strings(v) for k, v in dict(principal).items()}
        conditions = {
            operator: {key: strings(values) for key, values in dict(block).items()}
            for operator, block in dict(raw.get("Condition") or {}).items()
        }
        sid = raw.get("Sid")
        return cls(
            source=f"{source} {sid}" if sid else source,
            effect=str(raw.get("Effect", "")),
            actions=strings(raw.get("Action")),
            not_actions=strings(raw.get("NotAction")),
            resources=strings(raw.get("Resource")),
            not_resources=strings(raw.get("NotResource")),
            principals=principals,
            conditions=conditions,
        )

    def matches_action(self, action: str) -> bool:
        if self.actions:
            return any(_glob(pattern, action, ignore_case=True) for pattern in self.actions)
        return bool(self.not_actions) and not any(_glob(p, action, ignore_case=True) for p in self.not_actions)

    def matches_resource(self, arn: str) -> bool:
        if self.resources:
            return any(_glob(pattern, arn) for pattern in self.resources)
        return bool(self.not_resources) and not any(_glob(pattern, arn) for pattern in self.not_resources)

    def matches_principal(self, principal: Mapping[str, str] | None) -> bool:
        if self.principals is None:
            return True  # an identity policy: attached to the caller
        if principal is None:
            return False
        if "*" in self.principals.get("*", ()) or "*" in self.principals.get("AWS", ()):
            return True
        return any(
            _glob(pattern, value) for kind, value in principal.items() for pattern in self.principals.get(kind, ())
        )


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    allowed_by: tuple[str, ...] = ()  # sources of the Allow statements that matched
    denied_by: tuple[str, ...] = ()  # sources of explicit Deny statements that matched

    def __bool__(self) -> bool:  # `assert evaluate(...)` means allowed, never "a Decision exists"
        return self.allowed


class UnsupportedConditionError(ValueError):
    """A Condition operator the lab cannot evaluate; raised instead of guessing either way."""


def evaluate(
    statements: Sequence[Statement],
    action: str,
    arn: str,
    context: Mapping[str, ContextValue],
    principal: Mapping[str, str] | None = None,
) -> Decision:
    """IAM's decision for one action on one resource, given the request context's keys."""
    allows: list[str] = []
    denies: list[str] = []
    for statement in statements:
        if not (
            statement.matches_action(action)
            and statement.matches_resource(arn)
            and statement.matches_principal(principal)
        ):
            continue
        if not conditions_hold(statement.conditions, context):
            continue
        (denies if statement.effect == "Deny" else allows).append(statement.source)
    if denies:
        return Decision(False, f"explicitly denied by {', '.join(denies)}", tuple(allows), tuple(denies))
    if allows:
        return Decision(True, f"allowed by {', '.join(allows)}", tuple(allows))
    return Decision(False, f"no statement allows {action} on {arn}{_near_misses(statements, action, arn, context)}")


def _near_misses(statements: Sequence[Statement], action: str, arn: str, context: Mapping[str, ContextValue]) -> str:
    """Why the statements granting this action did not apply: the grant that is missing."""
    reasons = []
    for statement in statements:
        if statement.effect != "Allow" or not statement.matches_action(action):
            continue
        if not statement.matches_resource(arn):
            listed = ", ".join(statement.resources or statement.not_resources)
            reasons.append(f"{statement.source} grants it on [{listed}] only")
        elif not conditions_hold(statement.conditions, context):
            reasons.append(f"{statement.source}'s condition {dict(statement.conditions)} does not hold")
    if not reasons:
        return f" (no statement grants {action} at all)"
    return " (" + "; ".join(reasons) + ")"


def conditions_hold(conditions: Mapping[str, Mapping[str, Sequence[str]]], context: Mapping[str, ContextValue]) -> bool:
    return all(
        _operator_holds(operator, key, tuple(values), context)
        for operator, block in conditions.items()
        for key, values in block.items()
    )


def _operator_holds(operator: str, key: str, expected: tuple[str, ...], context: Mapping[str, ContextValue]) -> bool:
    set_prefix, _, name = operator.rpartition(":")
    if_exists = name.endswith("IfExists")
    base = name.removesuffix("IfExists")
    present = _lookup(context, key)
    if base == "Null":
        wants_absent = expected[0].lower() == "true"
        return (present is None) == wants_absent
    if present is None:
        # A missing key: true only for IfExists and the negated operators (IAM's documented rule).
        return if_exists or base.startswith(("StringNot", "ArnNot", "NumericNotEquals"))
    values = [present] if isinstance(present, str) else list(present)
    compare = _COMPARATORS.get(base)
    if compare is None:
        raise UnsupportedConditionError(f"condition operator {operator!r} (key {key}) is not evaluated by the lab")
    negated = base.startswith(("StringNot", "ArnNot")) or base == "NumericNotEquals"
    if set_prefix == "ForAllValues":
        return all(_one_value(compare, negated, value, expected) for value in values)
    # No prefix, or ForAnyValue: a single-valued key has one value; any of them satisfies.
    return any(_one_value(compare, negated, value, expected) for value in values)


def _one_value(compare: Any, negated: bool, value: str, expected: tuple[str, ...]) -> bool:
    hit = any(compare(pattern, value) for pattern in expected)
    return not hit if negated else hit


def _lookup(context: Mapping[str, ContextValue], key: str) -> ContextValue | None:
    # Condition keys are case-insensitive; a tag key's own case matters.
    prefix, slash, rest = key.partition("/")
    for candidate, value in context.items():
        other_prefix, _, other_rest = candidate.partition("/")
        if other_prefix.lower() == prefix.lower() and (not slash or other_rest == rest):
            return value
    return None


def _glob(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    if ignore_case:
        pattern, value = pattern.lower(), value.lower()
    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))


def _number(text: str) -> float:
    return float(text)


def _arn_like(pattern: str, value: str) -> bool:
    # ArnLike compares each of the six colon-separated parts; wildcards do not cross a colon there.
    pattern_parts, value_parts = pattern.split(":", 5), value.split(":", 5)
    if len(pattern_parts) != 6 or len(value_parts) != 6:
        return False
    return all(_glob(p, v) for p, v in zip(pattern_parts, value_parts, strict=True))


_COMPARATORS: dict[str, Any] = {
    "StringEquals": lambda p, v: p == v,
    "StringNotEquals": lambda p, v: p == v,
    "StringEqualsIgnoreCase": lambda p, v: p.lower() == v.lower(),
    "StringNotEqualsIgnoreCase": lambda p, v: p.lower() == v.lower(),
    "StringLike": _glob,
    "StringNotLike": _glob,
    "ArnEquals": _arn_like,
    "ArnLike": _arn_like,
    "ArnNotEquals": _arn_like,
    "ArnNotLike": _arn_like,
    "Bool": lambda p, v: p.lower() == v.lower(),
    "NumericEquals": lambda p, v: _number(p) == _number(v),
    "NumericNotEquals": lambda p, v: _number(p) == _number(v),
    "NumericLessThan": lambda p, v: _number(v) < _number(p),
    "NumericLessThanEquals": lambda p, v: _number(v) <= _number(p),
    "NumericGreaterThan": lambda p, v: _number(v) > _number(p),
    "NumericGreaterThanEquals": lambda p, v: _number(v) >= _number(p),
}


def condition_keys(statements: Sequence[Statement]) -> set[str]:
    """Every condition key the statements test (to know which context the lab must look up)."""
    return {key for statement in statements for block in statement.conditions.values() for key in block}


def tag_keys(statements: Sequence[Statement]) -> set[str]:
    """The tag keys of aws:ResourceTag/... (and ec2:ResourceTag/...) conditions."""
    found = set()
    for key in condition_keys(statements):
        match = re.fullmatch(r"(?i)(aws|ec2):ResourceTag/(.+)", key)
        if match:
            found.add(match.group(2))
    return found
