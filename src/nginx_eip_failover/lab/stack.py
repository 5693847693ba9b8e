"""The lab's copy of the stack, created in the moto server from `template.yaml` itself.

Nothing about the stack is restated here: the tables, topics and queues are created from their
resource properties in the template (key schema, attribute definitions, billing mode, ...), the
functions' environment is the template's `Environment.Variables` (Globals merged), with `!Ref`,
`!GetAtt`, `!Sub`, `!If` ... resolved against the parameter values the lab gives and the physical
names of what it created. The schedule's input and the alarms come from the template too. So when
the template changes, the lab changes with it, and a template the code cannot run with fails here.

The pair itself (two instances and the Elastic IP) exists before the stack in real life, so the lab
creates it separately (`create_pair`) and passes it in as parameters, as an operator would.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import string
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .cfn_yaml import load_template
from .moto_server import REGION

ACCOUNT_ID = "123456789012"
TEMPLATE_ENV = "NGINX_EIP_FAILOVER_TEMPLATE"
LAB_AMI = "ami-03cf127a"  # one of the images the moto server knows
MONITOR_FUNCTION = "MonitorFunction"
CONTROL_FUNCTION = "ControlFunction"
DEFAULT_SCHEDULE_INPUT: Mapping[str, str] = {"trigger": "schedule"}

_FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")
_TABLE_TYPES = ("AWS::DynamoDB::Table", "AWS::Serverless::SimpleTable")


class TemplateError(ValueError):
    """The template cannot be turned into a lab stack; the message names the place in it."""


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE: Any = _NoValue()


def find_template(start: Path | None = None) -> Path:
    """template.yaml of this checkout: $NGINX_EIP_FAILOVER_TEMPLATE, else the nearest one above."""
    override = os.environ.get(TEMPLATE_ENV)
    if override:
        return Path(override)
    places = [Path(__file__).resolve().parent, (start or Path.cwd()).resolve()]
    for place in places:
        for directory in (place, *place.parents):
            candidate = directory / "template.yaml"
            if candidate.is_file():
                return candidate
    raise TemplateError(f"template.yaml not found above {places[0]} or {places[1]}; set {TEMPLATE_ENV}")


class StackTemplate:
    """Read access to a template's parameters, resources and functions' environment."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data = load_template(path)
        self.parameters: dict[str, dict[str, Any]] = dict(self.data.get("Parameters") or {})
        self.resources: dict[str, dict[str, Any]] = dict(self.data.get("Resources") or {})
        self.conditions: dict[str, Any] = dict(self.data.get("Conditions") or {})
        self.mappings: dict[str, Any] = dict(self.data.get("Mappings") or {})
        if not self.resources:
            raise TemplateError(f"{path}: no Resources")

    def of_type(self, *types: str) -> dict[str, dict[str, Any]]:
        return {name: resource for name, resource in self.resources.items() if resource.get("Type") in types}

    def function(self, logical_id: str) -> dict[str, Any]:
        resource = self.resources.get(logical_id)
        if resource is None or resource.get("Type") not in _FUNCTION_TYPES:
            raise TemplateError(f"{self.path}: no function resource {logical_id!r}")
        return resource

    def raw_environment(self, logical_id: str) -> dict[str, Any]:
        """The function's Environment.Variables, the Globals' first (SAM merges them so)."""
        merged: dict[str, Any] = {}
        if self.function(logical_id).get("Type") == "AWS::Serverless::Function":
            globals_ = ((self.data.get("Globals") or {}).get("Function") or {}).get("Environment") or {}
            merged.update(globals_.get("Variables") or {})
        properties = self.function(logical_id).get("Properties") or {}
        merged.update((properties.get("Environment") or {}).get("Variables") or {})
        return merged

    def parameter_for_variable(self, variable: str, functions: Iterable[str]) -> str | None:
        """The parameter a variable is a plain `!Ref` of in every given function, if any."""
        found: set[str] = set()
        for function in functions:
            value = self.raw_environment(function).get(variable)
            if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in self.parameters:
                found.add(value["Ref"])
            else:
                return None
        return found.pop() if len(found) == 1 else None


@dataclass(frozen=True)
class AlarmDefinition:
    logical_id: str
    name: str
    arn: str
    instance_ids: tuple[str, ...]
    namespace: str
    metric_name: str
    period: int
    statistic: str
    triggers_monitor: bool


@dataclass
class LabStack:
    name: str
    template: StackTemplate
    parameters: dict[str, str]
    physical_ids: dict[str, str]
    function_env: dict[str, dict[str, str]]
    schedule_input: dict[str, Any]
    alarms: list[AlarmDefinition]
    notes: list[str] = field(default_factory=list)

    def env_of(self, function: str) -> dict[str, str]:
        return dict(self.function_env[function])

    def resource_names(self, *types: str) -> dict[str, str]:
        return {name: self.physical_ids[name] for name in self.template.of_type(*types) if name in self.physical_ids}

    def alarm_for(self, instance_id: str) -> AlarmDefinition | None:
        """The alarm on this instance that invokes the monitor (else any alarm on it, else None)."""
        watching = [alarm for alarm in self.alarms if instance_id in alarm.instance_ids]
        return next((alarm for alarm in watching if alarm.triggers_monitor), watching[0] if watching else None)


@dataclass(frozen=True)
class Pair:
    instance_ids: tuple[str, str]
    allocation_id: str
    public_ip: str


def create_pair(ec2: Any) -> Pair:
    """The two NGINX Plus instances and an unassociated Elastic IP (the operator's, not the stack's)."""
    instances = ec2.run_instances(
        ImageId=LAB_AMI,
        MinCount=2,
        MaxCount=2,
        InstanceType="t4g.small",
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Role", "Value": "nginx-plus"}]}],
    )["Instances"]
    address = ec2.allocate_address(Domain="vpc")
    return Pair(
        instance_ids=(instances[0]["InstanceId"], instances[1]["InstanceId"]),
        allocation_id=address["AllocationId"],
        public_ip=address["PublicIp"],
    )


def create_instance(ec2: Any, role: str = "foreign") -> str:
    instance = ec2.run_instances(
        ImageId=LAB_AMI,
        MinCount=1,
        MaxCount=1,
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Role", "Value": role}]}],
    )["Instances"][0]
    return str(instance["InstanceId"])


def _cfn_suffix() -> str:
    return "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(12))


def validate_parameter(name: str, spec: Mapping[str, Any], value: str) -> None:
    """The checks CloudFormation makes on a parameter value before a deploy."""

    def fail(problem: str) -> TemplateError:
        return TemplateError(f"parameter {name}={value!r} {problem}")

    kind = spec.get("Type", "String")
    if kind == "Number":
        try:
            number = float(value)
        except ValueError:
            raise fail("must be a Number") from None
        if "MinValue" in spec and number < float(spec["MinValue"]):
            raise fail(f"is below MinValue {spec['MinValue']}")
        if "MaxValue" in spec and number > float(spec["MaxValue"]):
            raise fail(f"is above MaxValue {spec['MaxValue']}")
    allowed = spec.get("AllowedValues")
    if allowed is not None and value not in [_stringify(item) for item in allowed]:
        raise fail(f"is not one of AllowedValues {allowed}")
    pattern = spec.get("AllowedPattern")
    if pattern is not None and kind == "String" and not re.fullmatch(str(pattern), value):
        raise fail(f"does not match AllowedPattern {pattern}")
    if "MinLength" in spec and len(value) < int(spec["MinLength"]):
        raise fail(f"is shorter than MinLength {spec['MinLength']}")
    if "MaxLength" in spec and len(value) > int(spec["MaxLength"]):
        raise fail(f"is longer than MaxLength {spec['MaxLength']}")


def _stringify(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class Resolver:
    """Evaluates CloudFormation's intrinsic functions against the lab's stack."""

    def __init__(self, template: StackTemplate, parameters: Mapping[str, str], stack_name: str) -> None:
        self.template = template
        self.stack_name = stack_name
        self.parameters = dict(parameters)
        self.physical: dict[str, str] = {}
        self.attributes: dict[tuple[str, str], str] = {}
        self.pseudo: dict[str, Any] = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::StackName": stack_name,
            "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{stack_name}/{uuid.uuid4()}",
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NotificationARNs": [],
            "AWS::NoValue": NO_VALUE,
        }
        self._conditions: dict[str, bool] = {}

    # -- references -------------------------------------------------------------------------
    def parameter(self, name: str) -> Any:
        spec = self.template.parameters.get(name)
        if spec is None:
            raise TemplateError(f"{self.template.path}: !Ref {name}: no such parameter or resource")
        if name in self.parameters:
            value = self.parameters[name]
        elif "Default" in spec:
            value = _stringify(spec["Default"])
        else:
            raise TemplateError(f"parameter {name} has no Default and the lab gave no value")
        validate_parameter(name, spec, value)
        if spec.get("Type") == "CommaDelimitedList" or str(spec.get("Type", "")).startswith("List<"):
            return [item.strip() for item in value.split(",")] if value else []
        return value

    def ref(self, name: str) -> Any:
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.template.parameters:
            return self.parameter(name)
        if name in self.template.resources or name in sam_generated(self.template):
            if name not in self.physical:
                self.physical[name] = f"{self.stack_name}-{name}-{_cfn_suffix()}"
            return self.physical[name]
        raise TemplateError(f"{self.template.path}: !Ref {name}: no such parameter or resource")

    def get_att(self, resource: str, attribute: str) -> Any:
        if (resource, attribute) in self.attributes:
            return self.attributes[(resource, attribute)]
        kind = (self.template.resources.get(resource) or {}).get("Type")
        if kind in _FUNCTION_TYPES and attribute == "Arn":
            return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.ref(resource)}"
        raise TemplateError(f"{self.template.path}: !GetAtt {resource}.{attribute} is not emulated by the lab")

    # -- conditions --------------------------------------------------------------------------
    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            if name not in self.template.conditions:
                raise TemplateError(f"{self.template.path}: no condition {name!r}")
            self._conditions[name] = bool(self.resolve(self.template.conditions[name]))
        return self._conditions[name]

    def included(self, resource: Mapping[str, Any]) -> bool:
        condition = resource.get("Condition")
        return condition is None or self.condition(str(condition))

    # -- evaluation --------------------------------------------------------------------------
    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            items = [self.resolve(item) for item in value]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            key, argument = next(iter(value.items()))
            function = self._functions().get(key)
            if function is not None:
                return function(argument)
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}

    def _functions(self) -> dict[str, Callable[[Any], Any]]:
        return {
            "Ref": lambda name: self.ref(str(name)),
            "Fn::GetAtt": self._fn_get_att,
            "Fn::Sub": self._fn_sub,
            "Fn::Join": lambda args: str(args[0]).join(_stringify(item) for item in self.resolve(args[1])),
            "Fn::Select": lambda args: self.resolve(args[1])[int(self.resolve(args[0]))],
            "Fn::Split": lambda args: str(self.resolve(args[1])).split(str(args[0])),
            "Fn::If": self._fn_if,
            "Fn::Equals": lambda args: _stringify(self.resolve(args[0])) == _stringify(self.resolve(args[1])),
            "Fn::Not": lambda args: not self.resolve(args[0]),
            "Fn::And": lambda args: all(self.resolve(item) for item in args),
            "Fn::Or": lambda args: any(self.resolve(item) for item in args),
            "Condition": lambda name: self.condition(str(name)),
            "Fn::FindInMap": self._fn_find_in_map,
            "Fn::GetAZs": lambda _region: [f"{REGION}{zone}" for zone in "abcdef"],
            "Fn::Base64": lambda text: self.resolve(text),
            "Fn::ToJsonString": lambda item: json.dumps(self.resolve(item), separators=(",", ":")),
        }

    def _fn_get_att(self, argument: Any) -> Any:
        resource, attribute = argument.split(".", 1) if isinstance(argument, str) else self.resolve(argument)
        return self.get_att(str(resource), str(attribute))

    def _fn_if(self, args: list[Any]) -> Any:
        return self.resolve(args[1] if self.condition(str(args[0])) else args[2])

    def _fn_find_in_map(self, args: list[Any]) -> Any:
        name, first, second = (self.resolve(item) for item in args)
        try:
            return self.template.mappings[name][first][second]
        except KeyError:
            raise TemplateError(f"{self.template.path}: !FindInMap {name}/{first}/{second} not found") from None

    def _fn_sub(self, argument: Any) -> str:
        if isinstance(argument, list):
            text, variables = str(argument[0]), {key: self.resolve(item) for key, item in argument[1].items()}
        else:
            text, variables = str(argument), {}

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return _stringify(variables[name])
            if "." in name and not name.startswith("AWS::"):
                resource, attribute = name.split(".", 1)
                return _stringify(self.get_att(resource, attribute))
            return _stringify(self.ref(name))

        return re.sub(r"\$\{([^}]+)\}", substitute, text)


def sam_generated(template: StackTemplate) -> set[str]:
    """Logical IDs SAM gives the resources a function's events generate (`<Function><Event>`, e.g. the
    schedule's rule `MonitorFunctionEveryMinute`), which the template may !Ref."""
    return {
        function + event
        for function, resource in template.of_type("AWS::Serverless::Function").items()
        for event in ((resource.get("Properties") or {}).get("Events") or {})
    }


def _table_request(name: str, properties: Mapping[str, Any]) -> dict[str, Any]:
    request: dict[str, Any] = {"TableName": name}
    for key in (
        "KeySchema",
        "AttributeDefinitions",
        "BillingMode",
        "ProvisionedThroughput",
        "GlobalSecondaryIndexes",
        "LocalSecondaryIndexes",
        "TableClass",
        "DeletionProtectionEnabled",
        "Tags",
    ):
        if key in properties:
            request[key] = properties[key]
    stream = properties.get("StreamSpecification")
    if stream:
        request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
    sse = properties.get("SSESpecification")
    if sse:
        request["SSESpecification"] = {
            key: value
            for key, value in (
                ("Enabled", sse.get("SSEEnabled")),
                ("SSEType", sse.get("SSEType")),
                ("KMSMasterKeyId", sse.get("KMSMasterKeyId")),
            )
            if value is not None
        }
    return request


def _simple_table_request(name: str, properties: Mapping[str, Any]) -> dict[str, Any]:
    key = properties.get("PrimaryKey") or {"Name": "id", "Type": "String"}
    kind = {"String": "S", "Number": "N", "Binary": "B"}[key.get("Type", "String")]
    request: dict[str, Any] = {
        "TableName": name,
        "KeySchema": [{"AttributeName": key["Name"], "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": key["Name"], "AttributeType": kind}],
    }
    if properties.get("ProvisionedThroughput"):
        request["BillingMode"] = "PROVISIONED"
        request["ProvisionedThroughput"] = properties["ProvisionedThroughput"]
    else:
        request["BillingMode"] = "PAY_PER_REQUEST"
    return request


def create_stack(
    template: StackTemplate | Path,
    clients: Mapping[str, Any],
    parameters: Mapping[str, str],
    stack_name: str,
) -> LabStack:
    """Create the template's keys, tables, queues and topics in the lab's AWS; resolve the functions' env.

    `clients` holds boto3 clients for "dynamodb", "sns", "sqs" and "kms" pointed at the lab's AWS.
    Resources the functions do not use at run time (roles, log groups, alarms, dashboards, VPC
    endpoints) are not created; a reference to one resolves to a made-up physical name.
    """
    if not isinstance(template, StackTemplate):
        template = StackTemplate(template)
    unknown = sorted(set(parameters) - set(template.parameters))
    if unknown:
        raise TemplateError(f"{template.path}: the lab sets parameters the template does not have: {unknown}")
    resolver = Resolver(template, parameters, stack_name)
    builder = _ResourceBuilder(resolver, clients)
    # In dependency order: keys before the topics they encrypt, queues and topics before subscriptions.
    for kind, create in (
        ("AWS::KMS::Key", builder.kms_key),
        ("AWS::KMS::Alias", builder.kms_alias),
        ("AWS::DynamoDB::Table", builder.table),
        ("AWS::Serverless::SimpleTable", builder.simple_table),
        ("AWS::SQS::Queue", builder.queue),
        ("AWS::SNS::Topic", builder.topic),
        ("AWS::SNS::Subscription", builder.subscription),
    ):
        for logical_id, resource in template.of_type(kind).items():
            if resolver.included(resource):
                create(logical_id, resolver.resolve(resource.get("Properties") or {}))

    function_env: dict[str, dict[str, str]] = {}
    for logical_id, resource in template.of_type(*_FUNCTION_TYPES).items():
        if not resolver.included(resource):
            continue
        try:
            variables = resolver.resolve(template.raw_environment(logical_id))
        except TemplateError as exc:
            raise TemplateError(f"{logical_id} Environment: {exc}") from exc
        function_env[logical_id] = {key: _stringify(value) for key, value in variables.items()}
    for required in (MONITOR_FUNCTION, CONTROL_FUNCTION):
        if required not in function_env:
            raise TemplateError(f"{template.path}: no {required} (the contract names both functions)")

    notes: list[str] = []
    return LabStack(
        name=stack_name,
        template=template,
        parameters={name: _stringify(resolver.parameter(name)) for name in parameters},
        physical_ids=dict(resolver.physical),
        function_env=function_env,
        schedule_input=_schedule_input(template, resolver, notes),
        alarms=_alarms(template, resolver),
        notes=notes,
    )


class _ResourceBuilder:
    """Creates one resource of the template in moto from its resolved properties."""

    def __init__(self, resolver: Resolver, clients: Mapping[str, Any]) -> None:
        self.resolver = resolver
        self.clients = clients

    def _name(self, logical_id: str, given: Any) -> str:
        return str(given or f"{self.resolver.stack_name}-{logical_id}-{_cfn_suffix()}")

    def _created(self, logical_id: str, physical: str, **attributes: str) -> None:
        self.resolver.physical[logical_id] = physical
        for attribute, value in attributes.items():
            self.resolver.attributes[(logical_id, attribute)] = value

    def kms_key(self, logical_id: str, properties: dict[str, Any]) -> None:
        request: dict[str, Any] = {"Description": str(properties.get("Description", ""))}
        if properties.get("KeyPolicy"):
            request["Policy"] = json.dumps(properties["KeyPolicy"])
        key = self.clients["kms"].create_key(**request)["KeyMetadata"]
        if properties.get("EnableKeyRotation"):
            self.clients["kms"].enable_key_rotation(KeyId=key["KeyId"])
        self._created(logical_id, key["KeyId"], Arn=key["Arn"], KeyId=key["KeyId"])

    def kms_alias(self, logical_id: str, properties: dict[str, Any]) -> None:
        self.clients["kms"].create_alias(AliasName=properties["AliasName"], TargetKeyId=properties["TargetKeyId"])
        self._created(logical_id, str(properties["AliasName"]))

    def table(self, logical_id: str, properties: dict[str, Any]) -> None:
        self._create_table(
            logical_id, properties, _table_request(self._name(logical_id, properties.get("TableName")), properties)
        )

    def simple_table(self, logical_id: str, properties: dict[str, Any]) -> None:
        name = self._name(logical_id, properties.get("TableName"))
        self._create_table(logical_id, properties, _simple_table_request(name, properties))

    def _create_table(self, logical_id: str, properties: dict[str, Any], request: dict[str, Any]) -> None:
        dynamodb = self.clients["dynamodb"]
        name = request["TableName"]
        table = dynamodb.create_table(**request)["TableDescription"]
        ttl = properties.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            dynamodb.update_time_to_live(
                TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]}
            )
        pitr = properties.get("PointInTimeRecoverySpecification")
        if pitr and pitr.get("PointInTimeRecoveryEnabled"):
            dynamodb.update_continuous_backups(
                TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
            )
        attributes = {"Arn": table["TableArn"]}
        if table.get("LatestStreamArn"):
            attributes["StreamArn"] = table["LatestStreamArn"]
        self._created(logical_id, name, **attributes)

    def queue(self, logical_id: str, properties: dict[str, Any]) -> None:
        name = self._name(logical_id, properties.get("QueueName"))
        attributes = {
            key: _stringify(properties[key])
            for key in ("MessageRetentionPeriod", "VisibilityTimeout", "KmsMasterKeyId", "FifoQueue")
            if key in properties
        }
        sqs = self.clients["sqs"]
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self._created(logical_id, url, Arn=arn, QueueUrl=url, QueueName=name)

    def topic(self, logical_id: str, properties: dict[str, Any]) -> None:
        name = self._name(logical_id, properties.get("TopicName"))
        attributes = {
            key: _stringify(properties[key])
            for key in ("DisplayName", "KmsMasterKeyId", "FifoTopic", "ContentBasedDeduplication")
            if key in properties
        }
        arn = self.clients["sns"].create_topic(Name=name, Attributes=attributes)["TopicArn"]
        for subscription in properties.get("Subscription") or []:
            self.clients["sns"].subscribe(
                TopicArn=arn, Protocol=subscription["Protocol"], Endpoint=subscription["Endpoint"]
            )
        self._created(logical_id, arn, TopicArn=arn, TopicName=name)

    def subscription(self, logical_id: str, properties: dict[str, Any]) -> None:
        answer = self.clients["sns"].subscribe(
            TopicArn=properties["TopicArn"], Protocol=properties["Protocol"], Endpoint=properties["Endpoint"]
        )
        self._created(logical_id, str(answer.get("SubscriptionArn", "")))


def _targets_monitor(value: Any) -> bool:
    text = json.dumps(value)
    return MONITOR_FUNCTION in text


def _schedule_input(template: StackTemplate, resolver: Resolver, notes: list[str]) -> dict[str, Any]:
    """What the template's schedule sends the monitor: its Input, or EventBridge's scheduled event."""
    inputs: list[Any] = []
    events = (template.function(MONITOR_FUNCTION).get("Properties") or {}).get("Events") or {}
    for event in events.values():
        if event.get("Type") in ("Schedule", "ScheduleV2"):
            inputs.append((event.get("Properties") or {}).get("Input"))
    for resource in template.of_type("AWS::Events::Rule").values():
        properties = resource.get("Properties") or {}
        if properties.get("ScheduleExpression"):
            inputs.extend(target.get("Input") for target in properties.get("Targets") or [] if _targets_monitor(target))
    for resource in template.of_type("AWS::Scheduler::Schedule").values():
        target = (resource.get("Properties") or {}).get("Target") or {}
        if _targets_monitor(target):
            inputs.append(target.get("Input"))
    if not inputs:
        notes.append("the template has no schedule for MonitorFunction; the lab sends the contract's input")
        return dict(DEFAULT_SCHEDULE_INPUT)
    first = resolver.resolve(inputs[0])
    if first is None:
        return scheduled_event()
    return dict(json.loads(first) if isinstance(first, str) else first)


def scheduled_event() -> dict[str, Any]:
    """An EventBridge scheduled event, as a schedule without Input delivers it."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/lab-schedule"],
        "detail": {},
    }


def _alarms(template: StackTemplate, resolver: Resolver) -> list[AlarmDefinition]:
    alarms: list[AlarmDefinition] = []
    for logical_id, resource in template.of_type("AWS::CloudWatch::Alarm").items():
        if not resolver.included(resource):
            continue
        raw = resource.get("Properties") or {}
        name = str(resolver.resolve(raw["AlarmName"])) if "AlarmName" in raw else f"{resolver.stack_name}-{logical_id}"
        dimensions = resolver.resolve(raw.get("Dimensions") or [])
        for metric in raw.get("Metrics") or []:
            stat = resolver.resolve(metric.get("MetricStat") or {})
            dimensions.extend((stat.get("Metric") or {}).get("Dimensions") or [])
        instance_ids = tuple(str(item["Value"]) for item in dimensions if item.get("Name") == "InstanceId")
        alarms.append(
            AlarmDefinition(
                logical_id=logical_id,
                name=name,
                arn=f"arn:aws:cloudwatch:{REGION}:{ACCOUNT_ID}:alarm:{name}",
                instance_ids=instance_ids,
                namespace=str(raw.get("Namespace", "")),
                metric_name=str(raw.get("MetricName", "")),
                period=int(raw.get("Period", 60)),
                statistic=str(raw.get("Statistic", "Maximum")),
                triggers_monitor=_targets_monitor(raw.get("AlarmActions")),
            )
        )
    return alarms


def alarm_event(alarm: AlarmDefinition | None, instance_id: str, state: str = "ALARM") -> dict[str, Any]:
    """The event a CloudWatch alarm action delivers to a Lambda function."""
    name = alarm.name if alarm else f"lab-{instance_id}-status-check"
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"
    return {
        "source": "aws.cloudwatch",
        "alarmArn": alarm.arn if alarm else f"arn:aws:cloudwatch:{REGION}:{ACCOUNT_ID}:alarm:{name}",
        "accountId": ACCOUNT_ID,
        "time": now,
        "region": REGION,
        "alarmData": {
            "alarmName": name,
            "state": {
                "value": state,
                "reason": f"Threshold Crossed: 1 datapoint [1.0] was greater than or equal to the threshold (1.0) "
                f"[lab: simulated for {instance_id}]",
                "timestamp": now,
            },
            "previousState": {"value": "OK", "reason": "lab", "timestamp": now},
            "configuration": {
                "description": "simulated by the nginx-eip-failover lab",
                "metrics": [
                    {
                        "id": "m1",
                        "metricStat": {
                            "metric": {
                                "namespace": alarm.namespace if alarm else "AWS/EC2",
                                "name": alarm.metric_name if alarm else "StatusCheckFailed",
                                "dimensions": {"InstanceId": instance_id},
                            },
                            "period": alarm.period if alarm else 60,
                            "stat": alarm.statistic if alarm else "Maximum",
                        },
                        "returnData": True,
                    }
                ],
            },
        },
    }
