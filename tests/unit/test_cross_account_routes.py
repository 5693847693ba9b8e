"""Routes in another account, pure parts: the template parameters' variables, the fleet document's
route.role_arn (every error naming the field and value), which roles preflight checks, and the
template's grant (sts:AssumeRole on that role only, and nothing at the default parameters)."""

from __future__ import annotations

import copy
import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from nginx_eip_failover.core.addresses import AddressSet, ElasticIpSpec, RouteSpec
from nginx_eip_failover.core.config import load_settings
from nginx_eip_failover.core.errors import ConfigError, FleetConfigError
from nginx_eip_failover.core.fleet_config import fleet_schema, parse_fleet
from nginx_eip_failover.core.preflight import route_roles_to_check
from nginx_eip_failover.core.role_arns import ROLE_ARN
from support.core_builders import settings
from template_loader import load_template

ROOT = Path(__file__).resolve().parents[2]
ROLE = "arn:aws:iam::222222222222:role/shared-vpc/route-mover"
BASE = settings(route_table_role_arn=ROLE, route_table_role_external_id="ext-1")


def group(role_arn: str | None = ROLE, tables: tuple[str, ...] = ("rtb-00000000000000001",)) -> dict[str, Any]:
    route: dict[str, Any] = {"destination": "192.168.100.1/32", "route_table_ids": list(tables)}
    if role_arn is not None:
        route["role_arn"] = role_arn
    return {
        "name": "web",
        "nodes": [
            {
                "instance_id": f"i-{index:017x}",
                "network_interface_id": f"eni-{index:017x}",
                "health_check_url": f"http://127.0.0.1:{8000 + index}/",
                "priority": 102 - index,
            }
            for index in (1, 2)
        ],
        "elastic_ips": [{"allocation_id": "eipalloc-00000000000001001"}],
        "routes": [route],
    }


# ------------------------------------------------------------------------------- the environment


def test_the_role_and_external_id_are_read_from_the_environment(base_env: dict[str, str]) -> None:
    assert load_settings(base_env).route_table_role_arn is None
    loaded = load_settings({**base_env, "ROUTE_TABLE_ROLE_ARN": ROLE, "ROUTE_TABLE_ROLE_EXTERNAL_ID": "ext-1"})
    assert (loaded.route_table_role_arn, loaded.route_table_role_external_id) == (ROLE, "ext-1")
    # Empty is unset (the template's default).
    empty = load_settings({**base_env, "ROUTE_TABLE_ROLE_ARN": "", "ROUTE_TABLE_ROLE_EXTERNAL_ID": ""})
    assert (empty.route_table_role_arn, empty.route_table_role_external_id) == (None, None)


@pytest.mark.parametrize(
    ("variables", "named", "shown"),
    [
        ({"ROUTE_TABLE_ROLE_ARN": "arn:aws:iam::2222:role/x"}, "ROUTE_TABLE_ROLE_ARN", "arn:aws:iam::2222:role/x"),
        ({"ROUTE_TABLE_ROLE_ARN": "arn:aws:iam::222222222222:user/x"}, "ROUTE_TABLE_ROLE_ARN", ":user/x"),
        ({"ROUTE_TABLE_ROLE_ARN": "route-mover"}, "ROUTE_TABLE_ROLE_ARN", "route-mover"),
        ({"ROUTE_TABLE_ROLE_ARN": ROLE, "ROUTE_TABLE_ROLE_EXTERNAL_ID": "x"}, "ROUTE_TABLE_ROLE_EXTERNAL_ID", '"x"'),
        ({"ROUTE_TABLE_ROLE_ARN": ROLE, "ROUTE_TABLE_ROLE_EXTERNAL_ID": "a b"}, "ROUTE_TABLE_ROLE_EXTERNAL_ID", "a b"),
        ({"ROUTE_TABLE_ROLE_EXTERNAL_ID": "ext-1"}, "ROUTE_TABLE_ROLE_EXTERNAL_ID", "ext-1"),
    ],
)
def test_a_bad_role_or_external_id_names_the_variable_and_value(
    base_env: dict[str, str], variables: dict[str, str], named: str, shown: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings({**base_env, **variables})
    assert raised.value.variable == named
    assert named in str(raised.value) and shown in str(raised.value)


def test_role_arns_with_paths_and_partitions_are_accepted() -> None:
    for arn in (ROLE, "arn:aws-us-gov:iam::123456789012:role/a", "arn:aws-cn:iam::123456789012:role/a+b=c,d.e@f-g"):
        assert ROLE_ARN.fullmatch(arn), arn
    assert not ROLE_ARN.fullmatch("arn:aws:iam::123456789012:role/" + "x" * 65)


# --------------------------------------------------------------------------- the fleet document


def test_a_route_names_the_stacks_role_and_keeps_it() -> None:
    [web] = parse_fleet({"groups": [group()]}, BASE)
    assert web.address_set.routes == (RouteSpec("192.168.100.1/32", ("rtb-00000000000000001",), ROLE),)
    [own] = parse_fleet({"groups": [group(role_arn=None)]}, BASE)
    assert own.address_set.routes[0].role_arn is None
    assert fleet_schema()["definitions"]["route"]["properties"]["role_arn"]["pattern"] == ROLE_ARN.pattern


@pytest.mark.parametrize(
    ("base", "role_arn", "shown", "problem"),
    [
        (BASE, "arn:aws:iam::333333333333:role/other", "333333333333", "is not the stack's RouteTableRoleArn"),
        (settings(), ROLE, ROLE, "RouteTableRoleArn is empty"),
        (BASE, "route-mover", "route-mover", "must match pattern"),
        (BASE, "arn:aws:iam::222222222222:role/" + "x" * 2000, "role/xxx", ""),
    ],
)
def test_a_route_role_that_is_not_the_stacks_is_refused_naming_the_field_and_value(
    base: Any, role_arn: str, shown: str, problem: str
) -> None:
    with pytest.raises(FleetConfigError) as raised:
        parse_fleet({"groups": [group(role_arn=role_arn)]}, base)
    error = raised.value
    assert (error.group, error.field) == ("web", "routes[0].role_arn"), str(error)
    assert shown in str(error) and problem in str(error)


def test_one_table_is_reached_by_one_role() -> None:
    document = {"groups": [group()]}
    second = copy.deepcopy(document["groups"][0]["routes"][0])
    second.pop("role_arn")
    second["destination"] = "192.168.100.2/32"
    document["groups"][0]["routes"].append(second)
    with pytest.raises(FleetConfigError) as raised:
        parse_fleet(document, BASE)
    assert raised.value.field == "routes[1].route_table_ids"
    assert "rtb-00000000000000001" in str(raised.value) and ROLE in str(raised.value)


# -------------------------------------------------------------------------------------- preflight


def test_preflight_checks_each_role_with_its_tables() -> None:
    addresses = AddressSet(
        (ElasticIpSpec("eipalloc-00000000000001001"),),
        routes=(
            RouteSpec("192.168.1.1/32", ("rtb-00000000000000001", "rtb-00000000000000002"), ROLE),
            RouteSpec("192.168.1.2/32", ("rtb-00000000000000002",), ROLE),
            RouteSpec("192.168.1.3/32", ("rtb-00000000000000003",)),
        ),
    )
    group_settings = replace(BASE, group="web", addresses=addresses)
    assert route_roles_to_check(group_settings) == [(ROLE, ("rtb-00000000000000001", "rtb-00000000000000002"))]
    # The stack's own pair: the stack's role, even before a route names it.
    assert route_roles_to_check(BASE) == [(ROLE, ())]
    assert route_roles_to_check(settings()) == []
    assert route_roles_to_check(replace(settings(), group="web", addresses=AddressSet(addresses.elastic_ips))) == []


# --------------------------------------------------------------------------------------- template


def _assume_statements(template: dict[str, Any], function: str) -> list[Any]:
    statements = template["Resources"][function]["Properties"]["Policies"][0]["Statement"]
    return [s for s in statements if "Fn::If" in s and s["Fn::If"][0] == "HasRouteTableRole"]


@pytest.mark.parametrize("function", ["MonitorFunction", "ControlFunction"])
def test_the_functions_may_assume_the_route_table_role_only_when_it_is_set(function: str) -> None:
    template = load_template(ROOT / "template.yaml")
    [conditional] = _assume_statements(template, function)
    _, statement, otherwise = conditional["Fn::If"]
    assert otherwise == {"Ref": "AWS::NoValue"}  # the default stack's IAM is unchanged
    assert statement == {
        "Sid": "AssumeTheRouteTableRole",
        "Effect": "Allow",
        "Action": "sts:AssumeRole",
        "Resource": {"Ref": "RouteTableRoleArn"},
    }
    assert template["Conditions"]["HasRouteTableRole"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "RouteTableRoleArn"}, ""]}]
    }
    # No other statement of the function names STS.
    text = str(template["Resources"][function]["Properties"]["Policies"])
    assert text.count("sts:") == 1


def test_every_function_gets_the_role_and_external_id() -> None:
    template = load_template(ROOT / "template.yaml")
    # The lifecycle function drains the stack's own pair only, whose addresses have no routes.
    functions = [
        name
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function" and name != "LifecycleFunction"
    ]
    assert len(functions) >= 2
    for name in functions:
        env = template["Resources"][name]["Properties"]["Environment"]["Variables"]
        assert env["ROUTE_TABLE_ROLE_ARN"] == {"Ref": "RouteTableRoleArn"}, name
        assert env["ROUTE_TABLE_ROLE_EXTERNAL_ID"] == {"Ref": "RouteTableRoleExternalId"}, name
        assert env["AWS_STS_REGIONAL_ENDPOINTS"] == "regional", name
    parameters = template["Parameters"]
    assert parameters["RouteTableRoleArn"]["Default"] == parameters["RouteTableRoleExternalId"]["Default"] == ""


# ------------------------------------------------------------------------------------------- docs


def test_the_documented_policies_are_the_ones_the_lab_enforces() -> None:
    from nginx_eip_failover_lab.aws.other_account import permissions_policy, trust_policy

    text = (ROOT / "docs" / "cross-account-routes.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```json\n(.*?)```", text, flags=re.S)
    documented = [json.loads(block) for block in blocks if '"Statement"' in block]
    assert len(documented) == 2
    assert documented[0] == trust_policy(
        ["<MonitorFunctionRoleArn>", "<ControlFunctionRoleArn>"], "<RouteTableRoleExternalId>"
    )
    lab = permissions_policy(["<rtb-...>"], "<owner account>")
    region = lab["Statement"][1]["Resource"][0].split(":")[3]
    assert json.loads(json.dumps(documented[1]).replace("<region>", region)) == lab
