# template.yaml's Outputs, one output each (snake_case of the output's name).

output "monitor_function_name" {
  description = "Name of the monitor function"
  value       = aws_lambda_function.monitor.function_name
}

output "monitor_function_arn" {
  description = "ARN of the monitor function"
  value       = aws_lambda_function.monitor.arn
}

# The principals a route table role's trust policy names (docs/cross-account-routes.md); the
# observers run under the monitor's role.
output "monitor_function_role_arn" {
  description = "IAM role of the monitor (and observer) functions"
  value       = aws_iam_role.monitor.arn
}

output "control_function_role_arn" {
  description = "IAM role of the control function"
  value       = aws_iam_role.control.arn
}

output "control_function_name" {
  description = "Name of the control function (aws lambda invoke --function-name ...)"
  value       = aws_lambda_function.control.function_name
}

output "control_function_arn" {
  description = "ARN of the control function"
  value       = aws_lambda_function.control.arn
}

output "state_table_name" {
  description = "DynamoDB table holding the failover state"
  value       = aws_dynamodb_table.state.name
}

output "state_table_arn" {
  description = "ARN of the state table"
  value       = aws_dynamodb_table.state.arn
}

output "decision_log_table_name" {
  description = "DynamoDB table of the decision log (explain, replay)"
  value       = aws_dynamodb_table.decision_log.name
}

output "notification_topic_arn" {
  description = "SNS topic for failover notifications and alarms"
  value       = aws_sns_topic.notification.arn
}

output "dashboard_name" {
  description = "CloudWatch dashboard of the failover (null in the lean profile, which has none)"
  value       = local.full_observability ? aws_cloudwatch_dashboard.failover[0].dashboard_name : null
}
