"""NginxEipFailover: template.yaml's stack as a CDK construct.

It creates what `sam deploy` of template.yaml creates, resource for resource, with the same logical
names as construct IDs (MonitorFunction, MonitorFunctionRole, MonitorFunctionEveryMinute, ...: those
SAM generates included), the same IAM statements (Sids and all), environments, schedules, alarms and
outputs. The template's Conditions are decided here in Python, from the props; its Rules are checked
at synth time (the example-placeholder rule at deploy time, as a CfnRule, as in the template).

The functions' code is the `sam build` output (one artifact): `.aws-sam/build/MonitorFunction` of the
checkout, or `code_directory`. The repository's parity test (tests/iac/test_cdk_parity.py) compares the
synthesized template with template.yaml, so a difference fails CI.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from aws_cdk import (
    Aws,
    CfnOutput,
    CfnRule,
    CfnRuleAssertion,
    Fn,
    RemovalPolicy,
    Token,
)
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sns as sns
from aws_cdk.aws_s3_assets import Asset
from constructs import Construct

from . import parameters
from .dashboard import DASHBOARD_BODY
from .props import (
    FailoverPolicy,
    FailoverProps,
    HealthAuth,
    HealthChecks,
    Network,
    Node,
    Observers,
    template_values,
)

CODE_DIRECTORY_ENV = "NGINX_EIP_FAILOVER_CODE"
SAM_BUILD_FUNCTION = Path(".aws-sam") / "build" / "MonitorFunction"
MONITOR_HANDLER = "nginx_eip_failover.handlers.monitor.lambda_handler"
CONTROL_HANDLER = "nginx_eip_failover.handlers.control.lambda_handler"
LIFECYCLE_HANDLER = "nginx_eip_failover.handlers.lifecycle.lambda_handler"
TAG_KEY = "nginx-eip-failover"


class CodeNotBuiltError(FileNotFoundError):
    """No `sam build` output to package: the construct ships that artifact, never a copy of src/."""


def find_code_directory(start: Path | None = None) -> Path:
    """The `sam build` output of the functions: $NGINX_EIP_FAILOVER_CODE, else the nearest
    .aws-sam/build/MonitorFunction above `start` (the working directory)."""
    override = os.environ.get(CODE_DIRECTORY_ENV)
    candidates = [Path(override)] if override else []
    here = (start or Path.cwd()).resolve()
    candidates += [directory / SAM_BUILD_FUNCTION for directory in (here, *here.parents)]
    for candidate in candidates:
        if (candidate / "nginx_eip_failover" / "handlers").is_dir():
            return candidate
    raise CodeNotBuiltError(
        f"no sam build output (.aws-sam/build/MonitorFunction with nginx_eip_failover/handlers) above {here}"
        f"{' or at ' + override if override else ''}: run `make build` (sam build) in the nginx-eip-failover "
        f"checkout first, or pass code_directory= (or set {CODE_DIRECTORY_ENV})"
    )


def _arn(service: str, resource: str, **variables: Any) -> str:
    """arn:${AWS::Partition}:<service>:${AWS::Region}:${AWS::AccountId}:<resource>, as the template's !Sub."""
    text = f"arn:${{AWS::Partition}}:{service}:${{AWS::Region}}:${{AWS::AccountId}}:{resource}"
    return Fn.sub(text, variables) if variables else Fn.sub(text)


class NginxEipFailover(Construct):
    """The failover controller of one active-passive NGINX Plus pair (one per stack, like template.yaml:
    alarm names, the key alias and the fleet's tag value are the stack's name)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        nodes: tuple[Node, Node],
        elastic_ip_allocation_id: str,
        second_elastic_ip_allocation_id: str = "",
        health: HealthChecks | None = None,
        failover: FailoverPolicy | None = None,
        network: Network | None = None,
        observers: Observers | None = None,
        route_table_role_arn: str = "",
        route_table_role_external_id: str = "",
        health_auth: HealthAuth | None = None,
        profile: str = "lean",
        notification_email: str = "",
        log_level: str = "INFO",
        log_retention_in_days: int = 30,
        decision_log_retention_days: int = 14,
        enable_tracing: bool = False,
        monitor_reserved_concurrency: int | None = None,
        preflight_interval_seconds: int = 900,
        lifecycle_hook_timeout_seconds: int = 120,
        fleet_found_nodes: str = "tags",
        code_directory: str | Path | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.props = FailoverProps(
            nodes=nodes,
            elastic_ip_allocation_id=elastic_ip_allocation_id,
            second_elastic_ip_allocation_id=second_elastic_ip_allocation_id,
            health=health or HealthChecks(),
            failover=failover or FailoverPolicy(),
            network=network or Network(),
            observers=observers or Observers(),
            route_table_role_arn=route_table_role_arn,
            route_table_role_external_id=route_table_role_external_id,
            health_auth=health_auth or HealthAuth(),
            profile=profile,
            notification_email=notification_email,
            log_level=log_level,
            log_retention_in_days=log_retention_in_days,
            decision_log_retention_days=decision_log_retention_days,
            enable_tracing=enable_tracing,
            monitor_reserved_concurrency=monitor_reserved_concurrency,
            preflight_interval_seconds=preflight_interval_seconds,
            lifecycle_hook_timeout_seconds=lifecycle_hook_timeout_seconds,
            fleet_found_nodes=fleet_found_nodes,
        )
        # Every template parameter's value (checked as CloudFormation checks it), by its template name.
        self.values = template_values(self.props, _token_text)
        self._decide_conditions()
        code_path = Path(code_directory) if code_directory is not None else find_code_directory()
        if not (code_path / "nginx_eip_failover" / "handlers").is_dir():
            raise CodeNotBuiltError(f"code_directory={str(code_path)!r} holds no nginx_eip_failover/handlers")
        self.code_asset = Asset(self, "FunctionCode", path=str(code_path))
        self._rules()
        self._state_and_notifications()
        self._functions()
        if self.describes_auto_scaling_groups:
            self._found_nodes_lookup()
        if self.any_node_by_group:
            self._found_nodes()
        self._alarms()
        if self.full:
            self._dashboard()
        if self.create_endpoints:
            self._vpc_endpoints()
        self._outputs()

    # -- the template's Conditions, decided from the props ------------------------------------------
    def _decide_conditions(self) -> None:
        v = self.values
        self.pair_by_network_interface = _given(v["Node1NetworkInterfaceId"])
        self.has_second_address_set = _given(v["SecondElasticIpAllocationId"])
        # Found nodes (docs/found-nodes.md): a node in an Auto Scaling group instead of a fixed instance.
        self.node_by_group = {n: _given(v[f"Node{n}AutoScalingGroupName"]) for n in (1, 2)}
        self.any_node_by_group = any(self.node_by_group.values())
        # Or by tags: looked up with ec2:DescribeInstances only, and no status-check alarm.
        self.node_by_tags = {n: _given(v[f"Node{n}InstanceTags"]) for n in (1, 2)}
        self.node_found = {n: self.node_by_group[n] or self.node_by_tags[n] for n in (1, 2)}
        self.has_status_check_alarm = {n: not self.node_by_tags[n] for n in (1, 2)}
        # One group of two nodes needs one hook, not two.
        self.node2_hook_needed = self.node_by_group[2] and (
            v["Node1AutoScalingGroupName"] != v["Node2AutoScalingGroupName"]
        )
        self.has_vpc_config = _given(v["SubnetIds"])
        self.create_endpoints = self.has_vpc_config and v["CreateVpcEndpoints"] == "true"
        self.has_notification_email = _given(v["NotificationEmail"])
        self.has_route_table_role = _given(v["RouteTableRoleArn"])
        self.create_sts_endpoint = self.create_endpoints and self.has_route_table_role
        # Fleet groups' nodes found by Auto Scaling group (FleetFoundNodes): not known at deploy time.
        self.fleet_finds_by_group = v["FleetFoundNodes"] == "tags-and-auto-scaling-groups"
        self.describes_auto_scaling_groups = self.any_node_by_group or self.fleet_finds_by_group
        self.create_autoscaling_endpoint = self.create_endpoints and self.describes_auto_scaling_groups
        has_security_groups = _given(v["SecurityGroupIds"])
        self.has_observer2 = _given(v["Observer2SubnetId"]) and has_security_groups
        self.has_observer3 = _given(v["Observer3SubnetId"]) and has_security_groups
        self.tracing = v["EnableTracing"] == "true"
        self.full = v["ObservabilityProfile"] == "full"
        self.reserved_concurrency = v["MonitorReservedConcurrency"] not in ("", "0")
        # Authenticated health checks: each configured secret by the service that holds it (the ARN's
        # third field, as the template's AuthSecretIn*/ClientCertIn* conditions read it).
        self.health_check_secrets: dict[str, list[str]] = {"secretsmanager": [], "ssm": []}
        for name in ("HealthCheckAuthSecretArn", "HealthCheckClientCertSecretArn"):
            arn = v[name]
            service = f"{arn}::".split(":")[2] if isinstance(arn, str) else ""
            if service in self.health_check_secrets:
                self.health_check_secrets[service].append(arn)
        self.reads_tagged_health_check_secrets = v["FleetHealthCheckSecrets"] == "tagged"
        self.reads_any_health_check_secret = (
            any(self.health_check_secrets.values()) or self.reads_tagged_health_check_secrets
        )

    def _rules(self) -> None:
        """ExamplePlaceholdersReplaced, at deploy time as in the template (docs' examples synthesize)."""
        assertions = [
            CfnRuleAssertion(
                assert_=Fn.condition_not(Fn.condition_equals(self.values[name], example)), assert_description=message
            )
            for name, example, message in parameters.EXAMPLE_PLACEHOLDERS
        ]
        CfnRule(self, "ExamplePlaceholdersReplaced", assertions=assertions)

    # -- state and notifications ----------------------------------------------------------------------
    def _table(self, logical_id: str, keys: list[tuple[str, str]], *, pitr: bool, ttl: bool) -> dynamodb.CfnTable:
        return dynamodb.CfnTable(
            self,
            logical_id,
            billing_mode="PAY_PER_REQUEST",
            attribute_definitions=[
                dynamodb.CfnTable.AttributeDefinitionProperty(attribute_name=name, attribute_type="S")
                for name, _ in keys
            ],
            key_schema=[dynamodb.CfnTable.KeySchemaProperty(attribute_name=name, key_type=kind) for name, kind in keys],
            point_in_time_recovery_specification=(
                dynamodb.CfnTable.PointInTimeRecoverySpecificationProperty(point_in_time_recovery_enabled=True)
                if pitr
                else None
            ),
            time_to_live_specification=(
                dynamodb.CfnTable.TimeToLiveSpecificationProperty(attribute_name="expires_at", enabled=True)
                if ttl
                else None
            ),
            sse_specification=dynamodb.CfnTable.SSESpecificationProperty(sse_enabled=True),
        )

    def _state_and_notifications(self) -> None:
        self.state_table = self._table("StateTable", [("pk", "HASH")], pitr=True, ttl=False)
        self.state_table.apply_removal_policy(RemovalPolicy.RETAIN)
        self.decision_log_table = self._table(
            "DecisionLogTable", [("pk", "HASH"), ("sk", "RANGE")], pitr=False, ttl=True
        )
        self.decision_log_table.apply_removal_policy(RemovalPolicy.DESTROY)
        self.monitor_lease_table = self._table("MonitorLeaseTable", [("pk", "HASH")], pitr=True, ttl=False)
        self.monitor_lease_table.apply_removal_policy(RemovalPolicy.DESTROY)

        self.notification_key: kms.CfnKey | None = None
        if self.full:
            self.notification_key = kms.CfnKey(
                self,
                "NotificationKey",
                description=Fn.sub("Encrypts the ${AWS::StackName} failover notification topic"),
                enable_key_rotation=True,
                key_policy={
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "AccountAdministersKeyThroughIam",
                            "Effect": "Allow",
                            "Principal": {"AWS": Fn.sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")},
                            "Action": "kms:*",
                            "Resource": "*",
                        },
                        {
                            "Sid": "StackAlarmsPublishToTopic",
                            "Effect": "Allow",
                            "Principal": {"Service": "cloudwatch.amazonaws.com"},
                            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                            "Resource": "*",
                            "Condition": {
                                "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                                "ArnLike": {"aws:SourceArn": _arn("cloudwatch", "alarm:${AWS::StackName}-*")},
                            },
                        },
                    ],
                },
            )
            self.notification_key.apply_removal_policy(RemovalPolicy.DESTROY)
            kms.CfnAlias(
                self,
                "NotificationKeyAlias",
                alias_name=Fn.sub("alias/${AWS::StackName}-notifications"),
                target_key_id=self.notification_key.ref,
            )
        self.notification_topic = sns.CfnTopic(
            self,
            "NotificationTopic",
            display_name="NGINX EIP failover",
            kms_master_key_id=self.notification_key.ref if self.notification_key is not None else None,
        )
        if self.has_notification_email:
            sns.CfnSubscription(
                self,
                "NotificationEmailSubscription",
                topic_arn=self.notification_topic.ref,
                protocol="email",
                endpoint=self.values["NotificationEmail"],
            )

    # -- functions ----------------------------------------------------------------------------------
    def _log_group(self, logical_id: str) -> logs.CfnLogGroup:
        group = logs.CfnLogGroup(self, logical_id, retention_in_days=_number(self.values["LogRetentionInDays"]))
        group.apply_removal_policy(RemovalPolicy.DESTROY)
        return group

    def _found_nodes_environment(self) -> dict[str, Any]:
        """Set only when a node is found, so the default environment is as before."""
        v = self.values
        environment: dict[str, Any] = {}
        for n in (1, 2):
            if self.node_by_group[n]:
                environment[f"NODE{n}_AUTO_SCALING_GROUP_NAME"] = v[f"Node{n}AutoScalingGroupName"]
                environment[f"NODE{n}_AVAILABILITY_ZONE"] = v[f"Node{n}AvailabilityZone"]
            if self.node_by_tags[n]:
                environment[f"NODE{n}_INSTANCE_TAGS"] = v[f"Node{n}InstanceTags"]
        return environment

    def _common_environment(self) -> dict[str, Any]:
        v = self.values
        return {
            "EIP_ALLOCATION_ID": v["ElasticIpAllocationId"],
            "NODE1_INSTANCE_ID": v["Node1InstanceId"],
            "NODE1_HEALTH_CHECK_URL": v["Node1HealthCheckUrl"],
            "NODE1_PRIORITY": v["Node1Priority"],
            "NODE2_INSTANCE_ID": v["Node2InstanceId"],
            "NODE2_HEALTH_CHECK_URL": v["Node2HealthCheckUrl"],
            "NODE2_PRIORITY": v["Node2Priority"],
            "NODE1_NETWORK_INTERFACE_ID": v["Node1NetworkInterfaceId"],
            "NODE1_PRIVATE_IP_ADDRESS": v["Node1PrivateIpAddress"],
            "NODE2_NETWORK_INTERFACE_ID": v["Node2NetworkInterfaceId"],
            "NODE2_PRIVATE_IP_ADDRESS": v["Node2PrivateIpAddress"],
            **self._found_nodes_environment(),
            "SECOND_EIP_ALLOCATION_ID": v["SecondElasticIpAllocationId"],
            "NODE1_SECOND_PRIVATE_IP_ADDRESS": v["Node1SecondPrivateIpAddress"],
            "NODE2_SECOND_PRIVATE_IP_ADDRESS": v["Node2SecondPrivateIpAddress"],
            "HEALTH_CHECK_INTERVAL_SECONDS": v["HealthCheckIntervalSeconds"],
            "HEALTH_CHECK_TIMEOUT_SECONDS": v["HealthCheckTimeoutSeconds"],
            "FALL_THRESHOLD": v["FallThreshold"],
            "RISE_THRESHOLD": v["RiseThreshold"],
            "PREEMPT": v["Preempt"],
            "PREEMPT_DELAY_SECONDS": v["PreemptDelaySeconds"],
            "MIN_SECONDS_BETWEEN_MOVES": v["MinSecondsBetweenMoves"],
            "FLAP_WINDOW_SECONDS": v["FlapWindowSeconds"],
            "FLAP_SUPPRESS_THRESHOLD": v["FlapSuppressThreshold"],
            "HEALTH_CHECK_CA_BUNDLE": v["HealthCheckCaBundle"],
            "HEALTH_CHECK_AUTH_KIND": v["HealthCheckAuthKind"],
            "HEALTH_CHECK_AUTH_SECRET_ARN": v["HealthCheckAuthSecretArn"],
            "HEALTH_CHECK_AUTH_HEADER_NAME": v["HealthCheckAuthHeaderName"],
            "HEALTH_CHECK_AUTH_FAILURE_IS_DOWN": v["HealthCheckAuthFailureIsDown"],
            "HEALTH_CHECK_CLIENT_CERT_SECRET_ARN": v["HealthCheckClientCertSecretArn"],
            "STATE_TABLE_NAME": self.state_table.ref,
            "DECISION_LOG_TABLE_NAME": self.decision_log_table.ref,
            "DECISION_LOG_RETENTION_DAYS": v["DecisionLogRetentionDays"],
        }

    def _monitor_environment(self, observer: str) -> dict[str, Any]:
        v = self.values
        observers = ["local"] + [
            name for name, present in (("observer2", self.has_observer2), ("observer3", self.has_observer3)) if present
        ]
        environment = {
            **self._common_environment(),
            "MONITOR_LEASE_TABLE_NAME": self.monitor_lease_table.ref,
            "NOTIFICATION_TOPIC_ARN": self.notification_topic.ref,
            **self._powertools(),
            "PREFLIGHT_INTERVAL_SECONDS": v["PreflightIntervalSeconds"] if observer == "local" else "0",
        }
        if observer == "local":
            environment["ALARM_NAMES"] = self._alarm_names()
        environment["OBSERVER_NAME"] = observer
        environment["OBSERVERS"] = ",".join(observers)
        environment["OBSERVER_HEARTBEAT_SECONDS"] = v["ObserverHeartbeatSeconds"]
        return environment

    def _powertools(self) -> dict[str, Any]:
        return {
            "POWERTOOLS_SERVICE_NAME": "nginx-eip-failover",
            "POWERTOOLS_METRICS_NAMESPACE": "NginxEipFailover",
            "POWERTOOLS_LOG_LEVEL": self.values["LogLevel"],
            "POWERTOOLS_TRACE_DISABLED": "false" if self.tracing else "true",
            "OBSERVABILITY_PROFILE": self.values["ObservabilityProfile"],
            "ROUTE_TABLE_ROLE_ARN": self.values["RouteTableRoleArn"],
            "ROUTE_TABLE_ROLE_EXTERNAL_ID": self.values["RouteTableRoleExternalId"],
            "AWS_STS_REGIONAL_ENDPOINTS": "regional",  # AssumeRole in the function's region (its VPC endpoint)
            # Which ways fleet documents may find a node (docs/found-nodes.md).
            "FLEET_FOUND_NODES": self.values["FleetFoundNodes"],
        }

    def _alarm_names(self) -> str:
        # A node found by tags has no status-check alarm.
        names = [f"${{AWS::StackName}}-node{n}-status-check" for n in (1, 2) if self.has_status_check_alarm[n]]
        return Fn.sub(",".join(names)) if names else ""

    def _role(self, logical_id: str, statements: list[dict[str, Any]]) -> iam.CfnRole:
        """A function's role as SAM generates it: Lambda's trust, SAM's managed policies (SAM adds the
        X-Ray and VPC ones whenever Tracing and VpcConfig are set, as they are here, by an !If), the
        template's statements as the inline policy <Function>RolePolicy0."""
        partition = Aws.PARTITION
        return iam.CfnRole(
            self,
            logical_id,
            assume_role_policy_document={
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Action": ["sts:AssumeRole"],
                        "Effect": "Allow",
                        "Principal": {"Service": ["lambda.amazonaws.com"]},
                    }
                ],
            },
            managed_policy_arns=[
                f"arn:{partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
                f"arn:{partition}:iam::aws:policy/AWSXrayWriteOnlyAccess",
                f"arn:{partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
            ],
            policies=[
                iam.CfnRole.PolicyProperty(
                    policy_name=f"{logical_id}Policy0",
                    policy_document={"Statement": statements},
                )
            ],
            tags=[{"key": "lambda:createdBy", "value": "SAM"}],
        )

    def _pair_statements(self) -> list[dict[str, Any]]:
        """The statements both functions have, up to the state table (template.yaml's order)."""
        v = self.values
        eip = _arn("ec2", "elastic-ip/${Eip}", Eip=v["ElasticIpAllocationId"])
        if self.pair_by_network_interface:
            targets = [
                _arn("ec2", "network-interface/${Eni}", Eni=v["Node1NetworkInterfaceId"]),
                _arn("ec2", "network-interface/${Eni}", Eni=v["Node2NetworkInterfaceId"]),
            ]
        else:
            # A found node's instances are unknown at deploy time: reached by tag (below) instead.
            targets = self._fixed_instance_arns()
        tagged = {"StringEquals": {f"aws:ResourceTag/{TAG_KEY}": Aws.STACK_NAME}}
        second_address_set: list[dict[str, Any]] = []
        if self.has_second_address_set:
            # Active/active: the second EIP, by ARN like the first, onto the pair's ENIs.
            second_address_set.append(
                {
                    "Sid": "MoveTheSecondElasticIpBetweenThePair",
                    "Effect": "Allow",
                    "Action": "ec2:AssociateAddress",
                    "Resource": [
                        _arn("ec2", "elastic-ip/${Eip}", Eip=v["SecondElasticIpAllocationId"]),
                        _arn("ec2", "network-interface/${Eni}", Eni=v["Node1NetworkInterfaceId"]),
                        _arn("ec2", "network-interface/${Eni}", Eni=v["Node2NetworkInterfaceId"]),
                    ],
                }
            )
        return [
            {
                "Sid": "MoveTheElasticIpBetweenThePair",
                "Effect": "Allow",
                "Action": "ec2:AssociateAddress",
                "Resource": [eip, *targets],
            },
            *second_address_set,
            {
                "Sid": "DescribeActionsSupportNoResourceScoping",
                "Effect": "Allow",
                "Action": [
                    "ec2:DescribeAddresses",
                    "ec2:DescribeInstances",
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DescribeRouteTables",
                ],
                "Resource": "*",
            },
            {
                "Sid": "MoveFleetAddressesTaggedForThisStack",
                "Effect": "Allow",
                "Action": "ec2:AssociateAddress",
                "Resource": [
                    _arn("ec2", "elastic-ip/*"),
                    _arn("ec2", "instance/*"),
                    _arn("ec2", "network-interface/*"),
                ],
                "Condition": tagged,
            },
            {
                "Sid": "MoveFleetSecondaryIpsTaggedForThisStack",
                "Effect": "Allow",
                "Action": "ec2:AssignPrivateIpAddresses",
                "Resource": _arn("ec2", "network-interface/*"),
                "Condition": tagged,
            },
            {
                "Sid": "PointFleetRoutesTaggedForThisStack",
                "Effect": "Allow",
                "Action": ["ec2:ReplaceRoute", "ec2:CreateRoute"],
                "Resource": _arn("ec2", "route-table/*"),
                "Condition": tagged,
            },
            # Route tables in another account (a shared VPC's owner): that account's role grants the
            # route-table actions; here only assuming it (docs/cross-account-routes.md).
            *(
                [
                    {
                        "Sid": "AssumeTheRouteTableRole",
                        "Effect": "Allow",
                        "Action": "sts:AssumeRole",
                        "Resource": v["RouteTableRoleArn"],
                    }
                ]
                if self.has_route_table_role
                else []
            ),
            {
                "Sid": "ReadAndConditionallyWriteState",
                "Effect": "Allow",
                "Action": ["dynamodb:GetItem", "dynamodb:PutItem"],
                "Resource": self.state_table.attr_arn,
            },
        ]

    def _fixed_instance_arns(self) -> list[str]:
        return [
            _arn("ec2", "instance/${Instance}", Instance=self.values[f"Node{n}InstanceId"])
            for n in (1, 2)
            if not self.node_found[n]
        ]

    def _notify_statements(self) -> list[dict[str, Any]]:
        statements: list[dict[str, Any]] = [
            {"Sid": "Notify", "Effect": "Allow", "Action": "sns:Publish", "Resource": self.notification_topic.ref}
        ]
        if self.notification_key is not None:
            statements.append(
                {
                    "Sid": "PublishToTheEncryptedTopic",
                    "Effect": "Allow",
                    "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                    "Resource": self.notification_key.attr_arn,
                }
            )
        statements += self._health_check_secret_statements()
        statements.append(
            {
                "Sid": "PreflightReadsTheNodeAlarms",
                "Effect": "Allow",
                "Action": "cloudwatch:DescribeAlarms",
                "Resource": [
                    _arn("cloudwatch", "alarm:${AWS::StackName}-node1-status-check"),
                    _arn("cloudwatch", "alarm:${AWS::StackName}-node2-status-check"),
                ],
            }
        )
        return statements

    def _health_check_secret_statements(self, *, fleet: bool = True) -> list[dict[str, Any]]:
        """Authenticated health checks (docs/health-auth.md): the configured secrets, each through its
        service's action; fleet groups' own secrets by tag (not for LifecycleFunction, `fleet=False`,
        which probes only the pair); decryption only through those services."""
        statements: list[dict[str, Any]] = []
        secrets, parameters_ = self.health_check_secrets["secretsmanager"], self.health_check_secrets["ssm"]
        if secrets:
            statements.append(
                {
                    "Sid": "ReadTheHealthCheckSecrets",
                    "Effect": "Allow",
                    "Action": "secretsmanager:GetSecretValue",
                    "Resource": list(secrets),
                }
            )
        if parameters_:
            statements.append(
                {
                    "Sid": "ReadTheHealthCheckParameters",
                    "Effect": "Allow",
                    "Action": "ssm:GetParameter",
                    "Resource": list(parameters_),
                }
            )
        if fleet and self.reads_tagged_health_check_secrets:
            tagged = {"StringEquals": {f"aws:ResourceTag/{TAG_KEY}": Aws.STACK_NAME}}
            statements += [
                {
                    "Sid": "ReadFleetHealthCheckSecretsTaggedForThisStack",
                    "Effect": "Allow",
                    "Action": "secretsmanager:GetSecretValue",
                    "Resource": _arn("secretsmanager", "secret:*"),
                    "Condition": tagged,
                },
                {
                    "Sid": "ReadFleetHealthCheckParametersTaggedForThisStack",
                    "Effect": "Allow",
                    "Action": "ssm:GetParameter",
                    "Resource": _arn("ssm", "parameter/*"),
                    "Condition": tagged,
                },
            ]
        if self.reads_any_health_check_secret if fleet else any(self.health_check_secrets.values()):
            statements.append(
                {
                    "Sid": "DecryptTheHealthCheckSecretsThroughTheirService",
                    "Effect": "Allow",
                    "Action": "kms:Decrypt",
                    "Resource": _arn("kms", "key/*"),
                    "Condition": {
                        "StringEquals": {
                            "kms:ViaService": [
                                Fn.sub("secretsmanager.${AWS::Region}.amazonaws.com"),
                                Fn.sub("ssm.${AWS::Region}.amazonaws.com"),
                            ]
                        }
                    },
                }
            )
        return statements

    def _function(
        self,
        logical_id: str,
        *,
        description: str,
        handler: str,
        timeout: int,
        role: iam.CfnRole,
        log_group: logs.CfnLogGroup,
        environment: dict[str, Any],
        subnet_ids: list[str] | None,
        reserved_concurrency: Any = None,
    ) -> lambda_.CfnFunction:
        return lambda_.CfnFunction(
            self,
            logical_id,
            code=lambda_.CfnFunction.CodeProperty(
                s3_bucket=self.code_asset.s3_bucket_name, s3_key=self.code_asset.s3_object_key
            ),
            description=description,
            handler=handler,
            runtime="python3.13",
            architectures=["arm64"],
            memory_size=128,
            timeout=timeout,
            role=role.attr_arn,
            reserved_concurrent_executions=reserved_concurrency,
            tracing_config=lambda_.CfnFunction.TracingConfigProperty(mode="Active" if self.tracing else "PassThrough"),
            logging_config=lambda_.CfnFunction.LoggingConfigProperty(log_group=log_group.ref),
            vpc_config=(
                lambda_.CfnFunction.VpcConfigProperty(
                    subnet_ids=subnet_ids, security_group_ids=list(self.values["SecurityGroupIds"])
                )
                if subnet_ids is not None
                else None
            ),
            environment=lambda_.CfnFunction.EnvironmentProperty(variables=environment),
            tags=[{"key": "lambda:createdBy", "value": "SAM"}],
        )

    def _schedule(self, function_id: str, function: lambda_.CfnFunction, description: str) -> scheduler.CfnSchedule:
        """The function's ScheduleV2 event as SAM turns it into resources: <Function>EveryMinute and its
        role <Function>EveryMinuteRole (lambda:InvokeFunction on the function, trusted by the scheduler)."""
        logical_id = f"{function_id}EveryMinute"
        role = iam.CfnRole(
            self,
            f"{logical_id}Role",
            assume_role_policy_document={
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Action": ["sts:AssumeRole"],
                        "Effect": "Allow",
                        "Principal": {"Service": ["scheduler.amazonaws.com"]},
                    }
                ],
            },
            policies=[
                iam.CfnRole.PolicyProperty(
                    policy_name=f"{logical_id}LambdaPolicy",
                    policy_document={
                        "Statement": [
                            {"Action": "lambda:InvokeFunction", "Effect": "Allow", "Resource": function.attr_arn}
                        ]
                    },
                )
            ],
        )
        return scheduler.CfnSchedule(
            self,
            logical_id,
            description=description,
            schedule_expression="rate(1 minute)",
            flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
            state="ENABLED",
            target=scheduler.CfnSchedule.TargetProperty(
                arn=function.attr_arn,
                role_arn=role.attr_arn,
                input='{"trigger": "schedule"}',
                retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(
                    maximum_event_age_in_seconds=60, maximum_retry_attempts=2
                ),
            ),
        )

    def _no_retries(self, function_id: str, function: lambda_.CfnFunction) -> None:
        lambda_.CfnEventInvokeConfig(
            self,
            f"{function_id}EventInvokeConfig",
            function_name=function.ref,
            qualifier="$LATEST",
            maximum_event_age_in_seconds=60,
            maximum_retry_attempts=0,
        )

    def _functions(self) -> None:
        v = self.values
        self.monitor_log_group = self._log_group("MonitorLogGroup")
        self.control_log_group = self._log_group("ControlLogGroup")
        subnets = list(v["SubnetIds"]) if self.has_vpc_config else None

        monitor_statements = [
            *self._pair_statements(),
            {
                "Sid": "AppendToTheDecisionLog",
                "Effect": "Allow",
                "Action": "dynamodb:BatchWriteItem",
                "Resource": self.decision_log_table.attr_arn,
            },
            {
                "Sid": "HandOverProbingThroughTheMonitorLease",
                "Effect": "Allow",
                "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:BatchGetItem"],
                "Resource": self.monitor_lease_table.attr_arn,
            },
            *self._notify_statements(),
        ]
        self.monitor_role = self._role("MonitorFunctionRole", monitor_statements)
        self.monitor_function = self._function(
            "MonitorFunction",
            description="Probes both NGINX Plus nodes and keeps the Elastic IP on the healthy one.",
            handler=MONITOR_HANDLER,
            timeout=150,
            role=self.monitor_role,
            log_group=self.monitor_log_group,
            environment=self._monitor_environment("local"),
            subnet_ids=subnets,
            reserved_concurrency=_number(v["MonitorReservedConcurrency"]) if self.reserved_concurrency else None,
        )
        self._no_retries("MonitorFunction", self.monitor_function)
        self.monitor_schedule = self._schedule(
            "MonitorFunction",
            self.monitor_function,
            "Starts a monitor invocation every minute; each probes until the next has taken over.",
        )

        self.observer_functions: dict[str, lambda_.CfnFunction] = {}
        for number, present, subnet in (
            (2, self.has_observer2, v["Observer2SubnetId"]),
            (3, self.has_observer3, v["Observer3SubnetId"]),
        ):
            if not present:
                continue
            logical_id = f"Observer{number}Function"
            observer = self._function(
                logical_id,
                description=(
                    f"Observer {number} of the NGINX Plus pair, probing from its own Availability Zone (quorum)."
                ),
                handler=MONITOR_HANDLER,
                timeout=150,
                role=self.monitor_role,  # the same rights: any observer may decide and move the EIP
                log_group=self.monitor_log_group,
                environment=self._monitor_environment(f"observer{number}"),
                subnet_ids=[subnet],
            )
            self._no_retries(logical_id, observer)
            self._schedule(
                logical_id,
                observer,
                "Starts an observer invocation every minute; each probes until the next has taken over.",
            )
            self.observer_functions[logical_id] = observer

        control_statements = [
            *self._pair_statements(),
            {
                "Sid": "AppendToAndReadTheDecisionLog",
                "Effect": "Allow",
                "Action": ["dynamodb:BatchWriteItem", "dynamodb:Query"],
                "Resource": self.decision_log_table.attr_arn,
            },
            *self._notify_statements(),
            {
                "Sid": "PreflightReadsTheSchedule",
                "Effect": "Allow",
                "Action": ["scheduler:GetSchedule"],
                "Resource": self.monitor_schedule.attr_arn,
            },
        ]
        self.control_role = self._role("ControlFunctionRole", control_statements)
        control_environment = {
            **self._common_environment(),
            "NOTIFICATION_TOPIC_ARN": self.notification_topic.ref,
            **self._powertools(),
            "PREFLIGHT_INTERVAL_SECONDS": v["PreflightIntervalSeconds"],
            "ALARM_NAMES": self._alarm_names(),
            "MONITOR_FUNCTION_ARN": self.monitor_function.attr_arn,
            "SCHEDULE_NAME": self.monitor_schedule.ref,
        }
        self.control_function = self._function(
            "ControlFunction",
            description="Operator requests for the NGINX EIP failover (status, failover, unpin, drain, undrain).",
            handler=CONTROL_HANDLER,
            timeout=30,
            role=self.control_role,
            log_group=self.control_log_group,
            environment=control_environment,
            subnet_ids=subnets,
        )

    def _found_nodes_lookup(self) -> None:
        """Monitor, observers and ControlFunction look the found nodes up (the pair's, and with
        FleetFoundNodes the fleet groups'): a policy of its own, so a stack without found nodes keeps its
        roles exactly as before."""
        iam.CfnPolicy(
            self,
            "FoundNodesLookupPolicy",
            policy_name="find-nodes-in-their-auto-scaling-groups",
            roles=[self.monitor_role.ref, self.control_role.ref],
            policy_document={
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "DescribeAutoScalingGroupsSupportsNoResourceScoping",
                        "Effect": "Allow",
                        "Action": "autoscaling:DescribeAutoScalingGroups",
                        "Resource": "*",
                    }
                ],
            },
        )

    # -- found nodes: lifecycle hooks --------------------------------------------------------------
    def _found_nodes(self) -> None:
        """When a node is found in an Auto Scaling group (docs/found-nodes.md), Auto Scaling holds a
        terminating instance in Terminating:Wait; EventBridge starts LifecycleFunction, which drains the
        node, moves the EIP off it if it holds it, and completes the lifecycle action."""
        v = self.values
        groups = [v[f"Node{n}AutoScalingGroupName"] for n in (1, 2) if self.node_by_group[n]]
        group_arns = [
            _arn(
                "autoscaling",
                "autoScalingGroup:*:autoScalingGroupName/${Group}",
                Group=v[f"Node{n}AutoScalingGroupName"],
            )
            for n in (1, 2)
            if self.node_by_group[n]
        ]
        self.lifecycle_log_group = self._log_group("LifecycleLogGroup")
        statements: list[dict[str, Any]] = [
            # The pair's EIP, and the found nodes' instances by the tag their group propagates.
            {
                "Sid": "MoveTheElasticIpToAFixedNode",
                "Effect": "Allow",
                "Action": "ec2:AssociateAddress",
                "Resource": [
                    _arn("ec2", "elastic-ip/${Eip}", Eip=v["ElasticIpAllocationId"]),
                    *self._fixed_instance_arns(),
                ],
            },
            {
                "Sid": "MoveToFoundInstancesTaggedForThisStack",
                "Effect": "Allow",
                "Action": "ec2:AssociateAddress",
                "Resource": _arn("ec2", "instance/*"),
                "Condition": {"StringEquals": {f"aws:ResourceTag/{TAG_KEY}": Aws.STACK_NAME}},
            },
            {
                "Sid": "DescribeActionsSupportNoResourceScoping",
                "Effect": "Allow",
                "Action": ["ec2:DescribeAddresses", "ec2:DescribeInstances", "autoscaling:DescribeAutoScalingGroups"],
                "Resource": "*",
            },
            {
                "Sid": "CompleteTheNodeGroupsLifecycleActions",
                "Effect": "Allow",
                "Action": "autoscaling:CompleteLifecycleAction",
                "Resource": group_arns,
            },
            {
                "Sid": "ReadAndConditionallyWriteState",
                "Effect": "Allow",
                "Action": ["dynamodb:GetItem", "dynamodb:PutItem"],
                "Resource": self.state_table.attr_arn,
            },
            {"Sid": "Notify", "Effect": "Allow", "Action": "sns:Publish", "Resource": self.notification_topic.ref},
        ]
        if self.notification_key is not None:
            statements.append(
                {
                    "Sid": "PublishToTheEncryptedTopic",
                    "Effect": "Allow",
                    "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                    "Resource": self.notification_key.attr_arn,
                }
            )
        statements += self._health_check_secret_statements(fleet=False)
        self.lifecycle_role = self._role("LifecycleFunctionRole", statements)
        environment = {
            "EIP_ALLOCATION_ID": v["ElasticIpAllocationId"],
            "NODE1_INSTANCE_ID": v["Node1InstanceId"],
            "NODE1_HEALTH_CHECK_URL": v["Node1HealthCheckUrl"],
            "NODE1_PRIORITY": v["Node1Priority"],
            "NODE2_INSTANCE_ID": v["Node2InstanceId"],
            "NODE2_HEALTH_CHECK_URL": v["Node2HealthCheckUrl"],
            "NODE2_PRIORITY": v["Node2Priority"],
            "NODE1_AUTO_SCALING_GROUP_NAME": v["Node1AutoScalingGroupName"],
            "NODE1_AVAILABILITY_ZONE": v["Node1AvailabilityZone"],
            "NODE2_AUTO_SCALING_GROUP_NAME": v["Node2AutoScalingGroupName"],
            "NODE2_AVAILABILITY_ZONE": v["Node2AvailabilityZone"],
            **{f"NODE{n}_INSTANCE_TAGS": v[f"Node{n}InstanceTags"] for n in (1, 2) if self.node_by_tags[n]},
            "HEALTH_CHECK_INTERVAL_SECONDS": v["HealthCheckIntervalSeconds"],
            "HEALTH_CHECK_TIMEOUT_SECONDS": v["HealthCheckTimeoutSeconds"],
            "FALL_THRESHOLD": v["FallThreshold"],
            "RISE_THRESHOLD": v["RiseThreshold"],
            "PREEMPT": v["Preempt"],
            "PREEMPT_DELAY_SECONDS": v["PreemptDelaySeconds"],
            "MIN_SECONDS_BETWEEN_MOVES": v["MinSecondsBetweenMoves"],
            "FLAP_WINDOW_SECONDS": v["FlapWindowSeconds"],
            "FLAP_SUPPRESS_THRESHOLD": v["FlapSuppressThreshold"],
            "HEALTH_CHECK_CA_BUNDLE": v["HealthCheckCaBundle"],
            # The drain probes the peer as the monitor does: with the same credentials.
            "HEALTH_CHECK_AUTH_KIND": v["HealthCheckAuthKind"],
            "HEALTH_CHECK_AUTH_SECRET_ARN": v["HealthCheckAuthSecretArn"],
            "HEALTH_CHECK_AUTH_HEADER_NAME": v["HealthCheckAuthHeaderName"],
            "HEALTH_CHECK_AUTH_FAILURE_IS_DOWN": v["HealthCheckAuthFailureIsDown"],
            "HEALTH_CHECK_CLIENT_CERT_SECRET_ARN": v["HealthCheckClientCertSecretArn"],
            "STATE_TABLE_NAME": self.state_table.ref,
            "NOTIFICATION_TOPIC_ARN": self.notification_topic.ref,
            "POWERTOOLS_SERVICE_NAME": "nginx-eip-failover",
            "POWERTOOLS_METRICS_NAMESPACE": "NginxEipFailover",
            "POWERTOOLS_LOG_LEVEL": v["LogLevel"],
            "POWERTOOLS_TRACE_DISABLED": "false" if self.tracing else "true",
            "OBSERVABILITY_PROFILE": v["ObservabilityProfile"],
        }
        self.lifecycle_function = self._function(
            "LifecycleFunction",
            description=(
                "Drains a found node whose instance Auto Scaling terminates, then completes its lifecycle action."
            ),
            handler=LIFECYCLE_HANDLER,
            # Probes, the drain's move (verified for up to 10 s) and the completion: well inside 60 s, and
            # the hook's HeartbeatTimeout (at least 60 s) is longer still.
            timeout=55,
            role=self.lifecycle_role,
            log_group=self.lifecycle_log_group,
            environment=environment,
            subnet_ids=list(v["SubnetIds"]) if self.has_vpc_config else None,
        )
        self._no_retries("LifecycleFunction", self.lifecycle_function)
        # Its EventBridgeRule event as SAM turns it into resources: the rule <Function><Event> and the
        # permission <Function><Event>Permission.
        rule = events.CfnRule(
            self,
            "LifecycleFunctionInstanceTerminating",
            event_pattern={
                "source": ["aws.autoscaling"],
                "detail-type": ["EC2 Instance-terminate Lifecycle Action"],
                "detail": {"AutoScalingGroupName": groups},
            },
            targets=[
                events.CfnRule.TargetProperty(
                    arn=self.lifecycle_function.attr_arn,
                    id="LifecycleFunctionInstanceTerminatingLambdaTarget",
                    retry_policy=events.CfnRule.RetryPolicyProperty(
                        maximum_event_age_in_seconds=60, maximum_retry_attempts=2
                    ),
                )
            ],
        )
        lambda_.CfnPermission(
            self,
            "LifecycleFunctionInstanceTerminatingPermission",
            action="lambda:InvokeFunction",
            function_name=self.lifecycle_function.ref,
            principal="events.amazonaws.com",
            source_arn=rule.attr_arn,
        )
        for n, present in ((1, self.node_by_group[1]), (2, self.node2_hook_needed)):
            if present:
                autoscaling.CfnLifecycleHook(
                    self,
                    f"Node{n}TerminationHook",
                    auto_scaling_group_name=v[f"Node{n}AutoScalingGroupName"],
                    lifecycle_transition="autoscaling:EC2_INSTANCE_TERMINATING",
                    heartbeat_timeout=_number(v["LifecycleHookTimeoutSeconds"]),
                    # Should the function never answer, the instance still terminates (the monitor then
                    # places the EIP).
                    default_result="CONTINUE",
                )

    # -- alarms ------------------------------------------------------------------------------------
    def _alarms(self) -> None:
        v = self.values
        self.node_alarms: dict[int, cloudwatch.CfnAlarm] = {}
        for number in (1, 2):
            if not self.has_status_check_alarm[number]:
                continue  # a node found by tags: nothing names its instance at deploy time
            instance, group = v[f"Node{number}InstanceId"], v[f"Node{number}AutoScalingGroupName"]
            # A found node's alarm watches its group.
            dimension = (
                cloudwatch.CfnAlarm.DimensionProperty(name="AutoScalingGroupName", value=group)
                if self.node_by_group[number]
                else cloudwatch.CfnAlarm.DimensionProperty(name="InstanceId", value=instance)
            )
            alarm = cloudwatch.CfnAlarm(
                self,
                f"Node{number}StatusCheckAlarm",
                alarm_name=Fn.sub(f"${{AWS::StackName}}-node{number}-status-check"),
                alarm_description=Fn.sub(
                    f"EC2 status check of node {number} (${{Instance}}${{Group}}) failed; invokes the monitor to probe "
                    "at once (a hint only: the EIP moves when probes confirm).",
                    {"Instance": instance, "Group": group},
                ),
                namespace="AWS/EC2",
                metric_name="StatusCheckFailed",
                dimensions=[dimension],
                statistic="Maximum",
                period=60,
                evaluation_periods=1,
                threshold=1,
                comparison_operator="GreaterThanOrEqualToThreshold",
                treat_missing_data="breaching",
                alarm_actions=[self.monitor_function.attr_arn],
            )
            lambda_.CfnPermission(
                self,
                f"Node{number}StatusCheckAlarmPermission",
                action="lambda:InvokeFunction",
                function_name=self.monitor_function.attr_arn,
                principal="lambda.alarms.cloudwatch.amazonaws.com",
                source_account=Aws.ACCOUNT_ID,
                source_arn=alarm.attr_arn,
            )
            self.node_alarms[number] = alarm

        topic = [self.notification_topic.ref]
        if self.full:
            not_running_metric: dict[str, Any] = {
                "namespace": "NginxEipFailover",
                "metric_name": "MonitorCycles",
                "dimensions": [cloudwatch.CfnAlarm.DimensionProperty(name="service", value="nginx-eip-failover")],
            }
        else:
            not_running_metric = {
                "namespace": "AWS/Lambda",
                "metric_name": "Invocations",
                "dimensions": [
                    cloudwatch.CfnAlarm.DimensionProperty(name="FunctionName", value=self.monitor_function.ref)
                ],
            }
        self.monitor_not_running_alarm = cloudwatch.CfnAlarm(
            self,
            "MonitorNotRunningAlarm",
            alarm_name=Fn.sub("${AWS::StackName}-monitor-not-running"),
            alarm_description=(
                "The monitor completed no probe cycle (lean profile: no invocation) for 3 minutes: nothing is "
                "watching the pair (schedule disabled, function failing or throttled). Check the function's "
                "logs and errors."
            ),
            **not_running_metric,
            statistic="Sum",
            period=60,
            evaluation_periods=3,
            datapoints_to_alarm=3,
            threshold=1,
            comparison_operator="LessThanThreshold",
            treat_missing_data="breaching",
            alarm_actions=topic,
            ok_actions=topic,
        )
        self.monitor_errors_alarm = cloudwatch.CfnAlarm(
            self,
            "MonitorErrorsAlarm",
            alarm_name=Fn.sub("${AWS::StackName}-monitor-errors"),
            alarm_description=(
                "The monitor function failed (crash, timeout, bad configuration, every cycle failing). Check its logs."
            ),
            namespace="AWS/Lambda",
            metric_name="Errors",
            dimensions=[cloudwatch.CfnAlarm.DimensionProperty(name="FunctionName", value=self.monitor_function.ref)],
            statistic="Sum",
            period=60,
            evaluation_periods=1,
            threshold=1,
            comparison_operator="GreaterThanOrEqualToThreshold",
            treat_missing_data="notBreaching",
            alarm_actions=topic,
            ok_actions=topic,
        )

    def _dashboard(self) -> None:
        v = self.values
        # The template's ${<Alarm>.Arn} as plain variables (a Fn::Sub variable name has no dot).
        body = Fn.sub(
            DASHBOARD_BODY.replace(".Arn}", "Arn}"),
            {
                "Node1InstanceId": v["Node1InstanceId"],
                "Node2InstanceId": v["Node2InstanceId"],
                "MonitorFunction": self.monitor_function.ref,
                "ControlFunction": self.control_function.ref,
                "MonitorNotRunningAlarmArn": self.monitor_not_running_alarm.attr_arn,
                "MonitorErrorsAlarmArn": self.monitor_errors_alarm.attr_arn,
                # A node found by tags has no status-check alarm: the list names those there are.
                "NodeStatusCheckAlarms": Fn.join(
                    "",
                    [
                        Fn.sub(',\n          "${Arn}"', {"Arn": alarm.attr_arn})
                        for _, alarm in sorted(self.node_alarms.items())
                    ],
                )
                if self.node_alarms
                else "",
            },
        )
        self.dashboard = cloudwatch.CfnDashboard(
            self, "Dashboard", dashboard_name=Fn.sub("${AWS::StackName}-failover"), dashboard_body=body
        )

    # -- optional VPC endpoints ----------------------------------------------------------------------
    def _vpc_endpoints(self) -> None:
        v = self.values
        security_group = ec2.CfnSecurityGroup(
            self,
            "EndpointSecurityGroup",
            group_description=Fn.sub(
                "HTTPS from the ${AWS::StackName} failover functions to the EC2, SNS, CloudWatch and Scheduler "
                "interface endpoints"
            ),
            vpc_id=v["VpcId"],
            security_group_ingress=[
                ec2.CfnSecurityGroup.IngressProperty(
                    description="HTTPS from the functions (first of SecurityGroupIds)",
                    ip_protocol="tcp",
                    from_port=443,
                    to_port=443,
                    source_security_group_id=v["SecurityGroupIds"][0],
                )
            ],
        )
        ec2.CfnVPCEndpoint(
            self,
            "DynamoDbGatewayEndpoint",
            vpc_endpoint_type="Gateway",
            service_name=Fn.sub("com.amazonaws.${AWS::Region}.dynamodb"),
            vpc_id=v["VpcId"],
            route_table_ids=list(v["RouteTableIds"]),
        )
        interface_endpoints = [
            ("Ec2InterfaceEndpoint", "ec2"),
            ("SnsInterfaceEndpoint", "sns"),
            ("MonitoringInterfaceEndpoint", "monitoring"),
            ("SchedulerInterfaceEndpoint", "scheduler"),
        ]
        if self.create_autoscaling_endpoint:  # found nodes: DescribeAutoScalingGroups, CompleteLifecycleAction
            interface_endpoints.append(("AutoScalingInterfaceEndpoint", "autoscaling"))
        if self.create_sts_endpoint:  # sts:AssumeRole of RouteTableRoleArn, only when it is set
            interface_endpoints.append(("StsInterfaceEndpoint", "sts"))
        if self.reads_any_health_check_secret:  # authenticated health checks: either service may hold it
            interface_endpoints += [
                ("SecretsManagerInterfaceEndpoint", "secretsmanager"),
                ("SsmInterfaceEndpoint", "ssm"),
            ]
        for logical_id, service in interface_endpoints:
            ec2.CfnVPCEndpoint(
                self,
                logical_id,
                vpc_endpoint_type="Interface",
                service_name=Fn.sub(f"com.amazonaws.${{AWS::Region}}.{service}"),
                vpc_id=v["VpcId"],
                subnet_ids=list(v["SubnetIds"]),
                security_group_ids=[security_group.ref],
                private_dns_enabled=True,
            )

    # -- outputs -----------------------------------------------------------------------------------
    def _outputs(self) -> None:
        outputs: list[tuple[str, str, str]] = [
            ("MonitorFunctionName", "Name of the monitor function", self.monitor_function.ref),
            ("MonitorFunctionArn", "ARN of the monitor function", self.monitor_function.attr_arn),
            # The principals a route table role's trust policy names (docs/cross-account-routes.md).
            ("MonitorFunctionRoleArn", "IAM role of the monitor (and observer) functions", self.monitor_role.attr_arn),
            ("ControlFunctionRoleArn", "IAM role of the control function", self.control_role.attr_arn),
            (
                "ControlFunctionName",
                "Name of the control function (aws lambda invoke --function-name ...)",
                self.control_function.ref,
            ),
            ("ControlFunctionArn", "ARN of the control function", self.control_function.attr_arn),
            ("StateTableName", "DynamoDB table holding the failover state", self.state_table.ref),
            ("StateTableArn", "ARN of the state table", self.state_table.attr_arn),
            (
                "DecisionLogTableName",
                "DynamoDB table of the decision log (explain, replay)",
                self.decision_log_table.ref,
            ),
            ("NotificationTopicArn", "SNS topic for failover notifications and alarms", self.notification_topic.ref),
        ]
        if self.full:
            outputs.append(("DashboardName", "CloudWatch dashboard of the failover", self.dashboard.ref))
        for name, description, value in outputs:
            CfnOutput(self, name, description=description, value=value)


def _given(value: Any) -> bool:
    """A parameter value that is set: a non-empty string (or token) or list."""
    if isinstance(value, list):
        return any(_given(item) for item in value)
    return bool(value) or (isinstance(value, str | int | float) and Token.is_unresolved(value))


def _number(value: Any) -> Any:
    """A Number parameter's text as the number a CloudFormation property takes (a token as a number)."""
    if Token.is_unresolved(value):
        return Token.as_number(value)
    number = float(value)
    return int(number) if number.is_integer() else number


def _token_text(value: Any) -> str | None:
    """A token's string form (a number token as a string token), or None for a plain value."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    if Token.is_unresolved(value):
        return Token.as_string(value)
    return None
