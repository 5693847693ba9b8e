"""Dry runs: `plan` and `dry_run` answer what would happen and why, and write, move, publish and
log nothing (the state item and the EIP are byte-for-byte unchanged)."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from nginx_eip_failover.adapters.dynamodb.state_store import state_key
from nginx_eip_failover.cli import commands
from nginx_eip_failover.cli.transports import Response
from nginx_eip_failover.core.errors import InvalidRequestError
from nginx_eip_failover.handlers import control, monitor
from nginx_eip_failover.service import controller as controller_module
from nginx_eip_failover_lab.lambda_context import LambdaContextDouble
from support.moto_pair import create_pair
from support.moto_tables import create_table

TABLE = "plan-state"


@pytest.fixture(scope="module")
def aws(moto_module: None, boto_session: boto3.session.Session) -> dict[str, Any]:
    clients = {name: boto_session.client(name, region_name="us-east-1") for name in ("ec2", "dynamodb")}
    create_table(clients["dynamodb"], TABLE)
    return clients


@pytest.fixture
def pair(
    aws: dict[str, Any], base_env: dict[str, str], node_server: Callable[[], Any], monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    ec2 = aws["ec2"]
    created = create_pair(ec2)
    ids, allocation = list(created.instance_ids), created.allocation_id
    servers = [node_server(), node_server()]
    env = {
        **base_env,
        **created.env(
            [server.url() for server in servers],
            HEALTH_CHECK_INTERVAL_SECONDS="0.2",
            HEALTH_CHECK_TIMEOUT_SECONDS="0.2",
            FALL_THRESHOLD="1",
            STATE_TABLE_NAME=TABLE,
        ),
    }
    for variable, value in env.items():
        monkeypatch.setenv(variable, value)
    monkeypatch.setattr(controller_module, "MOVE_TIME_RESERVE_SECONDS", float("-inf"))
    monitor.lambda_handler({"trigger": "schedule"}, LambdaContextDouble(0))  # places the EIP on node1

    def snapshot() -> tuple[Any, Any]:
        item = aws["dynamodb"].get_item(TableName=TABLE, Key={"pk": {"S": state_key(allocation)}}, ConsistentRead=True)
        holder = ec2.describe_addresses(AllocationIds=[allocation])["Addresses"][0].get("InstanceId")
        return item.get("Item"), holder

    return {"ids": ids, "servers": servers, "snapshot": snapshot}


def ask(request: dict[str, Any]) -> dict[str, Any]:
    return control.lambda_handler(request, LambdaContextDouble(30_000))  # type: ignore[no-any-return]


def test_plan_says_what_the_monitor_would_do_and_changes_nothing(pair: dict[str, Any]) -> None:
    before = pair["snapshot"]()
    steady = ask({"action": "plan"})
    assert steady["dry_run"] is True and steady["would"] == "nothing"
    assert "node1 holds the EIP and is up" in steady["reason"]
    pair["servers"][0].respond(500, b"down", content_type="text/plain")
    failing = ask({"action": "plan"})
    assert failing["would"] == "move" and failing["move"] == {"to": "node2", "from": "node1"}
    assert failing["reason"].startswith("failover: node1 is down")
    assert failing["probes"]["node1"]["ok"] is False
    assert pair["snapshot"]() == before  # nothing written, nothing moved


@pytest.mark.parametrize(
    ("request_", "would", "reason"),
    [
        ({"action": "failover", "target": "node2", "reason": "patch"}, "move", "operator failover to node2"),
        ({"action": "drain", "node": "node1"}, "move", "failover: node1 is drained"),
        ({"action": "undrain", "node": "node2"}, "nothing", "node1 holds the EIP and is up"),
        ({"action": "unpin"}, "nothing", "node1 holds the EIP and is up"),
    ],
)
def test_every_operator_action_has_a_dry_run_that_changes_nothing(
    pair: dict[str, Any], request_: dict[str, Any], would: str, reason: str
) -> None:
    before = pair["snapshot"]()
    answer = ask({**request_, "dry_run": True})
    assert (answer["dry_run"], answer["would"]) == (True, would)
    assert reason in answer["reason"]
    assert pair["snapshot"]() == before


def test_a_dry_run_the_state_would_refuse_says_so_without_raising(pair: dict[str, Any]) -> None:
    pair["servers"][1].respond(500, b"down", content_type="text/plain")
    answer = ask({"action": "failover", "target": "node2", "dry_run": True})
    assert answer["ok"] is False and answer["would"] == "refuse"
    assert "[refused:target_down]" in answer["reason"]


def test_a_malformed_dry_run_is_still_an_error_naming_the_field(pair: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequestError, match=r"field 'dry_run' = .yes."):
        ask({"action": "drain", "node": "node1", "dry_run": "yes"})


def test_the_cli_sends_dry_run_and_prints_the_plan() -> None:
    sent: list[dict[str, Any]] = []

    def transport(request: dict[str, Any]) -> Response:
        sent.append(request)
        payload = {
            "ok": True,
            "action": "drain",
            "group": "default",
            "dry_run": True,
            "would": "move",
            "reason": "failover: node1 is drained; node2 is up",
            "move": {"to": "node2", "from": "node1"},
            "probes": {"node1": {"ok": True, "detail": "HTTP 200"}},
        }
        return Response(payload=payload)

    out, err = io.StringIO(), io.StringIO()
    args = commands.build_parser().parse_args(["drain", "node1", "--dry-run", "--function-name", "f"])
    assert commands.run(args, transport, out, err) == 0
    assert sent == [{"action": "drain", "node": "node1", "dry_run": True}]
    assert "would move the addresses from node1 to node2" in out.getvalue()
    assert "nothing was written or moved" in out.getvalue()


def test_the_cli_prints_the_preflight_table_and_fails_when_a_check_fails() -> None:
    rows = [
        {"check": "ec2:DescribeAddresses", "target": "eipalloc-1", "status": "ok", "detail": "exists"},
        {
            "check": "ec2:AssociateAddress (DryRun)",
            "target": "node2: eipalloc-1 -> i-2",
            "status": "failed",
            "detail": "ec2:AssociateAddress denied for elastic-ip/eipalloc-1 with instance/i-2",
        },
    ]

    def transport(request: dict[str, Any]) -> Response:
        assert request == {"action": "preflight"}
        return Response(payload={"ok": False, "action": "preflight", "checks": rows, "status": None})

    out, err = io.StringIO(), io.StringIO()
    args = commands.build_parser().parse_args(["preflight", "--function-name", "f"])
    assert commands.run(args, transport, out, err) == 1
    assert "FAIL" in out.getvalue() and "denied for elastic-ip/eipalloc-1" in out.getvalue()
