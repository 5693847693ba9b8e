# template.yaml's Parameters, one variable each (snake_case of the parameter's name), with the same
# defaults; AllowedPattern / AllowedValues / MinValue / MaxValue are validation blocks whose message
# names the variable and the value given. "true"/"false" parameters are bools here, comma-delimited
# lists are list(string). Every parameter's meaning and why its default: docs/parameters.md.

# ---------------------------------------------------------------- the module itself (no parameter)
variable "name" {
  description = "What the SAM stack name is to the template: prefix of every resource name, the alarms' names, and the value of the nginx-eip-failover tag that scopes the fleet's resources (ABAC)."
  type        = string
  default     = "nginx-eip-failover"
  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9-]{0,39}$", var.name))
    error_message = "name must be a letter then up to 39 letters, digits or hyphens (it prefixes function, table and alarm names), not \"${var.name}\"."
  }
}

variable "function_zip" {
  description = "Path of the functions' deployment package: `make build` (sam build), then `make function-zip` zips .aws-sam/build/MonitorFunction to build/function.zip. Both functions run this one artifact."
  type        = string
  validation {
    condition     = endswith(var.function_zip, ".zip")
    error_message = "function_zip must be the path of a .zip file (make build && make function-zip writes build/function.zip), not \"${var.function_zip}\"."
  }
}

# ---------------------------------------------------------------- Elastic IP and nodes
variable "elastic_ip_allocation_id" {
  description = "Allocation ID of the Elastic IP to keep on the healthy node (eipalloc-...). (ElasticIpAllocationId)"
  type        = string
  validation {
    condition     = can(regex("^eipalloc-[0-9a-f]{8,17}$", var.elastic_ip_allocation_id))
    error_message = "elastic_ip_allocation_id must be an Elastic IP allocation ID such as eipalloc-0a1b2c3d4e5f60718, not \"${var.elastic_ip_allocation_id}\"."
  }
  # template.yaml's rule ExamplePlaceholdersReplaced: the documented example value points at nothing.
  validation {
    condition     = var.elastic_ip_allocation_id != "eipalloc-0123456789abcdef0"
    error_message = "elastic_ip_allocation_id is the documented example eipalloc-0123456789abcdef0; set the pair's EIP."
  }
}

variable "node1_instance_id" {
  description = "EC2 instance ID of NGINX Plus node 1 (i-...); empty when node1_auto_scaling_group_name or node1_instance_tags finds it. (Node1InstanceId)"
  type        = string
  validation {
    condition     = can(regex("^(i-[0-9a-f]{8,17})?$", var.node1_instance_id))
    error_message = "node1_instance_id must be an EC2 instance ID such as i-0a1b2c3d4e5f60718 (or empty with node1_auto_scaling_group_name or node1_instance_tags), not \"${var.node1_instance_id}\"."
  }
  # template.yaml's rule ExamplePlaceholdersReplaced: the documented example value points at nothing.
  validation {
    condition     = var.node1_instance_id != "i-0123456789abcdef1"
    error_message = "node1_instance_id is the documented example i-0123456789abcdef1; set node 1's instance."
  }
}

variable "node2_instance_id" {
  description = "EC2 instance ID of NGINX Plus node 2 (i-...); empty when node2_auto_scaling_group_name or node2_instance_tags finds it. (Node2InstanceId)"
  type        = string
  validation {
    condition     = can(regex("^(i-[0-9a-f]{8,17})?$", var.node2_instance_id))
    error_message = "node2_instance_id must be an EC2 instance ID such as i-0a1b2c3d4e5f60719 (or empty with node2_auto_scaling_group_name or node2_instance_tags), not \"${var.node2_instance_id}\"."
  }
  # template.yaml's rule ExamplePlaceholdersReplaced: the documented example value points at nothing.
  validation {
    condition     = var.node2_instance_id != "i-0123456789abcdef2"
    error_message = "node2_instance_id is the documented example i-0123456789abcdef2; set node 2's instance."
  }
}

variable "node1_health_check_url" {
  description = "http(s)://host:port/path probed on node 1 (a 2xx answer is healthy). (Node1HealthCheckUrl)"
  type        = string
  validation {
    condition     = can(regex("^https?://.+", var.node1_health_check_url))
    error_message = "node1_health_check_url must be an http:// or https:// URL of node 1, not \"${var.node1_health_check_url}\"."
  }
}

variable "node2_health_check_url" {
  description = "http(s)://host:port/path probed on node 2. (Node2HealthCheckUrl)"
  type        = string
  validation {
    condition     = can(regex("^https?://.+", var.node2_health_check_url))
    error_message = "node2_health_check_url must be an http:// or https:// URL of node 2, not \"${var.node2_health_check_url}\"."
  }
}

variable "node1_priority" {
  description = "Priority of node 1; the higher of two healthy nodes wins. Must differ from node2_priority. (Node1Priority)"
  type        = number
  default     = 101
  validation {
    condition     = var.node1_priority >= 0 && var.node1_priority <= 255
    error_message = "node1_priority must be from 0 to 255, not ${var.node1_priority}."
  }
}

variable "node2_priority" {
  description = "Priority of node 2; the higher of two healthy nodes wins. (Node2Priority)"
  type        = number
  default     = 100
  validation {
    condition     = var.node2_priority >= 0 && var.node2_priority <= 255
    error_message = "node2_priority must be from 0 to 255, not ${var.node2_priority}."
  }
}

# ---------------------------------------------------------------- the pair by ENI and private IP
variable "node1_network_interface_id" {
  description = "Optional ENI of node 1 (eni-...) the EIP is associated with, at node1_private_ip_address; empty associates by node1_instance_id. Set all four node*_network_interface_id / node*_private_ip_address or none. (Node1NetworkInterfaceId)"
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^(eni-[0-9a-f]{8,17})?$", var.node1_network_interface_id))
    error_message = "node1_network_interface_id must be empty or a network interface ID such as eni-0123456789abcdef0, not \"${var.node1_network_interface_id}\"."
  }
  # template.yaml's rule PairByNetworkInterfaceNeedsAllFour.
  validation {
    condition = (
      (var.node1_network_interface_id == "" && var.node1_private_ip_address == "" && var.node2_network_interface_id == "" && var.node2_private_ip_address == "")
      || (var.node1_network_interface_id != "" && var.node1_private_ip_address != "" && var.node2_network_interface_id != "" && var.node2_private_ip_address != "")
    )
    error_message = "the pair by ENI needs all four of node1/node2 network_interface_id and private_ip_address, or none (node1_network_interface_id is \"${var.node1_network_interface_id}\")."
  }
}

variable "node1_private_ip_address" {
  description = "Private IPv4 address on node1_network_interface_id that takes the EIP. (Node1PrivateIpAddress)"
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^(((25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])\\.){3}(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9]))?$", var.node1_private_ip_address))
    error_message = "node1_private_ip_address must be empty or an IPv4 address such as 10.0.1.20, not \"${var.node1_private_ip_address}\"."
  }
}

variable "node2_network_interface_id" {
  description = "Optional ENI of node 2 (eni-...); see node1_network_interface_id. (Node2NetworkInterfaceId)"
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^(eni-[0-9a-f]{8,17})?$", var.node2_network_interface_id))
    error_message = "node2_network_interface_id must be empty or a network interface ID such as eni-0123456789abcdef0, not \"${var.node2_network_interface_id}\"."
  }
}

variable "node2_private_ip_address" {
  description = "Private IPv4 address on node2_network_interface_id that takes the EIP. (Node2PrivateIpAddress)"
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^(((25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])\\.){3}(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9]))?$", var.node2_private_ip_address))
    error_message = "node2_private_ip_address must be empty or an IPv4 address such as 10.0.1.21, not \"${var.node2_private_ip_address}\"."
  }
}

# ---------------------------------------------------------------- active/active (optional)
variable "second_elastic_ip_allocation_id" {
  description = "Optional second EIP (eipalloc-...) for active/active, kept on node 2 while it is up (the priorities reversed), with its own state and failback; needs the pair by ENI and node1/node2_second_private_ip_address. (SecondElasticIpAllocationId)"
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^(eipalloc-[0-9a-f]{8,17})?$", var.second_elastic_ip_allocation_id))
    error_message = "second_elastic_ip_allocation_id must be empty or an Elastic IP allocation ID such as eipalloc-0a1b2c3d4e5f60718, not \"${var.second_elastic_ip_allocation_id}\"."
  }
  # template.yaml's rule SecondAddressSetNeedsThePairByNetworkInterface.
  validation {
    condition = (
      (var.second_elastic_ip_allocation_id == "" && var.node1_second_private_ip_address == "" && var.node2_second_private_ip_address == "")
      || (var.second_elastic_ip_allocation_id != "" && var.node1_second_private_ip_address != "" && var.node2_second_private_ip_address != "" && var.node1_network_interface_id != "")
    )
    error_message = "the second EIP needs second_elastic_ip_allocation_id, node1/node2_second_private_ip_address and the pair by ENI (node1/node2 network_interface_id and private_ip_address); second_elastic_ip_allocation_id is \"${var.second_elastic_ip_allocation_id}\", node1_network_interface_id is \"${var.node1_network_interface_id}\"."
  }
}

variable "node1_second_private_ip_address" {
  description = "Private IPv4 address on node1_network_interface_id that takes second_elastic_ip_allocation_id (not node1_private_ip_address). (Node1SecondPrivateIpAddress)"
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^(((25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])\\.){3}(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9]))?$", var.node1_second_private_ip_address))
    error_message = "node1_second_private_ip_address must be empty or an IPv4 address such as 10.0.1.30, not \"${var.node1_second_private_ip_address}\"."
  }
}

variable "node2_second_private_ip_address" {
  description = "Private IPv4 address on node2_network_interface_id that takes second_elastic_ip_allocation_id (not node2_private_ip_address). (Node2SecondPrivateIpAddress)"
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^(((25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])\\.){3}(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9]))?$", var.node2_second_private_ip_address))
    error_message = "node2_second_private_ip_address must be empty or an IPv4 address such as 10.0.1.31, not \"${var.node2_second_private_ip_address}\"."
  }
}

# ---------------------------------------------------------------- health checks
variable "health_check_interval_seconds" {
  description = "Seconds between probe cycles inside one monitor invocation; fractions allowed (greater than 0, at most 60). A string, as in the template, so that \"0.5\" reaches the function as written. (HealthCheckIntervalSeconds)"
  type        = string
  default     = "1"
  validation {
    condition     = can(regex("^([0-9]*[1-9][0-9]*(\\.[0-9]+)?|[0-9]*\\.[0-9]*[1-9][0-9]*)$", var.health_check_interval_seconds))
    error_message = "health_check_interval_seconds must be a positive decimal number of seconds, e.g. 1 or 0.5 (at most 60), not \"${var.health_check_interval_seconds}\"."
  }
}

variable "health_check_timeout_seconds" {
  description = "Per-probe timeout in seconds; fractions allowed (greater than 0, at most 10 and at most health_check_interval_seconds). (HealthCheckTimeoutSeconds)"
  type        = string
  default     = "1"
  validation {
    condition     = can(regex("^([0-9]*[1-9][0-9]*(\\.[0-9]+)?|[0-9]*\\.[0-9]*[1-9][0-9]*)$", var.health_check_timeout_seconds))
    error_message = "health_check_timeout_seconds must be a positive decimal number of seconds, e.g. 1 or 0.5 (at most 10, and at most the interval), not \"${var.health_check_timeout_seconds}\"."
  }
}

variable "fall_threshold" {
  description = "Consecutive failed probes before a node counts as down. (FallThreshold)"
  type        = number
  default     = 3
  validation {
    condition     = var.fall_threshold >= 1 && var.fall_threshold <= 100
    error_message = "fall_threshold must be from 1 to 100, not ${var.fall_threshold}."
  }
}

variable "rise_threshold" {
  description = "Consecutive good probes before a node counts as up. (RiseThreshold)"
  type        = number
  default     = 2
  validation {
    condition     = var.rise_threshold >= 1 && var.rise_threshold <= 100
    error_message = "rise_threshold must be from 1 to 100, not ${var.rise_threshold}."
  }
}

variable "health_check_ca_bundle" {
  description = "Path of a PEM CA bundle inside the deployment package or a layer (e.g. /opt/ca.pem) for https health checks; empty uses the system trust store. (HealthCheckCaBundle)"
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^(/[^\\s]*)?$", var.health_check_ca_bundle))
    error_message = "health_check_ca_bundle must be empty or an absolute path without spaces, not \"${var.health_check_ca_bundle}\"."
  }
}

# ---------------------------------------------------------------- authenticated health checks (docs/health-auth.md)
variable "health_check_auth_kind" {
  description = "How every health probe authenticates: none; header (health_check_auth_header_name carries the secret's text); basic (the secret holds {\"username\", \"password\"} or username:password). A 401/403 is then an auth failure, not the node down. (HealthCheckAuthKind)"
  type        = string
  default     = "none"
  validation {
    condition     = contains(["none", "header", "basic"], var.health_check_auth_kind)
    error_message = "health_check_auth_kind must be none, header or basic, not \"${var.health_check_auth_kind}\"."
  }
  # template.yaml's rules HealthCheckAuthNeedsItsSecret and HealthCheckAuthSecretNeedsItsKind.
  validation {
    condition     = (var.health_check_auth_kind == "none") == (var.health_check_auth_secret_arn == "")
    error_message = "health_check_auth_kind \"${var.health_check_auth_kind}\" needs health_check_auth_secret_arn (header or basic), and a secret needs header or basic."
  }
}

variable "health_check_auth_secret_arn" {
  description = "ARN of the Secrets Manager secret or SSM SecureString parameter holding the probes' credential, at most 4 KB; empty for none. Read at cold start and every 5 minutes, never logged. (HealthCheckAuthSecretArn)"
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^(arn:aws[a-z-]*:(secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+|ssm:[a-z0-9-]+:[0-9]{12}:parameter/[A-Za-z0-9/_.-]+))?$", var.health_check_auth_secret_arn))
    error_message = "health_check_auth_secret_arn must be empty, a Secrets Manager secret ARN (with its suffix) or an SSM parameter ARN, not \"${var.health_check_auth_secret_arn}\"."
  }
}

variable "health_check_auth_header_name" {
  description = "The header that carries the credential when health_check_auth_kind is header (e.g. X-Api-Key). (HealthCheckAuthHeaderName)"
  type        = string
  default     = "Authorization"
  validation {
    condition     = can(regex("^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$", var.health_check_auth_header_name))
    error_message = "health_check_auth_header_name must be an HTTP header name (1-64 characters), not \"${var.health_check_auth_header_name}\"."
  }
}

variable "health_check_auth_failure_is_down" {
  description = "true to count a probe refused its credentials (401/403, a refused client certificate) as the node failing; false reports it as an auth failure that neither takes the node down nor lets it rise. (HealthCheckAuthFailureIsDown)"
  type        = bool
  default     = false
}

variable "health_check_client_cert_secret_arn" {
  description = "ARN of a Secrets Manager secret or SSM SecureString holding a PEM client certificate (chain) and its unencrypted key, for mutual TLS; empty for none. (HealthCheckClientCertSecretArn)"
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^(arn:aws[a-z-]*:(secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+|ssm:[a-z0-9-]+:[0-9]{12}:parameter/[A-Za-z0-9/_.-]+))?$", var.health_check_client_cert_secret_arn))
    error_message = "health_check_client_cert_secret_arn must be empty, a Secrets Manager secret ARN (with its suffix) or an SSM parameter ARN, not \"${var.health_check_client_cert_secret_arn}\"."
  }
}

variable "fleet_health_check_secrets" {
  description = "tagged to let fleet groups' own health check secrets be read: secrets and SSM parameters tagged nginx-eip-failover=<name>, no others; none reads only the health_check_*_secret_arn ones. (FleetHealthCheckSecrets)"
  type        = string
  default     = "none"
  validation {
    condition     = contains(["none", "tagged"], var.fleet_health_check_secrets)
    error_message = "fleet_health_check_secrets must be none or tagged, not \"${var.fleet_health_check_secrets}\"."
  }
}

variable "fleet_found_nodes" {
  description = "How fleet document nodes may be found instead of named by instance_id: tags (default) allows instance_tags (ec2:DescribeInstances, which the functions have); tags-and-auto-scaling-groups also allows auto_scaling_group_name, granting the monitor, observers and control function autoscaling:DescribeAutoScalingGroups (Resource \"*\": it cannot be scoped) and, with create_vpc_endpoints, an Auto Scaling endpoint. Found instances must carry nginx-eip-failover=<name>. (FleetFoundNodes)"
  type        = string
  default     = "tags"
  validation {
    condition     = contains(["tags", "tags-and-auto-scaling-groups"], var.fleet_found_nodes)
    error_message = "fleet_found_nodes must be tags or tags-and-auto-scaling-groups, not \"${var.fleet_found_nodes}\"."
  }
}

# ---------------------------------------------------------------- failover policy
variable "preempt" {
  description = "true to return the EIP to the higher-priority node once it has been up for preempt_delay_seconds; false never moves it on priority alone. (Preempt)"
  type        = bool
  default     = true
}

variable "preempt_delay_seconds" {
  description = "How long the higher-priority node must have been up continuously before a failback. (PreemptDelaySeconds)"
  type        = number
  default     = 60
  validation {
    condition     = var.preempt_delay_seconds >= 0 && var.preempt_delay_seconds <= 86400
    error_message = "preempt_delay_seconds must be from 0 to 86400, not ${var.preempt_delay_seconds}."
  }
}

variable "min_seconds_between_moves" {
  description = "Minimum seconds between two EIP moves that are not forced by the holder being down (opt-in damping). (MinSecondsBetweenMoves)"
  type        = number
  default     = 0
  validation {
    condition     = var.min_seconds_between_moves >= 0 && var.min_seconds_between_moves <= 86400
    error_message = "min_seconds_between_moves must be from 0 to 86400, not ${var.min_seconds_between_moves}."
  }
}

variable "flap_window_seconds" {
  description = "Flap damping window in seconds; 0 disables flap damping. (FlapWindowSeconds)"
  type        = number
  default     = 300
  validation {
    condition     = var.flap_window_seconds >= 0 && var.flap_window_seconds <= 86400
    error_message = "flap_window_seconds must be from 0 to 86400, not ${var.flap_window_seconds}."
  }
}

variable "flap_suppress_threshold" {
  description = "Number of up-to-down transitions within flap_window_seconds that damps a node. (FlapSuppressThreshold)"
  type        = number
  default     = 3
  validation {
    condition     = var.flap_suppress_threshold >= 1 && var.flap_suppress_threshold <= 100
    error_message = "flap_suppress_threshold must be from 1 to 100, not ${var.flap_suppress_threshold}."
  }
}

# ---------------------------------------------------------------- network placement
variable "subnet_ids" {
  description = "Optional subnets for the functions (needed when the health check URLs are private); empty runs them outside any VPC. (SubnetIds)"
  type        = list(string)
  default     = []
  # template.yaml's rule VpcPlacementNeedsSecurityGroups.
  validation {
    condition     = join("", var.subnet_ids) == "" || join("", var.security_group_ids) != ""
    error_message = "security_group_ids must be set when subnet_ids is set (subnet_ids is [${join(", ", var.subnet_ids)}])."
  }
}

variable "security_group_ids" {
  description = "Security groups for the functions when subnet_ids is set; they must allow egress to both health check URLs and to HTTPS endpoints of EC2, DynamoDB, SNS, CloudWatch and EventBridge Scheduler. (SecurityGroupIds)"
  type        = list(string)
  default     = []
}

variable "create_vpc_endpoints" {
  description = "true to create a DynamoDB gateway endpoint and EC2, SNS, CloudWatch (monitoring) and EventBridge Scheduler interface endpoints for subnets without a NAT path (needs subnet_ids, security_group_ids, vpc_id and route_table_ids). (CreateVpcEndpoints)"
  type        = bool
  default     = false
  # template.yaml's rule VpcEndpointsNeedNetwork.
  validation {
    condition     = !var.create_vpc_endpoints || (join("", var.subnet_ids) != "" && var.vpc_id != "" && join("", var.route_table_ids) != "")
    error_message = "create_vpc_endpoints = ${var.create_vpc_endpoints} needs subnet_ids, security_group_ids, vpc_id and route_table_ids (vpc_id is \"${var.vpc_id}\")."
  }
}

variable "vpc_id" {
  description = "VPC of subnet_ids; only used when create_vpc_endpoints is true. (VpcId)"
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^(vpc-[0-9a-f]{8,17})?$", var.vpc_id))
    error_message = "vpc_id must be empty or a VPC ID such as vpc-0123456789abcdef0, not \"${var.vpc_id}\"."
  }
}

variable "route_table_ids" {
  description = "Route tables of subnet_ids that get the DynamoDB gateway endpoint; only used when create_vpc_endpoints is true. (RouteTableIds)"
  type        = list(string)
  default     = []
}

# ---------------------------------------------------------------- route tables in another account (optional)
variable "route_table_role_arn" {
  description = "IAM role, in the account that owns a shared VPC's route tables, that the functions assume (one STS session per cycle) to move a fleet route whose role_arn names it; empty (the default): routes are in this account. The functions get sts:AssumeRole on this role only; its trust policy and permissions are in docs/cross-account-routes.md. (RouteTableRoleArn)"
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^(arn:aws(-cn|-us-gov)?:iam::[0-9]{12}:role/([\\w+=,.@-]+/){0,20}[\\w+=,.@-]{1,64})?$", var.route_table_role_arn))
    error_message = "route_table_role_arn must be empty or an IAM role ARN such as arn:aws:iam::111122223333:role/route-mover, not \"${var.route_table_role_arn}\"."
  }
}

variable "route_table_role_external_id" {
  description = "The sts:ExternalId the role's trust policy requires (empty: none is sent); only with route_table_role_arn. (RouteTableRoleExternalId)"
  type        = string
  default     = ""
  # template.yaml's pattern ^([\w+=,.@:/-]{2,1224})?$: the length apart, as RE2 repeats at most 1000 times.
  validation {
    condition     = can(regex("^[\\w+=,.@:/-]*$", var.route_table_role_external_id)) && (var.route_table_role_external_id == "" || (length(var.route_table_role_external_id) >= 2 && length(var.route_table_role_external_id) <= 1224))
    error_message = "route_table_role_external_id must be empty or 2-1224 of letters, digits and +=,.@:/-, not \"${var.route_table_role_external_id}\"."
  }
  # template.yaml's rule RouteTableRoleExternalIdNeedsTheRole.
  validation {
    condition     = var.route_table_role_external_id == "" || var.route_table_role_arn != ""
    error_message = "route_table_role_external_id is set without route_table_role_arn (no role to assume); route_table_role_arn is \"${var.route_table_role_arn}\"."
  }
}

# ---------------------------------------------------------------- observers in other AZs
variable "observer2_subnet_id" {
  description = "Optional subnet (in another Availability Zone than the monitor's) for a second observer; needs security_group_ids. (Observer2SubnetId)"
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^(subnet-[0-9a-f]{8,17})?$", var.observer2_subnet_id))
    error_message = "observer2_subnet_id must be empty or a subnet ID such as subnet-0123456789abcdef0, not \"${var.observer2_subnet_id}\"."
  }
  # template.yaml's rule ObserverPlacementNeedsSecurityGroups.
  validation {
    condition     = (var.observer2_subnet_id == "" && var.observer3_subnet_id == "") || join("", var.security_group_ids) != ""
    error_message = "security_group_ids must be set when an observer subnet is set (observer2_subnet_id is \"${var.observer2_subnet_id}\")."
  }
}

variable "observer3_subnet_id" {
  description = "Optional subnet (in a third Availability Zone) for a third observer; needs security_group_ids. (Observer3SubnetId)"
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^(subnet-[0-9a-f]{8,17})?$", var.observer3_subnet_id))
    error_message = "observer3_subnet_id must be empty or a subnet ID such as subnet-0123456789abcdef0, not \"${var.observer3_subnet_id}\"."
  }
}

variable "observer_heartbeat_seconds" {
  description = "With several observers, each rewrites its verdicts at least this often; an observer silent for 3 heartbeats no longer votes. (ObserverHeartbeatSeconds)"
  type        = number
  default     = 10
  validation {
    condition     = var.observer_heartbeat_seconds >= 1 && var.observer_heartbeat_seconds <= 300
    error_message = "observer_heartbeat_seconds must be from 1 to 300, not ${var.observer_heartbeat_seconds}."
  }
}

# ---------------------------------------------------------------- operations
variable "notification_email" {
  description = "Optional e-mail address subscribed to the notification topic (moves, no healthy node, alarms); empty for none. (NotificationEmail)"
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^([^@\\s]+@[^@\\s]+\\.[^@\\s]+)?$", var.notification_email))
    error_message = "notification_email must be empty or an e-mail address, not \"${var.notification_email}\"."
  }
}

variable "log_level" {
  description = "Log level of both functions. (LogLevel)"
  type        = string
  default     = "INFO"
  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], var.log_level)
    error_message = "log_level must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, not \"${var.log_level}\"."
  }
}

variable "log_retention_in_days" {
  description = "Days the functions' CloudWatch Logs are kept. (LogRetentionInDays)"
  type        = number
  default     = 30
  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_in_days)
    error_message = "log_retention_in_days must be one of CloudWatch Logs' retention periods (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653), not ${var.log_retention_in_days}."
  }
}

variable "decision_log_retention_days" {
  description = "Days the decision log keeps each record (DynamoDB TTL) for explain and replay. (DecisionLogRetentionDays)"
  type        = number
  default     = 14
  validation {
    condition     = var.decision_log_retention_days >= 1 && var.decision_log_retention_days <= 3650
    error_message = "decision_log_retention_days must be from 1 to 3650, not ${var.decision_log_retention_days}."
  }
}

variable "observability_profile" {
  description = "lean (the default): the alarms safety needs, SNS notices and logs; full adds the dashboard, per-node metrics and a KMS-encrypted topic (docs/cost.md). (ObservabilityProfile)"
  type        = string
  default     = "lean"
  validation {
    condition     = contains(["lean", "full"], var.observability_profile)
    error_message = "observability_profile must be lean or full, not \"${var.observability_profile}\"."
  }
}

variable "enable_tracing" {
  description = "true for AWS X-Ray active tracing of both functions. (EnableTracing)"
  type        = bool
  default     = false
}

variable "monitor_reserved_concurrency" {
  description = "Optional reserved concurrency for the monitor function (e.g. 5); empty or 0 reserves none (the default). (MonitorReservedConcurrency)"
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^[0-9]{0,4}$", var.monitor_reserved_concurrency))
    error_message = "monitor_reserved_concurrency must be empty or a whole number (0 reserves none), not \"${var.monitor_reserved_concurrency}\"."
  }
}

variable "preflight_interval_seconds" {
  description = "Seconds between the monitor's preflight runs; 0 turns the periodic run off. (PreflightIntervalSeconds)"
  type        = number
  default     = 900
  validation {
    condition     = var.preflight_interval_seconds >= 0 && var.preflight_interval_seconds <= 86400
    error_message = "preflight_interval_seconds must be from 0 to 86400, not ${var.preflight_interval_seconds}."
  }
}

# ---------------------------------------------------------------- found nodes (optional; docs/found-nodes.md)
# A node named by its Auto Scaling group instead of an instance: looked up each cycle, drained through a
# termination lifecycle hook (terraform/found-nodes.tf). Or named by tags: looked up each cycle too, with
# no group (no hook, no status-check alarm).
variable "node1_auto_scaling_group_name" {
  description = "Optional Auto Scaling group that node 1 runs in (leave node1_instance_id empty): each cycle node 1 is its in-service, healthy instance (in node1_availability_zone if set). The group's instances must be tagged nginx-eip-failover=<name> (propagate at launch): the EIP moves only to tagged instances. node1_health_check_url may contain {private_ip}. Empty: node 1 is node1_instance_id. (Node1AutoScalingGroupName)"
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^[^:]{0,255}$", var.node1_auto_scaling_group_name))
    error_message = "node1_auto_scaling_group_name must be empty or an Auto Scaling group name (not an ARN), not \"${var.node1_auto_scaling_group_name}\"."
  }
}

variable "node1_availability_zone" {
  description = "Optional AZ of node 1 inside node1_auto_scaling_group_name. (Node1AvailabilityZone)"
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^([a-z]{2}(-[a-z]+)+-[0-9][a-z])?$", var.node1_availability_zone))
    error_message = "node1_availability_zone must be empty or an Availability Zone such as eu-west-1a, not \"${var.node1_availability_zone}\"."
  }
}

variable "node2_auto_scaling_group_name" {
  description = "Optional Auto Scaling group of node 2; see node1_auto_scaling_group_name (it may be the same group). (Node2AutoScalingGroupName)"
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^[^:]{0,255}$", var.node2_auto_scaling_group_name))
    error_message = "node2_auto_scaling_group_name must be empty or an Auto Scaling group name (not an ARN), not \"${var.node2_auto_scaling_group_name}\"."
  }
}

variable "node2_availability_zone" {
  description = "Optional AZ of node 2 inside node2_auto_scaling_group_name. (Node2AvailabilityZone)"
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^([a-z]{2}(-[a-z]+)+-[0-9][a-z])?$", var.node2_availability_zone))
    error_message = "node2_availability_zone must be empty or an Availability Zone such as eu-west-1b, not \"${var.node2_availability_zone}\"."
  }
}

variable "node1_instance_tags" {
  description = "Optional tags that find node 1 instead of an instance ID or a group (leave node1_instance_id and node1_auto_scaling_group_name empty): Key=Value[,Key=Value], at most 5; each cycle node 1 is a running instance with all of them. The instance must also be tagged nginx-eip-failover=<name>: the EIP moves only to tagged instances. node1_health_check_url may contain {private_ip}. Empty: not by tags. (Node1InstanceTags)"
  type        = string
  default     = ""
  # template.yaml's AllowedPattern with its {0,4} unrolled: RE2 refuses a repeat of 4 x 385 characters.
  validation {
    condition     = can(regex("^([^=,\\x00-\\x1f]{1,128}=[^=,\\x00-\\x1f]{0,256}(,[^=,\\x00-\\x1f]{1,128}=[^=,\\x00-\\x1f]{0,256})?(,[^=,\\x00-\\x1f]{1,128}=[^=,\\x00-\\x1f]{0,256})?(,[^=,\\x00-\\x1f]{1,128}=[^=,\\x00-\\x1f]{0,256})?(,[^=,\\x00-\\x1f]{1,128}=[^=,\\x00-\\x1f]{0,256})?)?$", var.node1_instance_tags))
    error_message = "node1_instance_tags must be empty or Key=Value[,Key=Value] (1 to 5 tags, no ',' or '=' inside a key or value), such as role=nginx-plus,pair=edge-a, not \"${var.node1_instance_tags}\"."
  }
  # template.yaml's rule EachNodeIsNamed (here: Terraform refuses a cycle of validations).
  validation {
    condition     = var.node1_instance_id != "" || var.node1_auto_scaling_group_name != "" || var.node1_instance_tags != ""
    error_message = "node 1 needs node1_instance_id, node1_auto_scaling_group_name or node1_instance_tags (all are empty)."
  }
  # template.yaml's rule Node1FoundByTagsAlone: a node is named one way.
  validation {
    condition     = var.node1_instance_tags == "" || var.node1_auto_scaling_group_name == ""
    error_message = "node1_instance_tags (\"${var.node1_instance_tags}\") and node1_auto_scaling_group_name (\"${var.node1_auto_scaling_group_name}\") are both set; a node is found one way."
  }
  validation {
    condition     = var.node1_instance_tags == "" || var.node1_instance_id == ""
    error_message = "node1_instance_tags (\"${var.node1_instance_tags}\") and node1_instance_id (\"${var.node1_instance_id}\") are both set; leave node1_instance_id empty for a found node."
  }
  validation {
    condition     = var.node1_instance_tags == "" || var.node1_network_interface_id == ""
    error_message = "node1_network_interface_id (\"${var.node1_network_interface_id}\") must be empty for a node found by node1_instance_tags (\"${var.node1_instance_tags}\"): a replaced instance has another ENI."
  }
}

variable "node2_instance_tags" {
  description = "Optional tags that find node 2; see node1_instance_tags (Key=Value[,Key=Value], at most 5). The instance must also be tagged nginx-eip-failover=<name>. (Node2InstanceTags)"
  type        = string
  default     = ""
  # template.yaml's AllowedPattern with its {0,4} unrolled: RE2 refuses a repeat of 4 x 385 characters.
  validation {
    condition     = can(regex("^([^=,\\x00-\\x1f]{1,128}=[^=,\\x00-\\x1f]{0,256}(,[^=,\\x00-\\x1f]{1,128}=[^=,\\x00-\\x1f]{0,256})?(,[^=,\\x00-\\x1f]{1,128}=[^=,\\x00-\\x1f]{0,256})?(,[^=,\\x00-\\x1f]{1,128}=[^=,\\x00-\\x1f]{0,256})?(,[^=,\\x00-\\x1f]{1,128}=[^=,\\x00-\\x1f]{0,256})?)?$", var.node2_instance_tags))
    error_message = "node2_instance_tags must be empty or Key=Value[,Key=Value] (1 to 5 tags, no ',' or '=' inside a key or value), such as role=nginx-plus,pair=edge-b, not \"${var.node2_instance_tags}\"."
  }
  # template.yaml's rule EachNodeIsNamed (here: Terraform refuses a cycle of validations).
  validation {
    condition     = var.node2_instance_id != "" || var.node2_auto_scaling_group_name != "" || var.node2_instance_tags != ""
    error_message = "node 2 needs node2_instance_id, node2_auto_scaling_group_name or node2_instance_tags (all are empty)."
  }
  # template.yaml's rule Node2FoundByTagsAlone: a node is named one way.
  validation {
    condition     = var.node2_instance_tags == "" || var.node2_auto_scaling_group_name == ""
    error_message = "node2_instance_tags (\"${var.node2_instance_tags}\") and node2_auto_scaling_group_name (\"${var.node2_auto_scaling_group_name}\") are both set; a node is found one way."
  }
  validation {
    condition     = var.node2_instance_tags == "" || var.node2_instance_id == ""
    error_message = "node2_instance_tags (\"${var.node2_instance_tags}\") and node2_instance_id (\"${var.node2_instance_id}\") are both set; leave node2_instance_id empty for a found node."
  }
  validation {
    condition     = var.node2_instance_tags == "" || var.node2_network_interface_id == ""
    error_message = "node2_network_interface_id (\"${var.node2_network_interface_id}\") must be empty for a node found by node2_instance_tags (\"${var.node2_instance_tags}\"): a replaced instance has another ENI."
  }
}

variable "lifecycle_hook_timeout_seconds" {
  description = "Heartbeat timeout of the termination lifecycle hook on each node's group: how long Auto Scaling holds a terminating instance for the lifecycle function to drain it (it completes the action well before). (LifecycleHookTimeoutSeconds)"
  type        = number
  default     = 120
  validation {
    condition     = var.lifecycle_hook_timeout_seconds >= 60 && var.lifecycle_hook_timeout_seconds <= 900
    error_message = "lifecycle_hook_timeout_seconds must be in [60, 900], not ${var.lifecycle_hook_timeout_seconds}."
  }
}
