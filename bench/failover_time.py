"""Failover time on the lab: node1's nginx really stopped -> the EIP on node2, seen from outside.

The lab (helper modules in `nginx_eip_failover_lab`): a moto server as AWS, the stack created from
template.yaml, two real nginx processes. The MonitorFunction runs as Lambda runs it: a fresh Python
process per invocation (`lab.invoke`), looping while the context's remaining time allows, started
back to back by the lab's scheduler (`--remaining-ms`, default 30 s; in AWS the schedule starts one
every minute with a 65 s timeout, so invocations overlap instead of leaving a gap).

Each trial: wait a random fraction of the interval (so the stop lands anywhere in a probe cycle),
stop node1's nginx (SIGTERM, the port closes), poll DescribeAddresses every 50 ms from the bench
process until the EIP is on node2. Then restart node1, wait until the controller has seen it up
(RiseThreshold), put the EIP back with the ControlFunction (`failover` to node1, then `unpin`).

The breakdown of each move comes from the controller itself: the state history (`node_down` is
stamped when the decision is made; `move_started`, `move_completed`) and the monitor's "EIP moved"
log line with `timings_ms` {probe, decide, associate, verify}.

    python -m bench.failover_time [--trials N] [--quick] [--profile defaults|aggressive]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from nginx_eip_failover_lab.environment import LabEnvironment
from nginx_eip_failover_lab.scheduler import Invocation, MonitorScheduler

from . import figures as recorded
from .common import Options, Row, median, percentile, report, say

NAME = "failover_time"
POLL_SECONDS = 0.05
TRIAL_LIMIT_SECONDS = 40.0
DEFAULT_REMAINING_MS = 30_000


@dataclass(frozen=True)
class Profile:
    name: str
    settings: dict[str, str]
    target_p95_seconds: float

    @property
    def interval(self) -> float:
        return float(self.settings["HealthCheckIntervalSeconds"])


PROFILES = (
    # The template's defaults, spelled out so the benchmark states what it measured.
    Profile(
        "defaults",
        {
            "HealthCheckIntervalSeconds": "1",
            "HealthCheckTimeoutSeconds": "1",
            "FallThreshold": "3",
            "RiseThreshold": "2",
        },
        10.0,
    ),
    # The aggressive profile: 1 s interval, fall 2; target p95 <= 1.5 x fall x interval.
    Profile(
        "aggressive",
        {
            "HealthCheckIntervalSeconds": "1",
            "HealthCheckTimeoutSeconds": "1",
            "FallThreshold": "2",
            "RiseThreshold": "2",
        },
        3.0,
    ),
)


@dataclass
class Trial:
    number: int
    stopped_at: float  # time.time() just before node1's nginx was told to stop
    seen_at: float | None = None  # the poller saw the EIP on node2
    node_down_at: float | None = None
    move_started_at: float | None = None
    move_completed_at: float | None = None
    move_id: str | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def total(self) -> float | None:
        return None if self.seen_at is None else self.seen_at - self.stopped_at


def _wait(predicate: Callable[[], bool], timeout: float, interval: float = POLL_SECONDS) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def _nodes_up(lab: LabEnvironment) -> dict[str, str]:
    return {name: health.get("status", "unknown") for name, health in (lab.state().get("nodes") or {}).items()}


def _restore(lab: LabEnvironment) -> None:
    """node1 running, seen up by the controller, holding the EIP, no pin."""
    node1 = lab.nodes["node1"]
    if not node1.running:
        node1.start()
    if not _wait(lambda: _nodes_up(lab).get("node1") == "up", 30.0, 0.1):
        raise RuntimeError(f"node1 not seen up within 30 s: {_nodes_up(lab)}")
    for _attempt in range(10):
        if lab.holder() == "node1":
            break
        result = lab.control({"action": "failover", "target": "node1", "reason": "bench: reset for the next trial"})
        if not result.ok:
            say(f"[{NAME}] control failover refused ({result.error_message}); retrying")
            time.sleep(0.5)
    result = lab.control({"action": "unpin", "reason": "bench: reset for the next trial"})
    if not result.ok:
        raise RuntimeError(f"unpin failed: {result.error_message}")
    if lab.holder() != "node1":
        raise RuntimeError(f"EIP not back on node1: {lab.holder()}")


def _fill_from_history(lab: LabEnvironment, trial: Trial) -> None:
    for entry in lab.history():
        at = float(entry["at"])
        if at < trial.stopped_at:
            continue
        if entry["event"] == "node_down" and entry.get("node") == "node1" and trial.node_down_at is None:
            trial.node_down_at = at
        elif entry["event"] == "move_started" and entry.get("node") == "node2" and trial.move_started_at is None:
            trial.move_started_at = at
            trial.move_id = (entry.get("detail") or {}).get("id")
        elif (
            entry["event"] == "move_completed"
            and trial.move_id is not None
            and (entry.get("detail") or {}).get("id") == trial.move_id
        ):
            trial.move_completed_at = at


def _moves_from_logs(invocations: Sequence[Invocation]) -> dict[str, dict[str, float]]:
    """move_id -> timings_ms, from the monitor's "EIP moved" log lines (JSON, on stderr).

    The log line is written before the cycle adds its probe time; the invocation's result payload
    has the complete timings (without the move id), matched here on the other three figures.
    """
    found: dict[str, dict[str, float]] = {}
    complete: dict[tuple[Any, ...], dict[str, float]] = {}
    for invocation in invocations:
        for move in (invocation.result.payload or {}).get("moves") or []:
            timings = move.get("timings_ms") or {}
            complete[tuple(timings.get(key) for key in ("decide", "associate", "verify"))] = timings
    for invocation in invocations:
        for line in invocation.result.logs.splitlines():
            if '"EIP moved"' not in line:
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if record.get("move_id") and isinstance(record.get("timings_ms"), dict):
                timings = record["timings_ms"]
                key = tuple(timings.get(name) for name in ("decide", "associate", "verify"))
                found[record["move_id"]] = {**timings, **complete.get(key, {})}
    return found


def run_profile(profile: Profile, trials: int, remaining_ms: int, verbose: bool) -> list[Trial]:
    settings = {**profile.settings}
    results: list[Trial] = []
    with LabEnvironment(settings=settings, use_proxy=False) as lab:
        first = lab.monitor(remaining_ms=1000)
        if not first.ok or lab.holder() != "node1":
            raise RuntimeError(f"the lab did not place the EIP on node1: {first.error_message} {first.logs[-2000:]}")
        scheduler = MonitorScheduler(
            lab.monitor_env, lab.stack.schedule_input if lab.stack else {}, remaining_ms=remaining_ms
        ).start()
        try:
            _wait(lambda: len(_nodes_up(lab)) == 2 and set(_nodes_up(lab).values()) == {"up"}, 30.0)
            for number in range(1, trials + 1):
                _restore(lab)
                time.sleep(0.2 + random.uniform(0.0, profile.interval))  # a random phase in the probe cycle
                trial = Trial(number, time.time())
                lab.nodes["node1"].stop()
                if _wait(lambda: lab.holder() == "node2", TRIAL_LIMIT_SECONDS):
                    trial.seen_at = time.time()
                results.append(trial)
                if verbose or trial.total is None:
                    shown = "timed out" if trial.total is None else f"{trial.total:.2f} s"
                    say(f"[{NAME}] {profile.name} trial {number}/{trials}: {shown}")
                _fill_from_history(lab, trial)
            # Let the invocations that made the moves finish: their logs carry the move timings.
            wanted = {trial.move_id for trial in results if trial.move_id}
            _wait(lambda: wanted <= set(_moves_from_logs(list(scheduler.invocations))), remaining_ms / 1000 + 5, 0.5)
        finally:
            scheduler.stop()
        timings = _moves_from_logs(scheduler.invocations)
        failed = [item for item in scheduler.invocations if not item.result.ok]
        if failed:
            say(
                f"[{NAME}] {len(failed)} of {len(scheduler.invocations)} monitor invocations failed, e.g. "
                f"{failed[0].result.error_type}: {failed[0].result.error_message}"
            )
    for trial in results:
        if trial.move_id in timings:
            trial.timings_ms = timings[trial.move_id]
    return results


def summarize(profile: Profile, trials: Sequence[Trial]) -> tuple[list[Row], dict[str, Any]]:
    totals = [t.total for t in trials if t.total is not None]
    detection = [t.node_down_at - t.stopped_at for t in trials if t.node_down_at is not None]
    parts = {
        key: [t.timings_ms[key] / 1000 for t in trials if key in t.timings_ms]
        for key in ("probe", "decide", "associate", "verify")
    }
    observed_lag = [
        t.seen_at - t.move_completed_at for t in trials if t.seen_at is not None and t.move_completed_at is not None
    ]
    missing = len(trials) - len(totals)
    p95 = percentile(totals, 0.95) if totals else float("inf")
    figures = {
        "trials": len(trials),
        "timed_out": missing,
        "median_s": median(totals),
        "p95_s": p95,
        "max_s": max(totals) if totals else None,
        "detection_median_s": median(detection),
        "detection_p95_s": percentile(detection, 0.95),
        **{f"{key}_median_ms": median(values) * 1000 for key, values in parts.items()},
        **{f"{key}_p95_ms": percentile(values, 0.95) * 1000 for key, values in parts.items()},
        "poll_lag_median_ms": median(observed_lag) * 1000,
    }
    settings = profile.settings
    label = (
        f"{profile.name} (interval {settings['HealthCheckIntervalSeconds']} s, timeout "
        f"{settings['HealthCheckTimeoutSeconds']} s, fall {settings['FallThreshold']})"
    )
    say(f"[{NAME}] {label}: {json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items()})}")
    rows = [
        Row(
            NAME,
            f"{label}: median / p95",
            f"{median(totals):.2f} / {p95:.2f} s (n={len(totals)}, {missing} timed out)",
            f"p95 <= {profile.target_p95_seconds:g} s",
            missing == 0 and p95 <= profile.target_p95_seconds,
        ),
        Row(
            NAME,
            f"{profile.name}: breakdown (medians)",
            f"detection {median(detection):.2f} s, decision {figures['decide_median_ms']:.0f} ms, "
            f"EC2 call {figures['associate_median_ms']:.0f} ms, verification {figures['verify_median_ms']:.0f} ms",
        ),
    ]
    return rows, figures


def record(profile: Profile, figures: dict[str, Any]) -> None:
    settings = profile.settings
    where = (
        f"{profile.name} (interval {settings['HealthCheckIntervalSeconds']} s, fall {settings['FallThreshold']}), "
        f"n={figures['trials']}, {figures['timed_out']} timed out"
    )
    command, when = recorded.invoked_command(), recorded.now()
    recorded.record_all(
        recorded.Figure(
            f"{NAME}.{profile.name}.{key}", figures[key] * scale, unit, f"{what}, {where}", command, when, digits
        )
        for key, what, unit, scale, digits in (
            ("median_s", "failover time median", "s", 1, 2),
            ("p95_s", "failover time p95", "s", 1, 2),
            ("max_s", "failover time max", "s", 1, 2),
            ("detection_median_s", "detection (nginx stopped -> node_down) median", "s", 1, 2),
            ("decide_median_ms", "decision median", "ms", 1, 0),
            ("associate_median_ms", "EC2 call median", "ms", 1, 0),
            ("verify_median_ms", "verification median", "ms", 1, 0),
        )
        if isinstance(figures.get(key), int | float) and math.isfinite(figures[key])
    )


def run(options: Options, profiles: Sequence[str] | None = None, remaining_ms: int = DEFAULT_REMAINING_MS) -> list[Row]:
    count = options.count(20, 5)
    rows: list[Row] = []
    for profile in PROFILES:
        if profiles and profile.name not in profiles:
            continue
        say(f"[{NAME}] {profile.name}: {count} trials, monitor invocations of {remaining_ms / 1000:g} s each")
        started = time.monotonic()
        trials = run_profile(profile, count, remaining_ms, options.verbose)
        profile_rows, figures = summarize(profile, trials)
        if not options.quick:
            record(profile, figures)
        say(f"[{NAME}] {profile.name}: {time.monotonic() - started:.0f} s wall time")
        rows += profile_rows
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("-v", "--verbose", action="store_true")
    parser.add_argument("--profile", action="append", choices=[p.name for p in PROFILES])
    parser.add_argument("--remaining-ms", type=int, default=DEFAULT_REMAINING_MS)
    args = parser.parse_args(argv)
    options = Options(trials=args.trials, quick=args.quick, verbose=args.verbose)
    rows = run(options, args.profile, args.remaining_ms)
    return report(rows)


if __name__ == "__main__":
    raise SystemExit(main())
