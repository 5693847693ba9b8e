# The ScheduleV2 events of template.yaml: an EventBridge Scheduler schedule per function, starting an
# invocation every minute; each probes until the next has taken over (the monitor lease).

locals {
  schedule_expression = "rate(1 minute)"
  # Exactly the template's Input string (the functions read {"trigger": "schedule"}).
  schedule_input = "{\"trigger\": \"schedule\"}"
}

resource "aws_scheduler_schedule" "monitor" {
  #checkov:skip=CKV_AWS_297:The schedule holds no data but its input {"trigger": "schedule"} (no secret), which EventBridge Scheduler encrypts with an AWS owned key; a customer managed key would add $1 a month and a key policy for nothing, as in template.yaml (SAM's ScheduleV2 sets none).
  # A generated name (template.yaml: OmitName), so two pairs in one account do not collide.
  name_prefix         = "${local.short_name}-monitor-"
  description         = "Starts a monitor invocation every minute; each probes until the next has taken over."
  schedule_expression = local.schedule_expression
  state               = "ENABLED"

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_lambda_function.monitor.arn
    role_arn = aws_iam_role.monitor_schedule.arn
    input    = local.schedule_input

    retry_policy {
      maximum_event_age_in_seconds = 60
      maximum_retry_attempts       = 2
    }
  }
}

resource "aws_scheduler_schedule" "observer2" {
  #checkov:skip=CKV_AWS_297:The schedule holds no data but its input {"trigger": "schedule"} (no secret), which EventBridge Scheduler encrypts with an AWS owned key; a customer managed key would add $1 a month and a key policy for nothing, as in template.yaml (SAM's ScheduleV2 sets none).
  count = local.has_observer2 ? 1 : 0

  name_prefix         = "${local.short_name}-observer2-"
  description         = "Starts an observer invocation every minute; each probes until the next has taken over."
  schedule_expression = local.schedule_expression
  state               = "ENABLED"

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_lambda_function.observer2[0].arn
    role_arn = aws_iam_role.observer2_schedule[0].arn
    input    = local.schedule_input

    retry_policy {
      maximum_event_age_in_seconds = 60
      maximum_retry_attempts       = 2
    }
  }
}

resource "aws_scheduler_schedule" "observer3" {
  #checkov:skip=CKV_AWS_297:The schedule holds no data but its input {"trigger": "schedule"} (no secret), which EventBridge Scheduler encrypts with an AWS owned key; a customer managed key would add $1 a month and a key policy for nothing, as in template.yaml (SAM's ScheduleV2 sets none).
  count = local.has_observer3 ? 1 : 0

  name_prefix         = "${local.short_name}-observer3-"
  description         = "Starts an observer invocation every minute; each probes until the next has taken over."
  schedule_expression = local.schedule_expression
  state               = "ENABLED"

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_lambda_function.observer3[0].arn
    role_arn = aws_iam_role.observer3_schedule[0].arn
    input    = local.schedule_input

    retry_policy {
      maximum_event_age_in_seconds = 60
      maximum_retry_attempts       = 2
    }
  }
}
