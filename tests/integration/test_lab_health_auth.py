"""Authenticated health checks on the lab (docs/health-auth.md): real nginx nodes that require an
Authorization header, the credential in the lab's (moto) Secrets Manager or SSM, the handlers in their
own processes under the template's IAM. The right token: the node is probed up. A wrong one: an auth
failure, reported (alert, notice, history, the cycle's probes), and the EIP does not leave the node."""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from nginx_eip_failover.core.log_records import ChangeRecord, record_from_dict
from nginx_eip_failover.service.replay import replay
from nginx_eip_failover_lab.aws.moto_server import MotoServer
from nginx_eip_failover_lab.environment import LabEnvironment, lab_client
from support.lab_driving import LabFactory, cycle, cycle_result, cycles, ok
from support.pki import make_pki

pytestmark = pytest.mark.integration

TOKEN = "Bearer lab-right-token"


def _secret(moto_server: MotoServer, value: str) -> str:
    client = lab_client("secretsmanager", moto_server.url)
    return str(client.create_secret(Name=f"probe-{uuid.uuid4().hex[:8]}", SecretString=value)["ARN"])


def _kinds(lab: LabEnvironment) -> list[str]:
    return [str(notice["kind"]) for notice in lab.notifications()]


def _place_on_node1(lab: LabEnvironment) -> None:
    """The first cycle places the EIP on node1. A cold container reads the secret before its first
    probes: the budget leaves room for that read and the move (a real invocation has 150 s)."""
    payload = ok(cycle_result(lab, remaining_ms=3000))
    assert payload["nodes"] == {"node1": "up", "node2": "up"}, payload
    assert lab.holder() == "node1", payload


def test_a_node_requiring_a_token_is_probed_with_it_and_a_wrong_token_is_an_auth_failure(
    make_lab: LabFactory, moto_server: MotoServer
) -> None:
    arn = _secret(moto_server, TOKEN)
    lab = make_lab(HealthCheckAuthKind="header", HealthCheckAuthSecretArn=arn)
    lab.nodes["node1"].require_authorization(TOKEN)
    # GIVEN node1 requires the token the secret holds: it is probed with it, up, and gets the EIP
    _place_on_node1(lab)
    assert any(v.call.action == "secretsmanager:GetSecretValue" and v.allowed for v in lab.iam.verdicts())
    lab.notifications()

    # WHEN node1 starts requiring another token (the secret now holds a wrong one)
    lab.nodes["node1"].require_authorization("Bearer rotated-on-the-node")
    fall = int(lab.monitor_env["FALL_THRESHOLD"])
    results = cycles(lab, 3 * fall)
    # THEN every cycle keeps the EIP on node1, and node1 is neither taken down nor failing
    for payload in results:
        assert payload["eip"]["holder"] == "node1", payload
        assert payload["nodes"]["node1"] == "up", payload
    assert lab.holder() == "node1"
    state = lab.state()
    assert "probe_auth_failed" in state["alerts"]
    assert state["nodes"]["node1"]["fail_streak"] == 0
    [raised] = lab.history("probe_auth_failed")
    assert "node1 refused the health check's credentials" in raised["reason"]
    assert _kinds(lab) == ["probe_auth_failed"]  # one notice, not one per cycle
    status = ok(lab.control({"action": "status"}))
    assert "probe_auth_failed" in json.dumps(status)

    # A fresh container reads the secret anew: a wrong secret value is refused the same way.
    client = lab_client("secretsmanager", moto_server.url)
    lab.nodes["node1"].require_authorization(TOKEN)
    client.put_secret_value(SecretId=arn, SecretString="Bearer wrong-token")
    cold = ok(lab.monitor(remaining_ms=3000))
    assert cold["eip"]["holder"] == "node1" and cold["nodes"]["node1"] == "up"
    assert "probe_auth_failed" in lab.state()["alerts"]

    # AND once the secret holds the node's token again, the alert clears
    client.put_secret_value(SecretId=arn, SecretString=TOKEN)
    ok(lab.monitor(remaining_ms=3000))
    assert "probe_auth_failed" not in lab.state()["alerts"]
    assert len(lab.history("probe_auth_failed_cleared")) == 1
    assert "probe_auth_failed_cleared" in _kinds(lab)

    # AND the decision log holds the auth failures, and replays every decision exactly
    answer = ok(lab.control({"action": "log", "since": 0, "limit": 1000}))
    records = [record_from_dict(item) for item in answer["records"]]
    refused = [o for r in records if isinstance(r, ChangeRecord) for o in r.observations if o.auth_failed]
    assert refused and all(o.node == "node1" and o.detail.startswith("auth failed: HTTP 401") for o in refused)
    result = replay(records)
    assert result.exact, [step.mismatch for step in result.mismatches]


def test_basic_auth_from_an_ssm_securestring_lets_a_failover_reach_the_authenticated_node(
    make_lab: LabFactory, moto_server: MotoServer
) -> None:
    name = f"/lab/probe-{uuid.uuid4().hex[:8]}"
    ssm = lab_client("ssm", moto_server.url)
    ssm.put_parameter(Name=name, Type="SecureString", Value=json.dumps({"username": "probe", "password": "s3cr3t"}))
    arn = f"arn:aws:ssm:us-east-1:123456789012:parameter{name}"
    lab = make_lab(HealthCheckAuthKind="basic", HealthCheckAuthSecretArn=arn)
    basic = "Basic " + base64.b64encode(b"probe:s3cr3t").decode()
    for node in lab.nodes.values():
        node.require_authorization(basic)
    _place_on_node1(lab)
    # WHEN node1's nginx really stops, node2 (probed with basic auth, answering 200) takes the EIP
    lab.nodes["node1"].stop()
    fall = int(lab.monitor_env["FALL_THRESHOLD"])
    last = cycles(lab, fall)[-1]
    assert last["nodes"] == {"node1": "down", "node2": "up"}
    assert lab.holder() == "node2"
    assert "probe_auth_failed" not in lab.state()["alerts"]
    assert any(v.call.action == "ssm:GetParameter" and v.allowed for v in lab.iam.verdicts())


def test_configured_as_down_a_refused_holder_fails_over(make_lab: LabFactory, moto_server: MotoServer) -> None:
    arn = _secret(moto_server, TOKEN)
    lab = make_lab(HealthCheckAuthKind="header", HealthCheckAuthSecretArn=arn, HealthCheckAuthFailureIsDown="true")
    lab.nodes["node1"].require_authorization(TOKEN)
    _place_on_node1(lab)
    lab.nodes["node1"].require_authorization("Bearer another")
    fall = int(lab.monitor_env["FALL_THRESHOLD"])
    last = cycles(lab, fall)[-1]
    assert last["nodes"]["node1"] == "down" and lab.holder() == "node2"


def test_preflight_names_the_parameter_of_a_missing_secret(make_lab: LabFactory) -> None:
    missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:not-there-AbCdEf"
    lab = make_lab(HealthCheckAuthKind="header", HealthCheckAuthSecretArn=missing)
    payload = ok(lab.control({"action": "preflight"}))
    assert payload["ok"] is False
    [row] = [check for check in payload["checks"] if check["check"] == "secretsmanager:GetSecretValue"]
    assert row["status"] == "failed"
    assert row["target"] == f"HealthCheckAuthSecretArn {missing}"
    assert "cannot be read" in row["why_not"]
    # The probes could not authenticate: auth failures naming the parameter, and nothing moved.
    probe_rows = [check for check in payload["checks"] if check["check"] == "health probe"]
    assert probe_rows and all("HealthCheckAuthSecretArn" in row["detail"] for row in probe_rows)
    first = cycle(lab)
    assert first["eip"]["holder"] == "unassociated" and lab.holder() is None


def _group_state(lab: LabEnvironment, name: str) -> dict[str, Any]:
    pk = f"eip#{lab.groups[name].allocation_id}"
    item = lab.dynamodb.get_item(TableName=lab.table_name, Key={"pk": {"S": pk}}, ConsistentRead=True).get("Item")
    return json.loads(item["state"]["S"]) if item else {}


def test_fleet_groups_probe_with_their_own_tagged_secrets_and_an_untagged_one_is_refused(
    make_lab: LabFactory, moto_server: MotoServer
) -> None:
    lab = make_lab(fleet_groups=2, FleetHealthCheckSecrets="tagged")
    client = lab_client("secretsmanager", moto_server.url)
    tag = [{"Key": "nginx-eip-failover", "Value": lab.stack_name}]
    tagged = client.create_secret(Name=f"g01-{uuid.uuid4().hex[:6]}", SecretString="Bearer g01-token", Tags=tag)
    untagged = client.create_secret(Name=f"g02-{uuid.uuid4().hex[:6]}", SecretString="Bearer g02-token")
    for name, token in (("g01", "Bearer g01-token"), ("g02", "Bearer g02-token")):
        for node in lab.groups[name].nodes.values():
            node.require_authorization(token)
    document = lab.fleet_document()
    for group in document["groups"]:
        arn = (tagged if group["name"] == "g01" else untagged)["ARN"]
        group.setdefault("settings", {})["health_check_auth"] = {"kind": "header", "secret_arn": arn}
    lab.apply_fleet(document)
    # WHEN the monitor runs: g01's probes carry g01's token (read under the tag-scoped grant) ...
    payload = ok(cycle_result(lab, remaining_ms=4000))
    assert lab.holder() == "node1"  # the stack's own pair, unauthenticated
    assert lab.group_holder("g01") == "node1", payload["groups"]["g01"]
    assert payload["groups"]["g01"]["nodes"] == {"node1": "up", "node2": "up"}
    # ... and g02's untagged secret is refused by IAM: its probes are auth failures, nothing placed
    refused = lab.iam.acknowledge_denials()
    assert refused and all(v.call.action == "secretsmanager:GetSecretValue" for v in refused)
    assert lab.group_holder("g02") is None
    state = _group_state(lab, "g02")
    assert "probe_auth_failed" in state["alerts"]
    assert all(health.get("status") != "down" for health in state.get("nodes", {}).values())


def test_mutual_tls_with_the_client_certificate_from_its_secret_and_a_refused_one_is_an_auth_failure(
    make_lab: LabFactory, moto_server: MotoServer, tmp_path: Path
) -> None:
    pki = make_pki(tmp_path / "pki")
    arn = _secret(moto_server, pki.client_pem)
    lab = make_lab(HealthCheckClientCertSecretArn=arn, HealthCheckCaBundle=str(pki.ca_file))
    # GIVEN node1 serves https and requires a client certificate signed by the lab's CA
    lab.nodes["node1"].require_client_certificate(pki.server_pem, pki.ca_file)
    lab.extra_env["NODE1_HEALTH_CHECK_URL"] = lab.nodes["node1"].health_url
    _place_on_node1(lab)  # probed up over mutual TLS with the certificate from the secret
    # WHEN the secret holds a certificate node1 does not trust (nginx answers its 400 page)
    lab_client("secretsmanager", moto_server.url).put_secret_value(SecretId=arn, SecretString=pki.stranger_pem)
    for _ in range(int(lab.monitor_env["FALL_THRESHOLD"]) + 1):
        payload = ok(lab.monitor(remaining_ms=3000))
        # THEN it is an auth failure: node1 keeps the EIP and stays up
        assert payload["eip"]["holder"] == "node1" and payload["nodes"]["node1"] == "up", payload
    assert "probe_auth_failed" in lab.state()["alerts"]
    [raised] = lab.history("probe_auth_failed")
    assert "node1" in raised["reason"]
    answer = ok(lab.control({"action": "log", "since": 0, "limit": 1000}))
    refused = [
        o
        for r in (record_from_dict(item) for item in answer["records"])
        if isinstance(r, ChangeRecord)
        for o in r.observations
        if o.auth_failed
    ]
    assert refused and all("refused the client certificate" in o.detail for o in refused), refused
