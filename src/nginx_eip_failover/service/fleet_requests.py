"""Control requests about the fleet as a whole: its document and its status table."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from nginx_eip_failover.core.errors import ConflictError, InvalidRequestError, RefusedError
from nginx_eip_failover.core.fleet_config import parse_fleet_json
from nginx_eip_failover.core.ports import FleetStorePort
from nginx_eip_failover.observability import logger
from nginx_eip_failover.service.fleet import Fleet


def handle_fleet_request(event: Mapping[str, Any], fleet: Fleet) -> dict[str, Any]:
    store = _store(fleet)
    if event["action"] == "fleet_show":
        document = store.load(consistent=True)
        return {
            "ok": True,
            "action": "fleet_show",
            "version": document.version,
            "document": json.loads(document.text) if document.text else {"groups": []},
        }
    version = event["version"]
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise InvalidRequestError("version", version, "must be the version `fleet_show` returned (0: none yet)")
    text = json.dumps(event["document"], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    # The text the functions will load, through the same checks (its size bound included): raises
    # naming the group, field and value, and writes nothing.
    groups = parse_fleet_json(text, fleet.base)
    try:
        new_version = store.save(text, version)
    except ConflictError:
        raise RefusedError(
            "version",
            version,
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


def _store(fleet: Fleet) -> FleetStorePort:
    if fleet.store is None:
        raise InvalidRequestError(
            "action", "fleet_show/fleet_apply", "is not served: this stack keeps no fleet document"
        )
    return fleet.store
