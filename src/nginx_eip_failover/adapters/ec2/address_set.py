"""The EC2 adapter for a group's address set: where every address is, and moving the missing ones.

A set is EIPs, secondary private IPs and overlay routes (`addresses.py`), moved as one decision.
Targets are by network interface wherever a private IP is involved: AssociateAddress by InstanceId
lands on the primary ENI's primary private IP, which fails on multi-ENI instances and silently
detaches the node's own EIP from that address. The node's own public address is never touched:
only the set's addresses are ever named in a call.

A node's ENI is the configured one (`NodeTarget.network_interface_id`), or else the instance's
primary network interface (device index 0), looked up once with DescribeInstances when first
needed and cached for the mover's life (a primary ENI cannot be detached, so it never goes stale).
Configure it for a set that lives on a secondary ENI; it also saves that call on a cold start.

EC2 calls:
- describe(): one DescribeAddresses for all EIPs; DescribeNetworkInterfaces (filter
  `addresses.private-ip-address`) only when the set has secondary IPs; DescribeRouteTables (filter
  `route-table-id`, so a deleted table is a missing route, not a failed describe) only when it has
  routes; DescribeInstances once per mover when a node's ENI is not configured and the set needs it.
- move(): describe(), then only for the addresses not on the target: AssociateAddress per EIP,
  one AssignPrivateIpAddresses for all secondary IPs, ReplaceRoute (CreateRoute when the route does
  not exist) per route and table; then describe() until all are on the target or the verify
  timeout. Every mutating call first takes a token from the shared `ApiBudget`.

A route whose tables are another account's (`RouteSpec.role_arn`) is read and moved with that role's
client (`assumed_role.AssumedRoleEc2`, one DescribeRouteTables per account): describe() starts a new
cycle, so each cycle assumes the role once, and its move and verification reuse that session.

Size: over 500 lines: reading, moving and verifying share the ENI cache and the cycle's sessions,
and each reads the others' results (a split would pass that state back and forth).
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from botocore.exceptions import BotoCoreError, ClientError

from nginx_eip_failover.adapters.aws_errors import denied_call, ec2_resources
from nginx_eip_failover.adapters.ec2.api_budget import ApiBudget, BudgetDeadlineError
from nginx_eip_failover.adapters.ec2.elastic_ip import ec2_call
from nginx_eip_failover.core.addresses import AddressKind, AddressSet, AddressState, ElasticIpSpec, RouteSpec
from nginx_eip_failover.core.bounds import bounded
from nginx_eip_failover.core.errors import ElasticIpError, MoveCancelledError
from nginx_eip_failover.core.ports import PRIORITY_FAILOVER, Association, BeforeSend, MoveResult

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client

    from nginx_eip_failover.adapters.ec2.assumed_role import AssumedRoleEc2

OutcomeStatus = Literal["in_place", "moved", "failed", "not_sent", "unverified"]
# Each address's reason in an AddressSetError's message, in bytes: the message names every address.
MAX_REASON_BYTES = 200  # room for a denial naming its action and two resources (aws_errors.denied_call)


@dataclass(frozen=True)
class NodeTarget:
    """Where a node receives the set: its instance and the ENI that hosts the set's private IPs
    (None: the instance's primary ENI, looked up once)."""

    name: str
    instance_id: str
    network_interface_id: str | None = None


@dataclass(frozen=True)
class SetView(Association):
    """Where every address of the set is. As an `Association` (allocation_id and public_ip of the
    primary EIP, instance_id = `holder`) it is what the existing controller reads."""

    states: tuple[AddressState, ...] = ()
    private_ips: tuple[tuple[str, str | None], ...] = ()  # (EIP label, the private IP it is on)

    @property
    def holder(self) -> str | None:
        """The instance holding the primary EIP, else the one holding the first associated
        address (an instance id, or an ENI id for an ENI outside the group on no instance)."""
        return self.instance_id

    @property
    def association(self) -> Association:
        return Association(self.allocation_id, self.public_ip, self.instance_id)

    def private_ip(self, label: str) -> str | None:
        """The private IP an EIP of the set is on (None: unassociated)."""
        return dict(self.private_ips).get(label)

    def state(self, label: str) -> AddressState:
        for state in self.states:
            if state.label == label:
                return state
        raise KeyError(label)


@dataclass(frozen=True)
class AddressOutcome:
    """What a move did for one address. `operation` and `error_code` are EC2's, when one failed."""

    label: str
    kind: AddressKind
    status: OutcomeStatus
    operation: str | None = None
    error_code: str | None = None
    detail: str | None = None

    @property
    def on_target(self) -> bool:
        return self.status in ("in_place", "moved")


@dataclass(frozen=True)
class SetMoveResult(MoveResult):
    """A MoveResult (association = the view after the move) with every address's outcome."""

    outcomes: tuple[AddressOutcome, ...] = ()

    @property
    def view(self) -> SetView:
        assert isinstance(self.association, SetView)
        return self.association

    @property
    def missing(self) -> tuple[AddressOutcome, ...]:
        return tuple(outcome for outcome in self.outcomes if not outcome.on_target)


class AddressSetError(ElasticIpError):
    """A move left addresses off the target. The message names each one and why; `result` has
    every outcome. The other addresses were moved: the next attempt sends only what is missing."""

    def __init__(self, instance_id: str, result: SetMoveResult) -> None:
        self.result = result
        reasons = "; ".join(f"{outcome.label} ({_reason(outcome)})" for outcome in result.missing)
        super().__init__(f"address set not on {instance_id}: {reasons}")


def _reason(outcome: AddressOutcome) -> str:
    parts = [part for part in (outcome.operation, outcome.error_code, outcome.detail) if part]
    return bounded(": ".join(parts), MAX_REASON_BYTES)


@dataclass(frozen=True)
class _Failure:
    status: OutcomeStatus
    operation: str
    error_code: str | None
    detail: str


class AddressSetMover:
    def __init__(
        self,
        client: EC2Client,
        addresses: AddressSet,
        nodes: Mapping[str, NodeTarget],
        *,
        bucket: ApiBudget,
        verify_timeout_seconds: float = 10.0,
        verify_interval_seconds: float = 0.25,
        sleep: Callable[[float], None] = time.sleep,
        route_roles: Mapping[str, AssumedRoleEc2] | None = None,
    ) -> None:
        if not addresses.elastic_ips:
            raise ValueError("an address set needs at least one Elastic IP")
        self._ec2 = client
        self._set = addresses
        self._nodes = dict(nodes)
        self._bucket = bucket
        self._verify_timeout = verify_timeout_seconds
        self._verify_interval = verify_interval_seconds
        self._sleep = sleep
        self._enis: dict[str, str] = {
            name: node.network_interface_id for name, node in self._nodes.items() if node.network_interface_id
        }
        self._by_ip = any(spec.private_ips for spec in addresses.elastic_ips)
        self._route_roles = dict(route_roles or {})
        unknown = {route.role_arn for route in addresses.routes if route.role_arn} - set(self._route_roles)
        if unknown:
            raise ValueError(f"no assumed-role client for {', '.join(sorted(unknown))}")

    def use_nodes(self, nodes: Mapping[str, NodeTarget]) -> None:
        """The nodes' instances of this cycle (a fleet group's found nodes, service/found_nodes): a
        node whose instance changed forgets the primary ENI looked up for the old one."""
        for name, node in nodes.items():
            old = self._nodes.get(name)
            if old is not None and old.instance_id != node.instance_id and not node.network_interface_id:
                self._enis.pop(name, None)
        self._nodes = dict(nodes)

    # -- reading ---------------------------------------------------------------------------------
    def describe(self) -> SetView:
        """Where every address is; a new cycle (another account's tables: a fresh session)."""
        for role in self._route_roles.values():
            role.new_cycle()
        return self._view()

    def _client_of(self, role_arn: str | None) -> EC2Client:
        return self._ec2 if role_arn is None else self._route_roles[role_arn].client()

    def _view(self) -> SetView:
        needs_enis = self._by_ip or bool(self._set.secondary_ips) or bool(self._set.routes)
        enis = self._node_enis() if needs_enis else {}
        owner = {eni: self._nodes[name].instance_id for name, eni in enis.items()}

        def instance_of(eni: str | None, reported: str | None) -> str | None:
            # A node's ENI maps through the node table; outside the group, the instance EC2 reports,
            # or the ENI itself when it is on no instance.
            if eni and eni in owner:
                return owner[eni]
            return reported or eni or None

        states: list[AddressState] = []
        private_ips: dict[str, str | None] = {}
        primary_public_ip: str | None = None
        for spec, address in zip(self._set.elastic_ips, self._describe_addresses(), strict=True):
            eni = address.get("NetworkInterfaceId") or None
            states.append(
                AddressState(
                    label=spec.allocation_id,
                    kind="elastic_ip",
                    instance_id=instance_of(eni, address.get("InstanceId") or None),
                    network_interface_id=eni,
                    public_ip=address.get("PublicIp"),
                )
            )
            private_ips[spec.allocation_id] = address.get("PrivateIpAddress") or None
            if spec is self._set.elastic_ips[0]:
                primary_public_ip = address.get("PublicIp")
        if self._set.secondary_ips:
            held = self._describe_secondary_ips(set(owner))
            for secondary in self._set.secondary_ips:
                eni, reported = held.get(secondary.address, (None, None))
                label = f"ip {secondary.address}"
                states.append(AddressState(label, "secondary_ip", instance_of(eni, reported), eni))
        if self._set.routes:
            tables = self._describe_route_tables()
            for route in self._set.routes:
                for table in route.route_table_ids:
                    eni, reported = tables.get(table, {}).get(_network(route.destination), (None, None))
                    label = f"route {route.destination} in {table}"
                    states.append(AddressState(label, "route", instance_of(eni, reported), eni))
        # The primary EIP's holder; when it is unassociated, the first associated address's.
        holder = next((state.instance_id for state in states if state.instance_id), None)
        missing = tuple(state.label for state in states if not self._is_on(state, private_ips, holder, enis))
        return SetView(
            allocation_id=self._set.primary_allocation_id,
            public_ip=primary_public_ip,
            instance_id=holder,
            states=tuple(states),
            missing=missing,
            private_ips=tuple(private_ips.items()),
        )

    def _is_on(
        self, state: AddressState, private_ips: Mapping[str, str | None], holder: str | None, enis: Mapping[str, str]
    ) -> bool:
        if holder is None:
            return False
        node = next((node for node in self._nodes.values() if node.instance_id == holder), None)
        if node is None:  # a foreign holder: an address is on it when it is on that instance or ENI
            return state.instance_id == holder
        if state.kind == "elastic_ip":
            spec = self._eip_spec(state.label)
            wanted_ip = spec.private_ips.get(node.name)
            if wanted_ip is None:  # by InstanceId: its primary ENI's primary private IP
                return state.instance_id == holder
            return state.network_interface_id == enis.get(node.name) and private_ips.get(state.label) == wanted_ip
        return state.network_interface_id is not None and state.network_interface_id == enis.get(node.name)

    def _eip_spec(self, allocation_id: str) -> ElasticIpSpec:
        return next(spec for spec in self._set.elastic_ips if spec.allocation_id == allocation_id)

    def _describe_addresses(self) -> list[Mapping[str, Any]]:
        ids = [spec.allocation_id for spec in self._set.elastic_ips]
        response = ec2_call("DescribeAddresses", ", ".join(ids), self._ec2.describe_addresses, AllocationIds=ids)
        found = {address.get("AllocationId"): address for address in response.get("Addresses") or []}
        absent = [allocation for allocation in ids if allocation not in found]
        if absent:
            raise ElasticIpError(f"DescribeAddresses: Elastic IP {', '.join(absent)} not found")
        return [found[allocation] for allocation in ids]

    def _describe_secondary_ips(self, node_enis: set[str]) -> dict[str, tuple[str, str | None]]:
        """address -> (ENI holding it, the instance that ENI is attached to)."""
        wanted = [spec.address for spec in self._set.secondary_ips]
        response = ec2_call(
            "DescribeNetworkInterfaces",
            ", ".join(wanted),
            self._ec2.describe_network_interfaces,
            Filters=[{"Name": "addresses.private-ip-address", "Values": wanted}],
        )
        held: dict[str, tuple[str, str | None]] = {}
        for interface in response.get("NetworkInterfaces") or []:
            eni = interface["NetworkInterfaceId"]
            instance = (interface.get("Attachment") or {}).get("InstanceId") or None
            for private in interface.get("PrivateIpAddresses") or []:
                ip = private.get("PrivateIpAddress")
                # One address can exist once per VPC: a node's ENI wins over an ENI elsewhere.
                if ip in wanted and (ip not in held or eni in node_enis):
                    held[ip] = (eni, instance)
        return held

    def _describe_route_tables(self) -> dict[str, dict[Any, tuple[str | None, str | None]]]:
        """table -> destination network -> (ENI, instance) of its route; a deleted table is absent.
        One describe per account (the functions' own, and each role's)."""
        by_role: dict[str | None, set[str]] = {}
        for route in self._set.routes:
            by_role.setdefault(route.role_arn, set()).update(route.route_table_ids)
        described: list[Mapping[str, Any]] = []
        for role_arn, wanted in by_role.items():
            tables = sorted(wanted)
            response = ec2_call(
                "DescribeRouteTables",
                ", ".join(tables),
                self._client_of(role_arn).describe_route_tables,
                Filters=[{"Name": "route-table-id", "Values": tables}],
            )
            described += response.get("RouteTables") or []
        found: dict[str, dict[Any, tuple[str | None, str | None]]] = {}
        for table in described:
            routes = found.setdefault(table["RouteTableId"], {})
            for route in table.get("Routes") or []:
                destination = route.get("DestinationCidrBlock") or route.get("DestinationIpv6CidrBlock")
                if destination:
                    routes[_network(destination)] = (
                        route.get("NetworkInterfaceId") or None,
                        route.get("InstanceId") or None,
                    )
        return found

    def _node_enis(self) -> dict[str, str]:
        unresolved = [name for name in self._nodes if name not in self._enis]
        if unresolved:
            instances = [self._nodes[name].instance_id for name in unresolved]
            response = ec2_call(
                "DescribeInstances", ", ".join(instances), self._ec2.describe_instances, InstanceIds=instances
            )
            primary: dict[str, str] = {}
            for reservation in response.get("Reservations") or []:
                for instance in reservation.get("Instances") or []:
                    for interface in instance.get("NetworkInterfaces") or []:
                        if (interface.get("Attachment") or {}).get("DeviceIndex") == 0:
                            primary[instance["InstanceId"]] = interface["NetworkInterfaceId"]
            for name in unresolved:
                eni = primary.get(self._nodes[name].instance_id)
                if eni is None:
                    raise ElasticIpError(
                        f"DescribeInstances {self._nodes[name].instance_id}: no primary network interface ({name})"
                    )
                self._enis[name] = eni
        return dict(self._enis)

    # -- moving ----------------------------------------------------------------------------------
    def move(
        self,
        instance_id: str,
        *,
        not_after: float | None = None,
        priority: int = PRIORITY_FAILOVER,
        before_send: BeforeSend | None = None,
    ) -> SetMoveResult:
        """Move every address of the set that is not on `instance_id` there, then verify.

        `not_after` (time.monotonic()): nothing is sent after it (an address not sent is named in
        the error). `priority`: the ApiBudget's (lower first: failovers before failbacks). One
        address's failure does not stop the others; an AddressSetError then names each address
        not on the target with EC2's error code.
        """
        target = next((node for node in self._nodes.values() if node.instance_id == instance_id), None)
        if target is None:
            raise ElasticIpError(f"move {instance_id}: not a node of this group ({', '.join(self._nodes)})")
        view = self._view()  # the cycle's session, if its describe() made one
        enis = dict(self._enis)
        todo = [state for state in view.states if not self._is_on(state, dict(view.private_ips), instance_id, enis)]
        if not todo:
            outcomes = tuple(AddressOutcome(state.label, state.kind, "in_place") for state in view.states)
            return SetMoveResult(view, 0.0, 0.0, outcomes)
        started = time.monotonic()
        if not_after is not None and started > not_after:
            labels = ", ".join(state.label for state in todo)
            raise ElasticIpError(
                f"move to {instance_id}: nothing sent for {labels}, the decision is {started - not_after:.1f}s past "
                "its deadline (another invocation may have taken the move over)"
            )
        cancelled = before_send() if before_send is not None else None
        if cancelled is not None:
            raise MoveCancelledError(f"move to {instance_id}: nothing sent: {cancelled}")
        failures: dict[str, _Failure] = {}
        target_eni = enis.get(target.name)
        for state in todo:
            if state.kind != "elastic_ip":
                continue
            spec = self._eip_spec(state.label)
            private_ip = spec.private_ips.get(target.name)
            if private_ip is not None and target_eni is not None:
                params: dict[str, Any] = {"NetworkInterfaceId": target_eni, "PrivateIpAddress": private_ip}
            else:
                params = {"InstanceId": instance_id}
            failure = self._send(
                "AssociateAddress",
                priority,
                not_after,
                self._ec2.associate_address,
                AllocationId=spec.allocation_id,
                AllowReassociation=True,
                **params,
            )
            if failure:
                failures[state.label] = failure
        secondary = [state for state in todo if state.kind == "secondary_ip"]
        if secondary:
            failure = self._send(
                "AssignPrivateIpAddresses",
                priority,
                not_after,
                self._ec2.assign_private_ip_addresses,
                NetworkInterfaceId=target_eni,
                PrivateIpAddresses=[state.label.removeprefix("ip ") for state in secondary],
                AllowReassignment=True,
            )
            if failure:
                failures.update(dict.fromkeys((state.label for state in secondary), failure))
        for state in todo:
            if state.kind != "route":
                continue
            route, table = self._route_of(state.label)
            family = "DestinationIpv6CidrBlock" if _network(route.destination).version == 6 else "DestinationCidrBlock"
            exists = state.network_interface_id is not None or state.instance_id is not None
            operation = "ReplaceRoute" if exists else "CreateRoute"
            try:
                ec2 = self._client_of(route.role_arn)
            except ElasticIpError as exc:  # STS refused the role: nothing of that account is sent
                failures[state.label] = _Failure("failed", "AssumeRole", getattr(exc, "code", None), str(exc))
                continue
            method = ec2.replace_route if exists else ec2.create_route
            failure = self._send(
                operation,
                priority,
                not_after,
                method,
                RouteTableId=table,
                NetworkInterfaceId=target_eni,
                **{family: route.destination},
            )
            if failure:
                failures[state.label] = failure
        associated = time.monotonic()
        view, verify_error = self._verify(instance_id, {state.label for state in todo} - set(failures), view)
        verified = time.monotonic()
        outcomes = tuple(self._outcome(state, instance_id, todo, failures, view, verify_error) for state in view.states)
        result = SetMoveResult(view, _ms(started, associated), _ms(associated, verified), outcomes)
        if result.missing:
            raise AddressSetError(instance_id, result)
        return result

    def _verify(self, instance_id: str, sent: set[str], view: SetView) -> tuple[SetView, str | None]:
        """describe() until every sent address is on the target or the verify timeout; the last
        view, and the describe error that cut verification short, if any."""
        deadline = time.monotonic() + self._verify_timeout
        while sent:
            try:
                view = self._view()
            except ElasticIpError as exc:
                return view, f"not verified: {exc}"
            enis = dict(self._enis)
            placed = {
                state.label for state in view.states if self._is_on(state, dict(view.private_ips), instance_id, enis)
            }
            if sent <= placed or time.monotonic() >= deadline:
                break
            self._sleep(self._verify_interval)
        return view, None

    def _outcome(
        self,
        state: AddressState,
        instance_id: str,
        todo: Iterable[AddressState],
        failures: Mapping[str, _Failure],
        view: SetView,
        verify_error: str | None,
    ) -> AddressOutcome:
        sent = any(previous.label == state.label for previous in todo)
        if self._is_on(state, dict(view.private_ips), instance_id, dict(self._enis)):
            return AddressOutcome(state.label, state.kind, "moved" if sent else "in_place")
        failure = failures.get(state.label)
        if failure is not None:
            return AddressOutcome(
                state.label, state.kind, failure.status, failure.operation, failure.error_code, failure.detail
            )
        where = state.instance_id or "nowhere"
        detail = verify_error or f"seen on {where} after {self._verify_timeout:g}s of verification"
        return AddressOutcome(state.label, state.kind, "unverified" if sent else "failed", None, None, detail)

    def _route_of(self, label: str) -> tuple[RouteSpec, str]:
        for route in self._set.routes:
            for table in route.route_table_ids:
                if f"route {route.destination} in {table}" == label:
                    return route, table
        raise KeyError(label)

    def _send(
        self, operation: str, priority: int, not_after: float | None, method: Callable[..., Any], **kwargs: Any
    ) -> _Failure | None:
        """One mutating call, paced by the bucket; its failure as a value (the move goes on)."""
        try:
            self._bucket.acquire(priority, not_after)
        except BudgetDeadlineError as exc:
            return _Failure("not_sent", operation, None, f"not sent: {exc}")
        if not_after is not None and time.monotonic() > not_after:
            return _Failure("not_sent", operation, None, "not sent: past the decision's deadline")
        try:
            method(**kwargs)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            denied = denied_call(exc, f"ec2:{operation}", ec2_resources(kwargs))
            return _Failure("failed", operation, error.get("Code", "Error"), denied or str(error.get("Message", exc)))
        except BotoCoreError as exc:
            return _Failure("failed", operation, type(exc).__name__, str(exc))
        return None


def _network(destination: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(destination, strict=False)


def _ms(start: float, end: float) -> float:
    return round((end - start) * 1000, 1)
