"""Another account in the lab's moto: the owner of a shared VPC, whose route tables the stack moves
routes in through a role of that account (RouteTableRoleArn, docs/cross-account-routes.md).

moto keeps each account apart (an STS session of a role in account B acts on B's resources); the
lab reaches B with an admin session of its own, made directly on moto (never through the proxy, so
it is not a function's call). B's route tables point at the lab account's ENIs as a shared VPC's do
(moto_gaps models it). `trust_policy` and `permissions_policy` are the documents the docs give the
operator of B, with the lab's names; `create_role` puts them in B's IAM and returns them, for the
lab's IAM enforcer to evaluate the functions' calls by.
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Sequence
from typing import Any

import boto3

from nginx_eip_failover_lab.account import REGION

from .moto_server import DUMMY_AWS_ENV

OTHER_ACCOUNT_ID = "222222222222"
_octets = itertools.count(random.randrange(256))  # not security: labs apart


def role_arn(name: str, account: str = OTHER_ACCOUNT_ID) -> str:
    return f"arn:aws:iam::{account}:role/{name}"


def trust_policy(principals: Sequence[str], external_id: str | None) -> dict[str, Any]:
    """Who may assume the role: the stack's function roles, with the ExternalId when there is one."""
    statement: dict[str, Any] = {
        "Sid": "TheFailoverFunctionsAssumeThisRole",
        "Effect": "Allow",
        "Principal": {"AWS": list(principals)},
        "Action": "sts:AssumeRole",
    }
    if external_id is not None:
        statement["Condition"] = {"StringEquals": {"sts:ExternalId": external_id}}
    return {"Version": "2012-10-17", "Statement": [statement]}


def permissions_policy(route_table_ids: Sequence[str], account: str = OTHER_ACCOUNT_ID) -> dict[str, Any]:
    """What the role may do: read every route table (EC2's Describe* take no resource), and point
    routes of these tables only."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "ReadTheRouteTables", "Effect": "Allow", "Action": "ec2:DescribeRouteTables", "Resource": "*"},
            {
                "Sid": "PointTheOverlayRoutes",
                "Effect": "Allow",
                "Action": ["ec2:ReplaceRoute", "ec2:CreateRoute"],
                "Resource": [f"arn:aws:ec2:{REGION}:{account}:route-table/{table}" for table in route_table_ids],
            },
        ],
    }


class OtherAccount:
    """Account B in the lab's moto, reached with an admin session of B."""

    def __init__(self, moto_url: str, account: str = OTHER_ACCOUNT_ID) -> None:
        self.account = account
        self._moto_url = moto_url
        session = boto3.session.Session(
            aws_access_key_id=DUMMY_AWS_ENV["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=DUMMY_AWS_ENV["AWS_SECRET_ACCESS_KEY"],
            region_name=REGION,
        )
        admin = session.client("sts", endpoint_url=moto_url).assume_role(
            RoleArn=role_arn("lab-admin", account), RoleSessionName="lab-setup"
        )["Credentials"]
        self._session = boto3.session.Session(
            aws_access_key_id=admin["AccessKeyId"],
            aws_secret_access_key=admin["SecretAccessKey"],
            aws_session_token=admin["SessionToken"],
            region_name=REGION,
        )
        self.ec2 = self.client("ec2")

    def client(self, service: str) -> Any:
        return self._session.client(service, endpoint_url=self._moto_url)  # type: ignore[call-overload]

    def route_table(self) -> str:
        """A route table of a VPC of B (the shared VPC's owner)."""
        octet = next(_octets) % 256
        vpc = self.ec2.create_vpc(CidrBlock=f"10.{octet}.0.0/16")["Vpc"]["VpcId"]
        return str(self.ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"])

    def route_eni(self, table: str, destination: str) -> str | None:
        """The ENI B's route to `destination` points at (None: no such route)."""
        found = self.ec2.describe_route_tables(RouteTableIds=[table])["RouteTables"][0]
        route = next((r for r in found.get("Routes") or [] if r.get("DestinationCidrBlock") == destination), None)
        return route.get("NetworkInterfaceId") if route else None

    def create_role(
        self, name: str, principals: Sequence[str], external_id: str | None, route_table_ids: Sequence[str]
    ) -> tuple[str, dict[str, Any], dict[str, Any]]:
        """The role in B's IAM, as its operator creates it from the docs: (ARN, trust, permissions)."""
        trust = trust_policy(principals, external_id)
        permissions = permissions_policy(route_table_ids, self.account)
        iam = self.client("iam")
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        iam.put_role_policy(RoleName=name, PolicyName="point-overlay-routes", PolicyDocument=json.dumps(permissions))
        return str(arn), trust, permissions
