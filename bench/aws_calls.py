"""AWS calls per minute, by API, counted with botocore event hooks on the controller's own clients.

The real MonitorFunction handler runs in this process against the lab (moto server + the stack from
template.yaml + two real nginx nodes), with a Lambda context whose remaining time is the template's
timeout (150 s). 60 s after it starts, the next scheduled invocation registers in the monitor lease
(written here with the lab's own client, so not counted), and the invocation hands over at its next
lease read: one invocation is one scheduled minute. A `before-call.*.*` hook on each client that
`aws_clients` creates counts every API call (calls to the lease table are named "(lease)"); an
`after-call` hook records the DynamoDB item sizes, from which the read and write capacity units are
computed (on-demand bills RRU/WRU, not calls).

1. steady minute: both nodes up, nothing changes (a new container, as after a deployment);
2. failover minute: node1's nginx is stopped 10 s in and restarted 35 s in (the same container,
   warm, as the next scheduled invocation would be).

The handler's stdout (Powertools logs and EMF metric lines) is captured: its size per invocation
is what CloudWatch Logs ingests (used by bench.cost).

    python -m bench.aws_calls [--quick]
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import threading
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from .common import Options, Row, parse_options, report, say

NAME = "aws_calls"
TIMEOUT_MS = 150_000  # the template's MonitorFunction Timeout
QUICK_MS = 20_000
SUCCESSOR_SECONDS = 60.0  # when the next scheduled invocation registers (15 s with --quick)
QUICK_SUCCESSOR_SECONDS = 15.0
MUTATIONS = {"AssociateAddress", "DisassociateAddress", "AllocateAddress", "ReleaseAddress"}
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
READS = {"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"}
REQUEST_ID = "bench-aws-calls"  # in every log line: its length counts in log_bytes
LEASE = " (lease)"  # suffix of the calls to the monitor lease table
# monitor_loop.LEASE_CHECK_SECONDS. Not imported: the package must be imported only after the lab's
# environment is in place (Powertools' Metrics reads its namespace when it is created).
LEASE_CHECK_SECONDS = 10.0
SNAPSHOT_MAX_AGE_SECONDS = 30.0  # controller.SNAPSHOT_MAX_AGE_SECONDS, not imported for the same reason


def attribute_size(name: str, value: dict[str, Any]) -> int:
    """DynamoDB's item size rules, for the attribute types the state item uses."""
    size = len(name.encode())
    kind, content = next(iter(value.items()))
    if kind == "S":
        return size + len(content.encode())
    if kind == "N":
        digits = len(content.lstrip("-").replace(".", "").lstrip("0")) or 1
        return size + math.ceil(digits / 2) + 1
    if kind == "BOOL" or kind == "NULL":
        return size + 1
    return size + len(json.dumps(content))


def item_size(item: dict[str, Any]) -> int:
    return sum(attribute_size(name, value) for name, value in item.items())


class CallCounter:
    def __init__(self, lease_table: str | None = None) -> None:
        self.lease_table = lease_table
        self.calls: Counter[str] = Counter()
        self.read_units = 0.0
        self.write_units = 0.0
        self.eventual_reads = 0  # GetItem with ConsistentRead false (half the price), lease excluded
        self.item_sizes: list[int] = []
        self._lock = threading.Lock()

    def attach(self, client: Any) -> None:
        client.meta.events.register("before-parameter-build.dynamodb.*", self._mark_lease)
        client.meta.events.register("before-call.*.*", self._before)
        client.meta.events.register("before-parameter-build.dynamodb.PutItem", self._put_item)
        client.meta.events.register("after-call.dynamodb.*", self._after_dynamodb)

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.read_units = self.write_units = 0.0
            self.eventual_reads = 0
            self.item_sizes.clear()

    def _mark_lease(self, params: dict[str, Any], context: dict[str, Any], **kwargs: Any) -> None:
        context["lease"] = self.lease_table is not None and params.get("TableName") == self.lease_table
        context["eventual"] = not params.get("ConsistentRead", False)

    def _before(self, model: Any, context: dict[str, Any] | None = None, **kwargs: Any) -> None:
        suffix = LEASE if (context or {}).get("lease") else ""
        with self._lock:
            self.calls[f"{model.service_model.service_name}:{model.name}{suffix}"] += 1

    def _put_item(self, params: dict[str, Any], **kwargs: Any) -> None:
        # A conditional put bills the larger of the old and the new item; they differ by a history line.
        size = item_size(params.get("Item") or {})
        with self._lock:
            self.item_sizes.append(size)
            self.write_units += math.ceil(size / 1024)  # 1 WRU per 1 KB written

    def _after_dynamodb(self, model: Any, parsed: dict[str, Any], context: dict[str, Any], **kwargs: Any) -> None:
        if model.name == "GetItem":
            size = item_size(parsed.get("Item") or {})
            eventual = bool(context.get("eventual"))
            with self._lock:
                self.item_sizes.append(size)
                # 1 RRU per 4 KB strongly consistent, half of that eventually consistent.
                self.read_units += max(1, math.ceil(size / 4096)) * (0.5 if eventual else 1.0)
                if eventual and not context.get("lease"):
                    self.eventual_reads += 1


def register_successor(lab: Any) -> None:
    """The next scheduled invocation starts and registers in the monitor lease (the lab's client)."""
    from nginx_eip_failover.adapters.dynamodb.monitor_lease import MonitorLeaseStore
    from nginx_eip_failover.core.ports import MonitorLease

    store = MonitorLeaseStore(lab.dynamodb, lab.monitor_env["MONITOR_LEASE_TABLE_NAME"], lab.allocation_id)
    store.register(MonitorLease(round(time.time(), 3), f"bench-successor-{time.monotonic():.3f}"))


def _later(seconds: float, action: Any) -> threading.Timer:
    timer = threading.Timer(seconds, action)
    timer.daemon = True
    timer.start()
    return timer


def measure(options: Options) -> dict[str, Any]:
    """Run the two minutes; figures per minute (scaled to 60 s of coverage in --quick mode)."""
    from nginx_eip_failover_lab.environment import LabEnvironment
    from nginx_eip_failover_lab.lambda_context import LambdaContextDouble

    remaining_ms = QUICK_MS if options.quick else TIMEOUT_MS
    successor = QUICK_SUCCESSOR_SECONDS if options.quick else SUCCESSOR_SECONDS
    figures: dict[str, Any] = {"remaining_ms": remaining_ms, "successor_s": successor}
    saved_env = dict(os.environ)
    with LabEnvironment(use_proxy=False) as lab:
        placed = lab.monitor(remaining_ms=1000)
        if not placed.ok:
            raise RuntimeError(f"the lab's first monitor invocation failed: {placed.error_message}")
        # A fresh process flushes its metrics once: the metric set every new container publishes,
        # in the template's default profile (the lab's) and, one more invocation, in the other one.
        figures["emf_metrics_fresh"] = _emf_metrics(placed.logs)
        figures["profile"] = lab.monitor_env.get("OBSERVABILITY_PROFILE", "lean")
        other = "full" if figures["profile"] == "lean" else "lean"
        again = lab.monitor(remaining_ms=1000, env={"OBSERVABILITY_PROFILE": other})
        if not again.ok:
            raise RuntimeError(f"the {other} profile's monitor invocation failed: {again.error_message}")
        by_profile = {figures["profile"]: placed.logs, other: again.logs}
        figures["emf_metrics_by_profile"] = {name: _emf_metrics(logs) for name, logs in by_profile.items()}
        # What the other profile's metric lines add to (or take from) each invocation's log bytes.
        figures["emf_bytes_by_profile"] = {name: _emf_bytes(logs) for name, logs in by_profile.items()}
        captured = io.StringIO()
        try:
            os.environ.update({k: v for k, v in lab.monitor_env.items() if k not in ("PATH", "PYTHONPATH")})
            os.environ["AWS_LAMBDA_FUNCTION_NAME"] = "MonitorFunction"
            with contextlib.redirect_stdout(captured):
                from nginx_eip_failover.adapters import aws_clients
                from nginx_eip_failover.handlers import monitor, wiring
                from nginx_eip_failover.observability import metrics

                # Powertools reads these when the package is first imported; in `python -m bench`
                # another benchmark (schedule_coverage) may have imported it before the lab existed.
                metrics.namespace = os.environ["POWERTOOLS_METRICS_NAMESPACE"]
                metrics.service = os.environ["POWERTOOLS_SERVICE_NAME"]

                counter = CallCounter(lab.monitor_env.get("MONITOR_LEASE_TABLE_NAME"))
                for client in (aws_clients.ec2(), aws_clients.dynamodb(), aws_clients.sns()):
                    counter.attach(client)
                # Settle the lab's fresh state (rise counters reach their cap), as a running pair has.
                monitor.lambda_handler({"trigger": "schedule"}, LambdaContextDouble(4000, aws_request_id=REQUEST_ID))
                for minute in ("steady", "failover"):
                    # The next scheduled invocation finds the state it cached a minute ago (or none).
                    wiring.controller.cache_clear()
                    counter.reset()
                    captured.seek(0)
                    captured.truncate()
                    timers = [_later(successor, lambda: register_successor(lab))]
                    if minute == "failover":
                        scale = successor / SUCCESSOR_SECONDS
                        timers += [
                            _later(10 * scale, lab.nodes["node1"].stop),
                            _later(35 * scale, lab.nodes["node1"].start),
                        ]
                    say(
                        f"[{NAME}] {minute} minute: one invocation ({remaining_ms / 1000:g} s timeout) in this "
                        f"process; the next registers after {successor:g} s"
                    )
                    started = time.monotonic()
                    result = monitor.lambda_handler(
                        {"trigger": "schedule"}, LambdaContextDouble(remaining_ms, aws_request_id=REQUEST_ID)
                    )
                    seconds = time.monotonic() - started
                    for timer in timers:
                        timer.join()
                    per_minute = 60.0 / max(1.0, float(result["seconds"]) + 1.0) if options.quick else 1.0
                    output = captured.getvalue()
                    figures[minute] = {
                        "seconds": round(seconds, 2),
                        "ended": result["ended"],
                        "cycles": result["cycles"],
                        "moves": [move["to"] for move in result["moves"]],
                        "calls": {api: round(n * per_minute, 1) for api, n in sorted(counter.calls.items())},
                        "read_units": round(counter.read_units * per_minute, 1),
                        "eventual_reads": round(counter.eventual_reads * per_minute, 1),
                        "write_units": round(counter.write_units * per_minute, 1),
                        "item_bytes_max": max(counter.item_sizes, default=0),
                        "log_bytes": len(output.encode()),
                        "log_lines": output.count("\n"),
                        "emf_lines": sum(1 for line in output.splitlines() if '"_aws"' in line),
                        "scale": round(per_minute, 3),
                    }
                    figures[minute]["emf_metrics"] = _emf_metrics(output)
                    if options.verbose:
                        say(output)
                    say(f"[{NAME}] {minute}: {json.dumps(figures[minute])}")
        finally:
            os.environ.clear()
            os.environ.update(saved_env)
        state = lab.state()
        history = state.get("history") or []
        if history:
            entry_bytes = [len(json.dumps(entry, sort_keys=True, separators=(",", ":"))) for entry in history]
            figures["history_entry_bytes"] = sum(entry_bytes) / len(entry_bytes)
            base = figures["failover"]["item_bytes_max"] - sum(entry_bytes)
            from nginx_eip_failover.core.state import HISTORY_LIMIT  # the item's history, full

            figures["history_limit"] = HISTORY_LIMIT
            figures["item_bytes_full_history"] = int(base + HISTORY_LIMIT * figures["history_entry_bytes"])
    return figures


def _emf_bytes(output: str) -> int:
    return sum(len(line.encode()) + 1 for line in output.splitlines() if '"_aws"' in line)


def _emf_metrics(output: str) -> list[str]:
    """The distinct (metric, dimensions) the EMF lines define: what CloudWatch bills as custom metrics."""
    found: set[str] = set()
    for line in output.splitlines():
        if '"_aws"' not in line:
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        for directive in record["_aws"].get("CloudWatchMetrics", []):
            for dimensions in directive.get("Dimensions", [[]]):
                values = ",".join(f"{name}={record.get(name)}" for name in sorted(dimensions))
                for metric in directive.get("Metrics", []):
                    found.add(f"{metric['Name']}[{values}]")
    return sorted(found)


def rows_from(figures: dict[str, Any]) -> list[Row]:
    steady = figures["steady"]
    failover = figures["failover"]

    def by_api(calls: dict[str, float]) -> str:
        return ", ".join(f"{api.split(':', 1)[1]} {n:g}" for api, n in calls.items()) or "none"

    def count(calls: dict[str, float], names: set[str]) -> float:
        return sum(n for api, n in calls.items() if api.split(":", 1)[1].removesuffix(LEASE) in names)

    def lease(calls: dict[str, float], names: set[str]) -> float:
        return sum(
            n for api, n in calls.items() if api.endswith(LEASE) and api.split(":", 1)[1].removesuffix(LEASE) in names
        )

    def per_node(metrics: list[str]) -> int:
        return sum(1 for metric in metrics if "Node=" in metric)

    mutations = count(steady["calls"], MUTATIONS)
    writes = count(steady["calls"], WRITES)
    reads = count(steady["calls"], READS)
    note = " (scaled from a shorter run)" if steady["scale"] != 1.0 else ""
    return [
        Row(NAME, f"steady minute: calls by API{note}", by_api(steady["calls"])),
        Row(NAME, "steady minute: EC2 mutations", f"{mutations:g}", "0", mutations == 0),
        Row(
            NAME,
            "steady minute: DynamoDB writes",
            f"{writes:g}, the lease's {lease(steady['calls'], WRITES):g} ({steady['write_units']:g} WRU)",
            "<= 1 (the lease)",
            writes <= 1,
        ),
        Row(
            NAME,
            "steady minute: DynamoDB reads",
            f"{reads:g}, the lease's {lease(steady['calls'], READS):g} "
            f"({steady['read_units']:g} RRU, state item {steady['item_bytes_max']} B)",
            "state: 1 + 1 per 30 s of cache age; lease: 1 per 10 s (<= 10)",
            reads <= (60 / SNAPSHOT_MAX_AGE_SECONDS + 1) + (steady["seconds"] / LEASE_CHECK_SECONDS + 1),
        ),
        Row(
            NAME,
            "steady minute: the invocation's length / how it ended",
            f"{steady['seconds']:.1f} s / {steady['ended']} (the next registered at {figures['successor_s']:g} s)",
        ),
        Row(NAME, "failover minute: calls by API", by_api(failover["calls"])),
        Row(
            NAME,
            "EMF per-node metrics (Node=...): new container / warm container",
            f"{per_node(figures['emf_metrics_fresh'])} / {per_node(steady['emf_metrics'])}",
            "the same (NodeUp, ProbeLatency per node)",
            per_node(steady["emf_metrics"]) == per_node(figures["emf_metrics_fresh"]),
        ),
        Row(
            NAME,
            "failover minute: DynamoDB writes / EC2 mutations",
            f"{count(failover['calls'], WRITES):g} ({failover['write_units']:g} WRU) / "
            f"{count(failover['calls'], MUTATIONS):g} (moves: {', '.join(failover['moves']) or 'none'})",
        ),
    ]


def run(options: Options) -> tuple[list[Row], dict[str, Any]]:
    figures = measure(options)
    return rows_from(figures), figures


def main(argv: Sequence[str] | None = None) -> int:
    rows, _figures = run(parse_options(argv, __doc__ or ""))
    return report(rows)


if __name__ == "__main__":
    raise SystemExit(main())
