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
  mock_resource "aws_cloudwatch_event_rule" {
    defaults = { arn = "arn:aws:events:us-east-1:123456789012:rule/mock" }
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
    condition     = length(aws_vpc_endpoint.sts) == 0 && !contains([for s in jsondecode(aws_iam_role_policy.monitor.policy).Statement : s.Action], "sts:AssumeRole")
    error_message = "no route table role: nothing to assume"
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
    route_table_role_arn         = "arn:aws:iam::111122223333:role/route-mover"
    route_table_role_external_id = "nginx-eip-failover-ext"
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
  assert {
    condition     = length(aws_vpc_endpoint.sts) == 1 && [for s in jsondecode(aws_iam_role_policy.control.policy).Statement : s.Resource if s.Action == "sts:AssumeRole"] == ["arn:aws:iam::111122223333:role/route-mover"]
    error_message = "the route table role: assumed through the STS endpoint"
  }
}

run "active_active" {
  command = plan

  variables {
    node1_network_interface_id      = "eni-0123456789abcdef1"
    node1_private_ip_address        = "10.0.1.20"
    node2_network_interface_id      = "eni-0123456789abcdef2"
    node2_private_ip_address        = "10.0.2.21"
    second_elastic_ip_allocation_id = "eipalloc-0a1b2c3d4e5f60720"
    node1_second_private_ip_address = "10.0.1.30"
    node2_second_private_ip_address = "10.0.2.31"
  }

  assert {
    condition = [for s in jsondecode(aws_iam_role_policy.monitor.policy).Statement : s.Resource if s.Sid == "MoveTheSecondElasticIpBetweenThePair"] == [[
      "arn:aws:ec2:us-east-1:123456789012:elastic-ip/eipalloc-0a1b2c3d4e5f60720",
      "arn:aws:ec2:us-east-1:123456789012:network-interface/eni-0123456789abcdef1",
      "arn:aws:ec2:us-east-1:123456789012:network-interface/eni-0123456789abcdef2",
    ]]
    error_message = "the second EIP moves between the two ENIs"
  }
  assert {
    condition     = aws_lambda_function.control.environment[0].variables["SECOND_EIP_ALLOCATION_ID"] == "eipalloc-0a1b2c3d4e5f60720" && aws_lambda_function.monitor.environment[0].variables["NODE2_SECOND_PRIVATE_IP_ADDRESS"] == "10.0.2.31"
    error_message = "both functions are given the second address set"
  }
}

run "found_nodes_in_one_group" {
  command = plan

  variables {
    node1_instance_id             = ""
    node2_instance_id             = ""
    node1_auto_scaling_group_name = "nginx-pair"
    node2_auto_scaling_group_name = "nginx-pair"
    node1_availability_zone       = "us-east-1a"
    node2_availability_zone       = "us-east-1b"
    subnet_ids                    = ["subnet-0123456789abcdef0"]
    security_group_ids            = ["sg-0123456789abcdef0"]
    create_vpc_endpoints          = true
    vpc_id                        = "vpc-0123456789abcdef0"
    route_table_ids               = ["rtb-0123456789abcdef0"]
  }

  assert {
    condition     = length(aws_autoscaling_lifecycle_hook.node1_termination) == 1 && length(aws_autoscaling_lifecycle_hook.node2_termination) == 0
    error_message = "one group of both nodes: one hook"
  }
  assert {
    condition     = aws_autoscaling_lifecycle_hook.node1_termination[0].heartbeat_timeout == 120 && aws_autoscaling_lifecycle_hook.node1_termination[0].default_result == "CONTINUE"
    error_message = "the hook holds a terminating instance for 120 s, then continues"
  }
  assert {
    condition     = jsondecode(aws_cloudwatch_event_rule.instance_terminating[0].event_pattern).detail.AutoScalingGroupName == ["nginx-pair", "nginx-pair"]
    error_message = "the rule matches the group's terminations"
  }
  assert {
    condition     = jsondecode(aws_iam_role_policy.monitor.policy).Statement[0].Resource == ["arn:aws:ec2:us-east-1:123456789012:elastic-ip/eipalloc-0a1b2c3d4e5f60718"]
    error_message = "found nodes' instances are not named in the pair's grant (they are reached by tag)"
  }
  assert {
    condition     = length(aws_iam_role_policy.found_nodes_lookup_control) == 1 && length(aws_vpc_endpoint.autoscaling) == 1 && length(aws_lambda_function.lifecycle[0].vpc_config) == 1
    error_message = "the lookup grant, the Auto Scaling endpoint and the lifecycle function in the VPC"
  }
  assert {
    condition     = aws_lambda_function.monitor.environment[0].variables["NODE2_AVAILABILITY_ZONE"] == "us-east-1b" && aws_cloudwatch_metric_alarm.node1_status_check[0].dimensions["AutoScalingGroupName"] == "nginx-pair"
    error_message = "the monitor finds the nodes; the node alarm watches the group"
  }
}

run "node2_found_by_tags" {
  command = plan

  variables {
    node2_instance_id   = ""
    node2_instance_tags = "role=nginx-plus,pair=edge"
  }

  assert {
    condition     = aws_lambda_function.monitor.environment[0].variables["NODE2_INSTANCE_TAGS"] == "role=nginx-plus,pair=edge" && aws_lambda_function.control.environment[0].variables["NODE2_INSTANCE_TAGS"] == "role=nginx-plus,pair=edge"
    error_message = "the monitor and the control function find node 2 by its tags"
  }
  assert {
    condition     = length(aws_cloudwatch_metric_alarm.node2_status_check) == 0 && length(aws_cloudwatch_metric_alarm.node1_status_check) == 1 && aws_lambda_function.monitor.environment[0].variables["ALARM_NAMES"] == "nginx-eip-failover-node1-status-check"
    error_message = "a node found by tags has no status-check alarm; node 1's stays, and the preflight checks only it"
  }
  assert {
    condition     = length(aws_iam_role_policy.found_nodes_lookup_monitor) == 0 && length(aws_lambda_function.lifecycle) == 0 && length(aws_autoscaling_lifecycle_hook.node2_termination) == 0
    error_message = "tags need no Auto Scaling: no lookup grant, no lifecycle function, no hook"
  }
  assert {
    condition     = jsondecode(aws_iam_role_policy.monitor.policy).Statement[0].Resource == ["arn:aws:ec2:us-east-1:123456789012:elastic-ip/eipalloc-0a1b2c3d4e5f60718", "arn:aws:ec2:us-east-1:123456789012:instance/i-0a1b2c3d4e5f60718"]
    error_message = "the tag-found node's instance is not named in the pair's grant (it is reached by the stack tag)"
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

run "a_second_address_set_by_instance_is_refused" {
  command = plan

  variables {
    second_elastic_ip_allocation_id = "eipalloc-0a1b2c3d4e5f60720"
    node1_second_private_ip_address = "10.0.1.30"
    node2_second_private_ip_address = "10.0.2.31"
  }

  expect_failures = [var.second_elastic_ip_allocation_id]
}

run "an_external_id_without_a_role_is_refused" {
  command = plan

  variables {
    route_table_role_external_id = "nginx-eip-failover-ext"
  }

  expect_failures = [var.route_table_role_external_id]
}

run "a_node_without_instance_group_or_tags_is_refused" {
  command = plan

  variables {
    node2_instance_id = ""
  }

  expect_failures = [var.node2_instance_tags]
}

run "tags_beside_a_group_are_refused" {
  command = plan

  variables {
    node2_instance_id             = ""
    node2_auto_scaling_group_name = "nginx-b"
    node2_instance_tags           = "role=nginx-plus"
  }

  expect_failures = [var.node2_instance_tags]
}

run "fleet_nodes_found_by_group" {
  command = plan

  variables {
    fleet_found_nodes    = "tags-and-auto-scaling-groups"
    subnet_ids           = ["subnet-0123456789abcdef0"]
    security_group_ids   = ["sg-0123456789abcdef0"]
    create_vpc_endpoints = true
    vpc_id               = "vpc-0123456789abcdef0"
    route_table_ids      = ["rtb-0123456789abcdef0"]
  }

  assert {
    condition     = length(aws_iam_role_policy.found_nodes_lookup_monitor) == 1 && length(aws_iam_role_policy.found_nodes_lookup_control) == 1 && length(aws_vpc_endpoint.autoscaling) == 1
    error_message = "fleet groups' nodes found by group: the lookup grant and the Auto Scaling endpoint"
  }
  assert {
    condition     = length(aws_lambda_function.lifecycle) == 0 && length(aws_autoscaling_lifecycle_hook.node1_termination) == 0
    error_message = "no lifecycle hook or function for fleet groups (not known at deploy time)"
  }
  assert {
    condition     = aws_lambda_function.control.environment[0].variables["FLEET_FOUND_NODES"] == "tags-and-auto-scaling-groups" && aws_lambda_function.monitor.environment[0].variables["FLEET_FOUND_NODES"] == "tags-and-auto-scaling-groups"
    error_message = "the functions' fleet parser is told the stack grants the lookup"
  }
}
