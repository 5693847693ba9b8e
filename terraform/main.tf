# nginx-eip-failover as a Terraform module: the resources template.yaml declares, under the names
# template.yaml's logical IDs map to in locals.logical_ids, granting, running and scheduling the same
# (tests/iac/test_terraform_parity.py compares this module with template.yaml for both pair shapes
# and both observability profiles). var.name stands for the SAM stack name throughout.

data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name
  account_id = data.aws_caller_identity.current.account_id

  # template.yaml's Conditions, under the same names (snake_case).
  pair_by_network_interface        = var.node1_network_interface_id != ""
  has_second_address_set           = var.second_elastic_ip_allocation_id != ""
  has_vpc_config                   = join("", var.subnet_ids) != ""
  create_endpoints                 = local.has_vpc_config && var.create_vpc_endpoints
  has_notification_email           = var.notification_email != ""
  has_route_table_role             = var.route_table_role_arn != ""
  create_sts_endpoint              = local.create_endpoints && local.has_route_table_role
  has_security_groups              = join("", var.security_group_ids) != ""
  has_observer2                    = var.observer2_subnet_id != "" && local.has_security_groups
  has_observer3                    = var.observer3_subnet_id != "" && local.has_security_groups
  tracing_enabled                  = var.enable_tracing
  full_observability               = var.observability_profile == "full"
  has_monitor_reserved_concurrency = !(var.monitor_reserved_concurrency == "" || var.monitor_reserved_concurrency == "0")
  # Found nodes (docs/found-nodes.md): a node in an Auto Scaling group; one group of two nodes needs
  # one hook, not two.
  node1_by_group                = var.node1_auto_scaling_group_name != ""
  node2_by_group                = var.node2_auto_scaling_group_name != ""
  any_node_by_group             = local.node1_by_group || local.node2_by_group
  fleet_finds_by_group          = var.fleet_found_nodes == "tags-and-auto-scaling-groups"
  describes_auto_scaling_groups = local.any_node_by_group || local.fleet_finds_by_group
  create_auto_scaling_endpoint  = local.create_endpoints && local.describes_auto_scaling_groups
  node2_hook_needed             = local.node2_by_group && var.node1_auto_scaling_group_name != var.node2_auto_scaling_group_name
  # A node found by tags: ec2:DescribeInstances only (no Auto Scaling grant, endpoint or hook), and no
  # status-check alarm (nothing names its instance at deploy time).
  node1_by_tags = var.node1_instance_tags != ""
  node2_by_tags = var.node2_instance_tags != ""
  node1_found   = local.node1_by_group || local.node1_by_tags
  node2_found   = local.node2_by_group || local.node2_by_tags
  # Authenticated health checks: which secrets the functions may read (and through which service).
  has_health_check_auth_secret         = var.health_check_auth_secret_arn != ""
  has_health_check_client_cert         = var.health_check_client_cert_secret_arn != ""
  reads_health_check_secrets           = local.has_health_check_auth_secret || local.has_health_check_client_cert
  auth_secret_in_secrets_manager       = can(regex("^arn:[^:]+:secretsmanager:", var.health_check_auth_secret_arn))
  auth_secret_in_ssm                   = can(regex("^arn:[^:]+:ssm:", var.health_check_auth_secret_arn))
  client_cert_in_secrets_manager       = can(regex("^arn:[^:]+:secretsmanager:", var.health_check_client_cert_secret_arn))
  client_cert_in_ssm                   = can(regex("^arn:[^:]+:ssm:", var.health_check_client_cert_secret_arn))
  reads_secrets_manager_secrets        = local.auth_secret_in_secrets_manager || local.client_cert_in_secrets_manager
  reads_ssm_parameters                 = local.auth_secret_in_ssm || local.client_cert_in_ssm
  reads_tagged_health_check_secrets    = var.fleet_health_check_secrets == "tagged"
  reads_any_health_check_secret        = local.reads_health_check_secrets || local.reads_tagged_health_check_secrets
  create_health_check_secret_endpoints = local.create_endpoints && local.reads_any_health_check_secret

  # IAM role and schedule name prefixes may be 38 characters (Terraform adds a 26-character suffix):
  # var.name cut to 26 leaves room for the longest suffix here, "-obs2-sched-".
  short_name = substr(var.name, 0, 26)

  # The node alarms' names: preflight checks that these alarms exist and invoke the monitor.
  node1_alarm_name = format("%s-node1-status-check", var.name)
  node2_alarm_name = format("%s-node2-status-check", var.name)
  # Those there are: a node found by tags has none.
  alarm_names = join(",", compact([local.node1_by_tags ? "" : local.node1_alarm_name, local.node2_by_tags ? "" : local.node2_alarm_name]))

  # Every function's environment (template.yaml repeats it per function; here it is said once).
  common_environment = merge({
    EIP_ALLOCATION_ID                   = var.elastic_ip_allocation_id
    NODE1_INSTANCE_ID                   = var.node1_instance_id
    NODE1_HEALTH_CHECK_URL              = var.node1_health_check_url
    NODE1_PRIORITY                      = tostring(var.node1_priority)
    NODE2_INSTANCE_ID                   = var.node2_instance_id
    NODE2_HEALTH_CHECK_URL              = var.node2_health_check_url
    NODE2_PRIORITY                      = tostring(var.node2_priority)
    NODE1_NETWORK_INTERFACE_ID          = var.node1_network_interface_id
    NODE1_PRIVATE_IP_ADDRESS            = var.node1_private_ip_address
    NODE2_NETWORK_INTERFACE_ID          = var.node2_network_interface_id
    NODE2_PRIVATE_IP_ADDRESS            = var.node2_private_ip_address
    HEALTH_CHECK_INTERVAL_SECONDS       = var.health_check_interval_seconds
    HEALTH_CHECK_TIMEOUT_SECONDS        = var.health_check_timeout_seconds
    FALL_THRESHOLD                      = tostring(var.fall_threshold)
    RISE_THRESHOLD                      = tostring(var.rise_threshold)
    PREEMPT                             = tostring(var.preempt)
    PREEMPT_DELAY_SECONDS               = tostring(var.preempt_delay_seconds)
    MIN_SECONDS_BETWEEN_MOVES           = tostring(var.min_seconds_between_moves)
    FLAP_WINDOW_SECONDS                 = tostring(var.flap_window_seconds)
    FLAP_SUPPRESS_THRESHOLD             = tostring(var.flap_suppress_threshold)
    HEALTH_CHECK_CA_BUNDLE              = var.health_check_ca_bundle
    HEALTH_CHECK_AUTH_KIND              = var.health_check_auth_kind
    HEALTH_CHECK_AUTH_SECRET_ARN        = var.health_check_auth_secret_arn
    HEALTH_CHECK_AUTH_HEADER_NAME       = var.health_check_auth_header_name
    HEALTH_CHECK_AUTH_FAILURE_IS_DOWN   = tostring(var.health_check_auth_failure_is_down)
    HEALTH_CHECK_CLIENT_CERT_SECRET_ARN = var.health_check_client_cert_secret_arn
    STATE_TABLE_NAME                    = aws_dynamodb_table.state.name
    DECISION_LOG_TABLE_NAME             = aws_dynamodb_table.decision_log.name
    DECISION_LOG_RETENTION_DAYS         = tostring(var.decision_log_retention_days)
    NOTIFICATION_TOPIC_ARN              = aws_sns_topic.notification.arn
    POWERTOOLS_SERVICE_NAME             = "nginx-eip-failover"
    POWERTOOLS_METRICS_NAMESPACE        = "NginxEipFailover"
    POWERTOOLS_LOG_LEVEL                = var.log_level
    POWERTOOLS_TRACE_DISABLED           = local.tracing_enabled ? "false" : "true"
    OBSERVABILITY_PROFILE               = var.observability_profile
    # Active/active (docs/active-active.md): the second address set, empty when there is none.
    SECOND_EIP_ALLOCATION_ID        = var.second_elastic_ip_allocation_id
    NODE1_SECOND_PRIVATE_IP_ADDRESS = var.node1_second_private_ip_address
    NODE2_SECOND_PRIVATE_IP_ADDRESS = var.node2_second_private_ip_address
    # Routes in another account (docs/cross-account-routes.md); AssumeRole in the function's region
    # (its VPC endpoint).
    ROUTE_TABLE_ROLE_ARN         = var.route_table_role_arn
    ROUTE_TABLE_ROLE_EXTERNAL_ID = var.route_table_role_external_id
    AWS_STS_REGIONAL_ENDPOINTS   = "regional"
    # Which ways fleet documents may find a node (docs/found-nodes.md).
    FLEET_FOUND_NODES = var.fleet_found_nodes
  }, local.found_node_environment)

  # Found nodes (docs/found-nodes.md): set only when a node is found, so the default environment is as before.
  found_node_environment = merge(
    local.node1_by_group ? {
      NODE1_AUTO_SCALING_GROUP_NAME = var.node1_auto_scaling_group_name
      NODE1_AVAILABILITY_ZONE       = var.node1_availability_zone
    } : {},
    local.node2_by_group ? {
      NODE2_AUTO_SCALING_GROUP_NAME = var.node2_auto_scaling_group_name
      NODE2_AVAILABILITY_ZONE       = var.node2_availability_zone
    } : {},
    local.node1_by_tags ? { NODE1_INSTANCE_TAGS = var.node1_instance_tags } : {},
    local.node2_by_tags ? { NODE2_INSTANCE_TAGS = var.node2_instance_tags } : {},
  )

  # What the monitor and the observers have beyond that (docs/observers.md).
  observer_environment = {
    MONITOR_LEASE_TABLE_NAME   = aws_dynamodb_table.monitor_lease.name
    OBSERVERS                  = join(",", compact(["local", local.has_observer2 ? "observer2" : "", local.has_observer3 ? "observer3" : ""]))
    OBSERVER_HEARTBEAT_SECONDS = tostring(var.observer_heartbeat_seconds)
  }

  # template.yaml's logical ID of each resource here (the parity test reads this table; a resource
  # that is not in it fails the test).
  logical_ids = {
    "aws_dynamodb_table.state"                          = "StateTable"
    "aws_dynamodb_table.decision_log"                   = "DecisionLogTable"
    "aws_dynamodb_table.monitor_lease"                  = "MonitorLeaseTable"
    "aws_kms_key.notification"                          = "NotificationKey"
    "aws_kms_alias.notification"                        = "NotificationKeyAlias"
    "aws_sns_topic.notification"                        = "NotificationTopic"
    "aws_sns_topic_subscription.email"                  = "NotificationEmailSubscription"
    "aws_cloudwatch_log_group.monitor"                  = "MonitorLogGroup"
    "aws_cloudwatch_log_group.control"                  = "ControlLogGroup"
    "aws_iam_role.monitor"                              = "MonitorFunctionRole"
    "aws_iam_role_policy.monitor"                       = "MonitorFunctionRole"
    "aws_iam_role_policy_attachment.monitor_basic"      = "MonitorFunctionRole"
    "aws_iam_role_policy_attachment.monitor_vpc"        = "MonitorFunctionRole"
    "aws_iam_role_policy_attachment.monitor_xray"       = "MonitorFunctionRole"
    "aws_iam_role.control"                              = "ControlFunctionRole"
    "aws_iam_role_policy.control"                       = "ControlFunctionRole"
    "aws_iam_role_policy_attachment.control_basic"      = "ControlFunctionRole"
    "aws_iam_role_policy_attachment.control_vpc"        = "ControlFunctionRole"
    "aws_iam_role_policy_attachment.control_xray"       = "ControlFunctionRole"
    "aws_lambda_function.monitor"                       = "MonitorFunction"
    "aws_lambda_function_event_invoke_config.monitor"   = "MonitorFunction"
    "aws_lambda_function.observer2"                     = "Observer2Function"
    "aws_lambda_function_event_invoke_config.observer2" = "Observer2Function"
    "aws_lambda_function.observer3"                     = "Observer3Function"
    "aws_lambda_function_event_invoke_config.observer3" = "Observer3Function"
    "aws_lambda_function.control"                       = "ControlFunction"
    "aws_scheduler_schedule.monitor"                    = "MonitorFunctionEveryMinute"
    "aws_iam_role.monitor_schedule"                     = "MonitorFunctionEveryMinuteRole"
    "aws_iam_role_policy.monitor_schedule"              = "MonitorFunctionEveryMinuteRole"
    "aws_scheduler_schedule.observer2"                  = "Observer2FunctionEveryMinute"
    "aws_iam_role.observer2_schedule"                   = "Observer2FunctionEveryMinuteRole"
    "aws_iam_role_policy.observer2_schedule"            = "Observer2FunctionEveryMinuteRole"
    "aws_scheduler_schedule.observer3"                  = "Observer3FunctionEveryMinute"
    "aws_iam_role.observer3_schedule"                   = "Observer3FunctionEveryMinuteRole"
    "aws_iam_role_policy.observer3_schedule"            = "Observer3FunctionEveryMinuteRole"
    "aws_cloudwatch_metric_alarm.node1_status_check"    = "Node1StatusCheckAlarm"
    "aws_lambda_permission.node1_status_check_alarm"    = "Node1StatusCheckAlarmPermission"
    "aws_cloudwatch_metric_alarm.node2_status_check"    = "Node2StatusCheckAlarm"
    "aws_lambda_permission.node2_status_check_alarm"    = "Node2StatusCheckAlarmPermission"
    "aws_cloudwatch_metric_alarm.monitor_not_running"   = "MonitorNotRunningAlarm"
    "aws_cloudwatch_metric_alarm.monitor_errors"        = "MonitorErrorsAlarm"
    "aws_cloudwatch_dashboard.failover"                 = "Dashboard"
    "aws_security_group.endpoints"                      = "EndpointSecurityGroup"
    "aws_vpc_endpoint.dynamodb"                         = "DynamoDbGatewayEndpoint"
    "aws_vpc_endpoint.ec2"                              = "Ec2InterfaceEndpoint"
    "aws_vpc_endpoint.sns"                              = "SnsInterfaceEndpoint"
    "aws_vpc_endpoint.monitoring"                       = "MonitoringInterfaceEndpoint"
    "aws_vpc_endpoint.scheduler"                        = "SchedulerInterfaceEndpoint"
    "aws_vpc_endpoint.sts"                              = "StsInterfaceEndpoint"
    "aws_vpc_endpoint.autoscaling"                      = "AutoScalingInterfaceEndpoint"
    "aws_iam_role_policy.found_nodes_lookup_monitor"    = "FoundNodesLookupPolicy"
    "aws_iam_role_policy.found_nodes_lookup_control"    = "FoundNodesLookupPolicy"
    "aws_cloudwatch_log_group.lifecycle"                = "LifecycleLogGroup"
    "aws_iam_role.lifecycle"                            = "LifecycleFunctionRole"
    "aws_iam_role_policy.lifecycle"                     = "LifecycleFunctionRole"
    "aws_iam_role_policy_attachment.lifecycle_basic"    = "LifecycleFunctionRole"
    "aws_iam_role_policy_attachment.lifecycle_vpc"      = "LifecycleFunctionRole"
    "aws_iam_role_policy_attachment.lifecycle_xray"     = "LifecycleFunctionRole"
    "aws_lambda_function.lifecycle"                     = "LifecycleFunction"
    "aws_lambda_function_event_invoke_config.lifecycle" = "LifecycleFunction"
    "aws_cloudwatch_event_rule.instance_terminating"    = "LifecycleFunctionInstanceTerminating"
    "aws_cloudwatch_event_target.instance_terminating"  = "LifecycleFunctionInstanceTerminating"
    "aws_lambda_permission.instance_terminating"        = "LifecycleFunctionInstanceTerminatingPermission"
    "aws_autoscaling_lifecycle_hook.node1_termination"  = "Node1TerminationHook"
    "aws_autoscaling_lifecycle_hook.node2_termination"  = "Node2TerminationHook"
    "aws_vpc_endpoint.secretsmanager"                   = "SecretsManagerInterfaceEndpoint"
    "aws_vpc_endpoint.ssm"                              = "SsmInterfaceEndpoint"
  }
}
