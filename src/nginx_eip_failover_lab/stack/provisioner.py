"""The lab's copy of the stack, created in the moto server from `template.yaml` itself.

Nothing about the stack is restated here: the tables, topics and queues are created from their
resource properties in the template (key schema, attribute definitions, billing mode, ...), the
functions' environment is the template's `Environment.Variables` (Globals merged), with `!Ref`,
`!GetAtt`, `!Sub`, `!If` ... resolved (`intrinsics`) against the parameter values the lab gives and
the physical names of what it created. The schedule's input and the alarms come from the template
too (`triggers`). So when the template changes, the lab changes with it, and a template the code
cannot run with fails here.

The pair itself (two instances and the Elastic IP) exists before the stack in real life, so the lab
creates it separately (`fixtures.create_pair`) and passes it in as parameters, as an operator would.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .intrinsics import Resolver, physical_suffix
from .template import CONTROL_FUNCTION, FUNCTION_TYPES, MONITOR_FUNCTION, StackTemplate, TemplateError, stringify
from .triggers import AlarmDefinition, alarm_definitions, schedule_input


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
    # (logical ID, attribute) -> value of what the lab created (a table's Arn, a key's Arn), for !GetAtt.
    attributes: dict[tuple[str, str], str] = field(default_factory=dict)

    def env_of(self, function: str) -> dict[str, str]:
        return dict(self.function_env[function])

    def resource_names(self, *types: str) -> dict[str, str]:
        return {name: self.physical_ids[name] for name in self.template.of_type(*types) if name in self.physical_ids}

    def alarm_for(self, instance_id: str) -> AlarmDefinition | None:
        """The alarm on this instance that invokes the monitor (else any alarm on it, else None)."""
        watching = [alarm for alarm in self.alarms if instance_id in alarm.instance_ids]
        return next((alarm for alarm in watching if alarm.triggers_monitor), watching[0] if watching else None)


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
    for logical_id, resource in template.of_type(*FUNCTION_TYPES).items():
        if not resolver.included(resource):
            continue
        try:
            variables = resolver.resolve(template.raw_environment(logical_id))
        except TemplateError as exc:
            raise TemplateError(f"{logical_id} Environment: {exc}") from exc
        function_env[logical_id] = {key: stringify(value) for key, value in variables.items()}
    for required in (MONITOR_FUNCTION, CONTROL_FUNCTION):
        if required not in function_env:
            raise TemplateError(f"{template.path}: no {required} (the contract names both functions)")

    notes: list[str] = []
    return LabStack(
        name=stack_name,
        template=template,
        parameters={name: stringify(resolver.parameter(name)) for name in parameters},
        physical_ids=dict(resolver.physical),
        function_env=function_env,
        schedule_input=schedule_input(template, resolver, notes),
        alarms=alarm_definitions(template, resolver),
        notes=notes,
        attributes=dict(resolver.attributes),
    )


class _ResourceBuilder:
    """Creates one resource of the template in moto from its resolved properties."""

    def __init__(self, resolver: Resolver, clients: Mapping[str, Any]) -> None:
        self.resolver = resolver
        self.clients = clients

    def _name(self, logical_id: str, given: Any) -> str:
        return str(given or f"{self.resolver.stack_name}-{logical_id}-{physical_suffix()}")

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
            key: stringify(properties[key])
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
            key: stringify(properties[key])
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
