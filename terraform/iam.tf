# The functions' roles, with template.yaml's statements (Sids kept), and the schedules' roles
# (SAM generates those: lambda:InvokeFunction on the target function, trusted by the scheduler).
# Like SAM, each function role also gets AWSLambdaBasicExecutionRole (the runtime writes the logs),
# AWSLambdaVPCAccessExecutionRole when the functions run in a VPC, AWSXrayWriteOnlyAccess when traced.

locals {
  ec2_arn        = "arn:${local.partition}:ec2:${local.region}:${local.account_id}"
  alarm_arn      = "arn:${local.partition}:cloudwatch:${local.region}:${local.account_id}:alarm"
  tag_condition  = { StringEquals = { "aws:ResourceTag/nginx-eip-failover" = var.name } }
  aws_policy_arn = "arn:${local.partition}:iam::aws:policy"

  # EC2 authorizes AssociateAddress on the address and on what the request names: the instances
  # (the default), or the ENIs when the pair goes by ENI + private IP. A found node's instances are
  # unknown at deploy time: reached by tag (below) instead.
  pair_targets = local.pair_by_network_interface ? [
    "${local.ec2_arn}:network-interface/${var.node1_network_interface_id}",
    "${local.ec2_arn}:network-interface/${var.node2_network_interface_id}",
    ] : compact([
      local.node1_found ? "" : "${local.ec2_arn}:instance/${var.node1_instance_id}",
      local.node2_found ? "" : "${local.ec2_arn}:instance/${var.node2_instance_id}",
  ])

  # The statements both functions have before their tables (template.yaml's order); a null is a
  # statement whose condition is off (template.yaml's !If ... AWS::NoValue), left out.
  ec2_statements = [for statement in [
    {
      Sid      = "MoveTheElasticIpBetweenThePair"
      Effect   = "Allow"
      Action   = "ec2:AssociateAddress"
      Resource = concat(["${local.ec2_arn}:elastic-ip/${var.elastic_ip_allocation_id}"], local.pair_targets)
    },
    # Active/active: the second EIP, by ARN like the first, onto the pair's ENIs.
    local.has_second_address_set ? {
      Sid    = "MoveTheSecondElasticIpBetweenThePair"
      Effect = "Allow"
      Action = "ec2:AssociateAddress"
      Resource = [
        "${local.ec2_arn}:elastic-ip/${var.second_elastic_ip_allocation_id}",
        "${local.ec2_arn}:network-interface/${var.node1_network_interface_id}",
        "${local.ec2_arn}:network-interface/${var.node2_network_interface_id}",
      ]
    } : null,
    {
      Sid    = "DescribeActionsSupportNoResourceScoping"
      Effect = "Allow"
      Action = [
        "ec2:DescribeAddresses",
        "ec2:DescribeInstances",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeRouteTables",
      ]
      Resource = "*"
    },
    # The fleet's addresses, instances, ENIs and route tables are scoped by tag (ABAC): tag each with
    # nginx-eip-failover=<var.name>; anything untagged stays out of reach.
    {
      Sid    = "MoveFleetAddressesTaggedForThisStack"
      Effect = "Allow"
      Action = "ec2:AssociateAddress"
      Resource = [
        "${local.ec2_arn}:elastic-ip/*",
        "${local.ec2_arn}:instance/*",
        "${local.ec2_arn}:network-interface/*",
      ]
      Condition = local.tag_condition
    },
    {
      Sid       = "MoveFleetSecondaryIpsTaggedForThisStack"
      Effect    = "Allow"
      Action    = "ec2:AssignPrivateIpAddresses"
      Resource  = "${local.ec2_arn}:network-interface/*"
      Condition = local.tag_condition
    },
    {
      Sid       = "PointFleetRoutesTaggedForThisStack"
      Effect    = "Allow"
      Action    = ["ec2:ReplaceRoute", "ec2:CreateRoute"]
      Resource  = "${local.ec2_arn}:route-table/*"
      Condition = local.tag_condition
    },
    # Route tables in another account (a shared VPC's owner): that account's role grants the
    # route-table actions; here only assuming it (docs/cross-account-routes.md).
    local.has_route_table_role ? {
      Sid      = "AssumeTheRouteTableRole"
      Effect   = "Allow"
      Action   = "sts:AssumeRole"
      Resource = var.route_table_role_arn
    } : null,
    {
      Sid      = "ReadAndConditionallyWriteState"
      Effect   = "Allow"
      Action   = ["dynamodb:GetItem", "dynamodb:PutItem"]
      Resource = aws_dynamodb_table.state.arn
    },
  ] : statement if statement != null]

  # Both functions publish notices, to the encrypted topic in the full profile.
  notify_statements = concat(
    [
      {
        Sid      = "Notify"
        Effect   = "Allow"
        Action   = "sns:Publish"
        Resource = aws_sns_topic.notification.arn
      },
    ],
    local.full_observability ? [
      {
        Sid      = "PublishToTheEncryptedTopic"
        Effect   = "Allow"
        Action   = ["kms:Decrypt", "kms:GenerateDataKey*"]
        Resource = aws_kms_key.notification[0].arn
      },
    ] : [],
    local.health_check_secret_statements,
    [
      {
        Sid      = "PreflightReadsTheNodeAlarms"
        Effect   = "Allow"
        Action   = "cloudwatch:DescribeAlarms"
        Resource = ["${local.alarm_arn}:${local.node1_alarm_name}", "${local.alarm_arn}:${local.node2_alarm_name}"]
      },
    ],
  )

  # Authenticated health checks (docs/health-auth.md): only the configured secrets, each through its
  # own service's action; fleet groups' own secrets by tag; decryption only through those services.
  secrets_arn = "arn:${local.partition}:secretsmanager:${local.region}:${local.account_id}"
  ssm_arn     = "arn:${local.partition}:ssm:${local.region}:${local.account_id}"
  health_check_secret_statements = concat(
    local.reads_secrets_manager_secrets ? [
      {
        Sid    = "ReadTheHealthCheckSecrets"
        Effect = "Allow"
        Action = "secretsmanager:GetSecretValue"
        Resource = concat(
          local.auth_secret_in_secrets_manager ? [var.health_check_auth_secret_arn] : [],
          local.client_cert_in_secrets_manager ? [var.health_check_client_cert_secret_arn] : [],
        )
      },
    ] : [],
    local.reads_ssm_parameters ? [
      {
        Sid    = "ReadTheHealthCheckParameters"
        Effect = "Allow"
        Action = "ssm:GetParameter"
        Resource = concat(
          local.auth_secret_in_ssm ? [var.health_check_auth_secret_arn] : [],
          local.client_cert_in_ssm ? [var.health_check_client_cert_secret_arn] : [],
        )
      },
    ] : [],
    local.reads_tagged_health_check_secrets ? [
      {
        Sid       = "ReadFleetHealthCheckSecretsTaggedForThisStack"
        Effect    = "Allow"
        Action    = "secretsmanager:GetSecretValue"
        Resource  = "${local.secrets_arn}:secret:*"
        Condition = local.tag_condition
      },
      {
        Sid       = "ReadFleetHealthCheckParametersTaggedForThisStack"
        Effect    = "Allow"
        Action    = "ssm:GetParameter"
        Resource  = "${local.ssm_arn}:parameter/*"
        Condition = local.tag_condition
      },
    ] : [],
    local.reads_any_health_check_secret ? [
      {
        Sid      = "DecryptTheHealthCheckSecretsThroughTheirService"
        Effect   = "Allow"
        Action   = "kms:Decrypt"
        Resource = "arn:${local.partition}:kms:${local.region}:${local.account_id}:key/*"
        Condition = {
          StringEquals = {
            "kms:ViaService" = ["secretsmanager.${local.region}.amazonaws.com", "ssm.${local.region}.amazonaws.com"]
          }
        }
      },
    ] : [],
  )

  monitor_statements = concat(
    local.ec2_statements,
    [
      {
        Sid      = "AppendToTheDecisionLog"
        Effect   = "Allow"
        Action   = "dynamodb:BatchWriteItem"
        Resource = aws_dynamodb_table.decision_log.arn
      },
      {
        Sid    = "HandOverProbingThroughTheMonitorLease"
        Effect = "Allow"
        # BatchGetItem: observers read each other's reports (one call for all).
        Action   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:BatchGetItem"]
        Resource = aws_dynamodb_table.monitor_lease.arn
      },
    ],
    local.notify_statements,
  )

  control_statements = concat(
    local.ec2_statements,
    [
      {
        Sid      = "AppendToAndReadTheDecisionLog"
        Effect   = "Allow"
        Action   = ["dynamodb:BatchWriteItem", "dynamodb:Query"]
        Resource = aws_dynamodb_table.decision_log.arn
      },
    ],
    local.notify_statements,
    [
      {
        Sid      = "PreflightReadsTheSchedule"
        Effect   = "Allow"
        Action   = ["scheduler:GetSchedule"]
        Resource = aws_scheduler_schedule.monitor.arn
      },
    ],
  )

  lambda_trust = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect    = "Allow"
        Principal = { Service = "lambda.amazonaws.com" }
        Action    = "sts:AssumeRole"
      },
    ]
  })

  scheduler_trust = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect    = "Allow"
        Principal = { Service = "scheduler.amazonaws.com" }
        Action    = "sts:AssumeRole"
        Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
      },
    ]
  })
}

# ---------------------------------------------------------------- the monitor's (and the observers')
resource "aws_iam_role" "monitor" {
  name_prefix        = "${local.short_name}-monitor-"
  assume_role_policy = local.lambda_trust
}

resource "aws_iam_role_policy" "monitor" {
  name   = "MonitorFunctionRolePolicy0"
  role   = aws_iam_role.monitor.id
  policy = jsonencode({ Version = "2012-10-17", Statement = local.monitor_statements })
}

resource "aws_iam_role_policy_attachment" "monitor_basic" {
  role       = aws_iam_role.monitor.name
  policy_arn = "${local.aws_policy_arn}/service-role/AWSLambdaBasicExecutionRole"
}

resource "aws_iam_role_policy_attachment" "monitor_vpc" {
  count = local.has_vpc_config || local.has_observer2 || local.has_observer3 ? 1 : 0

  role       = aws_iam_role.monitor.name
  policy_arn = "${local.aws_policy_arn}/service-role/AWSLambdaVPCAccessExecutionRole"
}

resource "aws_iam_role_policy_attachment" "monitor_xray" {
  count = local.tracing_enabled ? 1 : 0

  role       = aws_iam_role.monitor.name
  policy_arn = "${local.aws_policy_arn}/AWSXrayWriteOnlyAccess"
}

# ---------------------------------------------------------------- the control function's
resource "aws_iam_role" "control" {
  name_prefix        = "${local.short_name}-control-"
  assume_role_policy = local.lambda_trust
}

resource "aws_iam_role_policy" "control" {
  name   = "ControlFunctionRolePolicy0"
  role   = aws_iam_role.control.id
  policy = jsonencode({ Version = "2012-10-17", Statement = local.control_statements })
}

resource "aws_iam_role_policy_attachment" "control_basic" {
  role       = aws_iam_role.control.name
  policy_arn = "${local.aws_policy_arn}/service-role/AWSLambdaBasicExecutionRole"
}

resource "aws_iam_role_policy_attachment" "control_vpc" {
  count = local.has_vpc_config ? 1 : 0

  role       = aws_iam_role.control.name
  policy_arn = "${local.aws_policy_arn}/service-role/AWSLambdaVPCAccessExecutionRole"
}

resource "aws_iam_role_policy_attachment" "control_xray" {
  count = local.tracing_enabled ? 1 : 0

  role       = aws_iam_role.control.name
  policy_arn = "${local.aws_policy_arn}/AWSXrayWriteOnlyAccess"
}

# ---------------------------------------------------------------- the schedules'
resource "aws_iam_role" "monitor_schedule" {
  name_prefix        = "${local.short_name}-mon-sched-"
  assume_role_policy = local.scheduler_trust
}

resource "aws_iam_role_policy" "monitor_schedule" {
  name = "MonitorFunctionEveryMinuteRolePolicy"
  role = aws_iam_role.monitor_schedule.id
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "lambda:InvokeFunction", Resource = aws_lambda_function.monitor.arn }]
  })
}

resource "aws_iam_role" "observer2_schedule" {
  count = local.has_observer2 ? 1 : 0

  name_prefix        = "${local.short_name}-obs2-sched-"
  assume_role_policy = local.scheduler_trust
}

resource "aws_iam_role_policy" "observer2_schedule" {
  count = local.has_observer2 ? 1 : 0

  name = "Observer2FunctionEveryMinuteRolePolicy"
  role = aws_iam_role.observer2_schedule[0].id
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "lambda:InvokeFunction", Resource = aws_lambda_function.observer2[0].arn }]
  })
}

resource "aws_iam_role" "observer3_schedule" {
  count = local.has_observer3 ? 1 : 0

  name_prefix        = "${local.short_name}-obs3-sched-"
  assume_role_policy = local.scheduler_trust
}

resource "aws_iam_role_policy" "observer3_schedule" {
  count = local.has_observer3 ? 1 : 0

  name = "Observer3FunctionEveryMinuteRolePolicy"
  role = aws_iam_role.observer3_schedule[0].id
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "lambda:InvokeFunction", Resource = aws_lambda_function.observer3[0].arn }]
  })
}
