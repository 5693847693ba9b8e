"""Fleet benchmarks on the lab: probing many groups in one monitor invocation, and an AZ outage.

    python -m bench.fleet [--quick] [-v]

- *Probing*: 50 groups (100 nodes: ports of one real nginx) + the stack's own pair, applied
  through the ControlFunction; one scheduled MonitorFunction invocation in a fresh process (a
  minute; `--quick`: 10 groups, 15 s) at the template's interval and timeout. Every fleet cycle is
  timed in that process (bench.fleet_monitor_child); its peak RSS is getrusage's ru_maxrss.
- *AZ outage*: 25 address-set groups (each an EIP by ENI + private IP, a secondary IP and a /32
  route: 75 mutating calls, past EC2's burst of 50) placed on node1; the proxy's EC2 request limit
  switched on (50 burst, 5/s); a monitor invocation probing; then every group's node1 stopped at
  once. The time until every address of every group is on node2 is read from outside with EC2's
  describes (polled every 0.1 s), against detection (FallThreshold x interval) + 5 s (the 25 calls
  beyond the burst at 5/s). Throttling errors surfaced = any move or cycle error of the
  invocation; RequestLimitExceeded answers absorbed by botocore's retries are counted apart.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nginx_eip_failover_lab.aws.ec2_request_limit import MUTATING_EC2_ACTIONS, Ec2RequestLimit
from nginx_eip_failover_lab.environment import LabEnvironment
from nginx_eip_failover_lab.nodes.fleet import fleet_placement

from . import figures as recorded
from .common import Options, Row, median, parse_options, percentile, report, say, workdir

REPO = Path(__file__).resolve().parents[1]
RSS_TARGET_MB = 128
OUTAGE_SLACK_S = 5.0


def _child(lab: LabEnvironment, remaining_ms: int) -> dict[str, Any]:
    assert lab.stack is not None
    env = {**lab.monitor_env, "PYTHONPATH": f"{REPO / 'src'}{os.pathsep}{REPO}"}
    done = subprocess.run(
        [sys.executable, "-m", "bench.fleet_monitor_child", "--remaining-ms", str(remaining_ms)],
        input=json.dumps(lab.stack.schedule_input),
        capture_output=True,
        text=True,
        env=env,
        timeout=remaining_ms / 1000 + 60,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"monitor invocation failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(lines[-1])  # type: ignore[no-any-return]


def _invoke_into(outcome: dict[str, Any], lab: LabEnvironment, remaining_ms: int) -> None:
    outcome.update(_child(lab, remaining_ms))


def _all_on(lab: LabEnvironment, node: str) -> bool:
    placed = fleet_placement(lab.ec2, list(lab.groups.values()))
    return all(where == node for group in placed.values() for where in group.values())


def _place(lab: LabEnvironment, deadline: float = 90.0) -> None:
    give_up = time.monotonic() + deadline
    while not (_all_on(lab, "node1") and lab.holder() == "node1"):
        if time.monotonic() > give_up:
            raise RuntimeError("the fleet was not placed on node1")
        result = lab.monitor(remaining_ms=4000)
        if not result.ok:
            raise RuntimeError(f"{result.error_type}: {result.error_message}")


def probing(options: Options) -> tuple[list[Row], dict[str, float]]:
    groups = 10 if options.quick else 50
    seconds = 15 if options.quick else 60
    with workdir("fleet-probing") as directory:
        lab = LabEnvironment(base_dir=directory, use_proxy=False, fleet_groups=groups)
        try:
            lab.start()
            interval = float(lab.monitor_env["HEALTH_CHECK_INTERVAL_SECONDS"])
            timeout = float(lab.monitor_env["HEALTH_CHECK_TIMEOUT_SECONDS"])
            _place(lab)
            say(f"[fleet] {groups} groups + the pair placed; one {seconds} s invocation, interval {interval:g} s")
            measured = _child(lab, seconds * 1000)
        finally:
            lab.stop()
    cycles = measured["cycles_s"][1:]  # the first cycle also reads every group's state
    cpu = measured["cycle_cpu_s"][1:]
    payload = measured["payload"]
    errors = sum(len(g.get("errors", [])) + len(g.get("move_errors", [])) for g in payload["groups"].values())
    rss_mb = measured["max_rss_kb"] / 1024
    p95 = percentile(cycles, 0.95)
    cpu_per_group_ms = 1000 * median(cpu) / (groups + 1)
    say(
        f"[fleet] cycles {len(measured['cycles_s'])}: median {median(cycles) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
        f"max {max(cycles) * 1000:.0f} ms; first {measured['cycles_s'][0] * 1000:.0f} ms; CPU per cycle "
        f"{median(cpu) * 1000:.0f} ms ({cpu_per_group_ms:.2f} ms per group); init CPU {measured['init_cpu_s']:.2f} s; "
        f"peak RSS {rss_mb:.0f} MB; group errors {errors}"
    )
    rows = [
        Row(
            "fleet",
            f"probing {groups} groups ({2 * groups} nodes) + the pair, one invocation: cycle p95 / max "
            f"({len(cycles)} cycles)",
            f"{p95:.3f} / {max(cycles):.3f} s (median {median(cycles):.3f} s)",
            f"p95 <= interval ({interval:g} s)",
            p95 <= interval and errors == 0,
        ),
        Row(
            "fleet",
            f"probing {groups} groups: monitor process peak RSS",
            f"{rss_mb:.0f} MB",
            f"fits {RSS_TARGET_MB} MB",
            rss_mb <= RSS_TARGET_MB,
        ),
        Row(
            "fleet",
            f"probing {groups} groups: CPU per cycle (per group)",
            f"{median(cpu) * 1000:.0f} ms ({cpu_per_group_ms:.2f} ms)",
        ),
    ]
    figures = {
        "groups": float(groups),
        "interval_s": interval,
        "timeout_s": timeout,
        "cycle_cpu_s": median(cpu),
        "cpu_per_group_cycle_s": median(cpu) / (groups + 1),
        "rss_mb": rss_mb,
    }
    if not options.quick:
        command, when = recorded.invoked_command(), recorded.now()
        where = f"{groups} groups + the pair, one invocation"
        recorded.record_all(
            recorded.Figure(f"fleet.{key}", value, unit, f"{label}, {where}", command, when, decimals)
            for key, value, unit, label, decimals in (
                ("cycle_p95_s", p95, "s", "cycle p95", 2),
                ("cycle_max_s", max(cycles), "s", "cycle max", 2),
                ("cycle_median_s", median(cycles), "s", "cycle median", 2),
                ("peak_rss_mb", rss_mb, "MB", "monitor peak RSS", 0),
            )
        )
    return rows, figures


def az_outage(options: Options) -> list[Row]:
    groups = 10 if options.quick else 25
    trials = options.count(3, 1)
    durations: list[float] = []
    surfaced: list[int] = []
    absorbed: list[int] = []
    sent: list[int] = []
    detection = 0.0
    for trial in range(trials):
        with workdir("fleet-outage") as directory:
            lab = LabEnvironment(base_dir=directory, fleet_groups=groups, full_address_sets=True)
            try:
                lab.start()
                assert lab.proxy is not None
                interval = float(lab.monitor_env["HEALTH_CHECK_INTERVAL_SECONDS"])
                fall = int(lab.monitor_env["FALL_THRESHOLD"])
                detection = fall * interval
                _place(lab)
                limit = lab.proxy.limit_ec2_requests(Ec2RequestLimit(burst=50, refill_per_second=5))
                assert limit is not None
                lab.proxy.reset()
                outcome: dict[str, Any] = {}
                invocation = threading.Thread(target=_invoke_into, args=(outcome, lab, 30_000), daemon=True)
                invocation.start()
                time.sleep(5.0)  # the invocation is probing (a fresh process: imports, first cycle)
                stopped = time.monotonic()
                for group in lab.groups.values():
                    group.nodes["node1"].stop()
                while not _all_on(lab, "node2") and time.monotonic() - stopped < 25:
                    time.sleep(0.1)
                done = time.monotonic() - stopped if _all_on(lab, "node2") else float("inf")
                invocation.join(60)
                payload = outcome.get("payload") or {}
                errors = [*payload.get("move_errors", []), *payload.get("cycle_errors", [])]
                for summary in (payload.get("groups") or {}).values():
                    errors += [*summary.get("move_errors", []), *summary.get("errors", [])]
                calls = [c for c in lab.proxy.calls() if c.service == "ec2" and c.action in MUTATING_EC2_ACTIONS]
                durations.append(done)
                surfaced.append(len(errors))
                absorbed.append(limit.throttled)
                sent.append(sum(1 for call in calls if call.fault is None))
                say(
                    f"[fleet] outage trial {trial + 1}: every address on node2 after {done:.2f} s; "
                    f"{sent[-1]} mutating calls; throttled and retried {limit.throttled}; errors {errors[:3]}"
                )
            finally:
                lab.stop()
    target = detection + OUTAGE_SLACK_S
    worst = max(durations)
    if not options.quick and all(math.isfinite(d) for d in durations):
        command, when = recorded.invoked_command(), recorded.now()
        where = f"{groups} groups x 3 addresses, EC2 limit on: all on the survivor, {trials} trials"
        recorded.record_all(
            [
                recorded.Figure("fleet.az_outage_worst_s", worst, "s", f"AZ outage, worst; {where}", command, when),
                recorded.Figure(
                    "fleet.az_outage_median_s", median(durations), "s", f"AZ outage, median; {where}", command, when
                ),
            ]
        )
    return [
        Row(
            "fleet",
            f"AZ outage: {groups} groups x (EIP + secondary IP + route) at once, EC2 limit on (50, 5/s): "
            f"all on the survivor, worst of {trials}",
            f"{worst:.2f} s (median {median(durations):.2f} s; {max(sent)} mutating calls)",
            f"<= detection ({detection:g} s) + {OUTAGE_SLACK_S:g} s = {target:g} s",
            worst <= target,
        ),
        Row(
            "fleet",
            "AZ outage: throttling errors surfaced (move and cycle errors)",
            f"{sum(surfaced)} (RequestLimitExceeded answers retried by botocore: {', '.join(map(str, absorbed))})",
            "0",
            sum(surfaced) == 0,
        ),
    ]


def run(options: Options) -> tuple[list[Row], dict[str, float]]:
    rows, figures = probing(options)
    return rows + az_outage(options), figures


def main(argv: Sequence[str] | None = None) -> int:
    rows, _ = run(parse_options(argv, __doc__ or ""))
    return report(rows)


if __name__ == "__main__":
    raise SystemExit(main())
