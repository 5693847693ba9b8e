"""Builds the controllers from the environment, once per container (lazily, so a bad configuration
is reported by the invocation that needs it, naming the variable, before any AWS call)."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from nginx_eip_failover.adapters import aws_clients
from nginx_eip_failover.adapters.dynamodb.decision_log import DecisionLogTable
from nginx_eip_failover.adapters.dynamodb.fleet_store import FleetStore
from nginx_eip_failover.adapters.dynamodb.monitor_lease import MonitorLeaseStore
from nginx_eip_failover.adapters.dynamodb.observer_board import ObserverBoardTable
from nginx_eip_failover.adapters.dynamodb.state_store import StateStore
from nginx_eip_failover.adapters.ec2.elastic_ip import ElasticIpMover
from nginx_eip_failover.adapters.health_probe import HealthProber
from nginx_eip_failover.adapters.sns_notifier import Notifier
from nginx_eip_failover.core.config import DEFAULT_GROUP, Settings, load_settings
from nginx_eip_failover.core.ports import EipPort
from nginx_eip_failover.service.controller import FailoverController
from nginx_eip_failover.service.decision_journal import DecisionJournal
from nginx_eip_failover.service.fleet import Fleet
from nginx_eip_failover.service.observer_exchange import ObserverExchange

if TYPE_CHECKING:
    from nginx_eip_failover.adapters.ec2.api_budget import ApiBudget


def build_controller(settings: Settings) -> FailoverController:
    """One group's controller: its state item, its addresses, its nodes, its notices."""
    default = settings.group == DEFAULT_GROUP
    return FailoverController(
        settings,
        store=StateStore(aws_clients.dynamodb(), settings.table_name, settings.allocation_id),
        eip=_mover(settings),
        prober=HealthProber(settings.nodes, settings.timeout_seconds, settings.ca_bundle, observer=settings.observer),
        notifier=Notifier(
            aws_clients.sns() if settings.topic_arn else None,
            settings.topic_arn,
            source="nginx-eip-failover" if default else f"nginx-eip-failover/{settings.group}",
        ),
        per_node_metrics=default,
        journal=DecisionJournal(decision_log(settings), settings),
        observers=ObserverExchange(settings, observer_board(settings)),
    )


def observer_board(settings: Settings) -> ObserverBoardTable | None:
    """Where the observers share reports: the monitor lease's table; None with one observer."""
    if not settings.shares_verdicts or settings.lease_table_name is None:
        return None
    return ObserverBoardTable(aws_clients.dynamodb(), settings.lease_table_name, settings.allocation_id)


@cache
def api_budget() -> ApiBudget:
    """EC2's mutating-call budget, shared by every group this container moves (a fleet failover
    paces itself client-side instead of meeting RequestLimitExceeded)."""
    from nginx_eip_failover.adapters.ec2.api_budget import ApiBudget

    return ApiBudget()


def _mover(settings: Settings) -> EipPort:
    if settings.addresses is None:
        # The stack's own pair: one EIP by InstanceId, as the template's parameters describe it.
        return ElasticIpMover(aws_clients.ec2(), settings.allocation_id)
    from nginx_eip_failover.adapters.ec2.address_set import (
        AddressSetMover,
        NodeTarget,
    )  # fleet groups only: off the pair's cold path

    nodes = {node.name: NodeTarget(node.name, node.instance_id, node.network_interface_id) for node in settings.nodes}
    return AddressSetMover(aws_clients.ec2(), settings.addresses, nodes, bucket=api_budget())


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


@cache
def controller() -> FailoverController:
    """The stack's own pair (its template parameters): the fleet's "default" group."""
    return build_controller(load_settings())


@cache
def fleet() -> Fleet:
    default = controller()
    return Fleet(default, build_controller, FleetStore(aws_clients.dynamodb(), default.settings.table_name))


@cache
def monitor_lease() -> MonitorLeaseStore | None:
    """The lease scheduled monitor invocations hand probing over with; None when not configured."""
    settings = controller().settings
    if settings.lease_table_name is None:
        return None
    return MonitorLeaseStore(
        aws_clients.dynamodb(), settings.lease_table_name, settings.allocation_id, settings.observer
    )
