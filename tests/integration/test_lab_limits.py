"""The contract's limits, black-box: handlers in fresh processes against the moto server, a node
answering with an upstream of 12,000 peers and 72 operator requests with long reasons in several
scripts. The old code passed DynamoDB's 400 KB item limit here and never failed over again."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from nginx_eip_failover_lab.environment import LabEnvironment
from support.lab_driving import loop_for, ok, place_on_node1

pytestmark = pytest.mark.integration

SCRIPTS = ["\u4e2d\u6587", "\U0001f525", "\u0416", "\u00e9", "\u05d0", "\u0928"]


def test_huge_upstreams_and_long_reasons_keep_the_item_small_and_failover_working(lab: LabEnvironment) -> None:
    place_on_node1(lab)
    # 72 accepted requests, each with a 500-character reason in another script.
    requests = [
        {"action": ("drain", "undrain")[index % 2], "node": "node2", "reason": SCRIPTS[index % len(SCRIPTS)] * 250}
        for index in range(72)
    ]
    with ThreadPoolExecutor(4) as pool:
        for result in pool.map(lab.control, requests):
            ok(result)
    ok(lab.control({"action": "undrain", "node": "node2", "reason": SCRIPTS[0] * 250}))  # whichever came last
    # node1 answers 200 with an upstream of 12,000 peers, none up.
    peers = [
        {"id": index, "server": f"10.0.{index // 250}.{index % 250}:80", "state": "down"} for index in range(12_000)
    ]
    (lab.nodes["node1"].dir / "api" / "upstream.json").write_text(json.dumps({"peers": peers}))
    payload = loop_for(lab, 2.5)
    assert [move["to"] for move in payload["moves"]] == ["node2"]
    assert lab.holder() == "node2"
    item = lab.item()
    assert item is not None
    size = len(json.dumps(item, ensure_ascii=False).encode())
    assert size < 100 * 1024, f"state item is {size} bytes"
    [down] = [entry for entry in lab.history("node_down") if entry["node"] == "node1"]
    assert "0/12000 peers up" in down["reason"] and len(down["reason"].encode()) <= 200
