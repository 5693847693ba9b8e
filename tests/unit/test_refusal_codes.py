"""A refused control request carries a machine-readable code from the core to the CLI.

`RefusedError.code` ends the error's message as ` [refused:<code>]`. Lambda's error document for an
unhandled exception is {"errorType": the class name, "errorMessage": str(error), ...} (the lab's
invoke helper reports the same two fields), so the code arrives with it, and the CLI acts on
errorType "RefusedError" and that code, never on the wording.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from botocore.response import StreamingBody

from nginx_eip_failover import cli
from nginx_eip_failover.core.decision import Context
from nginx_eip_failover.core.errors import InvalidRequestError, RefusedError, split_refusal
from nginx_eip_failover.core.state import ControllerState, Drain, MoveIntent
from nginx_eip_failover.service.operator_requests import apply_control, parse_control_request
from support.core_builders import FOREIGN, I1, down, settings, up

NOW = 10_000.0
BOTH_UP = ControllerState(nodes={"node1": up(), "node2": up()}, association=I1, observed=True)
MOVING = MoveIntent(id="m0", target="node1", source=None, reason="x", by="monitor", started_at=NOW - 1)

# (code, state, association, request, the field the message names)
REFUSALS: list[tuple[str, ControllerState, str | None, dict[str, Any], str]] = [
    (
        "target_down",
        ControllerState(nodes={"node1": up(), "node2": down()}, association=I1, observed=True),
        I1,
        {"action": "failover", "target": "node2"},
        "target",
    ),
    (
        "target_down",  # not probed yet: not up either
        ControllerState(nodes={"node1": up()}, association=I1, observed=True),
        I1,
        {"action": "failover", "target": "node2"},
        "target",
    ),
    (
        "target_drained",
        ControllerState(
            nodes=BOTH_UP.nodes, association=I1, observed=True, drains={"node2": Drain("maintenance", "operator", 1.0)}
        ),
        I1,
        {"action": "failover", "target": "node2", "force": True},
        "target",
    ),
    ("foreign_holder", BOTH_UP, FOREIGN, {"action": "failover", "target": "node1"}, "force"),
    (
        "move_in_progress",
        ControllerState(nodes=BOTH_UP.nodes, association=None, observed=True, move=MOVING),
        None,
        {"action": "failover", "target": "node2"},
        "action",
    ),
]
IDS = [f"{case[0]}-{index}" for index, case in enumerate(REFUSALS)]


def refused(state: ControllerState, association: str | None, request: dict[str, Any]) -> RefusedError:
    cfg = settings()
    with pytest.raises(RefusedError) as raised:
        apply_control(
            state, parse_control_request(request, cfg), association, Context(cfg, NOW, "operator"), move_id="m1"
        )
    return raised.value


@pytest.mark.parametrize(("code", "state", "association", "request_", "field"), REFUSALS, ids=IDS)
def test_each_refusal_carries_its_code_at_the_end_of_its_message(
    code: str, state: ControllerState, association: str | None, request_: dict[str, Any], field: str
) -> None:
    error = refused(state, association, request_)
    assert (error.code, error.field) == (code, field)
    message = str(error)
    assert message.startswith(f"invalid request: field '{field}' = ")
    assert message.endswith(f" [refused:{code}]")
    assert split_refusal(message) == (code, message.removesuffix(f" [refused:{code}]"))


def test_an_invalid_request_has_no_refusal_code() -> None:
    with pytest.raises(InvalidRequestError) as raised:
        parse_control_request({"action": "failover", "target": "node3"}, settings())
    assert not isinstance(raised.value, RefusedError)
    assert split_refusal(str(raised.value)) == (None, str(raised.value))


def lambda_error_document(error: Exception) -> dict[str, Any]:
    """What Lambda's Python runtime returns for an exception the handler raises."""
    return {"errorMessage": str(error), "errorType": type(error).__name__, "requestId": "r", "stackTrace": []}


@pytest.mark.parametrize(("code", "state", "association", "request_", "field"), REFUSALS, ids=IDS)
def test_the_code_travels_in_lambdas_error_document_to_the_cli(
    code: str, state: ControllerState, association: str | None, request_: dict[str, Any], field: str
) -> None:
    error = refused(state, association, request_)
    body = json.dumps(lambda_error_document(error)).encode()
    response = cli.decode_lambda_answer(
        {"FunctionError": "Unhandled", "Payload": StreamingBody(io.BytesIO(body), len(body))}
    )
    assert (response.error_type, response.refusal) == ("RefusedError", code)
    assert response.message == str(error).removesuffix(f" [refused:{code}]")
    out, err = io.StringIO(), io.StringIO()
    assert cli.main(["failover", "--to", "node2"], transport=lambda _: response, out=out, err=err) == 1
    hint = ["nginx-eip-failover: add --force to move the EIP there anyway"] if code in cli.FORCE_OVERRIDES else []
    assert err.getvalue().splitlines() == [f"nginx-eip-failover: {response.message}", *hint]
    assert out.getvalue() == ""
