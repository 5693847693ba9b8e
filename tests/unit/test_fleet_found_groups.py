"""A fleet group with found nodes (docs/found-nodes.md) is kept across document versions that leave
it unchanged, although its controller's settings are its nodes' resolution of the cycle."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from nginx_eip_failover.core.config import Settings
from nginx_eip_failover.core.ports import FleetDocument
from nginx_eip_failover.service.fleet import Fleet
from support.core_builders import settings

BASE = settings()


def _group(name: str, first: int) -> dict[str, Any]:
    return {
        "name": name,
        "nodes": [
            {"instance_id": f"i-{first:017x}", "health_check_url": f"http://127.0.0.1:{first}/", "priority": 101},
            {"instance_tags": {"Role": name}, "health_check_url": "http://{private_ip}:8080/", "priority": 100},
        ],
        "elastic_ips": [{"allocation_id": f"eipalloc-{first + 0x1000:017x}"}],
    }


class _Controller:
    """Resolves its found node as FailoverController does each cycle (its settings change)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = replace(
            settings,
            nodes=tuple(replace(n, instance_id="i-0000000000000beef") if n.finder else n for n in settings.nodes),
        )


class _Store:
    def __init__(self, text: str) -> None:
        self.text, self.version = text, 1

    def load(self, *, consistent: bool = False) -> FleetDocument:
        return FleetDocument(self.text, self.version)

    def save(self, text: str, expected_version: int) -> int:
        raise AssertionError("not saved here")


def test_a_found_group_keeps_its_controller_when_another_group_is_added() -> None:
    store = _Store(json.dumps({"groups": [_group("web", 1)]}))
    fleet = Fleet(_Controller(BASE), _Controller, store)  # type: ignore[arg-type]
    web = fleet.controllers()["web"]
    store.text, store.version = json.dumps({"groups": [_group("web", 1), _group("api", 10)]}), 2
    fleet.refresh()
    assert sorted(fleet.controllers()) == ["api", "default", "web"]
    assert fleet.controllers()["web"] is web  # its cached state, probes and resolution kept
    store.text, store.version = json.dumps({"groups": [{**_group("web", 1), "settings": {"fall_threshold": 5}}]}), 3
    fleet.refresh()
    assert fleet.controllers()["web"] is not web  # changed: rebuilt
