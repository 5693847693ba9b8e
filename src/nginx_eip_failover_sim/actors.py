"""The actors: scheduled and alarm monitor invocations, operators, each in a Lambda container.

A container holds what a warm Lambda keeps between invocations (the fleet, each group's controller
and its cached snapshot); one invocation at a time uses it, and a crashed invocation's container is
thrown away, as Lambda resets an execution environment after a failure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nginx_eip_failover.core.config import DEFAULT_GROUP, Settings
from nginx_eip_failover.core.errors import FailoverError, InvalidRequestError, MonitorCyclesFailedError, RefusedError
from nginx_eip_failover.core.ports import Prober
from nginx_eip_failover.core.streaks import max_probe_gap
from nginx_eip_failover.service.controller import FailoverController
from nginx_eip_failover.service.decision_journal import DecisionJournal
from nginx_eip_failover.service.fleet import Fleet, FleetRunner
from nginx_eip_failover.service.found_nodes import FoundNodes
from nginx_eip_failover.service.monitor_events import MonitorTrigger
from nginx_eip_failover.service.monitor_loop import run_monitor
from nginx_eip_failover.service.operator_requests import parse_control_request
from nginx_eip_failover_sim.found_nodes import GoneWithItsInstance, SimNodeFinder
from nginx_eip_failover_sim.scheduler import END_OF_RUN, Crash, SimExecutor
from nginx_eip_failover_sim.timeline import Note, OperatorAnswer, OperatorRequest, Outcome
from nginx_eip_failover_sim.world import (
    NodeScript,
    SimDecisionLog,
    SimEip,
    SimFleetSource,
    SimLease,
    SimNotifier,
    SimProber,
    SimStore,
    World,
)

MONITOR_TIMEOUT_SECONDS = 150.0  # template.yaml: MonitorFunction Timeout
# A cold container's init (imports, clients) before its first cycle: 1-3 s at 128 MB (issue #25).
COLD_START_SECONDS = (1.0, 3.0)
CONTROL_TIMEOUT_SECONDS = 30.0  # template.yaml: ControlFunction Timeout


@dataclass
class Groups:
    """The simulated AWS side of every group: what all containers share."""

    base: Settings
    fleet_text: str | None
    stores: dict[str, SimStore]
    eips: dict[str, SimEip]
    logs: dict[str, SimDecisionLog]
    scripts: dict[str, list[NodeScript]]
    lease: SimLease
    # Groups whose nodes are found (sim/found_nodes.py): their node finder.
    finders: dict[str, SimNodeFinder] = field(default_factory=dict)


class Containers:
    def __init__(self, world: World, groups: Groups) -> None:
        self._world = world
        self._groups = groups
        self._free: dict[str, list[Fleet]] = {"monitor": [], "control": []}
        self._made = 0

    def take(self, function: str) -> Fleet:
        """A warm container if one is free (its controllers keep their cached state, up to the
        refresh period old), else a cold one, after its init time."""
        free = self._free[function]
        if free:
            return free.pop(0)
        self._made += 1
        self._world.recorder.count(f"cold_start:{function}")
        if function == "monitor":
            self._world.sched.sleep(self._world.rng.uniform(*COLD_START_SECONDS), "cold_start")
        writer = f"{function[0]}{self._made}"
        return Fleet(
            self._controller(self._groups.base, writer),
            lambda settings: self._controller(settings, writer),
            SimFleetSource(self._world, self._groups.fleet_text) if self._groups.fleet_text else None,
            monotonic=self._world.sched.monotonic,
            executor=SimExecutor(self._world.sched),
        )

    def give_back(self, function: str, fleet: Fleet) -> None:
        self._free[function].append(fleet)

    def _controller(self, settings: Settings, writer: str) -> FailoverController:
        world, groups = self._world, self._groups
        group = settings.group
        rng = world.rng
        gap = max_probe_gap(settings)
        prober: Prober = SimProber(world, groups.scripts[group], settings.timeout_seconds, prober=writer, max_gap=gap)
        journal = DecisionJournal(groups.logs[group], settings, writer=f"{writer}-{group}")
        found = None
        if group in groups.finders:
            scripts = groups.scripts[group]
            finder = groups.finders[group]
            found = FoundNodes(
                finder,
                lambda nodes: GoneWithItsInstance(
                    world,
                    SimProber(
                        world,
                        [s for s in scripts if s.node.name in {n.name for n in nodes}],
                        settings.timeout_seconds,
                        prober=writer,
                        max_gap=gap,
                    ),
                    nodes,
                    finder.replaced_at,
                ),
                monotonic=world.sched.monotonic,
            )
            found.on_change.append(journal.use_settings)
            prober = found
        return FailoverController(
            settings,
            store=groups.stores[group],
            eip=groups.eips[group],
            prober=prober,
            found_nodes=found,
            notifier=SimNotifier(world),
            clock=world.sched.time,
            monotonic=world.sched.monotonic,
            new_id=lambda: f"{rng.getrandbits(48):012x}",
            per_node_metrics=False,
            journal=journal,
        )


def monitor_invocation(
    world: World,
    containers: Containers,
    groups: Groups,
    kind: str,
    invocation: str,
    seconds: float = MONITOR_TIMEOUT_SECONDS,
) -> Callable[[], None]:
    def body() -> None:
        sched = world.sched
        fleet = containers.take("monitor")
        trigger = MonitorTrigger(kind="schedule" if kind == "schedule" else "alarm", actor=f"monitor:{kind}")
        if trigger.starts_runs_afresh:
            world.fresh_run_invocations.add(invocation)
        deadline = sched.monotonic() + seconds
        world.recorder.record(Note(sched.now, invocation, f"{kind} invocation starts"))
        try:
            result = run_monitor(
                FleetRunner(fleet, runs_start_afresh=trigger.starts_runs_afresh),
                trigger,
                lambda: int((deadline - sched.monotonic()) * 1000),
                lease=groups.lease if kind == "schedule" else None,
                invocation_id=invocation,
                sleep=lambda seconds: sched.sleep(seconds, "loop:sleep"),
                clock=sched,
            )
        except MonitorCyclesFailedError:
            world.recorder.count("monitor:no_cycle_succeeded")
            containers.give_back("monitor", fleet)
            return
        except Crash:
            point = sched.current().crash_point
            if point != END_OF_RUN:
                world.recorder.record(Note(sched.now, invocation, f"crashed at {point}"))
                world.recorder.count(f"crash:{point}")
            raise
        world.recorder.count(f"monitor:ended:{result['ended']}")
        world.recorder.record(Note(sched.now, invocation, f"{kind} invocation ends: {result['ended']}"))
        containers.give_back("monitor", fleet)

    return body


def operator_invocation(
    world: World, containers: Containers, event: dict[str, Any], request_id: str
) -> Callable[[], None]:
    def body() -> None:
        sched = world.sched
        started = sched.now
        group = str(event.get("group", DEFAULT_GROUP))
        node = event.get("target", event.get("node"))
        action = str(event.get("action"))
        world.recorder.record(
            OperatorRequest(
                started, request_id, group, action, node if isinstance(node, str) else None, bool(event.get("force"))
            )
        )
        world.forced[request_id] = bool(event.get("force")) and action == "failover"
        fleet = containers.take("control")
        deadline = sched.monotonic() + CONTROL_TIMEOUT_SECONDS

        def answer(outcome: Outcome, detail: str) -> None:
            world.recorder.count(f"operator:{action}:{outcome}")
            world.recorder.record(
                OperatorAnswer(sched.now, request_id, outcome, round(sched.now - started, 3), detail[:200])
            )

        try:
            controller = fleet.group(event.get("group") if isinstance(event.get("group"), str) else None)
            request = parse_control_request(event, controller.settings)
            time_left = lambda: deadline - sched.monotonic()  # noqa: E731 - the handler's shape
            if request.action == "status":
                controller.status()
                detail = "status"
            elif request.action == "plan" or request.dry_run:
                plan = controller.plan(None if request.action == "plan" else request, "operator", time_left)
                detail = f"would {plan.would}: {plan.reason}"
            else:
                report = controller.run_control(request, "operator", time_left)
                controller.status()
                detail = report.move_error or report.decision.reason
        except RefusedError as refused:
            answer("refused", str(refused))
        except InvalidRequestError as invalid:
            answer("invalid", str(invalid))
        except FailoverError as error:
            answer("error", str(error))
        except Crash:
            if sched.current().crash_point != END_OF_RUN:
                answer("crashed", sched.current().crash_point)
            raise
        else:
            answer("ok", detail)
        containers.give_back("control", fleet)

    return body
