"""The lab's EC2 model (moto patched like EC2) keeps EC2's DryRun: it checks and never acts. Without
it, preflight's dry-run AssociateAddress moved the demo's EIP."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError

from nginx_eip_failover_lab.aws.moto_gaps import aws_address_semantics


def test_a_dry_run_associate_address_answers_dry_run_operation_and_moves_nothing(
    moto_module: None, boto_session: boto3.session.Session
) -> None:
    ec2 = boto_session.client("ec2", region_name="us-east-1")
    instance = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
    with aws_address_semantics():
        with pytest.raises(ClientError) as raised:
            ec2.associate_address(AllocationId=allocation, InstanceId=instance, AllowReassociation=True, DryRun=True)
        assert raised.value.response["Error"]["Code"] == "DryRunOperation"
        assert not ec2.describe_addresses(AllocationIds=[allocation])["Addresses"][0].get("InstanceId")


def test_a_dry_run_replace_route_answers_dry_run_operation_and_leaves_the_route(
    moto_module: None, boto_session: boto3.session.Session
) -> None:
    ec2 = boto_session.client("ec2", region_name="us-east-1")
    vpc = ec2.create_vpc(CidrBlock="10.88.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.88.1.0/24")["Subnet"]["SubnetId"]
    first, second = (
        ec2.create_network_interface(SubnetId=subnet)["NetworkInterface"]["NetworkInterfaceId"] for _ in "ab"
    )
    table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="192.168.88.1/32", NetworkInterfaceId=first)
    with aws_address_semantics(), pytest.raises(ClientError) as raised:
        ec2.replace_route(
            RouteTableId=table, DestinationCidrBlock="192.168.88.1/32", NetworkInterfaceId=second, DryRun=True
        )
    assert raised.value.response["Error"]["Code"] == "DryRunOperation"
    routes = ec2.describe_route_tables(RouteTableIds=[table])["RouteTables"][0]["Routes"]
    assert [r.get("NetworkInterfaceId") for r in routes if r.get("DestinationCidrBlock") == "192.168.88.1/32"] == [
        first
    ]


_ROUTED_VPC = """
Resources:
  Vpc: {Type: "AWS::EC2::VPC", Properties: {CidrBlock: 10.89.0.0/16}}
  Subnet: {Type: "AWS::EC2::Subnet", Properties: {VpcId: !Ref Vpc, CidrBlock: 10.89.1.0/24}}
  RouteTable: {Type: "AWS::EC2::RouteTable", Properties: {VpcId: !Ref Vpc}}
  Association:
    Type: AWS::EC2::SubnetRouteTableAssociation
    Properties: {SubnetId: !Ref Subnet, RouteTableId: !Ref RouteTable}
"""


def test_a_stack_with_a_routed_subnet_is_deleted_with_its_route_table(
    moto_module: None, boto_session: boto3.session.Session
) -> None:
    # The e2e test's nodes stack (tests/e2e/aws/nodes.yaml) has this shape; moto alone cannot delete it.
    cloudformation = boto_session.client("cloudformation", region_name="us-east-1")
    ec2 = boto_session.client("ec2", region_name="us-east-1")
    with aws_address_semantics():
        cloudformation.create_stack(StackName="routed", TemplateBody=_ROUTED_VPC)
        vpc = cloudformation.describe_stack_resource(StackName="routed", LogicalResourceId="Vpc")
        vpc_id = vpc["StackResourceDetail"]["PhysicalResourceId"]
        cloudformation.delete_stack(StackName="routed")
        assert not ec2.describe_vpcs(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Vpcs"]
        assert not ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["RouteTables"]
