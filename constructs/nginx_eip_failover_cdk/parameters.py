"""The template's parameters as the construct's props see them: for each template.yaml parameter, the
prop that sets it and the checks CloudFormation makes on its value (type, pattern, allowed values,
range), with the template's own ConstraintDescription as the message.

Pure Python (no aws_cdk import), so the repository's parity test reads it next to template.yaml and
fails when the two differ (tests/iac/test_cdk_parity.py): a parameter added to the template, or a
default or a pattern changed there, must be mirrored here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_DECIMAL = r"^([0-9]*[1-9][0-9]*(\.[0-9]+)?|[0-9]*\.[0-9]*[1-9][0-9]*)$"
_IPV4 = r"^(((25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9]))?$"
_PLACEHOLDER = "(replace samconfig.toml's REPLACE-ME placeholder"


class PropError(ValueError):
    """A prop's value the template would refuse; the message names the prop, the value and the rule."""


@dataclass(frozen=True)
class ParameterSpec:
    """One template parameter: the prop that sets it and the template's checks, field for field."""

    name: str  # the template.yaml parameter
    prop: str  # where the construct takes it, e.g. "health.fall_threshold"
    type: str = "String"  # String | Number | CommaDelimitedList
    default: str | int | None = None  # None: required
    allowed_pattern: str | None = None
    allowed_values: tuple[str | int, ...] | None = None
    min_value: int | None = None
    max_value: int | None = None
    constraint_description: str | None = None

    def check(self, text: str) -> None:
        """The checks CloudFormation makes on the parameter's value before a deploy."""

        def fail(problem: str) -> PropError:
            return PropError(f"{self.prop}={text!r} (template parameter {self.name}): {problem}")

        described = self.constraint_description
        if self.type == "Number":
            try:
                number = float(text)
            except ValueError:
                raise fail(described or "must be a number") from None
            if self.min_value is not None and number < self.min_value:
                raise fail(described or f"must be at least {self.min_value}")
            if self.max_value is not None and number > self.max_value:
                raise fail(described or f"must be at most {self.max_value}")
        if self.allowed_values is not None and text not in [str(v) for v in self.allowed_values]:
            raise fail(described or f"must be one of {', '.join(str(v) for v in self.allowed_values)}")
        if self.allowed_pattern is not None and not re.fullmatch(self.allowed_pattern, text):
            raise fail(described or f"must match {self.allowed_pattern}")


# A found node's tags (Node*InstanceTags): the grammar of core/node_finders' NODEn_INSTANCE_TAGS.
_INSTANCE_TAGS = r"^([^=,\x00-\x1f]{1,128}=[^=,\x00-\x1f]{0,256}(,[^=,\x00-\x1f]{1,128}=[^=,\x00-\x1f]{0,256}){0,4})?$"

# A Secrets Manager secret's or an SSM parameter's ARN (or empty), as the template's AllowedPattern.
_CREDENTIAL_ARN = (
    r"^(arn:aws[a-z-]*:(secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+"
    r"|ssm:[a-z0-9-]+:[0-9]{12}:parameter/[A-Za-z0-9/_.-]+))?$"
)


def _spec(name: str, prop: str, **fields: Any) -> ParameterSpec:
    return ParameterSpec(name=name, prop=prop, **fields)


_LOG_RETENTION = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)

SPECS: tuple[ParameterSpec, ...] = (
    _spec(
        "ElasticIpAllocationId",
        "elastic_ip_allocation_id",
        allowed_pattern="^eipalloc-[0-9a-f]{8,17}$",
        constraint_description="ElasticIpAllocationId must be an Elastic IP allocation ID such as "
        f"eipalloc-0a1b2c3d4e5f60718 {_PLACEHOLDER} with the pair's EIP)",
    ),
    _spec(
        "Node1InstanceId",
        "nodes[0].instance_id",
        allowed_pattern="^(i-[0-9a-f]{8,17})?$",
        constraint_description="Node1InstanceId must be an EC2 instance ID such as i-0a1b2c3d4e5f60718 "
        f"{_PLACEHOLDER} with node 1's instance)",
    ),
    _spec(
        "Node2InstanceId",
        "nodes[1].instance_id",
        allowed_pattern="^(i-[0-9a-f]{8,17})?$",
        constraint_description="Node2InstanceId must be an EC2 instance ID such as i-0a1b2c3d4e5f60719 "
        f"{_PLACEHOLDER} with node 2's instance)",
    ),
    _spec(
        "Node1HealthCheckUrl",
        "nodes[0].health_check_url",
        allowed_pattern="^https?://.+",
        constraint_description=f"Node1HealthCheckUrl must be an http:// or https:// URL of node 1 {_PLACEHOLDER})",
    ),
    _spec(
        "Node2HealthCheckUrl",
        "nodes[1].health_check_url",
        allowed_pattern="^https?://.+",
        constraint_description=f"Node2HealthCheckUrl must be an http:// or https:// URL of node 2 {_PLACEHOLDER})",
    ),
    _spec("Node1Priority", "nodes[0].priority", type="Number", default=101, min_value=0, max_value=255),
    _spec("Node2Priority", "nodes[1].priority", type="Number", default=100, min_value=0, max_value=255),
    _spec(
        "Node1NetworkInterfaceId",
        "nodes[0].network_interface_id",
        default="",
        allowed_pattern="^(eni-[0-9a-f]{8,17})?$",
        constraint_description="must be empty or a network interface ID such as eni-0123456789abcdef0",
    ),
    _spec(
        "Node1PrivateIpAddress",
        "nodes[0].private_ip_address",
        default="",
        allowed_pattern=_IPV4,
        constraint_description="must be empty or an IPv4 address such as 10.0.1.20",
    ),
    _spec(
        "Node2NetworkInterfaceId",
        "nodes[1].network_interface_id",
        default="",
        allowed_pattern="^(eni-[0-9a-f]{8,17})?$",
        constraint_description="must be empty or a network interface ID such as eni-0123456789abcdef0",
    ),
    _spec(
        "Node2PrivateIpAddress",
        "nodes[1].private_ip_address",
        default="",
        allowed_pattern=_IPV4,
        constraint_description="must be empty or an IPv4 address such as 10.0.1.21",
    ),
    _spec(
        "Node1AutoScalingGroupName",
        "nodes[0].auto_scaling_group_name",
        default="",
        allowed_pattern="^[^:]{0,255}$",
        constraint_description="must be empty or an Auto Scaling group name (not an ARN)",
    ),
    _spec(
        "Node1AvailabilityZone",
        "nodes[0].availability_zone",
        default="",
        allowed_pattern="^([a-z]{2}(-[a-z]+)+-[0-9][a-z])?$",
        constraint_description="must be empty or an Availability Zone such as eu-west-1a",
    ),
    _spec(
        "Node2AutoScalingGroupName",
        "nodes[1].auto_scaling_group_name",
        default="",
        allowed_pattern="^[^:]{0,255}$",
        constraint_description="must be empty or an Auto Scaling group name (not an ARN)",
    ),
    _spec(
        "Node2AvailabilityZone",
        "nodes[1].availability_zone",
        default="",
        allowed_pattern="^([a-z]{2}(-[a-z]+)+-[0-9][a-z])?$",
        constraint_description="must be empty or an Availability Zone such as eu-west-1b",
    ),
    _spec(
        "Node1InstanceTags",
        "nodes[0].instance_tags",
        default="",
        allowed_pattern=_INSTANCE_TAGS,
        constraint_description=(
            "Node1InstanceTags must be empty or Key=Value[,Key=Value] (1 to 5 tags, no ',' or '=' inside a key or "
            "value), such as role=nginx-plus,pair=edge-a"
        ),
    ),
    _spec(
        "Node2InstanceTags",
        "nodes[1].instance_tags",
        default="",
        allowed_pattern=_INSTANCE_TAGS,
        constraint_description=(
            "Node2InstanceTags must be empty or Key=Value[,Key=Value] (1 to 5 tags, no ',' or '=' inside a key or "
            "value), such as role=nginx-plus,pair=edge-b"
        ),
    ),
    _spec(
        "LifecycleHookTimeoutSeconds",
        "lifecycle_hook_timeout_seconds",
        type="Number",
        default=120,
        min_value=60,
        max_value=900,
    ),
    _spec(
        "FleetFoundNodes",
        "fleet_found_nodes",
        default="tags",
        allowed_values=("tags", "tags-and-auto-scaling-groups"),
    ),
    _spec(
        "SecondElasticIpAllocationId",
        "second_elastic_ip_allocation_id",
        default="",
        allowed_pattern="^(eipalloc-[0-9a-f]{8,17})?$",
        constraint_description="must be empty or an Elastic IP allocation ID such as eipalloc-0a1b2c3d4e5f60718",
    ),
    _spec(
        "Node1SecondPrivateIpAddress",
        "nodes[0].second_private_ip_address",
        default="",
        allowed_pattern=_IPV4,
        constraint_description="must be empty or an IPv4 address such as 10.0.1.30",
    ),
    _spec(
        "Node2SecondPrivateIpAddress",
        "nodes[1].second_private_ip_address",
        default="",
        allowed_pattern=_IPV4,
        constraint_description="must be empty or an IPv4 address such as 10.0.1.31",
    ),
    _spec(
        "HealthCheckIntervalSeconds",
        "health.interval_seconds",
        default="1",
        allowed_pattern=_DECIMAL,
        constraint_description="must be a positive decimal number of seconds, e.g. 1 or 0.5 (at most 60)",
    ),
    _spec(
        "HealthCheckTimeoutSeconds",
        "health.timeout_seconds",
        default="1",
        allowed_pattern=_DECIMAL,
        constraint_description="must be a positive decimal number of seconds, e.g. 1 or 0.5 "
        "(at most 10, and at most the interval)",
    ),
    _spec("FallThreshold", "health.fall_threshold", type="Number", default=3, min_value=1, max_value=100),
    _spec("RiseThreshold", "health.rise_threshold", type="Number", default=2, min_value=1, max_value=100),
    _spec("Preempt", "failover.preempt", default="true", allowed_values=("true", "false")),
    _spec(
        "PreemptDelaySeconds", "failover.preempt_delay_seconds", type="Number", default=60, min_value=0, max_value=86400
    ),
    _spec(
        "MinSecondsBetweenMoves",
        "failover.min_seconds_between_moves",
        type="Number",
        default=0,
        min_value=0,
        max_value=86400,
    ),
    _spec(
        "FlapWindowSeconds", "failover.flap_window_seconds", type="Number", default=300, min_value=0, max_value=86400
    ),
    _spec(
        "FlapSuppressThreshold",
        "failover.flap_suppress_threshold",
        type="Number",
        default=3,
        min_value=1,
        max_value=100,
    ),
    _spec(
        "HealthCheckCaBundle",
        "health.ca_bundle",
        default="",
        allowed_pattern=r"^(/[^\s]*)?$",
        constraint_description="must be empty or an absolute path without spaces",
    ),
    # Authenticated health checks (docs/health-auth.md).
    _spec("HealthCheckAuthKind", "health_auth.kind", default="none", allowed_values=("none", "header", "basic")),
    _spec(
        "HealthCheckAuthSecretArn",
        "health_auth.secret_arn",
        default="",
        allowed_pattern=_CREDENTIAL_ARN,
        constraint_description="must be empty, a Secrets Manager secret ARN (with its suffix) or an SSM parameter ARN",
    ),
    _spec(
        "HealthCheckAuthHeaderName",
        "health_auth.header_name",
        default="Authorization",
        allowed_pattern="^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$",
        constraint_description="must be an HTTP header name (1-64 characters)",
    ),
    _spec(
        "HealthCheckAuthFailureIsDown",
        "health_auth.failure_is_down",
        default="false",
        allowed_values=("true", "false"),
    ),
    _spec(
        "HealthCheckClientCertSecretArn",
        "health_auth.client_cert_secret_arn",
        default="",
        allowed_pattern=_CREDENTIAL_ARN,
        constraint_description="must be empty, a Secrets Manager secret ARN (with its suffix) or an SSM parameter ARN",
    ),
    _spec("FleetHealthCheckSecrets", "health_auth.fleet_secrets", default="none", allowed_values=("none", "tagged")),
    _spec(
        "NotificationEmail",
        "notification_email",
        default="",
        allowed_pattern=r"^([^@\s]+@[^@\s]+\.[^@\s]+)?$",
        constraint_description="must be empty or an e-mail address",
    ),
    _spec("SubnetIds", "network.subnet_ids", type="CommaDelimitedList", default=""),
    _spec("SecurityGroupIds", "network.security_group_ids", type="CommaDelimitedList", default=""),
    _spec("CreateVpcEndpoints", "network.create_vpc_endpoints", default="false", allowed_values=("true", "false")),
    _spec(
        "VpcId",
        "network.vpc_id",
        default="",
        allowed_pattern="^(vpc-[0-9a-f]{8,17})?$",
        constraint_description="must be empty or a VPC ID such as vpc-0123456789abcdef0",
    ),
    _spec("RouteTableIds", "network.route_table_ids", type="CommaDelimitedList", default=""),
    _spec(
        "RouteTableRoleArn",
        "route_table_role_arn",
        default="",
        allowed_pattern=r"^(arn:aws(-cn|-us-gov)?:iam::[0-9]{12}:role/([\w+=,.@-]+/){0,20}[\w+=,.@-]{1,64})?$",
        constraint_description="must be empty or an IAM role ARN such as arn:aws:iam::111122223333:role/route-mover",
    ),
    _spec(
        "RouteTableRoleExternalId",
        "route_table_role_external_id",
        default="",
        allowed_pattern=r"^([\w+=,.@:/-]{2,1224})?$",
        constraint_description="must be empty or 2-1224 of letters, digits and +=,.@:/-",
    ),
    _spec("LogLevel", "log_level", default="INFO", allowed_values=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")),
    _spec("LogRetentionInDays", "log_retention_in_days", type="Number", default=30, allowed_values=_LOG_RETENTION),
    _spec(
        "DecisionLogRetentionDays",
        "decision_log_retention_days",
        type="Number",
        default=14,
        min_value=1,
        max_value=3650,
    ),
    _spec("ObservabilityProfile", "profile", default="lean", allowed_values=("lean", "full")),
    _spec("EnableTracing", "enable_tracing", default="false", allowed_values=("true", "false")),
    _spec(
        "MonitorReservedConcurrency",
        "monitor_reserved_concurrency",
        default="",
        allowed_pattern="^[0-9]{0,4}$",
        constraint_description="must be empty or a whole number (0 reserves none)",
    ),
    _spec(
        "PreflightIntervalSeconds",
        "preflight_interval_seconds",
        type="Number",
        default=900,
        min_value=0,
        max_value=86400,
    ),
    _spec(
        "Observer2SubnetId",
        "observers.observer2_subnet_id",
        default="",
        allowed_pattern="^(subnet-[0-9a-f]{8,17})?$",
        constraint_description="must be empty or a subnet ID such as subnet-0123456789abcdef0",
    ),
    _spec(
        "Observer3SubnetId",
        "observers.observer3_subnet_id",
        default="",
        allowed_pattern="^(subnet-[0-9a-f]{8,17})?$",
        constraint_description="must be empty or a subnet ID such as subnet-0123456789abcdef0",
    ),
    _spec(
        "ObserverHeartbeatSeconds",
        "observers.heartbeat_seconds",
        type="Number",
        default=10,
        min_value=1,
        max_value=300,
    ),
)

BY_NAME: dict[str, ParameterSpec] = {spec.name: spec for spec in SPECS}

# The settings that flow into the functions unchanged: a CDK token (a CfnParameter) may stand for
# each. `synth --lab` makes them parameters of the lab's stack, named as in template.yaml.
LAB_PARAMETERS = (
    "ElasticIpAllocationId",
    "Node1InstanceId",
    "Node2InstanceId",
    "Node1HealthCheckUrl",
    "Node2HealthCheckUrl",
    "Node1Priority",
    "Node2Priority",
    "HealthCheckIntervalSeconds",
    "HealthCheckTimeoutSeconds",
    "FallThreshold",
    "RiseThreshold",
    "Preempt",
    "PreemptDelaySeconds",
    "MinSecondsBetweenMoves",
    "FlapWindowSeconds",
    "FlapSuppressThreshold",
    "HealthCheckCaBundle",
    "LogLevel",
    "LogRetentionInDays",
    "DecisionLogRetentionDays",
    "PreflightIntervalSeconds",
    "ObserverHeartbeatSeconds",
)

# template.yaml parameters the construct does not take (none today). The parity test fails on any
# template parameter that is neither in SPECS nor here, so a new one is a decision, not an accident.
NOT_MIRRORED: dict[str, str] = {}

# The template's Rules, as the construct checks them at synth time (same descriptions).
EACH_NODE_IS_NAMED = (
    "node 1 needs Node1InstanceId, Node1AutoScalingGroupName or Node1InstanceTags",
    "node 2 needs Node2InstanceId, Node2AutoScalingGroupName or Node2InstanceTags",
)


def found_by_tags_alone(n: int) -> tuple[str, str, str]:
    """Node<n>FoundByTagsAlone's descriptions: tags beside a group, beside an InstanceId, beside an ENI."""
    return (
        f"Node{n}InstanceTags and Node{n}AutoScalingGroupName are both set; a node is found one way",
        f"Node{n}InstanceTags and Node{n}InstanceId are both set; leave Node{n}InstanceId empty for a found node",
        f"Node{n}NetworkInterfaceId must be empty for a node found by Node{n}InstanceTags "
        "(a replaced instance has another ENI)",
    )


PAIR_BY_NETWORK_INTERFACE_NEEDS_ALL_FOUR = (
    "the pair by ENI needs all four of Node1/Node2 NetworkInterfaceId and PrivateIpAddress"
)
SECOND_ADDRESS_SET_NEEDS_THE_PAIR_BY_NETWORK_INTERFACE = (
    "the second EIP needs SecondElasticIpAllocationId, Node1/Node2SecondPrivateIpAddress and the pair by ENI "
    "(Node1/Node2 NetworkInterfaceId and PrivateIpAddress)"
)
OBSERVER_PLACEMENT_NEEDS_SECURITY_GROUPS = "SecurityGroupIds must be set when an observer subnet is set"
VPC_PLACEMENT_NEEDS_SECURITY_GROUPS = "SecurityGroupIds must be set when SubnetIds is set"
ROUTE_TABLE_ROLE_EXTERNAL_ID_NEEDS_THE_ROLE = (
    "RouteTableRoleExternalId is set without RouteTableRoleArn (no role to assume)"
)
VPC_ENDPOINTS_NEED_SUBNETS = "CreateVpcEndpoints needs SubnetIds (and SecurityGroupIds)"
VPC_ENDPOINTS_NEED_VPC = "CreateVpcEndpoints needs VpcId"
VPC_ENDPOINTS_NEED_ROUTE_TABLES = "CreateVpcEndpoints needs RouteTableIds"
HEALTH_CHECK_AUTH_NEEDS_ITS_ARN = "HealthCheckAuthKind header or basic needs HealthCheckAuthSecretArn"
HEALTH_CHECK_AUTH_ARN_NEEDS_ITS_KIND = (
    "HealthCheckAuthSecretArn is set, so HealthCheckAuthKind must say header or basic"
)
# ExamplePlaceholdersReplaced: refused at deploy time, as the template does (a CfnRule), so an app
# with docs/deploy.md's example values still synthesizes.
EXAMPLE_PLACEHOLDERS: tuple[tuple[str, str, str], ...] = (
    (
        "ElasticIpAllocationId",
        "eipalloc-0123456789abcdef0",
        "ElasticIpAllocationId is samconfig.toml's example eipalloc-0123456789abcdef0; set the pair's EIP",
    ),
    (
        "Node1InstanceId",
        "i-0123456789abcdef1",
        "Node1InstanceId is samconfig.toml's example i-0123456789abcdef1; set node 1's instance",
    ),
    (
        "Node2InstanceId",
        "i-0123456789abcdef2",
        "Node2InstanceId is samconfig.toml's example i-0123456789abcdef2; set node 2's instance",
    ),
)
