"""A short demo of an address set: an EIP (by ENI + private IP), a secondary private IP and a /32
overlay route, all moved together when the active node fails.

    python -m nginx_eip_failover_lab address-set [--verbose] [--keep]

The lab is the usual one (moto server with EC2's address semantics, the stack from template.yaml)
plus one fleet group, `addr`, applied through the ControlFunction; its nodes are ports of one real
nginx. Steps: the first monitor invocation places the whole set on node1; node1's nginx port is
stopped; monitor invocations run back to back until every address is on node2, each checked with
EC2's describes (DescribeAddresses, DescribeNetworkInterfaces, DescribeRouteTables); the stack's
own pair must not have moved. Exit 0 only if every step behaved.
"""

from __future__ import annotations

import json
import time
from typing import Any

from nginx_eip_failover_lab.environment import LabEnvironment
from nginx_eip_failover_lab.iam.enforcement import summary_line

from .demo import QUICK

GROUP = "addr"


def _show(lab: LabEnvironment, say: Any) -> dict[str, str | None]:
    where = lab.group_placement(GROUP)
    for label, node in where.items():
        say(f"    {label:<36} on {node or 'nothing'}")
    return where


def run_address_set_demo(*, verbose: bool = False, keep: bool = False) -> int:
    started = time.monotonic()

    def say(text: str) -> None:
        print(f"{time.monotonic() - started:6.1f} s  {text}", flush=True)

    params = QUICK
    lab = LabEnvironment(settings=params.settings(), address_set_group=True)
    passed = False
    try:
        lab.start()
        group = lab.groups[GROUP]
        say(f"lab up: stack {lab.stack_name}; fleet document version {lab.fleet_version} applied via fleet_apply")
        say(
            f"group {GROUP!r}: node1 {group.instance_ids[0]} ({group.enis[0]}), node2 {group.instance_ids[1]} "
            f"({group.enis[1]}), one nginx serving both ports (pid {lab.fleet_nginx.pid if lab.fleet_nginx else '?'})"
        )
        say(f"  EIP {group.allocation_id} ({group.public_ip}) by ENI + private IP: {json.dumps(group.eip_private_ips)}")
        say(f"  secondary private IP {group.secondary_ip}; route {group.route} in {group.route_table_id}")
        result = lab.monitor(remaining_ms=1000)
        if not result.ok:
            say(f"monitor failed: {result.error_type}: {result.error_message}")
            return 1
        say("first monitor invocation: the set is placed on node1")
        placed = _show(lab, say)
        pair_holder = lab.holder()
        say(f"  (the stack's own pair: EIP {lab.allocation_id} on {pair_holder})")
        lab.groups[GROUP].nodes["node1"].stop()
        stopped = time.monotonic()
        say("node1's nginx port stopped (connections closed unanswered); monitor invocations back to back")
        moved_at = None
        while time.monotonic() - stopped < params.detection_bound:
            result = lab.monitor(remaining_ms=params.invocation_ms)
            if verbose and result.ok:
                say(f"  invocation: {json.dumps(result.payload.get('groups', {}).get(GROUP))[:300]}")
            if lab.group_holder(GROUP) == "node2":
                moved_at = time.monotonic()
                break
        if moved_at is None:
            say(f"the set did not reach node2 within {params.detection_bound:.0f} s:")
            _show(lab, say)
            return 1
        say(f"every address of the set is on node2, {moved_at - stopped:.1f} s after node1 stopped:")
        after = _show(lab, say)
        unchanged = lab.holder() == pair_holder
        say(f"  the stack's own pair did not move: {unchanged} (EIP on {lab.holder()})")
        passed = all(node == "node1" for node in placed.values()) and all(n == "node2" for n in after.values())
        passed = passed and unchanged
        iam_line, iam_allowed = summary_line(lab.proxy.iam if lab.proxy else None)
        say(iam_line)
        passed = passed and iam_allowed
        say("PASS: the address set moved as one decision" if passed else "FAIL: see above")
        return 0 if passed else 1
    finally:
        lab.stop()
        if keep or not passed:
            print(f"Lab files: {lab.dir}", flush=True)
        else:
            lab.remove_files()
