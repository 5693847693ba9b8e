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

from nginx_eip_failover.core.config import load_settings
from nginx_eip_failover_lab import processes
from nginx_eip_failover_lab.aws.moto_server import MotoServer
from nginx_eip_failover_lab.environment import LabEnvironment
from nginx_eip_failover_lab.nodes.nginx_node import NginxMissingError
from nginx_eip_failover_lab.scenarios.replay_check import replay_lab_decision_log
from nginx_eip_failover_sim.invariants import CheckConfig
from nginx_eip_failover_sim.timeline import HolderChange, OperatorAnswer, ReplayChecked, describe

from .actors import Alarms, AwsFaults, Killer, NodeFaults, Operators, Schedule
from .record import ChaosRecord, Recorder
from .timeline import CheckedTimeline, TimelineBuilder, check, failover_seconds, trace
from .world import Actor, ChaosSettings, Invoker, World

DEFAULT_MINUTES = 5.0
TRACE_SECONDS = 6.0  # shown either side of a violation


@dataclass
class ChaosResult:
    settings: ChaosSettings
    record: ChaosRecord
    checked: CheckedTimeline
    actor_errors: list[str]
    duplicates: int

    @property
    def passed(self) -> bool:
        return not self.checked.violations and not self.actor_errors

    def faults_by_type(self) -> Counter[str]:
        return self.record.fault_counts()

    def fault_families(self) -> set[str]:
        """The families of fault exercised: node:*, aws:*, kill:*, operator:*, alarm, schedule:*."""
        return {kind.split(":", 1)[0] for kind in self.faults_by_type()}

    def moves_by_cause(self) -> Counter[str]:
        """The committed decisions EC2 was called for, by what explains them (failover, preempt, ...)."""
        return Counter(call.cause for call in self.checked.move_calls)


def run_soak(
    settings: ChaosSettings,
    *,
    out: TextIO | None = None,
    base_dir: Path | None = None,
    moto: MotoServer | None = None,
    trace_file: Path | None = None,
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
        invoker.monitor("schedule", lab.stack.schedule_input if lab.stack else {}, 3.0)
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
        builder = TimelineBuilder(
            record,
            allocation_id=lab.allocation_id,
            instance_ids={name: lab.instance_id(name) for name in lab.nodes},
            replay=replay,
        )
        events = builder.events()
        config = CheckConfig.from_settings(load_settings({**lab.monitor_env, **lab.extra_env}))
        checked = check(events, config, record.ended_at or time.time(), builder.unexplained)
        errors = [f"{actor.name}: {error}" for actor in [schedule, *chaos] for error in actor.errors]
        if recorder.poll_errors:
            say(f"outside polls that failed (retried): {dict(recorder.poll_errors)}")
    result = ChaosResult(settings, record, checked, errors, schedule.duplicates)
    if trace_file is not None:
        t0 = record.started_at
        trace_file.write_text("".join(f"+{event.at - t0:9.3f} {describe(event)[15:]}\n" for event in events))
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
    record, checked, settings = result.record, result.checked, result.settings
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
    answers = Counter(event.outcome for event in checked.events if isinstance(event, OperatorAnswer))
    slowest = max((inv.ended_at - inv.started_at for inv in controls if inv.ended_at), default=0.0)
    say(f"operator requests: {len(controls)} (answers {dict(sorted(answers.items()))}); slowest {slowest:.1f} s")
    faulted = sum(1 for call in record.calls if call.fault)
    say(
        f"AWS calls through the proxy: {len(record.calls)} ({faulted} with an injected fault); "
        f"AssociateAddress: {checked.sent_calls} attempts, {len(checked.move_calls)} calls on committed decisions"
    )
    causes = result.moves_by_cause()
    say(f"moves (EC2 calls by cause): {dict(sorted(causes.items()))}")
    changes = [e for e in checked.events if isinstance(e, HolderChange)]
    say(f"EIP holder changes seen from outside: {len(changes)}")
    for change in changes:
        say(f"  +{change.at - t0:7.2f} s  on {change.node or change.instance_id or 'nothing'}")
    seconds = sorted(failover_seconds(checked.events))
    if seconds:
        say(
            f"holder failing -> EIP seen on the other node: {len(seconds)} times, "
            f"median {seconds[len(seconds) // 2]:.2f} s, max {seconds[-1]:.2f} s"
        )
    replays = [e for e in checked.events if isinstance(e, ReplayChecked)]
    for replay in replays:
        say(f"decision log: {replay.detail}")
    sizes = [sample.size_bytes for sample in record.states]
    say(f"state item: {len(sizes)} versions seen, largest {max(sizes, default=0)} bytes")
    say("invariants (the simulator's checker), cases judged:")
    for name, count in checked.judged.items():
        failed = sum(1 for v in checked.violations if v.invariant == name)
        say(f"  {name:<24} {count:>6}   violations {failed}")
    for error in result.actor_errors:
        say(f"actor error: {error}")
    if checked.violations:
        say(
            f"VIOLATIONS: {len(checked.violations)} (seed {settings.seed}; reproduce with "
            f"python -m nginx_eip_failover_lab.chaos --seed {settings.seed} --minutes {settings.seconds / 60:g})"
        )
        for violation in checked.violations[:5]:
            say("")
            for line in trace(checked.events, violation, TRACE_SECONDS):
                say(line)
    else:
        say(f"no violation (seed {settings.seed})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=1, help="chooses every fault, node, duration and request")
    parser.add_argument("--minutes", type=float, default=DEFAULT_MINUTES, help="how long faults are injected")
    parser.add_argument("--trace-file", type=Path, help="write the whole checked timeline there, one event a line")
    args = parser.parse_args(argv)
    if args.minutes <= 0:
        parser.error(f"--minutes must be positive, got {args.minutes:g}")
    processes.install_signal_handlers()
    try:
        result = run_soak(ChaosSettings(seed=args.seed, seconds=args.minutes * 60), trace_file=args.trace_file)
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
