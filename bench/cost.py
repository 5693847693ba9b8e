"""Monthly bill for one HA pair, from measured figures, next to an NLB and Route 53 health checks.

Inputs measured by bench.aws_calls on the lab (one scheduled minute of the real handler): DynamoDB
calls and item size (-> RRU/WRU; the monitor lease's calls apart, at their own size), the bytes the
handler writes to its log stream, the EMF metric set. The billed seconds per minute come from
bench.schedule_coverage (the real loop and hand-off on a fake clock, starts jittered within their
minute): about 67 s, the minute plus the overlap until the older invocation reads the lease. The
rest is the template: 128 MB arm64, a schedule of one invocation per minute (150 s timeout, handed
over to the next), 4 alarms (2 node StatusCheckFailed alarms,
MonitorNotRunning, FunctionErrors = metric math over 2 metrics), a dashboard, a KMS key for the
SNS topic, the optional interface endpoints (every one the template can create, read from it).

Prices: us-east-1 list prices, written next to each line (PRICES below, with where they were
checked). A month is 730 hours (43,800 minutes), as AWS's calculator uses.

    python -m bench.cost [--quick] [--failovers-per-month N] [--pairs-per-invocation K]
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from . import figures as recorded
from .common import Options, Row, report, say

NAME = "cost"
HOURS = 730.0
MINUTES = HOURS * 60
MEMORY_GB = 128 / 1024
TARGET_DOLLARS = 1.0
PRICES_CHECKED = (
    "us-east-1 list prices as published on the AWS pricing pages for Lambda, DynamoDB, CloudWatch, "
    "ELB, Route 53, PrivateLink, EC2 (EIP remaps) and VPC (public IPv4); cross-checked on "
    "2026-11-25 against stored copies of those pages and third-party summaries (kodekloud Lambda "
    "notes, airbyte DynamoDB pricing after the Nov 2024 cut, clustercost NLB 2025, factualminds "
    "CloudWatch 2026, aws.amazon.com/privatelink/pricing). EIP remap and KMS prices not re-checked."
)
PRICES = {
    "lambda_gb_s": 0.0000133334,  # arm64, first 7.5 billion GB-s/month
    "lambda_request": 0.20 / 1e6,
    "lambda_free_gb_s": 400_000,  # monthly free tier (account-wide, all functions)
    "lambda_free_requests": 1_000_000,
    "dynamodb_wru": 0.625 / 1e6,  # on-demand, since the Nov 2024 price cut
    "dynamodb_rru": 0.125 / 1e6,  # 1 RRU = one strongly consistent read of up to 4 KB
    "eip_remap": 0.10,  # beyond 100 remaps per month
    "eip_free_remaps": 100,
    "public_ipv4_hour": 0.005,
    "alarm_metric": 0.10,  # standard resolution, per metric in the alarm
    "custom_metric": 0.30,  # first 10,000 metrics, prorated by the hour
    "logs_ingest_gb": 0.50,
    "logs_store_gb_month": 0.03,
    "dashboard": 3.00,  # beyond 3 free dashboards
    "kms_key": 1.00,
    "interface_endpoint_hour": 0.01,  # per AZ
    "nlb_hour": 0.0225,
    "nlcu_hour": 0.006,
    "r53_health_check": 0.50,  # AWS endpoint
    "r53_optional_feature": 1.00,  # each of HTTPS, string matching, fast (10 s) interval, latency
    "r53_hosted_zone": 0.50,
}
# Lambda adds START, END and REPORT lines per invocation (about 350 bytes); CloudWatch Logs bills
# 26 bytes of overhead per event on top of the message.
PLATFORM_LOG_BYTES = 350
LEASE = " (lease)"  # bench.aws_calls names the calls to the monitor lease table so
EVENT_OVERHEAD_BYTES = 26


@dataclass(frozen=True)
class Line:
    group: str  # "target": Lambda + DynamoDB + alarms; "other": the rest of this stack's bill
    item: str
    quantity: str
    price: str
    dollars: float


def _money(value: float) -> str:
    return f"${value:,.2f}" if value >= 0.01 or value == 0 else f"${value:.4f}"


def bill(measured: dict[str, Any], failovers: float, pairs_per_invocation: int = 1, azs: int = 2) -> list[Line]:
    """One pair's monthly lines. Shared lines (the monitor's duration, the two stack alarms) are
    divided by `pairs_per_invocation` (a what-if: the code watches one pair per stack today)."""
    p = PRICES
    steady, failover = measured["steady"], measured["failover"]
    k = pairs_per_invocation
    stack_alarms = template_alarm_metrics("lean") - 2  # the template's default profile
    invocations = MINUTES  # the schedule: one per minute; each runs until the next has taken over
    duration = measured["duration_s"]
    gb_s = invocations * duration * MEMORY_GB
    lines = [
        Line(
            "target",
            "Lambda monitor: duration",
            f"{invocations:,.0f} inv x {duration:.1f} s x 0.125 GB"
            f" = {gb_s:,.0f} GB-s" + (f" / {k} pairs" if k > 1 else ""),
            f"{p['lambda_gb_s']} $/GB-s",
            gb_s * p["lambda_gb_s"] / k,
        ),
        Line(
            "target",
            "Lambda monitor: requests",
            f"{invocations:,.0f}" + (f" / {k}" if k > 1 else ""),
            "$0.20 per 1M",
            invocations * p["lambda_request"] / k,
        ),
        Line(
            "target",
            "Lambda control: operator requests",
            "~100 x 2 s x 0.125 GB",
            f"{p['lambda_gb_s']} $/GB-s",
            100 * 2 * MEMORY_GB * p["lambda_gb_s"] + 100 * p["lambda_request"],
        ),
    ]
    # DynamoDB: steady reads (and writes, if any) every minute; each failover event = the failover
    # minute's writes and again for the failback (preemption), at the size of an item whose
    # history is full (100 entries).
    full_item = measured.get("item_bytes_full_history", steady["item_bytes_max"])
    rru_per_read = max(1, math.ceil(full_item / 4096))
    wru_per_write = max(1, math.ceil(full_item / 1024))
    reads = _count(steady["calls"], "GetItem") * MINUTES
    steady_writes = _count(steady["calls"], "PutItem") * MINUTES
    event_writes = 2 * _count(failover["calls"], "PutItem") * failovers
    # The monitor lease: an item under 100 bytes, 1 WRU a write, half an RRU an eventually consistent read.
    lease_writes = _count(steady["calls"], "PutItem" + LEASE) * MINUTES
    lease_reads = _count(steady["calls"], "GetItem" + LEASE) * MINUTES
    lines += [
        Line(
            "target",
            "DynamoDB reads (GetItem, consistent)",
            f"{reads:,.0f} x {rru_per_read} RRU (item {full_item / 1024:.1f} KB with a full history)",
            "$0.125 per 1M RRU",
            reads * rru_per_read * p["dynamodb_rru"],
        ),
        Line(
            "target",
            "DynamoDB writes (PutItem)",
            f"{steady_writes:,.0f} steady + {event_writes:,.0f} for "
            f"{failovers:g} failovers (and failbacks) x {wru_per_write} WRU",
            "$0.625 per 1M WRU",
            (steady_writes + event_writes) * wru_per_write * p["dynamodb_wru"],
        ),
        Line(
            "target",
            "DynamoDB monitor lease (its own table)",
            f"{lease_writes:,.0f} writes x 1 WRU + {lease_reads:,.0f} eventually consistent reads x 0.5 RRU",
            "$0.625 per 1M WRU, $0.125 per 1M RRU",
            lease_writes * p["dynamodb_wru"] + lease_reads * 0.5 * p["dynamodb_rru"],
        ),
        Line(
            "target",
            "CloudWatch alarms",
            f"2 node alarms + {stack_alarms} stack alarm metrics (MonitorNotRunning, MonitorErrors)"
            + (f", shared by {k} pairs" if k > 1 else ""),
            "$0.10 per alarm metric",
            2 * p["alarm_metric"] + stack_alarms * p["alarm_metric"] / k,
        ),
    ]
    moves = 2 * failovers
    log_bytes = (
        steady["log_bytes"]
        + EVENT_OVERHEAD_BYTES * steady["log_lines"]
        + PLATFORM_LOG_BYTES
        + (EVENT_OVERHEAD_BYTES * 3)
    )
    log_gb = log_bytes * invocations / 1e9
    continuous = continuous_metrics(measured, "lean")  # the template's default profile
    endpoints = template_interface_endpoints()
    lines += [
        Line(
            "other",
            "EIP remaps",
            f"{moves:g} moves (failover + failback) - 100 free",
            "$0.10 per remap beyond 100",
            max(0.0, moves - p["eip_free_remaps"]) * p["eip_remap"],
        ),
        Line(
            "other",
            "CloudWatch custom metrics (EMF)",
            f"{len(continuous)} billed all month: " + ", ".join(sorted({m.split("[")[0] for m in continuous})),
            "$0.30 per metric-month",
            len(continuous) * p["custom_metric"],
        ),
        Line(
            "other",
            "CloudWatch Logs ingestion",
            f"{log_bytes:,.0f} B per invocation x {invocations:,.0f} = {log_gb * 1000:.0f} MB",
            "$0.50 per GB",
            log_gb * p["logs_ingest_gb"],
        ),
        Line(
            "other",
            "CloudWatch Logs storage",
            f"{log_gb * 1000:.0f} MB kept 30 days",
            "$0.03 per GB-month",
            log_gb * p["logs_store_gb_month"],
        ),
        # The dashboard ($3) and the topic's KMS key ($1) come with ObservabilityProfile=full only.
        Line(
            "other",
            "Public IPv4 (the EIP itself)",
            "730 h; any design keeping a public IP pays it",
            "$0.005 per hour",
            HOURS * p["public_ipv4_hour"],
        ),
        Line(
            "optional",
            f"VPC interface endpoints ({', '.join(endpoints)})",
            f"{len(endpoints)} endpoints x {azs} AZs x 730 h (the DynamoDB gateway endpoint is free)",
            "$0.01 per endpoint-AZ-hour",
            len(endpoints) * azs * HOURS * p["interface_endpoint_hour"],
        ),
    ]
    return lines


OBSERVER_HEARTBEAT_SECONDS = 10  # template parameter ObserverHeartbeatSeconds, its default


def observer_bill(measured: dict[str, Any], memory_mb: int = 128) -> list[Line]:
    """What one extra observer (Observer2/3Function) adds a month: its own invocation chain, billed
    as the monitor's (the same loop and hand-off), its heartbeats (1 WRU each), its own lease."""
    p = PRICES
    duration = measured["duration_s"]
    gb_s = MINUTES * duration * memory_mb / 1024
    heartbeats = MINUTES * 60 / OBSERVER_HEARTBEAT_SECONDS
    steady = measured["steady"]
    lease_writes = _count(steady["calls"], "PutItem" + LEASE) * MINUTES
    lease_reads = _count(steady["calls"], "GetItem" + LEASE) * MINUTES
    return [
        Line(
            "observer",
            "Lambda: duration",
            f"{MINUTES:,.0f} inv x {duration:.1f} s x {memory_mb} MB",
            f"{p['lambda_gb_s']} $/GB-s",
            gb_s * p["lambda_gb_s"],
        ),
        Line("observer", "Lambda: requests", f"{MINUTES:,.0f}", "$0.20 per 1M", MINUTES * p["lambda_request"]),
        Line(
            "observer",
            "DynamoDB heartbeats",
            f"{heartbeats:,.0f} PutItem x 1 WRU (every {OBSERVER_HEARTBEAT_SECONDS} s)",
            "$0.625 per 1M WRU",
            heartbeats * p["dynamodb_wru"],
        ),
        Line(
            "observer",
            "DynamoDB monitor lease",
            f"{lease_writes:,.0f} PutItem + {lease_reads:,.0f} eventually consistent GetItem",
            "$0.625 per 1M WRU, $0.125 per 1M RRU",
            lease_writes * p["dynamodb_wru"] + lease_reads * 0.5 * p["dynamodb_rru"],
        ),
    ]


def alternatives(azs: int = 2) -> list[Line]:
    p = PRICES
    return [
        Line("nlb", "NLB hours", "730 h", "$0.0225 per hour", HOURS * p["nlb_hour"]),
        Line(
            "nlb",
            "NLB capacity (NLCU)",
            "1 NLCU average (light traffic)",
            "$0.006 per NLCU-hour",
            HOURS * p["nlcu_hour"],
        ),
        Line("nlb", "NLB public IPv4", f"{azs} AZs x 730 h", "$0.005 per hour", azs * HOURS * p["public_ipv4_hour"]),
        Line(
            "route53",
            "Route 53 health checks, basic (30 s)",
            "2 checks",
            "$0.50 per check-month",
            2 * p["r53_health_check"],
        ),
        Line(
            "route53",
            "Route 53 health checks, HTTPS + fast (10 s)",
            "2 checks x 2 optional features",
            "$1.00 per feature-month",
            2 * 2 * p["r53_optional_feature"],
        ),
        Line("route53", "Route 53 hosted zone", "1", "$0.50 per month", p["r53_hosted_zone"]),
        Line("route53", "Public IPv4 on both nodes", "2 x 730 h", "$0.005 per hour", 2 * HOURS * p["public_ipv4_hour"]),
    ]


def _count(calls: dict[str, float], operation: str) -> float:
    return sum(n for api, n in calls.items() if api.endswith(":" + operation))


def _total(lines: Sequence[Line], *groups: str) -> float:
    return sum(line.dollars for line in lines if line.group in groups)


def pairs_needed(measured: dict[str, Any], failovers: float) -> int:
    for k in range(1, 100):
        if _total(bill(measured, failovers, k), "target") <= TARGET_DOLLARS:
            return k
    return 100


def seconds_per_minute_within_target(measured: dict[str, Any], failovers: float) -> float:
    """How long each minute's invocation could run (probing) for the target to hold, one pair."""
    others = _total(bill(measured, failovers), "target") - bill(measured, failovers)[0].dollars
    budget = TARGET_DOLLARS - others
    return max(0.0, budget / (MINUTES * MEMORY_GB * PRICES["lambda_gb_s"]))


def run(options: Options, measured: dict[str, Any] | None = None, failovers: float = 4, pairs: int = 1) -> list[Row]:
    if measured is None:
        from . import aws_calls

        measured = aws_calls.measure(options)
    measured = dict(measured)
    if "duration_s" not in measured:
        from . import schedule_coverage

        # Billed per minute: the minute plus the overlap with the next invocation, averaged over
        # jittered starts (the lab's one measured minute depends on where its lease reads fell).
        measured["duration_s"] = schedule_coverage.billed_seconds_per_minute()
    lines = bill(measured, failovers, pairs)
    others = alternatives()
    say(f"[{NAME}] prices: {PRICES_CHECKED}")
    width = max(len(line.item) for line in lines + others)
    for line in lines + others:
        dollars = _money(line.dollars)
        say(f"[{NAME}] {line.group:8} {line.item.ljust(width)} {dollars:>8}  {line.quantity}  @ {line.price}")
    target = _total(lines, "target")
    lambda_part = lines[0].dollars + lines[1].dollars
    dynamodb = sum(line.dollars for line in lines if line.item.startswith("DynamoDB"))
    alarms = sum(line.dollars for line in lines if line.item == "CloudWatch alarms")
    free = max(0.0, lines[0].dollars - PRICES["lambda_free_gb_s"] * PRICES["lambda_gb_s"] / pairs)
    with_free_tier = (
        target
        - lines[0].dollars
        + free
        - lines[1].dollars
        - _total([line for line in lines if line.item == "CloudWatch alarms"], "target")
    )
    k = pairs_needed(measured, failovers)
    seconds = seconds_per_minute_within_target(measured, failovers)
    if not options.quick and pairs == 1:
        rest = _total(lines, "other") - HOURS * PRICES["public_ipv4_hour"]
        route53 = _total(others, "route53")
        record_prices()
        recorded.record_all(
            recorded.Figure(f"{NAME}.{key}", value, unit, label, recorded.invoked_command(), recorded.now(), decimals)
            for key, value, unit, label, decimals in (
                ("target.total", target, "$", f"Lambda + DynamoDB + alarms, 1 pair, {failovers:g} failovers", 2),
                ("target.lambda", lambda_part, "$", "of which Lambda (monitor duration + requests)", 2),
                ("target.dynamodb", dynamodb, "$", "of which DynamoDB", 2),
                ("target.alarms", alarms, "$", "of which CloudWatch alarms", 2),
                ("target.free_tier", with_free_tier, "$", "the same inside the free tier", 2),
                ("target.pairs_needed", k, "count", "pairs per invocation that would meet $1 a pair", 0),
                ("target.probing_seconds", seconds, "s", "or probing only this much of each minute", 0),
                ("billed_seconds_per_minute", measured["duration_s"], "s", "Lambda billed per scheduled minute", 1),
                ("rest", rest, "$", "rest of the stack's bill, lean (logs, event metrics)", 2),
                ("public_ipv4", HOURS * PRICES["public_ipv4_hour"], "$", "the EIP's public IPv4 (any design)", 2),
                (
                    "endpoints",
                    _total(lines, "optional"),
                    "$",
                    f"optional interface endpoints ({', '.join(template_interface_endpoints())}), 2 AZs",
                    2,
                ),
                ("nlb", _total(others, "nlb"), "$", "NLB instead (hours, 1 NLCU, 2 public IPv4)", 2),
                ("route53.basic", route53 - 4 * PRICES["r53_optional_feature"], "$", "Route 53 failover, basic", 2),
                ("route53.https_fast", route53, "$", "Route 53 failover, HTTPS + fast checks", 2),
            )
        )
        observer = observer_bill(measured)
        one = sum(line.dollars for line in observer)
        command, when = recorded.invoked_command(), recorded.now()
        recorded.record_all(
            [
                *(
                    recorded.Figure(
                        f"{NAME}.observer.{_slug(line.item)}",
                        line.dollars,
                        "$",
                        f"extra observer: {line.item}",
                        command,
                        when,
                    )
                    for line in observer
                ),
                recorded.Figure(f"{NAME}.observer.total", one, "$", "one extra observer, a month", command, when),
                recorded.Figure(f"{NAME}.observer.two", 2 * one, "$", "two extra observers (3 in all)", command, when),
                recorded.Figure(
                    f"{NAME}.observer.lambda_256mb",
                    observer_bill(measured, 256)[0].dollars,
                    "$",
                    "extra observer's Lambda duration at 256 MB",
                    command,
                    when,
                ),
                recorded.Figure(
                    f"{NAME}.observer.endpoints",
                    2 * HOURS * PRICES["interface_endpoint_hour"],
                    "$",
                    "EC2 and SNS interface endpoints in one observer's AZ",
                    command,
                    when,
                ),
            ]
        )
    return [
        Row(
            NAME,
            f"Lambda + DynamoDB + alarms, 1 pair, defaults, {failovers:g} failovers/month",
            f"{_money(target)}/month (Lambda {_money(lambda_part)}, DynamoDB "
            f"{_money(dynamodb)}, alarms {_money(alarms)})",
            f"<= {_money(TARGET_DOLLARS)}",
            target <= TARGET_DOLLARS,
        ),
        Row(
            NAME,
            "same, inside the free tier (400k GB-s, 1M requests, 10 alarms)",
            f"{_money(with_free_tier)}/month",
            "if nothing else in the account uses it",
        ),
        Row(
            NAME,
            "what would meet the target without the free tier",
            f">= {k} pairs per invocation, or probing only {seconds:.0f} s of each minute",
        ),
        Row(
            NAME,
            "rest of this stack's bill (lean: logs, event metrics; full: docs/figures.md)",
            f"{_money(_total(lines, 'other') - HOURS * PRICES['public_ipv4_hour'])}/month"
            f" (+ {_money(HOURS * PRICES['public_ipv4_hour'])} public IPv4 of the EIP, any design)",
        ),
        Row(NAME, "optional VPC interface endpoints (2 AZs)", f"{_money(_total(lines, 'optional'))}/month"),
        Row(NAME, "NLB instead (hours + 1 NLCU + 2 public IPv4)", f"{_money(_total(others, 'nlb'))}/month"),
        Row(
            NAME,
            "Route 53 failover instead (2 checks basic / HTTPS+fast, zone, 2 IPv4)",
            f"{_money(_total(others, 'route53') - 4 * PRICES['r53_optional_feature'])} / "
            f"{_money(_total(others, 'route53'))}/month",
        ),
    ]


# Prices as docs quote them (per unit, not a month's bill): recorded with the bill so docs-check
# knows a quoted "$0.10 per alarm metric" is a price of this model, not a stale figure.
PRICE_LABELS = {
    "lambda_gb_s": ("Lambda arm64, per GB-s", 10),
    "lambda_request": ("Lambda, per request ($0.20 per 1M)", 7),
    "dynamodb_wru": ("DynamoDB on-demand, per WRU ($0.625 per 1M)", 9),
    "dynamodb_rru": ("DynamoDB on-demand, per RRU ($0.125 per 1M)", 9),
    "eip_remap": ("EIP remap beyond 100 a month", 2),
    "public_ipv4_hour": ("public IPv4, per hour", 3),
    "alarm_metric": ("CloudWatch alarm, per metric-month", 2),
    "custom_metric": ("CloudWatch custom metric, per month", 2),
    "logs_ingest_gb": ("CloudWatch Logs ingestion, per GB", 2),
    "logs_store_gb_month": ("CloudWatch Logs storage, per GB-month", 2),
    "dashboard": ("CloudWatch dashboard, per month (beyond 3 free)", 2),
    "kms_key": ("KMS customer managed key, per month", 2),
    "interface_endpoint_hour": ("VPC interface endpoint, per AZ-hour", 2),
    "nlb_hour": ("NLB, per hour", 4),
    "nlcu_hour": ("NLB capacity, per NLCU-hour", 3),
    "r53_health_check": ("Route 53 health check (AWS endpoint), per month", 2),
    "r53_optional_feature": ("Route 53 health check optional feature, per month", 2),
    "r53_hosted_zone": ("Route 53 hosted zone, per month", 2),
}


def record_prices() -> None:
    command = "bench/cost.py PRICES (us-east-1 list prices, checked 2026-11-25)"
    recorded.record_all(
        recorded.Figure(f"price.{key}", PRICES[key], "$", label, command, "2026-11-25", decimals)
        for key, (label, decimals) in PRICE_LABELS.items()
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="measure with a 20 s invocation instead of a minute")
    parser.add_argument("--failovers-per-month", type=float, default=4)
    parser.add_argument("--pairs-per-invocation", type=int, default=1, help="what-if: pairs sharing one monitor")
    args = parser.parse_args(argv)
    rows = run(Options(quick=args.quick), failovers=args.failovers_per_month, pairs=args.pairs_per_invocation)
    return report(rows)


if __name__ == "__main__":
    raise SystemExit(main())


# --- the whole stack's bill with a fleet, divided by its pairs -----------------------------------

LAMBDA_MB_PER_VCPU = 1769  # Lambda gives one vCPU at 1,769 MB, proportionally less below
FLEET_SIZES = (1, 8, 50)
FLEET_DOCUMENT_BYTES_PER_GROUP = 520  # a group of 2 nodes with ENIs, an EIP by private IP, 1 IP, 1 route


def monitor_memory_mb(cpu_per_group_cycle_s: float, pairs: int, interval_s: float) -> int:
    """The smallest memory (a multiple of 64 MB, at least 128) whose CPU share runs the cycles'
    CPU in at most half of each interval: a cycle of `pairs` groups costs pairs x the measured
    CPU per group, and Lambda gives memory/1769 of a vCPU."""
    share = 2 * cpu_per_group_cycle_s * pairs / interval_s  # vCPU needed, with 2x headroom
    return max(128, math.ceil(share * LAMBDA_MB_PER_VCPU / 64) * 64)


PROFILES = ("lean", "full")  # template parameter ObservabilityProfile; lean is its default
# Published only when something happens (a move, a conflict, an error): billed by the hour they
# exist in, cents a month. Every other metric a monitor invocation publishes is billed all month.
EVENT_METRICS = (
    "EipMoves",
    "MoveFailures",
    "NoHealthyNode",
    "StateConflicts",
    "DriftDetected",
    "CycleErrors",
    "DecisionLogErrors",
    "ControlRequests",
)
# In `full`, published by every periodic preflight run (0 when it passed), every
# PreflightIntervalSeconds (900 s by default: every hour of the month), so billed all month; in
# `lean` only by a run that failed (service/preflight_periodic.record_metric): an event metric.
# The lab's one-second invocations end before the first run's background thread, so it is added here.
PERIODIC_METRICS_BY_PROFILE: dict[str, tuple[str, ...]] = {"lean": (), "full": ("PreflightFailures",)}
LEAN_ONE_PAIR_MAX_OVER_LAMBDA = 0.15  # issue 19: a lean one-pair stack costs what its probing costs, +15 %


def template_alarm_metrics(profile: str) -> int:
    """Metrics in the stack's CloudWatch alarms (what CloudWatch bills) in `profile`, read from
    template.yaml: the alarms whose conditions hold for the example deployment (a pair named by
    InstanceId, the other parameters at their defaults), as CloudFormation would evaluate them."""
    from nginx_eip_failover_lab.iam.policy_documents import EXAMPLE_PARAMETERS, STACK_NAME
    from nginx_eip_failover_lab.stack.intrinsics import Resolver
    from nginx_eip_failover_lab.stack.template import StackTemplate, find_template

    template = StackTemplate(find_template())
    resolver = Resolver(template, {**EXAMPLE_PARAMETERS, "ObservabilityProfile": profile}, STACK_NAME)
    count = 0
    for resource in template.of_type("AWS::CloudWatch::Alarm").values():
        if resolver.included(resource):
            count += len((resource.get("Properties") or {}).get("Metrics") or [None])  # metric math: each metric
    return count


def template_interface_endpoints() -> list[str]:
    """The services of the template's optional interface endpoints (CreateVpcEndpoints=true)."""
    from nginx_eip_failover_lab.stack.template import StackTemplate, find_template

    template = StackTemplate(find_template())
    services = []
    for resource in template.of_type("AWS::EC2::VPCEndpoint").values():
        properties = resource.get("Properties") or {}
        if properties.get("VpcEndpointType") == "Interface":
            service = properties.get("ServiceName", "")
            if isinstance(service, dict):  # !Sub com.amazonaws.${AWS::Region}.ec2
                service = next(iter(service.values()), "")
            name = str(service).rsplit(".", 1)[-1]
            services.append({"ec2": "EC2", "sns": "SNS", "monitoring": "CloudWatch"}.get(name, name.capitalize()))
    return services


def continuous_metrics(measured: dict[str, Any], profile: str) -> list[str]:
    by_profile = measured.get("emf_metrics_by_profile") or {profile: measured["emf_metrics_fresh"]}
    continuous = [m for m in by_profile[profile] if not m.startswith(EVENT_METRICS)]
    periodic = PERIODIC_METRICS_BY_PROFILE[profile]
    return continuous + [m for m in periodic if not any(c.startswith(m) for c in continuous)]


def fleet_bill(
    measured: dict[str, Any],
    pairs: int,
    cpu_per_group_cycle_s: float,
    interval_s: float,
    failovers: float = 4,
    profile: str = "lean",
) -> list[Line]:
    """The stack's monthly bill when it serves `pairs` groups (its own pair + pairs-1 from the fleet
    document), in ObservabilityProfile `profile`. Per pair: state reads and writes, EIP remaps, SNS
    notices. Per stack: the monitor's duration (its memory sized to the measured CPU of a cycle),
    the lease, the fleet document's refresh, the custom metrics the profile publishes (measured:
    full's per-node ones are of its own pair only), the template's alarms, logs; in full only, the
    dashboard and the topic's KMS key."""
    p = PRICES
    full = profile == "full"
    steady, failover = measured["steady"], measured["failover"]
    memory_mb = monitor_memory_mb(cpu_per_group_cycle_s, pairs, interval_s)
    duration = measured["duration_s"]
    gb_s = MINUTES * duration * memory_mb / 1024
    full_item = measured.get("item_bytes_full_history", steady["item_bytes_max"])
    rru_per_read = max(1, math.ceil(full_item / 4096))
    wru_per_write = max(1, math.ceil(full_item / 1024))
    state_reads = _count(steady["calls"], "GetItem")
    # Refreshes of the cached state are eventually consistent: half an RRU per 4 KB.
    eventual = min(state_reads, float(steady.get("eventual_reads", 0)))
    read_units = (state_reads - eventual) * rru_per_read + eventual * 0.5 * rru_per_read
    reads = state_reads * MINUTES * pairs
    writes = (
        _count(steady["calls"], "PutItem") * MINUTES + 2 * _count(failover["calls"], "PutItem") * failovers
    ) * pairs
    lease_writes = _count(steady["calls"], "PutItem" + LEASE) * MINUTES
    lease_reads = _count(steady["calls"], "GetItem" + LEASE) * MINUTES
    document_rru = 0.5 * max(1, math.ceil(FLEET_DOCUMENT_BYTES_PER_GROUP * (pairs - 1) / 4096)) if pairs > 1 else 0.0
    continuous = continuous_metrics(measured, profile)
    log_bytes = steady["log_bytes"] + EVENT_OVERHEAD_BYTES * (steady["log_lines"] + 3) + PLATFORM_LOG_BYTES
    emf_bytes = measured.get("emf_bytes_by_profile") or {}
    if profile in emf_bytes and measured.get("profile") in emf_bytes:
        # The steady minute ran in the lab's profile: add (or take) the other's metric lines.
        log_bytes += emf_bytes[profile] - emf_bytes[measured["profile"]]
    log_gb = log_bytes * MINUTES / 1e9
    notices = 2 * 2 * failovers * pairs  # a notice for the failover and one for the failback
    alarm_metrics = template_alarm_metrics(profile)
    return [
        Line(
            "stack",
            "Lambda monitor: duration",
            f"{MINUTES:,.0f} inv x {duration:.1f} s x {memory_mb} MB"
            + (" (sized to the cycle's CPU)" if memory_mb > 128 else ""),
            f"{p['lambda_gb_s']} $/GB-s",
            gb_s * p["lambda_gb_s"],
        ),
        Line("stack", "Lambda monitor: requests", f"{MINUTES:,.0f}", "$0.20 per 1M", MINUTES * p["lambda_request"]),
        Line(
            "stack",
            "Lambda control: operator requests",
            "~100 x 2 s x 0.125 GB",
            f"{p['lambda_gb_s']} $/GB-s",
            100 * 2 * MEMORY_GB * p["lambda_gb_s"] + 100 * p["lambda_request"],
        ),
        Line(
            "pair",
            "DynamoDB state reads",
            f"{reads:,.0f} ({eventual:g} of {state_reads:g} a minute eventually consistent) x {rru_per_read}"
            f" RRU ({pairs} items of {full_item / 1024:.1f} KB, full history)",
            "$0.125 per 1M RRU",
            read_units * MINUTES * pairs * p["dynamodb_rru"],
        ),
        Line(
            "pair",
            "DynamoDB state writes",
            f"{writes:,.0f} x {wru_per_write} WRU ({failovers:g} failovers + failbacks per pair)",
            "$0.625 per 1M WRU",
            writes * wru_per_write * p["dynamodb_wru"],
        ),
        Line(
            "stack",
            "DynamoDB monitor lease + fleet document refresh",
            f"lease {lease_writes:,.0f} W + {lease_reads:,.0f} EC R; "
            f"document {MINUTES:,.0f} EC reads x {document_rru:g} RRU",
            "$0.625/1M WRU, $0.125/1M RRU",
            lease_writes * p["dynamodb_wru"] + (lease_reads * 0.5 + MINUTES * document_rru) * p["dynamodb_rru"],
        ),
        Line(
            "stack",
            "CloudWatch custom metrics",
            f"{len(continuous)} published all month"
            + (": the stack's + per-node of its own pair only (fleet groups add none)" if continuous else ""),
            "$0.30 per metric-month",
            len(continuous) * p["custom_metric"],
        ),
        Line(
            "stack",
            "CloudWatch alarms",
            f"{alarm_metrics} metrics in the template's alarms (node status checks, MonitorNotRunning, MonitorErrors)",
            "$0.10 per alarm metric",
            alarm_metrics * p["alarm_metric"],
        ),
        Line(
            "stack",
            "CloudWatch dashboard",
            "1 (beyond the free 3)" if full else "none (lean)",
            "$3.00 per month",
            p["dashboard"] if full else 0.0,
        ),
        Line(
            "stack",
            "KMS key for the SNS topic",
            "1 customer managed key" if full else "none (lean: topic not encrypted at rest)",
            "$1.00 per month",
            p["kms_key"] if full else 0.0,
        ),
        Line(
            "stack",
            "CloudWatch Logs",
            f"{log_bytes:,.0f} B per invocation",
            "$0.50/GB + $0.03/GB-month",
            log_gb * (p["logs_ingest_gb"] + p["logs_store_gb_month"]),
        ),
        Line(
            "pair",
            "SNS notices",
            f"{notices:g} publishes + e-mail deliveries",
            "$0.50 per 1M + $2 per 100k",
            notices * 2.05e-5,
        ),
    ]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _record_fleet(
    measured: dict[str, Any],
    cpu: float,
    interval: float,
    failovers: float,
    over: float,
    total: float,
    lambda_line: float,
) -> None:
    command, when = recorded.invoked_command(), recorded.now()
    out: list[recorded.Figure] = []

    def add(key: str, value: float, unit: str, label: str, decimals: int = 2) -> None:
        out.append(recorded.Figure(f"fleet_cost.{key}", value, unit, label, command, when, decimals))

    for profile in PROFILES:
        for pairs in FLEET_SIZES:
            lines = fleet_bill(measured, pairs, cpu, interval, failovers, profile)
            stack = sum(line.dollars for line in lines)
            where = f"{profile}, {pairs} pair{'s' if pairs > 1 else ''} per stack"
            add(f"{profile}.{pairs}.stack", stack, "$", f"whole stack, {where}")
            add(f"{profile}.{pairs}.per_pair", stack / pairs, "$", f"whole stack per pair, {where}")
            add(
                f"{profile}.{pairs}.memory_mb",
                monitor_memory_mb(cpu, pairs, interval),
                "MB",
                f"monitor memory, {where}",
                0,
            )
            for line in lines:
                add(f"{profile}.{pairs}.{_slug(line.item)}", line.dollars, "$", f"{line.item}, {where}")
        breakeven = next(
            (
                k
                for k in range(1, 101)
                if _fleet_total(measured, k, cpu, interval, failovers, profile) / k <= TARGET_DOLLARS
            ),
            101,
        )
        add(f"{profile}.breakeven_pairs", breakeven, "count", f"{profile}: pairs per stack for <= $1 a pair", 0)
    full, lean = (
        sum(line.dollars for line in fleet_bill(measured, 1, cpu, interval, failovers, p)) for p in PROFILES[::-1]
    )
    add("full_over_lean", full - lean, "$", "what full adds to a one-pair stack (dashboard, KMS key, metrics)")
    add("lean_one_pair.over_lambda", 100 * over, "%", "lean, 1 pair: whole stack over its Lambda lines", 1)
    add("lean_one_pair.lambda_lines", lambda_line, "$", "lean, 1 pair: the Lambda lines (monitor + control)")
    add("cpu_per_group_cycle_ms", cpu * 1000, "ms", "CPU a group's cycle costs (sizes the monitor's memory)", 1)
    recorded.record_all(out)


def fleet_rows(
    measured: dict[str, Any],
    cpu_per_group_cycle_s: float,
    interval_s: float,
    failovers: float = 4,
    *,
    record: bool = False,
) -> list[Row]:
    rows: list[Row] = []
    for profile in PROFILES:
        rows += _profile_rows(measured, cpu_per_group_cycle_s, interval_s, failovers, profile)
    lean = fleet_bill(measured, 1, cpu_per_group_cycle_s, interval_s, failovers, "lean")
    lambda_line = sum(line.dollars for line in lean if line.item.startswith("Lambda"))
    total = sum(line.dollars for line in lean)
    over = total / lambda_line - 1
    if record:
        _record_fleet(measured, cpu_per_group_cycle_s, interval_s, failovers, over, total, lambda_line)
    rows.append(
        Row(
            NAME,
            "lean, 1 pair: whole stack over its Lambda lines (monitor + control)",
            f"+{over:.1%} ({_money(total)} / {_money(lambda_line)})",
            f"<= +{LEAN_ONE_PAIR_MAX_OVER_LAMBDA:.0%}",
            over <= LEAN_ONE_PAIR_MAX_OVER_LAMBDA,
        )
    )
    return rows


def _profile_rows(
    measured: dict[str, Any], cpu_per_group_cycle_s: float, interval_s: float, failovers: float, profile: str
) -> list[Row]:
    say(
        f"[{NAME}] ObservabilityProfile={profile}: the whole stack's bill at "
        f"{', '.join(map(str, FLEET_SIZES))} pairs per stack, per month:"
    )
    bills = {
        pairs: fleet_bill(measured, pairs, cpu_per_group_cycle_s, interval_s, failovers, profile)
        for pairs in FLEET_SIZES
    }
    width = max(len(line.item) for line in bills[1])
    say(
        f"[{NAME}]   {'item'.ljust(width)} " + " ".join(f"{f'{k} pairs':>10}" for k in FLEET_SIZES) + "  quantity at 50"
    )
    for index, line in enumerate(bills[1]):
        figures = " ".join(f"{_money(bills[k][index].dollars):>10}" for k in FLEET_SIZES)
        say(f"[{NAME}]   {line.item.ljust(width)} {figures}  {bills[FLEET_SIZES[-1]][index].quantity}")
    totals = {k: sum(line.dollars for line in bills[k]) for k in FLEET_SIZES}
    say(f"[{NAME}]   {'stack total'.ljust(width)} " + " ".join(f"{_money(totals[k]):>10}" for k in FLEET_SIZES))
    say(f"[{NAME}]   {'per pair'.ljust(width)} " + " ".join(f"{_money(totals[k] / k):>10}" for k in FLEET_SIZES))
    rows = []
    for pairs in FLEET_SIZES:
        per_pair = totals[pairs] / pairs
        memory = monitor_memory_mb(cpu_per_group_cycle_s, pairs, interval_s)
        # The target is the default profile's (lean); full is the price of the dashboard and key.
        target = profile == "lean" and pairs >= 8
        rows.append(
            Row(
                NAME,
                f"{profile}: whole stack per pair, {pairs} pair{'s' if pairs > 1 else ''} per stack"
                f" (monitor {memory} MB)",
                f"{_money(per_pair)}/month (stack {_money(totals[pairs])})",
                f"<= {_money(TARGET_DOLLARS)} at 8+ pairs" if target else "",
                per_pair <= TARGET_DOLLARS if target else None,
            )
        )
    breakeven = next(
        (
            k
            for k in range(1, 101)
            if _fleet_total(measured, k, cpu_per_group_cycle_s, interval_s, failovers, profile) / k <= TARGET_DOLLARS
        ),
        None,
    )
    rows.append(
        Row(
            NAME,
            f"{profile}: pairs per stack for <= $1/month per pair (whole stack)",
            f">= {breakeven}" if breakeven else "> 100",
        )
    )
    return rows


def _fleet_total(
    measured: dict[str, Any], pairs: int, cpu: float, interval: float, failovers: float, profile: str
) -> float:
    return sum(line.dollars for line in fleet_bill(measured, pairs, cpu, interval, failovers, profile))
