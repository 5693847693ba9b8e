# MonitorFunction, the optional observers and ControlFunction: one deployment package for all
# (var.function_zip, the sam build output zipped), the template's runtime, memory and timeouts.

locals {
  runtime       = "python3.13"
  architectures = ["arm64"]
  tracing_mode  = local.tracing_enabled ? "Active" : "PassThrough"
  code_hash     = filebase64sha256(var.function_zip)
}

resource "aws_cloudwatch_log_group" "monitor" {
  #checkov:skip=CKV_AWS_158:CloudWatch Logs encrypts every log group at rest by default; the logs carry health check results and decisions, no secrets, so a customer managed key is not warranted.
  #checkov:skip=CKV_AWS_338:Retention is log_retention_in_days (30 by default, as in template.yaml): operational logs, the decision log keeps the history that explain and replay need.
  name              = "/aws/lambda/${var.name}-monitor"
  retention_in_days = var.log_retention_in_days
}

resource "aws_cloudwatch_log_group" "control" {
  #checkov:skip=CKV_AWS_158:CloudWatch Logs encrypts every log group at rest by default; the logs carry operator requests and decisions, no secrets, so a customer managed key is not warranted.
  #checkov:skip=CKV_AWS_338:Retention is log_retention_in_days (30 by default, as in template.yaml): operational logs, the decision log keeps the history that explain and replay need.
  name              = "/aws/lambda/${var.name}-control"
  retention_in_days = var.log_retention_in_days
}

resource "aws_lambda_function" "monitor" {
  #checkov:skip=CKV_AWS_115:Reserved concurrency is optional (monitor_reserved_concurrency, off by default): reserving any fails to deploy in accounts with the default unreserved minimum, and conditional writes make concurrent invocations safe.
  #checkov:skip=CKV_AWS_116:No dead-letter queue: every invocation is a periodic or alarm hint that the next scheduled run (within a minute) supersedes, so retries are off and a failed event has nothing to replay; failures raise the monitor-errors alarm.
  #checkov:skip=CKV_AWS_173:The environment holds only IDs, URLs and tuning numbers (no secrets); Lambda encrypts it at rest with the AWS managed key.
  #checkov:skip=CKV_AWS_117:Running in a VPC is optional (subnet_ids), as in template.yaml: public health check URLs need none.
  #checkov:skip=CKV_AWS_50:X-Ray tracing is optional (enable_tracing), as in template.yaml: it costs per trace and the decision log already records every decision.
  #checkov:skip=CKV_AWS_272:No code signing, as with sam deploy: the package is the sam build output the operator built (docs/deploy.md).
  function_name    = "${var.name}-monitor"
  description      = "Probes both NGINX Plus nodes and keeps the Elastic IP on the healthy one."
  role             = aws_iam_role.monitor.arn
  filename         = var.function_zip
  source_code_hash = local.code_hash
  handler          = "nginx_eip_failover.handlers.monitor.lambda_handler"
  runtime          = local.runtime
  architectures    = local.architectures
  memory_size      = 128
  # A scheduled invocation probes until the next one has taken over (template.yaml: why 150 s).
  timeout = 150
  # 0 would throttle every invocation: empty and 0 both mean "none reserved" (-1 to Terraform).
  reserved_concurrent_executions = local.has_monitor_reserved_concurrency ? tonumber(var.monitor_reserved_concurrency) : -1

  tracing_config {
    mode = local.tracing_mode
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.monitor.name
  }

  dynamic "vpc_config" {
    for_each = local.has_vpc_config ? [var.subnet_ids] : []
    content {
      subnet_ids         = vpc_config.value
      security_group_ids = var.security_group_ids
    }
  }

  environment {
    variables = merge(local.common_environment, local.observer_environment, {
      PREFLIGHT_INTERVAL_SECONDS = tostring(var.preflight_interval_seconds)
      ALARM_NAMES                = local.alarm_names
      OBSERVER_NAME              = "local"
    })
  }

  depends_on = [aws_iam_role_policy_attachment.monitor_basic]
}

resource "aws_lambda_function_event_invoke_config" "monitor" {
  function_name                = aws_lambda_function.monitor.function_name
  maximum_event_age_in_seconds = 60
  maximum_retry_attempts       = 0
}

# Further observers (docs/observers.md): the monitor's code, role and log group, probing from their
# own subnet's Availability Zone on their own schedule; no alarms invoke them, no preflight runs.
resource "aws_lambda_function" "observer2" {
  #checkov:skip=CKV_AWS_115:No reserved concurrency, like the monitor: one scheduled invocation a minute; conditional writes make concurrent invocations safe.
  #checkov:skip=CKV_AWS_116:No dead-letter queue: a scheduled hint that the next minute's invocation supersedes (retries off), as for the monitor.
  #checkov:skip=CKV_AWS_173:The environment holds only IDs, URLs and tuning numbers (no secrets); Lambda encrypts it at rest with the AWS managed key.
  #checkov:skip=CKV_AWS_50:X-Ray tracing is optional (enable_tracing), as in template.yaml.
  #checkov:skip=CKV_AWS_272:No code signing, as with sam deploy: the package is the sam build output the operator built.
  count = local.has_observer2 ? 1 : 0

  function_name    = "${var.name}-observer2"
  description      = "Observer 2 of the NGINX Plus pair, probing from its own Availability Zone (quorum)."
  role             = aws_iam_role.monitor.arn
  filename         = var.function_zip
  source_code_hash = local.code_hash
  handler          = "nginx_eip_failover.handlers.monitor.lambda_handler"
  runtime          = local.runtime
  architectures    = local.architectures
  memory_size      = 128
  timeout          = 150

  tracing_config {
    mode = local.tracing_mode
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.monitor.name
  }

  vpc_config {
    subnet_ids         = [var.observer2_subnet_id]
    security_group_ids = var.security_group_ids
  }

  environment {
    variables = merge(local.common_environment, local.observer_environment, {
      PREFLIGHT_INTERVAL_SECONDS = "0"
      OBSERVER_NAME              = "observer2"
    })
  }

  depends_on = [aws_iam_role_policy_attachment.monitor_basic, aws_iam_role_policy_attachment.monitor_vpc]
}

resource "aws_lambda_function_event_invoke_config" "observer2" {
  count = local.has_observer2 ? 1 : 0

  function_name                = aws_lambda_function.observer2[0].function_name
  maximum_event_age_in_seconds = 60
  maximum_retry_attempts       = 0
}

resource "aws_lambda_function" "observer3" {
  #checkov:skip=CKV_AWS_115:No reserved concurrency, like the monitor: one scheduled invocation a minute; conditional writes make concurrent invocations safe.
  #checkov:skip=CKV_AWS_116:No dead-letter queue: a scheduled hint that the next minute's invocation supersedes (retries off), as for the monitor.
  #checkov:skip=CKV_AWS_173:The environment holds only IDs, URLs and tuning numbers (no secrets); Lambda encrypts it at rest with the AWS managed key.
  #checkov:skip=CKV_AWS_50:X-Ray tracing is optional (enable_tracing), as in template.yaml.
  #checkov:skip=CKV_AWS_272:No code signing, as with sam deploy: the package is the sam build output the operator built.
  count = local.has_observer3 ? 1 : 0

  function_name    = "${var.name}-observer3"
  description      = "Observer 3 of the NGINX Plus pair, probing from its own Availability Zone (quorum)."
  role             = aws_iam_role.monitor.arn
  filename         = var.function_zip
  source_code_hash = local.code_hash
  handler          = "nginx_eip_failover.handlers.monitor.lambda_handler"
  runtime          = local.runtime
  architectures    = local.architectures
  memory_size      = 128
  timeout          = 150

  tracing_config {
    mode = local.tracing_mode
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.monitor.name
  }

  vpc_config {
    subnet_ids         = [var.observer3_subnet_id]
    security_group_ids = var.security_group_ids
  }

  environment {
    variables = merge(local.common_environment, local.observer_environment, {
      PREFLIGHT_INTERVAL_SECONDS = "0"
      OBSERVER_NAME              = "observer3"
    })
  }

  depends_on = [aws_iam_role_policy_attachment.monitor_basic, aws_iam_role_policy_attachment.monitor_vpc]
}

resource "aws_lambda_function_event_invoke_config" "observer3" {
  count = local.has_observer3 ? 1 : 0

  function_name                = aws_lambda_function.observer3[0].function_name
  maximum_event_age_in_seconds = 60
  maximum_retry_attempts       = 0
}

resource "aws_lambda_function" "control" {
  #checkov:skip=CKV_AWS_115:No reserved concurrency: invoked synchronously by operators only; reserving any fails to deploy in accounts with the default unreserved minimum.
  #checkov:skip=CKV_AWS_116:No dead-letter queue: operators invoke it synchronously and get the result or the error back; there is no asynchronous event to lose.
  #checkov:skip=CKV_AWS_173:The environment holds only IDs, URLs and tuning numbers (no secrets); Lambda encrypts it at rest with the AWS managed key.
  #checkov:skip=CKV_AWS_117:Running in a VPC is optional (subnet_ids), as in template.yaml: public health check URLs need none.
  #checkov:skip=CKV_AWS_50:X-Ray tracing is optional (enable_tracing), as in template.yaml.
  #checkov:skip=CKV_AWS_272:No code signing, as with sam deploy: the package is the sam build output the operator built.
  function_name    = "${var.name}-control"
  description      = "Operator requests for the NGINX EIP failover (status, failover, unpin, drain, undrain)."
  role             = aws_iam_role.control.arn
  filename         = var.function_zip
  source_code_hash = local.code_hash
  handler          = "nginx_eip_failover.handlers.control.lambda_handler"
  runtime          = local.runtime
  architectures    = local.architectures
  memory_size      = 128
  timeout          = 30

  tracing_config {
    mode = local.tracing_mode
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.control.name
  }

  dynamic "vpc_config" {
    for_each = local.has_vpc_config ? [var.subnet_ids] : []
    content {
      subnet_ids         = vpc_config.value
      security_group_ids = var.security_group_ids
    }
  }

  environment {
    variables = merge(local.common_environment, {
      PREFLIGHT_INTERVAL_SECONDS = tostring(var.preflight_interval_seconds)
      ALARM_NAMES                = local.alarm_names
      # The monitor cannot be given its own ARN or its schedule's name (template.yaml: a circular
      # dependency there); it leaves the schedule to this function.
      MONITOR_FUNCTION_ARN = aws_lambda_function.monitor.arn
      SCHEDULE_NAME        = aws_scheduler_schedule.monitor.name
    })
  }

  depends_on = [aws_iam_role_policy_attachment.control_basic]
}
