# `terraform test` (make terraform-validate, where terraform is installed): the module planned against
# a mocked aws provider (nothing reaches AWS, no credentials; Terraform 1.11+), in both pair shapes,
# both profiles and with every optional part on. What it grants is compared with template.yaml by
# tests/iac/test_terraform_parity.py; this checks that Terraform itself accepts and evaluates it so.
# function_zip comes from the command line (-var), as make terraform-validate passes it.

mock_provider "aws" {
  # Mocked values at plan time too (Terraform 1.11): nothing is applied, so nothing is torn down.
  override_during = plan

  override_data {
    target = data.aws_caller_identity.current
    values = { account_id = "123456789012" }
  }
  override_data {
    target = data.aws_region.current
    values = { name = "us-east-1" }
  }
  override_data {
    target = data.aws_partition.current
    values = { partition = "aws" }
  }
  # The provider checks that an ARN it is given looks like one; the mock's random strings do not.
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/mock" }
  }
  mock_resource "aws_lambda_function" {
    defaults = { arn = "arn:aws:lambda:us-east-1:123456789012:function:mock" }
  }
  mock_resource "aws_sns_topic" {
    defaults = { arn = "arn:aws:sns:us-east-1:123456789012:mock" }
  }
  mock_resource "aws_kms_key" {
    defaults = { arn = "arn:aws:kms:us-east-1:123456789012:key/mock" }
  }
  mock_resource "aws_dynamodb_table" {
    defaults = { arn = "arn:aws:dynamodb:us-east-1:123456789012:table/mock" }
  }
  mock_resource "aws_cloudwatch_metric_alarm" {
    defaults = { arn = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:mock" }
  }
  mock_resource "aws_scheduler_schedule" {
    defaults = { arn = "arn:aws:scheduler:us-east-1:123456789012:schedule/default/mock" }
  }
}

variables {
  elastic_ip_allocation_id = "eipalloc-0a1b2c3d4e5f60718"
  node1_instance_id        = "i-0a1b2c3d4e5f60718"
  node2_instance_id        = "i-0a1b2c3d4e5f60719"
  node1_health_check_url   = "http://10.0.1.10:8080/api/9/http/upstreams/backend"
  node2_health_check_url   = "http://10.0.2.10:8080/api/9/http/upstreams/backend"
}

run "by_instance_lean" {
  command = plan

  assert {
    condition     = length(aws_kms_key.notification) == 0 && length(aws_cloudwatch_dashboard.failover) == 0
    error_message = "the lean profile has no key and no dashboard"
  }
  assert {
    condition     = aws_sns_topic.notification.kms_master_key_id == null
    error_message = "the lean topic is not encrypted with a customer managed key"
  }
  assert {
    condition = jsondecode(aws_iam_role_policy.monitor.policy).Statement[0].Resource == [
      "arn:aws:ec2:us-east-1:123456789012:elastic-ip/eipalloc-0a1b2c3d4e5f60718",
      "arn:aws:ec2:us-east-1:123456789012:instance/i-0a1b2c3d4e5f60718",
      "arn:aws:ec2:us-east-1:123456789012:instance/i-0a1b2c3d4e5f60719",
    ]
    error_message = "by instance, the EIP moves between the two instances"
  }
  assert {
    condition     = aws_lambda_function.monitor.environment[0].variables["OBSERVERS"] == "local" && length(aws_lambda_function.monitor.vpc_config) == 0
    error_message = "one observer, outside any VPC"
  }
  assert {
    condition     = aws_lambda_function.monitor.reserved_concurrent_executions == -1
    error_message = "no reserved concurrency by default"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.monitor_not_running.namespace == "AWS/Lambda"
    error_message = "lean watches Lambda's Invocations"
  }
}

run "by_eni_full" {
  command = plan

  variables {
    observability_profile      = "full"
    node1_network_interface_id = "eni-0123456789abcdef1"
    node1_private_ip_address   = "10.0.1.20"
    node2_network_interface_id = "eni-0123456789abcdef2"
    node2_private_ip_address   = "10.0.2.21"
  }

  assert {
    condition     = length(aws_kms_key.notification) == 1 && length(aws_cloudwatch_dashboard.failover) == 1
    error_message = "the full profile has the key and the dashboard"
  }
  assert {
    condition     = aws_sns_topic.notification.kms_master_key_id == aws_kms_key.notification[0].arn
    error_message = "the full topic is encrypted with the key"
  }
  assert {
    condition = jsondecode(aws_iam_role_policy.control.policy).Statement[0].Resource == [
      "arn:aws:ec2:us-east-1:123456789012:elastic-ip/eipalloc-0a1b2c3d4e5f60718",
      "arn:aws:ec2:us-east-1:123456789012:network-interface/eni-0123456789abcdef1",
      "arn:aws:ec2:us-east-1:123456789012:network-interface/eni-0123456789abcdef2",
    ]
    error_message = "by ENI, the EIP moves between the two ENIs"
  }
  assert {
    condition     = contains([for s in jsondecode(aws_iam_role_policy.monitor.policy).Statement : s.Sid], "PublishToTheEncryptedTopic")
    error_message = "the full profile grants the key to publish"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.monitor_not_running.metric_name == "MonitorCycles"
    error_message = "full watches the monitor's own cycles"
  }
  assert {
    condition     = output.dashboard_name == "nginx-eip-failover-failover"
    error_message = "the dashboard output names the dashboard"
  }
}

run "everything_on" {
  command = plan

  variables {
    subnet_ids                   = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
    security_group_ids           = ["sg-0123456789abcdef0"]
    create_vpc_endpoints         = true
    vpc_id                       = "vpc-0123456789abcdef0"
    route_table_ids              = ["rtb-0123456789abcdef0"]
    observer2_subnet_id          = "subnet-0123456789abcdef2"
    observer3_subnet_id          = "subnet-0123456789abcdef3"
    enable_tracing               = true
    notification_email           = "ops@example.com"
    monitor_reserved_concurrency = "5"
  }

  assert {
    condition     = length(aws_lambda_function.observer2) == 1 && length(aws_lambda_function.observer3) == 1 && length(aws_scheduler_schedule.observer3) == 1
    error_message = "both observers and their schedules"
  }
  assert {
    condition     = aws_lambda_function.observer3[0].environment[0].variables["OBSERVERS"] == "local,observer2,observer3"
    error_message = "every observer knows all three"
  }
  assert {
    condition     = aws_lambda_function.monitor.reserved_concurrent_executions == 5 && aws_lambda_function.monitor.tracing_config[0].mode == "Active"
    error_message = "reserved concurrency and tracing as asked"
  }
  assert {
    condition     = length(aws_vpc_endpoint.scheduler) == 1 && length(aws_sns_topic_subscription.email) == 1
    error_message = "the endpoints and the e-mail subscription"
  }
}

run "the_longest_name_fits_every_name_limit" {
  command = plan

  variables {
    name                = "a-forty-character-name-for-the-pair-0001"
    security_group_ids  = ["sg-0123456789abcdef0"]
    observer2_subnet_id = "subnet-0123456789abcdef2"
    observer3_subnet_id = "subnet-0123456789abcdef3"
  }

  assert {
    condition     = aws_lambda_function.observer3[0].function_name == "a-forty-character-name-for-the-pair-0001-observer3"
    error_message = "function names keep the whole name"
  }
}

run "a_partial_eni_pair_is_refused" {
  command = plan

  variables {
    node1_network_interface_id = "eni-0123456789abcdef1"
  }

  expect_failures = [var.node1_network_interface_id]
}

run "the_documented_example_ids_are_refused" {
  command = plan

  variables {
    elastic_ip_allocation_id = "eipalloc-0123456789abcdef0"
  }

  expect_failures = [var.elastic_ip_allocation_id]
}
