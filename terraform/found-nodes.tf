# Found nodes (docs/found-nodes.md): a node named by its Auto Scaling group (and AZ) instead of an
# instance. Auto Scaling holds a terminating instance in Terminating:Wait (a lifecycle hook per
# group); an EventBridge rule starts LifecycleFunction, which drains the node, moves the EIP off it
# if it holds it, and completes the lifecycle action. The monitor, observers and control function
# look the found nodes up (aws_iam_role_policy.found_nodes_lookup_*). Nothing here without a group.

locals {
  asg_arn = "arn:${local.partition}:autoscaling:${local.region}:${local.account_id}:autoScalingGroup:*:autoScalingGroupName"

  lifecycle_statements = concat([for statement in [
    # The pair's EIP, and the found nodes' instances by the tag their group propagates.
    {
      Sid    = "MoveTheElasticIpToAFixedNode"
      Effect = "Allow"
      Action = "ec2:AssociateAddress"
      Resource = compact([
        "${local.ec2_arn}:elastic-ip/${var.elastic_ip_allocation_id}",
        local.node1_found ? "" : "${local.ec2_arn}:instance/${var.node1_instance_id}",
        local.node2_found ? "" : "${local.ec2_arn}:instance/${var.node2_instance_id}",
      ])
    },
    {
      Sid       = "MoveToFoundInstancesTaggedForThisStack"
      Effect    = "Allow"
      Action    = "ec2:AssociateAddress"
      Resource  = "${local.ec2_arn}:instance/*"
      Condition = local.tag_condition
    },
    # Describe actions cannot be scoped to resources (AWS's design, not a choice).
    {
      Sid      = "DescribeActionsSupportNoResourceScoping"
      Effect   = "Allow"
      Action   = ["ec2:DescribeAddresses", "ec2:DescribeInstances", "autoscaling:DescribeAutoScalingGroups"]
      Resource = "*"
    },
    {
      Sid    = "CompleteTheNodeGroupsLifecycleActions"
      Effect = "Allow"
      Action = "autoscaling:CompleteLifecycleAction"
      Resource = compact([
        local.node1_by_group ? "${local.asg_arn}/${var.node1_auto_scaling_group_name}" : "",
        local.node2_by_group ? "${local.asg_arn}/${var.node2_auto_scaling_group_name}" : "",
      ])
    },
    {
      Sid      = "ReadAndConditionallyWriteState"
      Effect   = "Allow"
      Action   = ["dynamodb:GetItem", "dynamodb:PutItem"]
      Resource = aws_dynamodb_table.state.arn
    },
    {
      Sid      = "Notify"
      Effect   = "Allow"
      Action   = "sns:Publish"
      Resource = aws_sns_topic.notification.arn
    },
    local.full_observability ? {
      Sid      = "PublishToTheEncryptedTopic"
      Effect   = "Allow"
      Action   = ["kms:Decrypt", "kms:GenerateDataKey*"]
      Resource = aws_kms_key.notification[0].arn
    } : null,
    ] : statement if statement != null],
    # The drain probes the peer as the monitor does, with the same credentials: the configured
    # secrets' statements of iam.tf (not the fleet's tagged ones), decryption only with a secret.
    [for statement in local.health_check_secret_statements : statement if contains(["ReadTheHealthCheckSecrets", "ReadTheHealthCheckParameters"], statement.Sid)],
    local.reads_health_check_secrets ? [for statement in local.health_check_secret_statements : statement if statement.Sid == "DecryptTheHealthCheckSecretsThroughTheirService"] : [],
  )

  # What LifecycleFunction runs with: the nodes, the probe settings, the state table and the topic.
  lifecycle_environment = merge({
    EIP_ALLOCATION_ID             = var.elastic_ip_allocation_id
    NODE1_INSTANCE_ID             = var.node1_instance_id
    NODE1_HEALTH_CHECK_URL        = var.node1_health_check_url
    NODE1_PRIORITY                = tostring(var.node1_priority)
    NODE2_INSTANCE_ID             = var.node2_instance_id
    NODE2_HEALTH_CHECK_URL        = var.node2_health_check_url
    NODE2_PRIORITY                = tostring(var.node2_priority)
    NODE1_AUTO_SCALING_GROUP_NAME = var.node1_auto_scaling_group_name
    NODE1_AVAILABILITY_ZONE       = var.node1_availability_zone
    NODE2_AUTO_SCALING_GROUP_NAME = var.node2_auto_scaling_group_name
    NODE2_AVAILABILITY_ZONE       = var.node2_availability_zone
    HEALTH_CHECK_INTERVAL_SECONDS = var.health_check_interval_seconds
    HEALTH_CHECK_TIMEOUT_SECONDS  = var.health_check_timeout_seconds
    FALL_THRESHOLD                = tostring(var.fall_threshold)
    RISE_THRESHOLD                = tostring(var.rise_threshold)
    PREEMPT                       = tostring(var.preempt)
    PREEMPT_DELAY_SECONDS         = tostring(var.preempt_delay_seconds)
    MIN_SECONDS_BETWEEN_MOVES     = tostring(var.min_seconds_between_moves)
    FLAP_WINDOW_SECONDS           = tostring(var.flap_window_seconds)
    FLAP_SUPPRESS_THRESHOLD       = tostring(var.flap_suppress_threshold)
    HEALTH_CHECK_CA_BUNDLE        = var.health_check_ca_bundle
    STATE_TABLE_NAME              = aws_dynamodb_table.state.name
    NOTIFICATION_TOPIC_ARN        = aws_sns_topic.notification.arn
    POWERTOOLS_SERVICE_NAME       = "nginx-eip-failover"
    POWERTOOLS_METRICS_NAMESPACE  = "NginxEipFailover"
    POWERTOOLS_LOG_LEVEL          = var.log_level
    POWERTOOLS_TRACE_DISABLED     = local.tracing_enabled ? "false" : "true"
    OBSERVABILITY_PROFILE         = var.observability_profile
    # The drain probes the peer as the monitor does: with the same credentials (docs/health-auth.md).
    HEALTH_CHECK_AUTH_KIND              = var.health_check_auth_kind
    HEALTH_CHECK_AUTH_SECRET_ARN        = var.health_check_auth_secret_arn
    HEALTH_CHECK_AUTH_HEADER_NAME       = var.health_check_auth_header_name
    HEALTH_CHECK_AUTH_FAILURE_IS_DOWN   = tostring(var.health_check_auth_failure_is_down)
    HEALTH_CHECK_CLIENT_CERT_SECRET_ARN = var.health_check_client_cert_secret_arn
    },
    # A node found by tags (the other node's group is the one with the hook).
    local.node1_by_tags ? { NODE1_INSTANCE_TAGS = var.node1_instance_tags } : {},
    local.node2_by_tags ? { NODE2_INSTANCE_TAGS = var.node2_instance_tags } : {},
  )
}

# ---------------------------------------------------------------- the lookup (monitor, observers, control)
# DescribeAutoScalingGroups cannot be scoped to a group (AWS's design); a policy of its own, so a
# deployment without found nodes keeps its roles exactly as before. The pair's groups, or fleet groups'
# (var.fleet_found_nodes).
resource "aws_iam_role_policy" "found_nodes_lookup_monitor" {
  count = local.describes_auto_scaling_groups ? 1 : 0

  name   = "find-nodes-in-their-auto-scaling-groups"
  role   = aws_iam_role.monitor.id
  policy = local.found_nodes_lookup_policy
}

resource "aws_iam_role_policy" "found_nodes_lookup_control" {
  count = local.describes_auto_scaling_groups ? 1 : 0

  name   = "find-nodes-in-their-auto-scaling-groups"
  role   = aws_iam_role.control.id
  policy = local.found_nodes_lookup_policy
}

locals {
  found_nodes_lookup_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "DescribeAutoScalingGroupsSupportsNoResourceScoping"
        Effect   = "Allow"
        Action   = "autoscaling:DescribeAutoScalingGroups"
        Resource = "*"
      },
    ]
  })
}

# ---------------------------------------------------------------- LifecycleFunction
resource "aws_cloudwatch_log_group" "lifecycle" {
  #checkov:skip=CKV_AWS_158:CloudWatch Logs encrypts every log group at rest by default; the logs carry lifecycle events and decisions, no secrets, so a customer managed key is not warranted.
  #checkov:skip=CKV_AWS_338:Retention is log_retention_in_days (30 by default, as in template.yaml): operational logs.
  count = local.any_node_by_group ? 1 : 0

  name              = "/aws/lambda/${var.name}-lifecycle"
  retention_in_days = var.log_retention_in_days
}

resource "aws_iam_role" "lifecycle" {
  count = local.any_node_by_group ? 1 : 0

  name_prefix        = "${local.short_name}-lifecycle-"
  assume_role_policy = local.lambda_trust
}

resource "aws_iam_role_policy" "lifecycle" {
  count = local.any_node_by_group ? 1 : 0

  name   = "LifecycleFunctionRolePolicy0"
  role   = aws_iam_role.lifecycle[0].id
  policy = jsonencode({ Version = "2012-10-17", Statement = local.lifecycle_statements })
}

resource "aws_iam_role_policy_attachment" "lifecycle_basic" {
  count = local.any_node_by_group ? 1 : 0

  role       = aws_iam_role.lifecycle[0].name
  policy_arn = "${local.aws_policy_arn}/service-role/AWSLambdaBasicExecutionRole"
}

resource "aws_iam_role_policy_attachment" "lifecycle_vpc" {
  count = local.any_node_by_group && local.has_vpc_config ? 1 : 0

  role       = aws_iam_role.lifecycle[0].name
  policy_arn = "${local.aws_policy_arn}/service-role/AWSLambdaVPCAccessExecutionRole"
}

resource "aws_iam_role_policy_attachment" "lifecycle_xray" {
  count = local.any_node_by_group && local.tracing_enabled ? 1 : 0

  role       = aws_iam_role.lifecycle[0].name
  policy_arn = "${local.aws_policy_arn}/AWSXrayWriteOnlyAccess"
}

resource "aws_lambda_function" "lifecycle" {
  #checkov:skip=CKV_AWS_115:No reserved concurrency: one invocation per terminating node instance; conditional writes make concurrent invocations safe.
  #checkov:skip=CKV_AWS_116:No dead-letter queue: an event not handled is continued by the hook's own timeout (default_result CONTINUE), and the monitor places the EIP when the instance is gone.
  #checkov:skip=CKV_AWS_173:The environment holds only IDs, URLs and tuning numbers (no secrets); Lambda encrypts it at rest with the AWS managed key.
  #checkov:skip=CKV_AWS_117:Running in a VPC is optional (subnet_ids), as in template.yaml.
  #checkov:skip=CKV_AWS_50:X-Ray tracing is optional (enable_tracing), as in template.yaml.
  #checkov:skip=CKV_AWS_272:No code signing, as with sam deploy: the package is the sam build output the operator built.
  count = local.any_node_by_group ? 1 : 0

  function_name    = "${var.name}-lifecycle"
  description      = "Drains a found node whose instance Auto Scaling terminates, then completes its lifecycle action."
  role             = aws_iam_role.lifecycle[0].arn
  filename         = var.function_zip
  source_code_hash = local.code_hash
  handler          = "nginx_eip_failover.handlers.lifecycle.lambda_handler"
  runtime          = local.runtime
  architectures    = local.architectures
  memory_size      = 128
  # Probes, the drain's move (verified for up to 10 s) and the completion: well inside 60 s, and the
  # hook's heartbeat timeout (lifecycle_hook_timeout_seconds, at least 60 s) is longer still.
  timeout = 55

  tracing_config {
    mode = local.tracing_mode
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.lifecycle[0].name
  }

  dynamic "vpc_config" {
    for_each = local.has_vpc_config ? [var.subnet_ids] : []
    content {
      subnet_ids         = vpc_config.value
      security_group_ids = var.security_group_ids
    }
  }

  environment {
    variables = local.lifecycle_environment
  }

  depends_on = [aws_iam_role_policy_attachment.lifecycle_basic, aws_iam_role_policy_attachment.lifecycle_vpc]
}

resource "aws_lambda_function_event_invoke_config" "lifecycle" {
  count = local.any_node_by_group ? 1 : 0

  function_name                = aws_lambda_function.lifecycle[0].function_name
  maximum_event_age_in_seconds = 60
  maximum_retry_attempts       = 0
}

# SAM's EventBridgeRule event InstanceTerminating: the rule, its target and the permission SAM generates.
resource "aws_cloudwatch_event_rule" "instance_terminating" {
  count = local.any_node_by_group ? 1 : 0

  name = "${var.name}-instance-terminating"
  event_pattern = jsonencode({
    source        = ["aws.autoscaling"]
    "detail-type" = ["EC2 Instance-terminate Lifecycle Action"]
    detail = {
      AutoScalingGroupName = compact([
        local.node1_by_group ? var.node1_auto_scaling_group_name : "",
        local.node2_by_group ? var.node2_auto_scaling_group_name : "",
      ])
    }
  })
}

resource "aws_cloudwatch_event_target" "instance_terminating" {
  count = local.any_node_by_group ? 1 : 0

  rule = aws_cloudwatch_event_rule.instance_terminating[0].name
  arn  = aws_lambda_function.lifecycle[0].arn

  retry_policy {
    maximum_event_age_in_seconds = 60
    maximum_retry_attempts       = 2
  }
}

resource "aws_lambda_permission" "instance_terminating" {
  count = local.any_node_by_group ? 1 : 0

  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.lifecycle[0].arn
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.instance_terminating[0].arn
}

# ---------------------------------------------------------------- the termination hooks
resource "aws_autoscaling_lifecycle_hook" "node1_termination" {
  count = local.node1_by_group ? 1 : 0

  name                   = "${var.name}-node1-termination"
  autoscaling_group_name = var.node1_auto_scaling_group_name
  lifecycle_transition   = "autoscaling:EC2_INSTANCE_TERMINATING"
  heartbeat_timeout      = var.lifecycle_hook_timeout_seconds
  # Should the function never answer, the instance still terminates (the monitor then places the EIP).
  default_result = "CONTINUE"
}

# One group of two nodes needs one hook, not two.
resource "aws_autoscaling_lifecycle_hook" "node2_termination" {
  count = local.node2_hook_needed ? 1 : 0

  name                   = "${var.name}-node2-termination"
  autoscaling_group_name = var.node2_auto_scaling_group_name
  lifecycle_transition   = "autoscaling:EC2_INSTANCE_TERMINATING"
  heartbeat_timeout      = var.lifecycle_hook_timeout_seconds
  default_result         = "CONTINUE"
}
