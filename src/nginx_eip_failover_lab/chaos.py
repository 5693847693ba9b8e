"""The chaos soak: the real functions on the real lab, under seeded faults, checked from outside.

    python -m nginx_eip_failover_lab.chaos [--seed N] [--minutes M]      (make chaos SEED=N MINUTES=M)

It starts a lab (moto server, the lab's AWS proxy, two real nginx nodes, the stack from template.yaml),
places the EIP, then runs the actors of `chaos_actors` for the given time: node faults, AWS faults
through the proxy, a jittered overlapping schedule with duplicates, alarms, operator requests and
killed invocations. Then the faults stop, the schedule runs on for a settling phase, and the
recorded timeline (`chaos_record`) is checked (`chaos_checks`), the decision log replayed through
the pure core included. A violation prints the seed and a readable trace around it. The summary
gives faults injected by type, moves, requests, invariants checked and violations.

Exit status: 0 no violation, 1 a violation (or an actor failed), 2 the lab could not start.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from . import processes
from .chaos_actors import (
    Actor,
    Alarms,
    AwsFaults,
    ChaosSettings,
    Invoker,
    Killer,
    NodeFaults,
    Operators,
    Schedule,
    World,
)
from .chaos_checks import Checker, CheckReport, Violation
from .chaos_record import ChaosRecord, Recorder
from .environment import LabEnvironment
from .moto_server import MotoServer
from .nginx_node import NginxMissingError
from .replay_check import replay_lab_decision_log

DEFAULT_MINUTES = 5.0
TRACE_SECONDS = 6.0  # shown either side of a violation


@dataclass
class ChaosResult:
    settings: ChaosSettings
    record: ChaosRecord
    report: CheckReport
    actor_errors: list[str]
    duplicates: int

    @property
    def passed(self) -> bool:
        return not self.report.violations and not self.actor_errors

    def faults_by_type(self) -> Counter[str]:
        return self.record.fault_counts()

    def fault_families(self) -> set[str]:
        """The families of fault exercised: node:*, aws:*, kill:*, operator:*, alarm, schedule:*."""
        return {kind.split(":", 1)[0] for kind in self.faults_by_type()}

    def failovers(self) -> int:
        """Moves from a pair member to the other (placement excluded)."""
        return sum(1 for move in self.report.moves if move.source is not None)


def run_soak(
    settings: ChaosSettings,
    *,
    out: TextIO | None = None,
    base_dir: Path | None = None,
    moto: MotoServer | None = None,
) -> ChaosResult:
    out = out or sys.stdout
    say = _printer(out)
    lab = LabEnvironment(settings=settings.lab_settings(), base_dir=base_dir, moto=moto)
    with lab:
        say(
            f"chaos soak: seed {settings.seed}, {settings.seconds:g} s of faults, "
            f"then {settings.settle_seconds:g} s settling"
        )
        say(
            f"lab: moto {lab.moto.url}, proxy {lab.endpoint_url}, nodes "
            + ", ".join(f"{name} {node.health_url}" for name, node in lab.nodes.items())
        )
        lab.extra_env.update(settings.extra_env())
        recorder = Recorder(lab).start()
        invoker = Invoker(lab, recorder)
        world = World(lab, recorder, invoker, settings, threading.Event())
        schedule_world = World(lab, recorder, invoker, settings, threading.Event())
        # The placement: one single-cycle invocation puts the EIP on node1 before any fault.
        invoker.monitor("schedule", lab.stack.schedule_input if lab.stack else {}, 1.5)
        invoker.join(60)
        schedule = Schedule(schedule_world)
        chaos: list[Actor] = [NodeFaults(world), AwsFaults(world), Alarms(world), Operators(world), Killer(world)]
        started = time.monotonic()
        schedule.start()
        for actor in chaos:
            actor.start()
        while (left := settings.seconds - (time.monotonic() - started)) > 0:
            time.sleep(min(30.0, left))
            say(_progress(recorder.record, time.monotonic() - started))
        world.stop.set()
        for actor in chaos:
            actor.thread.join(90)
        say(f"faults stopped; settling for {settings.settle_seconds:g} s (the schedule alone)")
        time.sleep(settings.settle_seconds)
        schedule_world.stop.set()
        schedule.thread.join(30)
        invoker.accepting = False
        invoker.kill_all()  # the scheduled invocations still probing: ended with the soak
        invoker.join(settings.schedule_budget + 35)
        record = recorder.stop()
        replay = replay_lab_decision_log(lab)
        assert lab.pair is not None
        instance_ids = {name: lab.instance_id(name) for name in lab.nodes}
        report = Checker(record, settings, instance_ids).run(replay)
        errors = [f"{actor.name}: {error}" for actor in [schedule, *chaos] for error in actor.errors]
        if recorder.poll_errors:
            say(f"outside polls that failed (retried): {dict(recorder.poll_errors)}")
    result = ChaosResult(settings, record, report, errors, schedule.duplicates)
    print_summary(result, out)
    return result


def _printer(out: TextIO) -> Any:
    def say(text: str) -> None:
        print(text, file=out, flush=True)

    return say


def _progress(record: ChaosRecord, elapsed: float) -> str:
    holder = record.holders[-1].holder if record.holders else "?"
    invocations = Counter(inv.function for inv in record.invocations)
    return (
        f"[{elapsed:5.0f} s] EIP on {holder}; {len(record.faults)} faults, {invocations['monitor']} monitor and "
        f"{invocations['control']} control invocations so far"
    )


# -- the summary and the traces -------------------------------------------------------------------


def print_summary(result: ChaosResult, out: TextIO) -> None:
    record, report, settings = result.record, result.report, result.settings
    say = _printer(out)
    t0 = record.started_at
    say("")
    say(f"== chaos soak, seed {settings.seed}: {((record.ended_at or t0) - t0):.0f} s recorded")
    say("faults injected by type:")
    for kind, count in sorted(result.faults_by_type().items()):
        say(f"  {kind:<40} {count}")
    monitors = [inv for inv in record.invocations if inv.function == "monitor"]
    controls = [inv for inv in record.invocations if inv.function == "control"]
    by_trigger = Counter(inv.trigger for inv in monitors)
    say(
        f"monitor invocations: {len(monitors)} ({', '.join(f'{k} {v}' for k, v in sorted(by_trigger.items()))}); "
        f"killed {sum(1 for inv in monitors if inv.killed)}; "
        f"failed {sum(1 for inv in monitors if inv.ok is False and not inv.killed)}"
    )
    answered = Counter(
        "accepted" if inv.ok and (inv.payload or {}).get("ok", True) else (inv.error.split(":", 1)[0] or "not ok")
        for inv in controls
    )
    slowest = max((inv.ended_at - inv.started_at for inv in controls if inv.ended_at), default=0.0)
    say(f"operator requests: {len(controls)} ({dict(sorted(answered.items()))}); slowest answer {slowest:.1f} s")
    aws = Counter(f"{call.service}:{call.action}" for call in record.calls)
    faulted = sum(1 for call in record.calls if call.fault)
    say(
        f"AWS calls through the proxy: {len(record.calls)} ({faulted} with an injected fault); "
        f"AssociateAddress {aws['ec2:AssociateAddress']} sent, {report.effective_associations} took effect"
    )
    say(f"moves (EC2 changed the EIP's node): {len(report.moves)}, of which failovers/failbacks {result.failovers()}")
    for move in report.moves:
        say(f"  +{move.sent_at - t0:7.2f} s  {move.source or 'unassociated'} -> {move.target}")
    sizes = [sample.size_bytes for sample in record.states]
    if report.failover_seconds:
        times = sorted(report.failover_seconds)
        say(
            f"failovers judged by liveness: {len(times)}; holder failing -> EIP on the other node: "
            f"median {times[len(times) // 2]:.2f} s, max {times[-1]:.2f} s"
        )
    say(f"decision log: {report.replay_line}")
    say(f"state item: {len(sizes)} samples, largest {max(sizes, default=0)} bytes")
    say("invariants checked (cases judged):")
    for name, count in sorted(report.checked.items()):
        failed = sum(1 for v in report.violations if v.invariant == name)
        say(f"  {name:<32} {count:>6}   violations {failed}")
    for error in result.actor_errors:
        say(f"actor error: {error}")
    if report.violations:
        say(
            f"VIOLATIONS: {len(report.violations)} (seed {settings.seed}; reproduce with "
            f"python -m nginx_eip_failover_lab.chaos --seed {settings.seed} --minutes {settings.seconds / 60:g})"
        )
        for violation in report.violations[:5]:
            print_trace(record, violation, out)
    else:
        say(f"no violation (seed {settings.seed})")


def print_trace(record: ChaosRecord, violation: Violation, out: TextIO) -> None:
    """What happened within TRACE_SECONDS of the violation, in time order."""
    say = _printer(out)
    t0 = record.started_at
    low, high = violation.at - TRACE_SECONDS, violation.at + TRACE_SECONDS
    say("")
    say(f"-- {violation.invariant} at +{violation.at - t0:.2f} s: {violation.text}")
    lines: list[tuple[float, str]] = []
    for truth in record.truths:
        lines.append((truth.at, f"NODE     {truth.node} {truth.condition}{'' if truth.healthy else ' (failing)'}"))
    for fault in record.faults:
        lines.append((fault.at, f"FAULT    {fault.kind}: {fault.detail}"))
    previous = "?"
    for sample in record.holders:
        if sample.holder != previous:
            lines.append((sample.at, f"EIP      on {sample.holder}"))
            previous = sample.holder or "none"
    for inv in record.invocations:
        what = f"{inv.function} #{inv.number} ({inv.trigger})"
        lines.append((inv.started_at, f"INVOKE   {what} {inv.request if inv.function == 'control' else ''}"))
        if inv.ended_at is not None:
            outcome = "killed" if inv.killed else ("ok" if inv.ok else inv.error[:100])
            moves = (inv.payload or {}).get("moves") if isinstance(inv.payload, dict) else None
            lines.append((inv.ended_at, f"ANSWER   {what}: {outcome}{f' moves {moves}' if moves else ''}"))
    for entry in record.history:
        lines.append(
            (
                float(entry["at"]),
                f"HISTORY  {entry['event']} {entry.get('node') or ''} by {entry.get('by')}: "
                f"{str(entry.get('reason'))[:100]}",
            )
        )
    for call in record.calls:
        if call.service == "ec2" and call.action == "AssociateAddress":
            lines.append(
                (
                    call.received_at or call.at,
                    f"EC2      AssociateAddress {call.param('InstanceId')} -> "
                    f"{call.status} (moto {call.upstream_status}){f' fault {call.fault}' if call.fault else ''}",
                )
            )
    for at, text in sorted(lines, key=lambda item: item[0]):
        if low <= at <= high:
            say(f"  +{at - t0:8.2f} s  {text}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=1, help="chooses every fault, node, duration and request")
    parser.add_argument("--minutes", type=float, default=DEFAULT_MINUTES, help="how long faults are injected")
    args = parser.parse_args(argv)
    if args.minutes <= 0:
        parser.error(f"--minutes must be positive, got {args.minutes:g}")
    processes.install_signal_handlers()
    try:
        result = run_soak(ChaosSettings(seed=args.seed, seconds=args.minutes * 60))
    except NginxMissingError as exc:
        print(exc, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    finally:
        processes.stop_all()
    return 0 if result.passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
