# The node alarms that invoke the monitor at once (a hint: the EIP moves when probes confirm), the
# operator alarms on the topic, and (full profile) the dashboard.

resource "aws_cloudwatch_metric_alarm" "node1_status_check" {
  # A node found by tags has none (template.yaml: Node1HasStatusCheckAlarm).
  count = local.node1_by_tags ? 0 : 1

  alarm_name          = local.node1_alarm_name
  alarm_description   = "EC2 status check of node 1 (${var.node1_instance_id}${var.node1_auto_scaling_group_name}) failed; invokes the monitor to probe at once (a hint only: the EIP moves when probes confirm)."
  namespace           = "AWS/EC2"
  metric_name         = "StatusCheckFailed"
  dimensions          = local.node1_by_group ? { AutoScalingGroupName = var.node1_auto_scaling_group_name } : { InstanceId = var.node1_instance_id }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  # A stopped or terminated instance stops reporting: treat that as failed too.
  treat_missing_data = "breaching"
  alarm_actions      = [aws_lambda_function.monitor.arn]
}

resource "aws_lambda_permission" "node1_status_check_alarm" {
  count = local.node1_by_tags ? 0 : 1

  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.monitor.arn
  principal      = "lambda.alarms.cloudwatch.amazonaws.com"
  source_account = local.account_id
  source_arn     = aws_cloudwatch_metric_alarm.node1_status_check[0].arn
}

resource "aws_cloudwatch_metric_alarm" "node2_status_check" {
  # A node found by tags has none (template.yaml: Node2HasStatusCheckAlarm).
  count = local.node2_by_tags ? 0 : 1

  alarm_name          = local.node2_alarm_name
  alarm_description   = "EC2 status check of node 2 (${var.node2_instance_id}${var.node2_auto_scaling_group_name}) failed; invokes the monitor to probe at once (a hint only: the EIP moves when probes confirm)."
  namespace           = "AWS/EC2"
  metric_name         = "StatusCheckFailed"
  dimensions          = local.node2_by_group ? { AutoScalingGroupName = var.node2_auto_scaling_group_name } : { InstanceId = var.node2_instance_id }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = [aws_lambda_function.monitor.arn]
}

resource "aws_lambda_permission" "node2_status_check_alarm" {
  count = local.node2_by_tags ? 0 : 1

  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.monitor.arn
  principal      = "lambda.alarms.cloudwatch.amazonaws.com"
  source_account = local.account_id
  source_arn     = aws_cloudwatch_metric_alarm.node2_status_check[0].arn
}

# The monitor completed no probe cycle (lean: no invocation) for 3 minutes: nothing watches the pair.
# full: the monitor's own MonitorCycles metric; lean publishes no continuous custom metric and watches
# Lambda's free Invocations metric instead (template.yaml says why that is enough).
resource "aws_cloudwatch_metric_alarm" "monitor_not_running" {
  alarm_name          = "${var.name}-monitor-not-running"
  alarm_description   = "The monitor completed no probe cycle (lean profile: no invocation) for 3 minutes: nothing is watching the pair (schedule disabled, function failing or throttled). Check the function's logs and errors."
  namespace           = local.full_observability ? "NginxEipFailover" : "AWS/Lambda"
  metric_name         = local.full_observability ? "MonitorCycles" : "Invocations"
  dimensions          = local.full_observability ? { service = "nginx-eip-failover" } : { FunctionName = aws_lambda_function.monitor.function_name }
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 3
  datapoints_to_alarm = 3
  threshold           = 1
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = [aws_sns_topic.notification.arn]
  ok_actions          = [aws_sns_topic.notification.arn]
}

# The monitor only: a refused control request raises (that is how the operator gets the message).
resource "aws_cloudwatch_metric_alarm" "monitor_errors" {
  alarm_name          = "${var.name}-monitor-errors"
  alarm_description   = "The monitor function failed (crash, timeout, bad configuration, every cycle failing). Check its logs."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.monitor.function_name }
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.notification.arn]
  ok_actions          = [aws_sns_topic.notification.arn]
}

locals {
  metric_dimensions = ["service", "nginx-eip-failover"]
  node_widget_metrics = [
    for node, instance in { node1 = var.node1_instance_id, node2 = var.node2_instance_id } :
    concat(["NginxEipFailover", "NodeUp"], local.metric_dimensions, ["Node", node, { label = "${node} (${instance})" }])
  ]
  latency_widget_metrics = flatten([
    for node in ["node1", "node2"] : [
      for stat in ["p50", "p99"] :
      concat(["NginxEipFailover", "ProbeLatency"], local.metric_dimensions, ["Node", node, { stat = stat, label = "${node} ${stat}" }])
    ]
  ])
  lambda_widget_metrics = flatten([
    for metric in ["Errors", "Throttles"] : [
      for label, function in { MonitorFunction = aws_lambda_function.monitor.function_name, ControlFunction = aws_lambda_function.control.function_name } :
      ["AWS/Lambda", metric, "FunctionName", function, { label = "${label} ${lower(metric)}" }]
    ]
  ])
  widget_defaults = { region = local.region, view = "timeSeries", stacked = false, period = 60 }
}

resource "aws_cloudwatch_dashboard" "failover" {
  count = local.full_observability ? 1 : 0

  dashboard_name = "${var.name}-failover"
  dashboard_body = jsonencode({
    widgets = [
      {
        type = "metric", x = 0, y = 0, width = 12, height = 6
        properties = merge(local.widget_defaults, {
          title   = "Node health (1 = up, minimum per minute)"
          stat    = "Minimum"
          yAxis   = { left = { min = 0, max = 1 } }
          metrics = local.node_widget_metrics
        })
      },
      {
        type = "metric", x = 12, y = 0, width = 12, height = 6
        properties = merge(local.widget_defaults, {
          title = "EIP moves and failures"
          stat  = "Sum"
          metrics = [
            for metric in ["EipMoves", "MoveFailures", "NoHealthyNode", "StateConflicts", "DriftDetected"] :
            concat(["NginxEipFailover", metric], local.metric_dimensions)
          ]
        })
      },
      {
        type = "metric", x = 0, y = 6, width = 12, height = 6
        properties = merge(local.widget_defaults, {
          title   = "Probe latency (ms)"
          metrics = local.latency_widget_metrics
        })
      },
      {
        type = "metric", x = 12, y = 6, width = 12, height = 6
        properties = merge(local.widget_defaults, {
          title   = "Probe cycles per minute"
          stat    = "Sum"
          metrics = [concat(["NginxEipFailover", "MonitorCycles"], local.metric_dimensions)]
        })
      },
      {
        type = "metric", x = 0, y = 12, width = 12, height = 6
        properties = merge(local.widget_defaults, {
          title   = "Lambda errors and throttles"
          stat    = "Sum"
          metrics = local.lambda_widget_metrics
        })
      },
      {
        type = "alarm", x = 12, y = 12, width = 12, height = 6
        properties = {
          title = "Alarms"
          alarms = concat([
            aws_cloudwatch_metric_alarm.monitor_not_running.arn,
            aws_cloudwatch_metric_alarm.monitor_errors.arn,
            ],
            # A node found by tags has no status-check alarm.
            local.node1_by_tags ? [] : [aws_cloudwatch_metric_alarm.node1_status_check[0].arn],
            local.node2_by_tags ? [] : [aws_cloudwatch_metric_alarm.node2_status_check[0].arn],
          )
        }
      },
    ]
  })
}

# The node alarms gained a count (a node found by tags has none): the existing ones keep their state.
moved {
  from = aws_cloudwatch_metric_alarm.node1_status_check
  to   = aws_cloudwatch_metric_alarm.node1_status_check[0]
}

moved {
  from = aws_lambda_permission.node1_status_check_alarm
  to   = aws_lambda_permission.node1_status_check_alarm[0]
}

moved {
  from = aws_cloudwatch_metric_alarm.node2_status_check
  to   = aws_cloudwatch_metric_alarm.node2_status_check[0]
}

moved {
  from = aws_lambda_permission.node2_status_check_alarm
  to   = aws_lambda_permission.node2_status_check_alarm[0]
}
