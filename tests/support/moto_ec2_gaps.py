"""moto's missing EC2 behaviours for in-process tests; the models live in the lab package
(`nginx_eip_failover_lab.aws.moto_gaps`), which the lab's moto server applies too."""

from nginx_eip_failover_lab.aws.moto_gaps import aws_address_semantics

__all__ = ["aws_address_semantics"]
