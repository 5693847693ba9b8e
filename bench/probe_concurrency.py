"""Probe concurrency: a hung node costs at most the timeout and never delays the other node.

Two real nginx nodes on 127.0.0.1, probed by the controller's own `HealthProber` (timeout 1 s):
1. both healthy: the baseline cycle time and per-node latency;
2. node1 hung (nginx SIGSTOPped: the kernel accepts the connection, nothing answers): the cycle
   takes about the timeout, and node2's probe latency is what it was in the baseline;
3. both hung: the cycle still takes about one timeout, not two (the slowest probe, not the sum).

    python -m bench.probe_concurrency [--trials N]
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from nginx_eip_failover.adapters.health_probe import HealthProber
from nginx_eip_failover.core.config import NodeConfig
from nginx_eip_failover_lab.nodes.nginx_node import NginxNode

from .common import Options, Row, median, parse_options, percentile, report, say, workdir

NAME = "probe_concurrency"
TIMEOUT_SECONDS = 1.0
# The prober waits for the deadline plus a 50 ms grace; thread start and scheduling on a busy
# 2-core machine add a little. A sequential prober would take 2 s with two hung nodes.
CYCLE_SLACK_SECONDS = 0.15
HEALTHY_P95_LIMIT_MS = 100.0


def _cycles(prober: HealthProber, count: int) -> tuple[list[float], dict[str, list[float]], dict[str, int]]:
    durations: list[float] = []
    latencies: dict[str, list[float]] = {}
    failures: dict[str, int] = {}
    for _ in range(count):
        started = time.monotonic()
        observations = prober.probe_all()
        durations.append((time.monotonic() - started) * 1000)
        for observation in observations:
            latencies.setdefault(observation.node, []).append(observation.latency_ms)
            failures[observation.node] = failures.get(observation.node, 0) + (0 if observation.ok else 1)
        time.sleep(0.05)
    return durations, latencies, failures


def run(options: Options) -> list[Row]:
    count = options.count(20, 5)
    with workdir(NAME) as base:
        nodes = [NginxNode("node1", base), NginxNode("node2", base)]
        try:
            for node in nodes:
                node.start()
            configs = [
                NodeConfig(node.name, f"i-{index:017x}", node.health_url, 101 - index)
                for index, node in enumerate(nodes)
            ]
            prober = HealthProber(configs, TIMEOUT_SECONDS)
            prober.probe_all()  # warm up the threads and imports
            say(f"[{NAME}] {count} cycles each: both healthy, node1 hung, both hung (timeout {TIMEOUT_SECONDS:g} s)")
            base_cycle, base_lat, base_fail = _cycles(prober, count)
            nodes[0].hang()
            hung_cycle, hung_lat, hung_fail = _cycles(prober, count)
            nodes[1].hang()
            both_cycle, _both_lat, both_fail = _cycles(prober, count)
        finally:
            for node in nodes:
                node.stop()

    timeout_ms = TIMEOUT_SECONDS * 1000
    limit_ms = (TIMEOUT_SECONDS + CYCLE_SLACK_SECONDS) * 1000
    figures = {
        "baseline cycle median ms": median(base_cycle),
        "baseline node2 latency median ms": median(base_lat["node2"]),
        "node1 hung: cycle median ms": median(hung_cycle),
        "node1 hung: cycle max ms": max(hung_cycle),
        "node1 hung: node2 latency median ms": median(hung_lat["node2"]),
        "node1 hung: node2 latency p95 ms": percentile(hung_lat["node2"], 0.95),
        "both hung: cycle median ms": median(both_cycle),
        "both hung: cycle max ms": max(both_cycle),
    }
    for label, value in figures.items():
        say(f"[{NAME}] {label}: {value:.1f}")
    say(
        f"[{NAME}] failed probes: baseline {base_fail}, node1 hung {hung_fail}, both hung {both_fail} "
        f"(of {count} per node)"
    )
    node2_clean = hung_fail.get("node2", 0) == 0 and base_fail.get("node2", 0) == 0
    hung_detected = hung_fail.get("node1", 0) == count and both_fail.get("node2", 0) == count
    return [
        Row(NAME, "cycle, both healthy (median)", f"{median(base_cycle):.0f} ms"),
        Row(
            NAME,
            "cycle, node1 hung (max)",
            f"{max(hung_cycle):.0f} ms",
            f"<= timeout + {CYCLE_SLACK_SECONDS * 1000:.0f} ms ({limit_ms:.0f} ms)",
            max(hung_cycle) <= limit_ms and hung_detected,
        ),
        Row(
            NAME,
            "node2 latency with node1 hung (p95)",
            f"{percentile(hung_lat['node2'], 0.95):.1f} ms (baseline {percentile(base_lat['node2'], 0.95):.1f})",
            f"unaffected, <= {HEALTHY_P95_LIMIT_MS:.0f} ms, all ok",
            percentile(hung_lat["node2"], 0.95) <= HEALTHY_P95_LIMIT_MS and node2_clean,
        ),
        Row(
            NAME,
            "cycle, both hung (max)",
            f"{max(both_cycle):.0f} ms (sum would be {2 * timeout_ms:.0f})",
            f"~ slowest probe, <= {limit_ms:.0f} ms",
            max(both_cycle) <= limit_ms,
        ),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    rows = run(parse_options(argv, __doc__ or ""))
    return report(rows)


if __name__ == "__main__":
    raise SystemExit(main())
