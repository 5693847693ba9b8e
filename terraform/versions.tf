# The module deploys what template.yaml deploys (tests/iac/test_terraform_parity.py holds it so).
# Terraform 1.9 or later: a validation names other variables (template.yaml's Rules).
terraform {
  required_version = ">= 1.9"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.40, < 7.0"
    }
  }
}
