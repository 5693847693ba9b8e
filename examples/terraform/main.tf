# The failover for one NGINX Plus pair, with the module in ../../terraform.
#
#   make build && make function-zip             # the sam build output, zipped: build/function.zip
#   cd examples/terraform
#   cp terraform.tfvars.example terraform.tfvars  # docs/deploy.md's example values: put your pair's IDs in
#   terraform init && terraform plan            # then terraform apply
#
# The module refuses the documented example IDs (as template.yaml's rule ExamplePlaceholdersReplaced
# does), so terraform.tfvars must name the real EIP and instances.

terraform {
  required_version = ">= 1.9"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.40, < 7.0"
    }
  }
}

provider "aws" {
  region = var.region
}

variable "region" {
  description = "Region of the pair"
  type        = string
  default     = "us-east-1"
}

variable "elastic_ip_allocation_id" {
  description = "The pair's Elastic IP (eipalloc-...)"
  type        = string
}

variable "node1_instance_id" {
  description = "NGINX Plus node 1 (i-...)"
  type        = string
}

variable "node2_instance_id" {
  description = "NGINX Plus node 2 (i-...)"
  type        = string
}

variable "node1_health_check_url" {
  description = "URL probed on node 1"
  type        = string
}

variable "node2_health_check_url" {
  description = "URL probed on node 2"
  type        = string
}

module "nginx_eip_failover" {
  source = "../../terraform"

  # What the SAM stack name is to template.yaml: tag the fleet's resources nginx-eip-failover=<name>
  # for the tag-scoped grants (ABAC).
  name         = "nginx-eip-failover"
  function_zip = "${path.root}/../../build/function.zip"

  elastic_ip_allocation_id = var.elastic_ip_allocation_id
  node1_instance_id        = var.node1_instance_id
  node2_instance_id        = var.node2_instance_id
  node1_health_check_url   = var.node1_health_check_url
  node2_health_check_url   = var.node2_health_check_url
  node1_priority           = 101
  node2_priority           = 100
}

output "control_function_name" {
  description = "aws lambda invoke --function-name <this> --payload '{\"action\": \"status\"}' out.json"
  value       = module.nginx_eip_failover.control_function_name
}

output "notification_topic_arn" {
  description = "SNS topic of the failover notices and alarms"
  value       = module.nginx_eip_failover.notification_topic_arn
}
