"""The Terraform module (terraform/) read, evaluated and compared with template.yaml (issue #28)."""
