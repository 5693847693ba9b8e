mock_provider "aws" {
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
}

variables {
  function_zip             = "/tmp/tfplan/function.zip"
  elastic_ip_allocation_id = "eipalloc-0a1b2c3d4e5f60718"
  node1_instance_id        = "i-0a1b2c3d4e5f60718"
  node2_instance_id        = "i-0a1b2c3d4e5f60719"
  node1_health_check_url   = "http://10.0.1.10:8080/health"
  node2_health_check_url   = "http://10.0.2.10:8080/health"
}

run "lean" {
  command = plan
  assert {
    condition     = length(aws_kms_key.notification) == 0
    error_message = "x"
  }
}

run "full_eni" {
  command = plan
  variables {
    observability_profile      = "full"
    node1_network_interface_id = "eni-0123456789abcdef1"
    node1_private_ip_address   = "10.0.1.20"
    node2_network_interface_id = "eni-0123456789abcdef2"
    node2_private_ip_address   = "10.0.2.21"
    subnet_ids = ["subnet-0123456789abcdef0"]
    security_group_ids = ["sg-0123456789abcdef0"]
    observer2_subnet_id = "subnet-0123456789abcdef1"
    create_vpc_endpoints = true
    vpc_id = "vpc-0123456789abcdef0"
    route_table_ids = ["rtb-0123456789abcdef0"]
    monitor_reserved_concurrency = "5"
    enable_tracing = true
  }
  assert {
    condition     = length(aws_kms_key.notification) == 1
    error_message = "x"
  }
}
