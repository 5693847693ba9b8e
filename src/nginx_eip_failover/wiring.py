"""Builds the controller from the environment, once per container (lazily, so a bad configuration
is reported by the invocation that needs it, naming the variable, before any AWS call)."""

from __future__ import annotations

from functools import cache

from . import aws_clients
from .config import Settings, load_settings
from .controller import FailoverController
from .decision_journal import DecisionJournal
from .decision_log import DecisionLogTable
from .elastic_ip import ElasticIpMover
from .health_probe import HealthProber
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
        journal=DecisionJournal(decision_log(settings), settings),
    )


def decision_log(settings: Settings) -> DecisionLogTable | None:
    """The decision log's table, or None when DECISION_LOG_TABLE_NAME is empty (logging off)."""
    if settings.decision_log_table is None:
        return None
    return DecisionLogTable(
        aws_clients.dynamodb(),
        settings.decision_log_table,
        settings.allocation_id,
        retention_days=settings.decision_log_retention_days,
    )
