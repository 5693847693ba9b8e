# create_vpc_endpoints: for subnets without a NAT path, a DynamoDB gateway endpoint and interface
# endpoints for every other service the functions call (EC2, SNS, CloudWatch, EventBridge Scheduler).

resource "aws_security_group" "endpoints" {
  count = local.create_endpoints ? 1 : 0

  name_prefix = "${var.name}-endpoints-"
  description = "HTTPS from the ${var.name} failover functions to the EC2, SNS, CloudWatch and Scheduler interface endpoints"
  vpc_id      = var.vpc_id

  ingress {
    description     = "HTTPS from the functions (first of security_group_ids)"
    protocol        = "tcp"
    from_port       = 443
    to_port         = 443
    security_groups = [var.security_group_ids[0]]
  }
}

resource "aws_vpc_endpoint" "dynamodb" {
  count = local.create_endpoints ? 1 : 0

  vpc_endpoint_type = "Gateway"
  service_name      = "com.amazonaws.${local.region}.dynamodb"
  vpc_id            = var.vpc_id
  route_table_ids   = var.route_table_ids
}

locals {
  # Interface endpoint resource name -> the service it reaches.
  interface_endpoint_services = {
    ec2 = "ec2"
    sns = "sns"
    # cloudwatch:DescribeAlarms (both functions' preflight) and the emergency stop's alarm actions.
    monitoring = "monitoring"
    # scheduler:GetSchedule (the control function's preflight).
    scheduler = "scheduler"
    # sts:AssumeRole of route_table_role_arn (routes in another account), only when it is set.
    sts = "sts"
  }
}

resource "aws_vpc_endpoint" "ec2" {
  count = local.create_endpoints ? 1 : 0

  vpc_endpoint_type   = "Interface"
  service_name        = "com.amazonaws.${local.region}.${local.interface_endpoint_services.ec2}"
  vpc_id              = var.vpc_id
  subnet_ids          = var.subnet_ids
  security_group_ids  = [aws_security_group.endpoints[0].id]
  private_dns_enabled = true
}

resource "aws_vpc_endpoint" "sns" {
  count = local.create_endpoints ? 1 : 0

  vpc_endpoint_type   = "Interface"
  service_name        = "com.amazonaws.${local.region}.${local.interface_endpoint_services.sns}"
  vpc_id              = var.vpc_id
  subnet_ids          = var.subnet_ids
  security_group_ids  = [aws_security_group.endpoints[0].id]
  private_dns_enabled = true
}

resource "aws_vpc_endpoint" "monitoring" {
  count = local.create_endpoints ? 1 : 0

  vpc_endpoint_type   = "Interface"
  service_name        = "com.amazonaws.${local.region}.${local.interface_endpoint_services.monitoring}"
  vpc_id              = var.vpc_id
  subnet_ids          = var.subnet_ids
  security_group_ids  = [aws_security_group.endpoints[0].id]
  private_dns_enabled = true
}

resource "aws_vpc_endpoint" "scheduler" {
  count = local.create_endpoints ? 1 : 0

  vpc_endpoint_type   = "Interface"
  service_name        = "com.amazonaws.${local.region}.${local.interface_endpoint_services.scheduler}"
  vpc_id              = var.vpc_id
  subnet_ids          = var.subnet_ids
  security_group_ids  = [aws_security_group.endpoints[0].id]
  private_dns_enabled = true
}

resource "aws_vpc_endpoint" "sts" {
  count = local.create_sts_endpoint ? 1 : 0

  vpc_endpoint_type   = "Interface"
  service_name        = "com.amazonaws.${local.region}.${local.interface_endpoint_services.sts}"
  vpc_id              = var.vpc_id
  subnet_ids          = var.subnet_ids
  security_group_ids  = [aws_security_group.endpoints[0].id]
  private_dns_enabled = true
}

# Authenticated health checks only (a health check secret configured, or fleet secrets by tag): the
# secret is read at cold start and every 5 minutes; both endpoints, since either service may hold it.
resource "aws_vpc_endpoint" "secretsmanager" {
  count = local.create_health_check_secret_endpoints ? 1 : 0

  vpc_endpoint_type   = "Interface"
  service_name        = "com.amazonaws.${local.region}.secretsmanager"
  vpc_id              = var.vpc_id
  subnet_ids          = var.subnet_ids
  security_group_ids  = [aws_security_group.endpoints[0].id]
  private_dns_enabled = true
}

resource "aws_vpc_endpoint" "ssm" {
  count = local.create_health_check_secret_endpoints ? 1 : 0

  vpc_endpoint_type   = "Interface"
  service_name        = "com.amazonaws.${local.region}.ssm"
  vpc_id              = var.vpc_id
  subnet_ids          = var.subnet_ids
  security_group_ids  = [aws_security_group.endpoints[0].id]
  private_dns_enabled = true
}

# autoscaling:DescribeAutoScalingGroups and CompleteLifecycleAction (found nodes), only when a node
# is found (the pair's, or a fleet group's: var.fleet_found_nodes).
resource "aws_vpc_endpoint" "autoscaling" {
  count = local.create_auto_scaling_endpoint ? 1 : 0

  vpc_endpoint_type   = "Interface"
  service_name        = "com.amazonaws.${local.region}.autoscaling"
  vpc_id              = var.vpc_id
  subnet_ids          = var.subnet_ids
  security_group_ids  = [aws_security_group.endpoints[0].id]
  private_dns_enabled = true
}
