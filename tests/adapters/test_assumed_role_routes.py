"""Routes in another account against moto: the route tables of a shared VPC's owner (account B),
reached through an assumed role, pointing at the nodes' ENIs in this account (A).

moto's STS AssumeRole switches accounts: a role ARN of account B gives credentials whose calls act on
B's resources. moto has no shared VPC (a B route cannot name an A ENI); `aws_address_semantics`
models it (nginx_eip_failover_lab.aws.moto_gaps).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from nginx_eip_failover.adapters.ec2.address_set import AddressSetError, AddressSetMover, NodeTarget
from nginx_eip_failover.adapters.ec2.api_budget import ApiBudget
from nginx_eip_failover.adapters.ec2.assumed_role import (
    MAX_SESSION_NAME,
    SESSION_SECONDS,
    AssumedRoleEc2,
    RoleAssumptionError,
    session_name,
)
from nginx_eip_failover.adapters.ec2.preflight_checks import Ec2PreflightChecks
from nginx_eip_failover.core.addresses import AddressSet, ElasticIpSpec, RouteSpec
from nginx_eip_failover.core.config import NodeConfig
from support.moto_ec2_gaps import aws_address_semantics

OTHER_ACCOUNT = "222222222222"
ROLE_ARN = f"arn:aws:iam::{OTHER_ACCOUNT}:role/route-mover"
_networks = itertools.count(101)


@dataclass
class World:
    own: Any  # EC2 of account A (the functions' own credentials)
    other: Any  # EC2 of account B (the VPC owner), for set-up and reading back
    sts: Any
    enis: dict[str, str]
    instances: dict[str, str]
    allocation_id: str
    own_table: str
    other_table: str
    route: str
    sts_calls: list[dict[str, Any]] = field(default_factory=list)
    assumed_calls: list[str] = field(default_factory=list)  # operations sent with the assumed credentials
    own_calls: list[str] = field(default_factory=list)

    def role(self, role_arn: str = ROLE_ARN, external_id: str | None = "ext-1") -> AssumedRoleEc2:
        def ec2_for(credentials: Mapping[str, Any]) -> Any:
            client = boto3.session.Session().client(
                "ec2",
                region_name="us-east-1",
                aws_access_key_id=credentials["AccessKeyId"],
                aws_secret_access_key=credentials["SecretAccessKey"],
                aws_session_token=credentials["SessionToken"],
            )
            client.meta.events.register(
                "before-parameter-build.ec2.*", lambda model, **_: self.assumed_calls.append(model.name)
            )
            return client

        return AssumedRoleEc2(
            role_arn,
            external_id=external_id,
            session_name=session_name("lab-monitor"),
            sts=lambda: self.sts,
            ec2_for=ec2_for,
        )

    def addresses(self, role_arn: str | None = ROLE_ARN) -> AddressSet:
        return AddressSet(
            elastic_ips=(ElasticIpSpec(self.allocation_id),),
            routes=(RouteSpec(self.route, (self.other_table,), role_arn), RouteSpec(self.route, (self.own_table,))),
        )

    def mover(self, role: AssumedRoleEc2 | None = None, role_arn: str = ROLE_ARN) -> AddressSetMover:
        targets = {name: NodeTarget(name, self.instances[name], self.enis[name]) for name in ("node1", "node2")}
        return AddressSetMover(
            self.own,
            self.addresses(role_arn),
            targets,
            bucket=ApiBudget(),
            verify_interval_seconds=0.01,
            route_roles={role_arn: role or self.role(role_arn)},
        )

    def route_eni(self, client: Any, table: str) -> str | None:
        routes = client.describe_route_tables(RouteTableIds=[table])["RouteTables"][0]["Routes"]
        return next((r.get("NetworkInterfaceId") for r in routes if r.get("DestinationCidrBlock") == self.route), None)


@pytest.fixture
def world(moto_module: None, boto_session: boto3.session.Session) -> Iterator[World]:
    with aws_address_semantics():
        own = boto_session.client("ec2", region_name="us-east-1")
        sts = boto_session.client("sts", region_name="us-east-1")
        n = next(_networks)
        vpc = own.create_vpc(CidrBlock=f"10.{n}.0.0/16")["Vpc"]["VpcId"]
        subnet = own.create_subnet(VpcId=vpc, CidrBlock=f"10.{n}.1.0/24")["Subnet"]["SubnetId"]
        instances, enis = {}, {}
        for index, name in enumerate(("node1", "node2")):
            instance = own.run_instances(
                ImageId="ami-12345678",
                MinCount=1,
                MaxCount=1,
                SubnetId=subnet,
                PrivateIpAddress=f"10.{n}.1.{10 + index}",
            )["Instances"][0]
            instances[name], enis[name] = instance["InstanceId"], instance["NetworkInterfaces"][0]["NetworkInterfaceId"]
        allocation = own.allocate_address(Domain="vpc")["AllocationId"]
        own.associate_address(AllocationId=allocation, InstanceId=instances["node1"])
        own_table = own.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
        # Account B, the VPC owner: its own VPC and route table, set up with an admin session of B.
        admin = sts.assume_role(RoleArn=f"arn:aws:iam::{OTHER_ACCOUNT}:role/admin", RoleSessionName="setup")
        credentials = admin["Credentials"]
        other = boto3.session.Session().client(
            "ec2",
            region_name="us-east-1",
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
        )
        other_vpc = other.create_vpc(CidrBlock=f"10.{n}.0.0/16")["Vpc"]["VpcId"]
        other_table = other.create_route_table(VpcId=other_vpc)["RouteTable"]["RouteTableId"]
        route = f"192.168.{n}.1/32"
        for client, table in ((own, own_table), (other, other_table)):
            client.create_route(RouteTableId=table, DestinationCidrBlock=route, NetworkInterfaceId=enis["node1"])
        state = World(own, other, sts, enis, instances, allocation, own_table, other_table, route)
        sts.meta.events.register(
            "before-parameter-build.sts.AssumeRole", lambda params, **_: state.sts_calls.append(dict(params))
        )
        own.meta.events.register("before-parameter-build.ec2.*", lambda model, **_: state.own_calls.append(model.name))
        yield state


def test_the_table_is_another_accounts(world: World) -> None:
    # The set-up itself: B's table is not visible to A's credentials (the role is the only way in).
    found = world.own.describe_route_tables(Filters=[{"Name": "route-table-id", "Values": [world.other_table]}])
    assert found["RouteTables"] == []


def test_a_move_points_the_other_accounts_route_through_the_assumed_role(world: World) -> None:
    role = world.role()
    mover = world.mover(role)
    view = mover.describe()
    assert view.missing == ()  # both routes on node1's ENI: read from both accounts
    result = mover.move(world.instances["node2"])
    assert not result.missing
    assert world.route_eni(world.other, world.other_table) == world.enis["node2"]
    assert world.route_eni(world.own, world.own_table) == world.enis["node2"]
    # B's table was read and moved with the role's credentials only, A's with the functions' own.
    assert "ReplaceRoute" in world.assumed_calls and "DescribeRouteTables" in world.assumed_calls
    assert set(world.assumed_calls) == {"DescribeRouteTables", "ReplaceRoute"}
    assert world.assumed_calls.count("ReplaceRoute") == 1
    assert world.own_calls.count("ReplaceRoute") == 1
    # One session for the cycle (describe, then the move and its verification), as STS was asked.
    assert role.sessions == 1
    [call] = world.sts_calls
    assert call == {
        "RoleArn": ROLE_ARN,
        "RoleSessionName": "nginx-eip-failover-lab-monitor",
        "DurationSeconds": SESSION_SECONDS,
        "ExternalId": "ext-1",
    }


def test_each_cycle_takes_a_new_session(world: World) -> None:
    role = world.role()
    mover = world.mover(role)
    for _ in range(3):
        mover.describe()
    assert role.sessions == 3
    assert len(world.sts_calls) == 3


def test_a_refused_role_fails_the_read_naming_the_role_and_moves_nothing(world: World) -> None:
    def refusing_sts() -> Any:
        from botocore.stub import Stubber

        stubbed = boto3.session.Session().client("sts", region_name="us-east-1")
        stubber = Stubber(stubbed)
        stubber.add_client_error("assume_role", "AccessDenied", "not authorized to perform: sts:AssumeRole", 403)
        stubber.add_client_error("assume_role", "AccessDenied", "not authorized to perform: sts:AssumeRole", 403)
        stubber.activate()
        return stubbed

    refusing = refusing_sts()
    role = AssumedRoleEc2(
        ROLE_ARN, external_id=None, session_name="nginx-eip-failover-x", sts=lambda: refusing, ec2_for=lambda c: None
    )
    mover = world.mover(role)
    with pytest.raises(RoleAssumptionError, match=rf"sts:AssumeRole {ROLE_ARN}: AccessDenied"):
        mover.describe()
    with pytest.raises((RoleAssumptionError, AddressSetError)):
        mover.move(world.instances["node2"])
    assert world.route_eni(world.other, world.other_table) == world.enis["node1"]
    assert world.route_eni(world.own, world.own_table) == world.enis["node1"]
    assert "ReplaceRoute" not in world.own_calls


def test_session_names_are_bounded_and_in_stss_characters() -> None:
    assert session_name("stack-MonitorFunction-AbC") == "nginx-eip-failover-stack-MonitorFunction-AbC"
    assert session_name(None) == "nginx-eip-failover-local"
    long = session_name("x" * 100 + " ;/")
    assert len(long) == MAX_SESSION_NAME and long.startswith("nginx-eip-failover-x")
    assert session_name("a b;c") == "nginx-eip-failover-a-b-c"


def test_preflight_assumes_the_role_and_describes_its_tables(world: World) -> None:
    node = NodeConfig("node2", world.instances["node2"], "http://127.0.0.1:1/", 100, world.enis["node2"])
    checks = Ec2PreflightChecks(world.own, route_role=lambda arn: world.role(arn))
    rows = checks.route_role(ROLE_ARN, [world.other_table])
    assert [(row.check, row.status) for row in rows] == [
        ("sts:AssumeRole", "ok"),
        ("ec2:DescribeRouteTables (assumed role)", "ok"),
    ]
    assert rows[0].target == f"RouteTableRoleArn {ROLE_ARN}"
    # The dry run of the move goes to B's table with the role (A's credentials would not find it).
    row = checks.replace_route(node, RouteSpec(world.route, (world.other_table,), ROLE_ARN), world.other_table)
    assert (row.status, row.detail) == ("ok", "allowed (DryRunOperation)")
    assert world.route_eni(world.other, world.other_table) == world.enis["node1"]  # a dry run moved nothing
    # A table the role's account does not have is named.
    missing = checks.route_role(ROLE_ARN, [world.other_table, world.own_table])
    assert missing[1].status == "failed" and world.own_table in missing[1].detail


def test_preflight_names_the_role_sts_refuses() -> None:
    class RefusingSts:
        def assume_role(self, **params: Any) -> Any:
            from botocore.exceptions import ClientError

            error = {
                "Error": {"Code": "AccessDenied", "Message": "User: x is not authorized to perform: sts:AssumeRole"}
            }
            raise ClientError(error, "AssumeRole")  # type: ignore[arg-type]

    role = AssumedRoleEc2(
        ROLE_ARN, external_id="e1", session_name="nginx-eip-failover-x", sts=RefusingSts, ec2_for=lambda c: None
    )
    checks = Ec2PreflightChecks(None, route_role=lambda arn: role)  # type: ignore[arg-type]
    [row] = checks.route_role(ROLE_ARN, ["rtb-00000000000000001"])
    assert (row.check, row.status, row.target) == ("sts:AssumeRole", "failed", f"RouteTableRoleArn {ROLE_ARN}")
    assert "AccessDenied" in row.detail and ROLE_ARN in row.detail and "trust policy" in row.detail
