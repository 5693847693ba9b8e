"""The address-set adapter against moto: describe, verified moves by ENI, partial failures, deadlines.

Moto lacks a few EC2 behaviours the adapter relies on (an EIP on a secondary private IP, reassigning
a secondary IP away from its ENI, the same-subnet rule); `aws_address_semantics` models them (see
tests/support/moto_ec2_gaps.py and docs/reliability.md).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from nginx_eip_failover.adapters.ec2.address_set import AddressSetError, AddressSetMover, NodeTarget, SetMoveResult
from nginx_eip_failover.adapters.ec2.api_budget import ApiBudget
from nginx_eip_failover.core.addresses import AddressSet, ElasticIpSpec, RouteSpec, SecondaryIpSpec
from nginx_eip_failover.core.errors import ElasticIpError
from nginx_eip_failover.core.ports import PRIORITY_FAILBACK
from support.moto_ec2_gaps import aws_address_semantics

MUTATING = {"AssociateAddress", "AssignPrivateIpAddresses", "ReplaceRoute", "CreateRoute", "DisassociateAddress"}
_networks = itertools.count(1)


@dataclass
class Node:
    name: str
    instance_id: str
    eni: str
    primary_ip: str
    vip_ip: str  # the secondary private IP the by-ENI EIP lands on
    own_allocation: str  # the node's own EIP, on its primary private IP


@dataclass
class World:
    client: Any
    nodes: dict[str, Node]
    eip_by_eni: str
    eip_by_instance: str
    secondary_ip: str
    route_v4: str
    route_v6: str
    tables: tuple[str, str]
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def address_set(self, *, by_instance: bool = True, secondary: bool = True, routes: bool = True) -> AddressSet:
        eips = [ElasticIpSpec(self.eip_by_eni, {name: node.vip_ip for name, node in self.nodes.items()})]
        if by_instance:
            eips.append(ElasticIpSpec(self.eip_by_instance))
        return AddressSet(
            elastic_ips=tuple(eips),
            secondary_ips=(SecondaryIpSpec(self.secondary_ip),) if secondary else (),
            routes=(RouteSpec(self.route_v4, self.tables), RouteSpec(self.route_v6, self.tables)) if routes else (),
        )

    def targets(self) -> dict[str, NodeTarget]:
        # node1's ENI is configured, node2's is looked up (DescribeInstances' primary interface).
        return {
            "node1": NodeTarget("node1", self.nodes["node1"].instance_id, self.nodes["node1"].eni),
            "node2": NodeTarget("node2", self.nodes["node2"].instance_id, None),
        }

    def mover(self, addresses: AddressSet | None = None, **kwargs: Any) -> AddressSetMover:
        kwargs.setdefault("bucket", ApiBudget())
        kwargs.setdefault("verify_interval_seconds", 0.01)
        return AddressSetMover(self.client, addresses or self.address_set(), self.targets(), **kwargs)

    def names(self, *, mutating: bool = False) -> list[str]:
        return [name for name, _ in self.calls if not mutating or name in MUTATING]

    def params(self, operation: str) -> list[dict[str, Any]]:
        return [params for name, params in self.calls if name == operation]

    def eip(self, allocation: str) -> dict[str, Any]:
        return self.client.describe_addresses(AllocationIds=[allocation])["Addresses"][0]  # type: ignore[no-any-return]

    def route_eni(self, table: str, destination: str) -> str | None:
        found = self.client.describe_route_tables(RouteTableIds=[table])["RouteTables"][0]["Routes"]
        for route in found:
            if destination in (route.get("DestinationCidrBlock"), route.get("DestinationIpv6CidrBlock")):
                return route.get("NetworkInterfaceId")  # type: ignore[no-any-return]
        return None

    def eni_ips(self, eni: str) -> list[str]:
        found = self.client.describe_network_interfaces(NetworkInterfaceIds=[eni])["NetworkInterfaces"][0]
        return [item["PrivateIpAddress"] for item in found["PrivateIpAddresses"]]


@pytest.fixture
def world(moto_module: None, boto_session: boto3.session.Session) -> Iterator[World]:
    """A fresh VPC with one subnet, two nodes in it, everything of the set on node1, through a fresh client."""
    with aws_address_semantics():
        client = boto_session.client("ec2", region_name="us-east-1")
        n = next(_networks)
        vpc = client.create_vpc(CidrBlock=f"10.{n}.0.0/16", AmazonProvidedIpv6CidrBlock=True)["Vpc"]["VpcId"]
        subnet = client.create_subnet(VpcId=vpc, CidrBlock=f"10.{n}.1.0/24")["Subnet"]["SubnetId"]
        nodes: dict[str, Node] = {}
        for index, name in enumerate(("node1", "node2")):
            primary_ip = f"10.{n}.1.{10 + index}"
            instance = client.run_instances(
                ImageId="ami-12345678",
                MinCount=1,
                MaxCount=1,
                InstanceType="t3.micro",
                SubnetId=subnet,
                PrivateIpAddress=primary_ip,
            )["Instances"][0]
            eni = instance["NetworkInterfaces"][0]["NetworkInterfaceId"]
            vip_ip = f"10.{n}.1.{20 + index}"
            client.assign_private_ip_addresses(NetworkInterfaceId=eni, PrivateIpAddresses=[vip_ip])
            own = client.allocate_address(Domain="vpc")["AllocationId"]
            client.associate_address(AllocationId=own, InstanceId=instance["InstanceId"])
            nodes[name] = Node(name, instance["InstanceId"], eni, primary_ip, vip_ip, own)
        node1 = nodes["node1"]
        eip_by_eni = client.allocate_address(Domain="vpc")["AllocationId"]
        client.associate_address(AllocationId=eip_by_eni, NetworkInterfaceId=node1.eni, PrivateIpAddress=node1.vip_ip)
        eip_by_instance = client.allocate_address(Domain="vpc")["AllocationId"]
        secondary_ip = f"10.{n}.1.50"
        client.assign_private_ip_addresses(NetworkInterfaceId=node1.eni, PrivateIpAddresses=[secondary_ip])
        tables = tuple(client.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"] for _ in range(2))
        route_v4, route_v6 = f"192.168.{n}.1/32", f"fd00:{n}::1/128"
        for table in tables:
            client.create_route(RouteTableId=table, DestinationCidrBlock=route_v4, NetworkInterfaceId=node1.eni)
            client.create_route(RouteTableId=table, DestinationIpv6CidrBlock=route_v6, NetworkInterfaceId=node1.eni)
        state = World(
            client, nodes, eip_by_eni, eip_by_instance, secondary_ip, route_v4, route_v6, (tables[0], tables[1])
        )

        def record(model: Any, params: dict[str, Any], **_: Any) -> None:
            state.calls.append((model.name, params))

        client.meta.events.register("before-parameter-build.ec2.*", record)
        yield state


def test_describe_sees_the_holder_and_what_is_missing(world: World) -> None:
    node1 = world.nodes["node1"]
    # GIVEN everything on node1 but the by-instance EIP (unassociated) and one route on node2's ENI
    world.client.replace_route(
        RouteTableId=world.tables[1], DestinationCidrBlock=world.route_v4, NetworkInterfaceId=world.nodes["node2"].eni
    )
    world.calls.clear()
    mover = world.mover()
    view = mover.describe()
    assert view.holder == view.instance_id == node1.instance_id
    assert view.allocation_id == world.eip_by_eni
    assert view.association.instance_id == node1.instance_id
    assert view.missing == (world.eip_by_instance, f"route {world.route_v4} in {world.tables[1]}")
    assert view.state(f"ip {world.secondary_ip}").network_interface_id == node1.eni
    assert view.state(f"route {world.route_v6} in {world.tables[0]}").instance_id == node1.instance_id
    assert view.state(world.eip_by_instance).instance_id is None
    # One call per kind, plus node2's ENI looked up once (node1's is configured) ...
    assert sorted(world.names()) == [
        "DescribeAddresses",
        "DescribeInstances",
        "DescribeNetworkInterfaces",
        "DescribeRouteTables",
    ]
    assert world.params("DescribeAddresses")[0]["AllocationIds"] == [world.eip_by_eni, world.eip_by_instance]
    # ... and cached: the next describe makes three calls
    world.calls.clear()
    mover.describe()
    assert sorted(world.names()) == ["DescribeAddresses", "DescribeNetworkInterfaces", "DescribeRouteTables"]


def test_a_set_of_eips_by_instance_is_one_describe_addresses(world: World) -> None:
    addresses = AddressSet(elastic_ips=(ElasticIpSpec(world.eip_by_instance),))
    view = world.mover(addresses).describe()
    assert world.names() == ["DescribeAddresses"]
    assert view.holder is None
    assert view.missing == (world.eip_by_instance,)


def test_an_unassociated_primary_takes_the_holder_from_the_first_associated_address(world: World) -> None:
    world.client.disassociate_address(AssociationId=world.eip(world.eip_by_eni)["AssociationId"])
    view = world.mover().describe()
    assert view.state(world.eip_by_eni).instance_id is None
    assert view.holder == world.nodes["node1"].instance_id  # from the secondary IP
    assert view.public_ip == world.eip(world.eip_by_eni)["PublicIp"]


def test_an_address_outside_the_group_is_foreign(world: World) -> None:
    other = world.client.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    world.client.associate_address(AllocationId=world.eip_by_eni, InstanceId=other, AllowReassociation=True)
    view = world.mover().describe()
    assert view.holder == other
    assert world.eip_by_eni not in view.missing
    assert f"ip {world.secondary_ip}" in view.missing  # on node1, not on the foreign holder


def test_move_puts_every_address_on_node2_by_its_eni_and_verifies(world: World) -> None:
    node1, node2 = world.nodes["node1"], world.nodes["node2"]
    world.calls.clear()
    result = world.mover().move(node2.instance_id)
    # THEN every address was moved, and the result says so
    assert isinstance(result, SetMoveResult)
    assert result.association.instance_id == node2.instance_id
    assert {outcome.status for outcome in result.outcomes} == {"moved"}
    assert result.view.missing == ()
    # EC2 agrees
    by_eni = world.eip(world.eip_by_eni)
    assert (by_eni["NetworkInterfaceId"], by_eni["PrivateIpAddress"]) == (node2.eni, node2.vip_ip)
    assert world.eip(world.eip_by_instance)["InstanceId"] == node2.instance_id
    assert world.secondary_ip in world.eni_ips(node2.eni)
    assert world.secondary_ip not in world.eni_ips(node1.eni)
    for table in world.tables:
        assert world.route_eni(table, world.route_v4) == node2.eni
        assert world.route_eni(table, world.route_v6) == node2.eni
    # the calls: by ENI + private IP where one is configured, by instance otherwise
    associations = world.params("AssociateAddress")
    assert associations[0] == {
        "AllocationId": world.eip_by_eni,
        "NetworkInterfaceId": node2.eni,
        "PrivateIpAddress": node2.vip_ip,
        "AllowReassociation": True,
    }
    assert associations[1] == {
        "AllocationId": world.eip_by_instance,
        "InstanceId": node2.instance_id,
        "AllowReassociation": True,
    }
    assert world.params("AssignPrivateIpAddresses") == [
        {"NetworkInterfaceId": node2.eni, "PrivateIpAddresses": [world.secondary_ip], "AllowReassignment": True}
    ]
    replaced = world.params("ReplaceRoute")
    assert len(replaced) == 4
    assert {
        "RouteTableId": world.tables[0],
        "NetworkInterfaceId": node2.eni,
        "DestinationIpv6CidrBlock": world.route_v6,
    } in replaced
    assert {
        "RouteTableId": world.tables[1],
        "NetworkInterfaceId": node2.eni,
        "DestinationCidrBlock": world.route_v4,
    } in replaced
    # a move to where the set is sends nothing
    world.calls.clear()
    again = world.mover().move(node2.instance_id)
    assert world.names(mutating=True) == []
    assert {outcome.status for outcome in again.outcomes} == {"in_place"}
    assert (again.associate_ms, again.verify_ms) == (0.0, 0.0)


def test_the_nodes_own_eip_stays_on_its_primary_address(world: World) -> None:
    node1, node2 = world.nodes["node1"], world.nodes["node2"]
    own_before = world.eip(node2.own_allocation)
    assert (own_before["NetworkInterfaceId"], own_before["PrivateIpAddress"]) == (node2.eni, node2.primary_ip)
    world.mover(world.address_set(by_instance=False)).move(node2.instance_id)
    own_after = world.eip(node2.own_allocation)
    assert own_after["AssociationId"] == own_before["AssociationId"]
    assert (own_after["NetworkInterfaceId"], own_after["PrivateIpAddress"]) == (node2.eni, node2.primary_ip)
    assert world.eip(node1.own_allocation)["PrivateIpAddress"] == node1.primary_ip
    assert all("InstanceId" not in params for params in world.params("AssociateAddress"))
    # (what by-InstanceId does, as EC2 does it: the node's own EIP is detached from its address)
    world.client.associate_address(AllocationId=world.eip_by_eni, InstanceId=node1.instance_id, AllowReassociation=True)
    assert world.eip(node1.own_allocation).get("AssociationId") is None


def test_a_missing_route_is_created(world: World) -> None:
    world.client.delete_route(RouteTableId=world.tables[0], DestinationCidrBlock=world.route_v4)
    node1 = world.nodes["node1"]
    addresses = world.address_set(by_instance=False)
    view = world.mover(addresses).describe()
    assert view.missing == (f"route {world.route_v4} in {world.tables[0]}",)
    world.calls.clear()
    world.mover(addresses).move(node1.instance_id)
    assert world.names(mutating=True) == ["CreateRoute"]
    assert world.route_eni(world.tables[0], world.route_v4) == node1.eni


def _fail_once(world: World, operation: str, code: str) -> list[int]:
    failed: list[int] = []

    def fail(model: Any, **_: Any) -> None:
        if model.name == operation and not failed:
            failed.append(1)
            raise ClientError({"Error": {"Code": code, "Message": "injected by the test"}}, operation)

    world.client.meta.events.register("before-call.ec2.*", fail)
    return failed


def test_a_partial_failure_moves_the_rest_and_the_next_move_sends_only_what_is_missing(world: World) -> None:
    node2 = world.nodes["node2"]
    failed = _fail_once(world, "AssociateAddress", "RequestLimitExceeded")
    mover = world.mover()
    world.calls.clear()
    with pytest.raises(AddressSetError) as raised:
        mover.move(node2.instance_id)
    assert failed == [1]
    error = raised.value
    assert isinstance(error, ElasticIpError)  # the controller records it as a failed move
    assert str(error) == (
        f"address set not on {node2.instance_id}: {world.eip_by_eni} (AssociateAddress: RequestLimitExceeded: "
        "injected by the test)"
    )
    assert [outcome.label for outcome in error.result.missing] == [world.eip_by_eni]
    assert sum(outcome.status == "moved" for outcome in error.result.outcomes) == 6
    # the holder: the primary EIP is still on node1, the rest is on node2
    assert error.result.view.holder == world.nodes["node1"].instance_id
    assert world.secondary_ip in world.eni_ips(node2.eni)
    # WHEN the move is tried again: one AssociateAddress, nothing else mutating
    world.calls.clear()
    result = mover.move(node2.instance_id)
    assert world.names(mutating=True) == ["AssociateAddress"]
    assert world.params("AssociateAddress")[0]["AllocationId"] == world.eip_by_eni
    assert result.view.holder == node2.instance_id
    assert [outcome.label for outcome in result.outcomes if outcome.status == "moved"] == [world.eip_by_eni]


def test_a_denied_call_names_the_iam_action_and_the_resources_to_grant_it_on(world: World) -> None:
    # EC2's own message for a denial names neither the action nor the resource an operator must grant
    node2 = world.nodes["node2"]
    _fail_once(world, "AssociateAddress", "UnauthorizedOperation")
    with pytest.raises(AddressSetError) as raised:
        world.mover().move(node2.instance_id)
    assert str(raised.value) == (
        f"address set not on {node2.instance_id}: {world.eip_by_eni} (AssociateAddress: UnauthorizedOperation: "
        f"denied ec2:AssociateAddress on elastic-ip/{world.eip_by_eni}, network-interface/{node2.eni})"
    )
    # the rest of the set moved, and the split is what the error reports: the next move sends the rest
    assert [outcome.label for outcome in raised.value.result.missing] == [world.eip_by_eni]


def test_a_deleted_route_table_is_named_with_ec2s_code_and_the_rest_moves(world: World) -> None:
    node2 = world.nodes["node2"]
    world.client.delete_route_table(RouteTableId=world.tables[1])
    with pytest.raises(AddressSetError) as raised:
        world.mover().move(node2.instance_id)
    message = str(raised.value)
    for destination in (world.route_v4, world.route_v6):
        assert f"route {destination} in {world.tables[1]} (CreateRoute: InvalidRouteTableID.NotFound" in message
    assert [outcome.label for outcome in raised.value.result.missing] == [
        f"route {world.route_v4} in {world.tables[1]}",
        f"route {world.route_v6} in {world.tables[1]}",
    ]
    assert world.route_eni(world.tables[0], world.route_v6) == node2.eni
    assert world.eip(world.eip_by_eni)["NetworkInterfaceId"] == node2.eni


def test_a_secondary_ip_outside_the_targets_subnet_is_refused_and_named(world: World) -> None:
    # The same-subnet rule: an address can only be reassigned within its subnet.
    node2 = world.nodes["node2"]
    addresses = AddressSet(
        elastic_ips=(ElasticIpSpec(world.eip_by_instance),), secondary_ips=(SecondaryIpSpec("172.31.9.9"),)
    )
    with pytest.raises(AddressSetError, match=r"ip 172\.31\.9\.9 \(AssignPrivateIpAddresses: InvalidParameterValue"):
        world.mover(addresses).move(node2.instance_id)
    assert world.eip(world.eip_by_instance)["InstanceId"] == node2.instance_id


def test_nothing_is_sent_past_the_deadline(world: World) -> None:
    node2 = world.nodes["node2"]
    world.calls.clear()
    with pytest.raises(ElasticIpError, match=r"nothing sent for .* past its deadline"):
        world.mover().move(node2.instance_id, not_after=time.monotonic() - 0.1)
    assert world.names(mutating=True) == []


def test_a_deadline_reached_while_paced_leaves_the_rest_unsent_and_named(world: World) -> None:
    node2 = world.nodes["node2"]
    # Two tokens, and the next one in 1000 s: the third call waits for its deadline, then gives up.
    bucket = ApiBudget(burst=2, refill_per_second=0.001)
    world.calls.clear()
    with pytest.raises(AddressSetError) as raised:
        world.mover(bucket=bucket, verify_timeout_seconds=0.2).move(node2.instance_id, not_after=time.monotonic() + 0.3)
    assert world.names(mutating=True) == ["AssociateAddress", "AssociateAddress"]
    statuses = {outcome.label: outcome.status for outcome in raised.value.result.outcomes}
    assert statuses[world.eip_by_eni] == statuses[world.eip_by_instance] == "moved"
    assert statuses[f"ip {world.secondary_ip}"] == "not_sent"
    assert "AssignPrivateIpAddresses: not sent" in str(raised.value)


class RecordingBudget(ApiBudget):
    def __init__(self) -> None:
        super().__init__()
        self.priorities: list[int] = []

    def acquire(self, priority: int = 0, not_after: float | None = None) -> float:
        self.priorities.append(priority)
        return super().acquire(priority, not_after)


def test_every_mutating_call_takes_a_token_at_the_moves_priority(world: World) -> None:
    bucket = RecordingBudget()
    world.calls.clear()
    world.mover(bucket=bucket).move(world.nodes["node2"].instance_id, priority=PRIORITY_FAILBACK)
    assert len(world.names(mutating=True)) == 7  # 2 EIPs, 1 assignment, 4 routes
    assert bucket.priorities == [PRIORITY_FAILBACK] * 7


def test_ec2_errors_on_describe_name_the_operation_and_the_address(world: World) -> None:
    addresses = AddressSet(elastic_ips=(ElasticIpSpec("eipalloc-0000000000000dead"),))
    with pytest.raises(ElasticIpError, match=r"DescribeAddresses eipalloc-0000000000000dead: .*NotFound"):
        world.mover(addresses).describe()
    with pytest.raises(ElasticIpError, match=r"not a node of this group"):
        world.mover().move("i-00000000000000fff")


def test_verification_waits_for_a_lagging_describe_and_names_what_never_showed(world: World) -> None:
    node2 = world.nodes["node2"]
    addresses = world.address_set(by_instance=False, secondary=False)
    real = world.client.describe_route_tables
    stale = real()  # every route still on node1 in this answer
    lag = {"left": 3}

    def lagging(**kwargs: Any) -> Any:
        if lag["left"] > 0:
            lag["left"] -= 1
            return stale
        return real(**kwargs)

    sleeps: list[float] = []
    mover = world.mover(addresses, sleep=sleeps.append)
    world.client.describe_route_tables = lagging
    result = mover.move(node2.instance_id)
    assert {outcome.status for outcome in result.outcomes} == {"moved"}
    assert len(sleeps) >= 1  # it polled until the routes showed up
    # A describe that never catches up: the routes are named as unverified after the timeout.
    mover = world.mover(addresses, verify_timeout_seconds=0.05)
    world.client.describe_route_tables = lambda **_: stale
    with pytest.raises(AddressSetError, match=r"seen on i-\w+ after 0\.05s of verification"):
        mover.move(node2.instance_id)


def test_a_found_nodes_resolved_instance_is_a_target_once_the_mover_is_told_of_it(world: World) -> None:
    # A fleet group's found node has no instance until it is resolved (service/found_nodes): the
    # mover follows each resolution (handlers/wiring), so the set can move to the new instance.
    node1, node2 = world.nodes["node1"], world.nodes["node2"]
    addresses = AddressSet(elastic_ips=(ElasticIpSpec(world.eip_by_instance),))
    unresolved = {"node1": NodeTarget("node1", node1.instance_id), "node2": NodeTarget("node2", "")}
    mover = AddressSetMover(world.client, addresses, unresolved, bucket=ApiBudget(), verify_interval_seconds=0.01)
    with pytest.raises(ElasticIpError, match="not a node of this group"):
        mover.move(node2.instance_id)
    mover.use_nodes({**unresolved, "node2": NodeTarget("node2", node2.instance_id)})
    result = mover.move(node2.instance_id)
    assert result.view.holder == node2.instance_id
    assert world.eip(world.eip_by_instance)["InstanceId"] == node2.instance_id
