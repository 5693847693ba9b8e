"""Builds the controllers from the environment, once per container (lazily, so a bad configuration
is reported by the invocation that needs it, naming the variable, before any AWS call).

Importing this module costs boto3 and the configuration only: the service and its adapters are
imported by the first invocation that builds them (bench.cold_start measures both), and a pair never
imports what only a fleet uses.
"""

from __future__ import annotations

import os
from functools import cache
from typing import TYPE_CHECKING

from nginx_eip_failover.adapters import aws_clients
from nginx_eip_failover.core.config import DEFAULT_GROUP, Settings, load_second_set, load_settings

if TYPE_CHECKING:
    from nginx_eip_failover.adapters.dynamodb.decision_log import DecisionLogTable
    from nginx_eip_failover.adapters.dynamodb.monitor_lease import MonitorLeaseStore
    from nginx_eip_failover.adapters.dynamodb.observer_board import ObserverBoardTable
    from nginx_eip_failover.adapters.dynamodb.stop_flag import StopFlagTable
    from nginx_eip_failover.adapters.ec2.address_set import NodeTarget
    from nginx_eip_failover.adapters.ec2.api_budget import ApiBudget
    from nginx_eip_failover.adapters.ec2.assumed_role import AssumedRoleEc2
    from nginx_eip_failover.adapters.probe_credentials import ProbeCredentials
    from nginx_eip_failover.core.ports import EipPort
    from nginx_eip_failover.core.probe_auth import ProbeAuth
    from nginx_eip_failover.service.controller import FailoverController
    from nginx_eip_failover.service.fleet import Fleet
    from nginx_eip_failover.service.found_nodes import FoundNodes
    from nginx_eip_failover.service.shared_probes import ProbeRounds


def build_controller(settings: Settings) -> FailoverController:
    """One group's controller: its state item, its addresses, its nodes, its notices."""
    from nginx_eip_failover.adapters.dynamodb.state_store import StateStore
    from nginx_eip_failover.adapters.health_probe import HealthProber
    from nginx_eip_failover.adapters.sns_notifier import Notifier
    from nginx_eip_failover.service.controller import FailoverController
    from nginx_eip_failover.service.decision_journal import DecisionJournal
    from nginx_eip_failover.service.emergency_stop import StopGuardedMover
    from nginx_eip_failover.service.observer_exchange import ObserverExchange
    from nginx_eip_failover.service.shared_probes import SharedProber

    default = settings.group == DEFAULT_GROUP
    found = found_nodes(settings)
    journal = DecisionJournal(decision_log(settings), settings)
    mover = _mover(settings)
    if found is not None:
        found.on_change.append(journal.use_settings)  # a replay sees the instances each decision saw
        follow = getattr(mover, "use_nodes", None)
        if follow is not None:
            # A fleet group's address set moves to the instances its found nodes resolve to.
            found.on_change.append(lambda resolved: follow(_node_targets(resolved)))
    return FailoverController(
        settings,
        store=StateStore(aws_clients.dynamodb(), settings.table_name, settings.allocation_id),
        # Every move checks the emergency stop first (service/emergency_stop.py).
        eip=StopGuardedMover(mover, stop_flag(settings.table_name)),
        # A fleet cycle probes each node once, however many groups (address sets) it serves; found
        # nodes are probed where they are this cycle (service/found_nodes), on their own.
        prober=found
        or SharedProber(
            HealthProber(
                settings.nodes,
                settings.timeout_seconds,
                settings.ca_bundle,
                observer=settings.observer,
                credentials=probe_credentials(settings.probe_auth),
            ),
            settings.nodes,
            probe_rounds(),
            observer=settings.observer,
            timeout_seconds=settings.timeout_seconds,
            auth=settings.probe_auth,
        ),
        notifier=Notifier(
            None,
            settings.topic_arn,
            source="nginx-eip-failover" if default else f"nginx-eip-failover/{settings.group}",
            connect=aws_clients.sns,  # at the first notice: off the cold path
        ),
        # The dashboard's metrics: the stack's own pair only, and only when the stack pays for them.
        per_node_metrics=default and settings.observability == "full",
        journal=journal,
        observers=ObserverExchange(settings, observer_board(settings)),
        found_nodes=found,
    )


def found_nodes(settings: Settings) -> FoundNodes | None:
    """The resolution of nodes named by an Auto Scaling group or tags; None when every node is fixed."""
    if not any(node.finder is not None for node in settings.nodes):
        return None
    from nginx_eip_failover.adapters.health_probe import HealthProber
    from nginx_eip_failover.adapters.node_finder import NodeFinder
    from nginx_eip_failover.service.found_nodes import FoundNodes

    return FoundNodes(
        NodeFinder(aws_clients.autoscaling, aws_clients.ec2),
        lambda nodes: HealthProber(
            nodes,
            settings.timeout_seconds,
            settings.ca_bundle,
            observer=settings.observer,
            credentials=probe_credentials(settings.probe_auth),
        ),
        observer=settings.observer,
    )


def observer_board(settings: Settings) -> ObserverBoardTable | None:
    """Where the observers share reports: the monitor lease's table; None with one observer."""
    if not settings.shares_verdicts or settings.lease_table_name is None:
        return None
    from nginx_eip_failover.adapters.dynamodb.observer_board import ObserverBoardTable  # observers only

    return ObserverBoardTable(aws_clients.dynamodb(), settings.lease_table_name, settings.allocation_id)


@cache
def probe_rounds() -> ProbeRounds:
    """The fleet cycle's shared probes: one per container, for every group it runs."""
    from nginx_eip_failover.service.shared_probes import ProbeRounds

    return ProbeRounds()


@cache
def probe_credentials(auth: ProbeAuth) -> ProbeCredentials | None:
    """The health checks' credentials (core/probe_auth), read once per container for every group and
    the preflight; None when probes do not authenticate (nothing imported, nothing read)."""
    if not auth.enabled:
        return None
    from nginx_eip_failover.adapters.probe_credentials import ProbeCredentials

    return ProbeCredentials(auth)


@cache
def stop_flag(table_name: str) -> StopFlagTable:
    """The emergency stop's flag in the stack's state table (one for every group)."""
    from nginx_eip_failover.adapters.dynamodb.stop_flag import StopFlagTable

    return StopFlagTable(aws_clients.dynamodb(), table_name)


@cache
def api_budget() -> ApiBudget:
    """EC2's mutating-call budget, shared by every group this container moves (a fleet failover
    paces itself client-side instead of meeting RequestLimitExceeded)."""
    from nginx_eip_failover.adapters.ec2.api_budget import ApiBudget

    return ApiBudget()


def _mover(settings: Settings) -> EipPort:
    if settings.addresses is None:
        from nginx_eip_failover.adapters.ec2.elastic_ip import ElasticIpMover

        # The stack's own pair by instance (the template's default): one EIP by InstanceId. By ENI +
        # private IP (Node*NetworkInterfaceId), it is an address set of one EIP, like a fleet group's.
        # Its EC2 client (the costliest to build) is built at the first call, after the first probes.
        return ElasticIpMover(None, settings.allocation_id, connect=aws_clients.ec2)
    from nginx_eip_failover.adapters.ec2.address_set import (
        AddressSetMover,
    )  # fleet groups only: off the pair's cold path

    return AddressSetMover(
        aws_clients.ec2(),
        settings.addresses,
        _node_targets(settings),
        bucket=api_budget(),
        route_roles=route_roles(settings),
    )


def _node_targets(settings: Settings) -> dict[str, NodeTarget]:
    from nginx_eip_failover.adapters.ec2.address_set import NodeTarget

    return {node.name: NodeTarget(node.name, node.instance_id, node.network_interface_id) for node in settings.nodes}


def route_roles(settings: Settings) -> dict[str, AssumedRoleEc2]:
    """An assumed-role EC2 for each role the group's routes name (another account's route tables)."""
    roles = {route.role_arn for route in settings.address_set.routes if route.role_arn}
    if not roles:
        return {}
    from nginx_eip_failover.adapters.ec2.assumed_role import AssumedRoleEc2, session_name  # those routes only

    name = session_name(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))
    return {
        role: AssumedRoleEc2(
            role,
            external_id=settings.route_table_role_external_id,
            session_name=name,
            sts=aws_clients.sts,
            ec2_for=aws_clients.ec2_with_credentials,
        )
        for role in sorted(roles)
    }


def decision_log(settings: Settings) -> DecisionLogTable | None:
    """The decision log's table, or None when DECISION_LOG_TABLE_NAME is empty (logging off)."""
    if settings.decision_log_table is None:
        return None
    from nginx_eip_failover.adapters.dynamodb.decision_log import DecisionLogTable

    return DecisionLogTable(
        aws_clients.dynamodb(),
        settings.decision_log_table,
        settings.allocation_id,
        retention_days=settings.decision_log_retention_days,
    )


@cache
def controller() -> FailoverController:
    """The stack's own pair (its template parameters): the fleet's "default" group."""
    settings = load_settings()
    load_second_set(settings)  # a bad second address set fails here too: before any AWS call
    return build_controller(settings)


@cache
def fleet() -> Fleet:
    from nginx_eip_failover.adapters.dynamodb.fleet_store import FleetStore
    from nginx_eip_failover.service.fleet import Fleet

    default = controller()
    # Active/active (SecondElasticIpAllocationId): the pair's second address set, a group of its own.
    second = load_second_set(default.settings)
    return Fleet(
        default,
        build_controller,
        FleetStore(aws_clients.dynamodb(), default.settings.table_name),
        probe_rounds=probe_rounds(),
        fixed=(build_controller(second),) if second is not None else (),
    )


@cache
def monitor_lease() -> MonitorLeaseStore | None:
    """The lease scheduled monitor invocations hand probing over with; None when not configured."""
    from nginx_eip_failover.adapters.dynamodb.monitor_lease import MonitorLeaseStore  # the monitor's only

    settings = controller().settings
    if settings.lease_table_name is None:
        return None
    return MonitorLeaseStore(
        aws_clients.dynamodb(), settings.lease_table_name, settings.allocation_id, settings.observer
    )
