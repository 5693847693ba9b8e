"""Builds the controller from the environment, once per container (lazily, so a bad configuration
is reported by the invocation that needs it, naming the variable, before any AWS call)."""

from __future__ import annotations

from functools import cache

from . import aws_clients
from .config import load_settings
from .controller import FailoverController
from .elastic_ip import ElasticIpMover
from .health_probe import HealthProber
from .monitor_lease import MonitorLeaseStore
from .notifications import Notifier
from .state_store import StateStore


@cache
def controller() -> FailoverController:
    settings = load_settings()
    return FailoverController(
        settings,
        store=StateStore(aws_clients.dynamodb(), settings.table_name, settings.allocation_id),
        eip=ElasticIpMover(aws_clients.ec2(), settings.allocation_id),
        prober=HealthProber(settings.nodes, settings.timeout_seconds, settings.ca_bundle),
        notifier=Notifier(
            aws_clients.sns() if settings.topic_arn else None, settings.topic_arn, source="nginx-eip-failover"
        ),
    )


@cache
def monitor_lease() -> MonitorLeaseStore | None:
    """The lease scheduled monitor invocations hand probing over with; None when not configured."""
    settings = controller().settings
    if settings.lease_table_name is None:
        return None
    return MonitorLeaseStore(aws_clients.dynamodb(), settings.lease_table_name, settings.allocation_id)
