"""CreateVpcEndpoints gives a VPC without a NAT path an endpoint for every service the functions call.

The services are read from the code, not listed here: every boto3 client the runtime package creates
(`.client("...")`, `_client("...")`, `aws_clients.client("...")`), parsed with ast from
src/nginx_eip_failover/ without the operator CLI (which runs on operators' machines, not in the VPC).
A new client in the code without its endpoint in the template fails this test, naming both.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import botocore.session

from template_loader import load_template

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "nginx_eip_failover"
CLIENT_FACTORIES = {"client", "_client"}
# Clients the code creates only for a setting this template never gives its functions; each is
# checked below to stay so (a template that starts setting it must add the endpoint).
NOT_CONFIGURED_BY_THE_TEMPLATE = {"events": "SCHEDULE_RULE_NAME"}  # a legacy EventBridge rule (SAM Schedule)
GATEWAY_SERVICES = {"dynamodb"}  # a gateway endpoint on the route tables, not an interface
# Clients only a setting creates: their endpoints exist only with it (an interface endpoint is billed
# per hour and AZ), under a condition that is CreateEndpoints and that setting (checked below).
ENDPOINT_CONDITIONS = {
    "sts": "CreateStsEndpoint",  # RouteTableRoleArn (routes in another account)
    "secretsmanager": "CreateHealthCheckSecretEndpoints",  # HealthCheckAuthSecretArn / ...ClientCertSecretArn
    "ssm": "CreateHealthCheckSecretEndpoints",
    "autoscaling": "CreateAutoScalingEndpoint",  # found nodes (Node*AutoScalingGroupName)
}


def _function_modules() -> list[Path]:
    return sorted(path for path in PACKAGE.rglob("*.py") if "cli" not in path.relative_to(PACKAGE).parts)


def clients_in_code() -> dict[str, list[str]]:
    """boto3 service name -> where the code creates its client ("file:line")."""
    found: dict[str, list[str]] = {}
    for path in _function_modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
            if name not in CLIENT_FACTORIES or not node.args:
                continue
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.setdefault(first.value, []).append(where)
            else:
                # Only aws_clients' own pass-throughs may take the service from a variable; anywhere else
                # this test could not tell which endpoint the call needs.
                assert path.name == "aws_clients.py", f"{where}: a client whose service is not a literal"
    return found


def endpoint_prefix(service: str) -> str:
    """The service's endpoint name (com.amazonaws.<region>.<prefix>): cloudwatch -> monitoring."""
    return str(botocore.session.get_session().get_service_model(service).endpoint_prefix)


def template_endpoints() -> dict[str, dict[str, Any]]:
    """Endpoint service name -> the VPCEndpoint resource's properties (and its condition)."""
    endpoints = {}
    for logical_id, resource in load_template(ROOT / "template.yaml")["Resources"].items():
        if resource["Type"] != "AWS::EC2::VPCEndpoint":
            continue
        service_name = resource["Properties"]["ServiceName"]
        text = service_name.get("Fn::Sub") if isinstance(service_name, dict) else service_name
        assert isinstance(text, str) and text.startswith("com.amazonaws.${AWS::Region}."), (logical_id, service_name)
        endpoints[text.rsplit(".", 1)[1]] = {
            "id": logical_id,
            "condition": resource.get("Condition"),
            **resource["Properties"],
        }
    return endpoints


def test_the_code_creates_clients_this_test_can_see() -> None:
    # A parse that finds nothing would make the coverage test below pass vacuously.
    assert {"ec2", "dynamodb", "sns", "cloudwatch", "scheduler"} <= set(clients_in_code())


def test_every_service_the_functions_call_has_an_endpoint() -> None:
    endpoints = template_endpoints()
    missing = []
    for service, places in sorted(clients_in_code().items()):
        if service in NOT_CONFIGURED_BY_THE_TEMPLATE:
            continue
        prefix = endpoint_prefix(service)
        endpoint = endpoints.get(prefix)
        if endpoint is None:
            missing.append(f"{service} (com.amazonaws.<region>.{prefix}), created at {', '.join(places)}")
            continue
        assert endpoint["condition"] == ENDPOINT_CONDITIONS.get(service, "CreateEndpoints"), endpoint["id"]
        kind = "Gateway" if service in GATEWAY_SERVICES else "Interface"
        assert endpoint["VpcEndpointType"] == kind, f"{endpoint['id']} should be a {kind} endpoint"
        if kind == "Interface":
            assert endpoint["PrivateDnsEnabled"] is True, (
                f"{endpoint['id']}: the SDK's default hostname must resolve to it"
            )
    assert not missing, "CreateVpcEndpoints creates no endpoint for:\n" + "\n".join(missing)


def test_no_endpoint_is_left_for_a_service_the_code_no_longer_calls() -> None:
    called = {endpoint_prefix(service) for service in clients_in_code()}
    unused = {prefix: e["id"] for prefix, e in template_endpoints().items() if prefix not in called}
    assert not unused, f"endpoints (billed per hour and AZ) for services no function calls: {unused}"


def test_the_clients_left_out_stay_unconfigured_by_the_template() -> None:
    resources = load_template(ROOT / "template.yaml")["Resources"]
    for service, variable in NOT_CONFIGURED_BY_THE_TEMPLATE.items():
        for logical_id, resource in resources.items():
            if resource["Type"] != "AWS::Serverless::Function":
                continue
            env = resource["Properties"].get("Environment", {}).get("Variables", {})
            assert variable not in env, (
                f"{logical_id} sets {variable}: it calls {service}, which then needs its endpoint"
            )


def test_a_conditional_endpoint_is_created_only_with_create_vpc_endpoints() -> None:
    conditions = load_template(ROOT / "template.yaml")["Conditions"]
    for name in set(ENDPOINT_CONDITIONS.values()):
        assert {"Condition": "CreateEndpoints"} in conditions[name]["Fn::And"], name
