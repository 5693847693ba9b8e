"""Control requests about the fleet as a whole: its document and its status table."""

from __future__ import annotations

import json
from typing import Any

from nginx_eip_failover.core.errors import ConflictError, InvalidRequestError, RefusedError
from nginx_eip_failover.core.fleet_config import parse_fleet_json
from nginx_eip_failover.core.ports import FleetStorePort
from nginx_eip_failover.observability import logger
from nginx_eip_failover.service.fleet import Fleet
from nginx_eip_failover.service.operator_requests import ControlRequest


def fleet_show(fleet: Fleet) -> dict[str, Any]:
    document = _store(fleet, "fleet_show").load(consistent=True)
    return {
        "ok": True,
        "action": "fleet_show",
        "version": document.version,
        "document": json.loads(document.text) if document.text else {"groups": []},
    }


def fleet_apply(request: ControlRequest, fleet: Fleet) -> dict[str, Any]:
    assert request.document is not None and request.version is not None  # required fields of fleet_apply
    # The text the functions will load, through the same checks (its size bound included): raises
    # naming the group, field and value, and writes nothing.
    groups = parse_fleet_json(request.document, fleet.base, fleet.reserved)
    try:
        new_version = _store(fleet, "fleet_apply").save(request.document, request.version)
    except ConflictError:
        raise RefusedError(
            "version",
            request.version,
            "the fleet document changed since you read it; show it again and re-apply",
            code="fleet_changed",
        ) from None
    logger.info("fleet document applied", extra={"version": new_version, "groups": [g.group for g in groups]})
    fleet.refresh(consistent=True)
    return {"ok": True, "action": "fleet_apply", "version": new_version, "groups": [g.group for g in groups]}


def fleet_status(fleet: Fleet) -> dict[str, Any]:
    """One row a group: where its addresses are, its nodes, pin, drains, alerts."""
    rows: list[dict[str, Any]] = []
    for name, controller in sorted(fleet.controllers().items()):
        try:
            status = controller.status()
        except Exception as exc:  # one group's AWS fault must not hide the others' rows
            rows.append({"group": name, "error": str(exc)[:200]})
            continue
        rows.append(
            {
                "group": name,
                "holder": status["eip"]["node"] or status["eip"]["instance_id"],
                "public_ip": status["eip"]["public_ip"],
                "nodes": {node: info["health"] for node, info in status["nodes"].items()},
                "pin": status["pin"]["node"] if status["pin"] else None,
                "drains": status["drains"],
                "alerts": status["alerts"],
            }
        )
    return {"ok": True, "action": "status", "fleet": rows}


def _store(fleet: Fleet, action: str) -> FleetStorePort:
    if fleet.store is None:
        raise InvalidRequestError("action", action, "is not served: this stack keeps no fleet document")
    return fleet.store
