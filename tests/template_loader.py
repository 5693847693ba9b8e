"""The template loader the tests use: the lab's own, so tests and lab read template.yaml alike."""

from nginx_eip_failover_lab.stack.cfn_yaml import CloudFormationLoader, load_template, load_yaml

__all__ = ["CloudFormationLoader", "load_template", "load_yaml"]
