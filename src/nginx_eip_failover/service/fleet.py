"""A fleet: the stack's own pair plus the groups of the fleet document, one controller each.

The document is read at cold start and again every REFRESH_SECONDS while running, so a group added
with `fleet apply` is probed within a minute with no template change. A document that fails to
parse is logged and the fleet keeps the groups it had: a typo never stops failover of the others.
Every group's cycle runs concurrently (each probes its nodes in threads of its own), so one group's
hung node or slow AWS call never holds the others back. Groups on the same nodes (active/active: two
address sets on one pair) share one probe per node per cycle.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass

from nginx_eip_failover.core.bounds import bounded
from nginx_eip_failover.core.config import DEFAULT_GROUP, Settings
from nginx_eip_failover.core.errors import FailoverError, FleetConfigError, InvalidRequestError
from nginx_eip_failover.core.ports import FleetStorePort
from nginx_eip_failover.observability import logger
from nginx_eip_failover.service.controller import CycleReport, FailoverController
from nginx_eip_failover.service.shared_probes import ProbeRounds

REFRESH_SECONDS = 60.0
MAX_PARALLEL_GROUPS = 32


@dataclass
class GroupResult:
    group: str
    report: CycleReport | None = None
    error: FailoverError | None = None


class Fleet:
    def __init__(
        self,
        default: FailoverController,
        build: Callable[[Settings], FailoverController],
        store: FleetStorePort | None,
        *,
        refresh_seconds: float = REFRESH_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
        executor: Executor | None = None,
        probe_rounds: ProbeRounds | None = None,
        fixed: tuple[FailoverController, ...] = (),
    ) -> None:
        self.base = default.settings
        # Groups of the template's parameters besides the pair (its second address set): always
        # run, never from the document, and no document group may take their name or addresses.
        self._fixed = {controller.settings.group: controller for controller in fixed}
        self.reserved = tuple(controller.settings for controller in fixed)
        self._build = build
        self.store = store  # where the fleet document is kept; None: the stack's own pair only
        self._refresh_seconds = refresh_seconds
        self._controllers: dict[str, FailoverController] = {DEFAULT_GROUP: default, **self._fixed}
        # Each document group's settings as parsed: a controller's own are its found nodes' resolution
        # of the cycle, so comparing with those would rebuild every found group at each new version.
        self._parsed: dict[str, Settings] = {}
        self._version = -1
        self._loaded_at = float("-inf")
        self._monotonic = monotonic
        # Runs the groups' cycles concurrently: a thread pool, made on first use (the simulator
        # passes one that runs each group as one of its actors).
        self._pool: Executor | None = executor
        # Groups on the same nodes (active/active) share each cycle's probes (service/shared_probes).
        self.probe_rounds = probe_rounds

    # --- the groups ---------------------------------------------------------------------------

    def controllers(self) -> Mapping[str, FailoverController]:
        if self.store is not None and self._monotonic() - self._loaded_at >= self._refresh_seconds:
            self.refresh()
        return self._controllers

    def refresh(self, *, consistent: bool = False) -> None:
        """Read the document; rebuild only the groups whose settings changed (a controller keeps its
        cached state and its probe pool)."""
        from nginx_eip_failover.core.fleet_config import parse_fleet_json

        assert self.store is not None
        self._loaded_at = self._monotonic()
        try:
            document = self.store.load(consistent=consistent)
        except FailoverError:
            logger.exception("cannot read the fleet document; keeping the groups loaded before")
            return
        if document.version == self._version:
            return
        try:
            groups = parse_fleet_json(document.text, self.base, self.reserved) if document.text is not None else ()
        except FleetConfigError:
            logger.exception("the stored fleet document is invalid; keeping the groups loaded before")
            return
        controllers = {DEFAULT_GROUP: self._controllers[DEFAULT_GROUP], **self._fixed}
        for settings in groups:
            old = self._controllers.get(settings.group)
            unchanged = old is not None and self._parsed.get(settings.group) == settings
            controllers[settings.group] = old if old is not None and unchanged else self._build(settings)
        self._parsed = {settings.group: settings for settings in groups}
        added = sorted(set(controllers) - set(self._controllers))
        removed = sorted(set(self._controllers) - set(controllers))
        if added or removed:
            logger.info("fleet changed", extra={"version": document.version, "added": added, "removed": removed})
        self._controllers = controllers
        self._version = document.version

    def start_invocation(self) -> None:
        """Every group's probe runs start afresh (an alarm-started invocation: FleetRunner). What
        starts one is often the failure itself: short alarm invocations on one warm container, each
        probing a 0.5 s blip 1.7 s after the last, once made a run of three while the running
        monitor's successes between them went unwritten (simulator scenario short_gaps)."""
        for controller in self._controllers.values():
            controller.start_invocation()

    def group(self, name: str | None) -> FailoverController:
        """The group a control request names; optional while the fleet is the stack's pair alone."""
        controllers = self.controllers()
        if name is None:
            if len(controllers) == 1:
                return controllers[DEFAULT_GROUP]
            raise InvalidRequestError("group", None, f"is required: this stack serves {_names(controllers)}")
        controller = controllers.get(name)
        if controller is None:
            raise InvalidRequestError("group", name, f"is not a group of this stack; known: {_names(controllers)}")
        return controller

    def group_settings(self, name: str | None) -> Settings:
        """The settings of the group a control request names (raises as `group` does)."""
        return self.group(name).settings

    # --- one monitor cycle of every group --------------------------------------------------------

    def run_cycles(self, actor: str, time_left: Callable[[], float] | None = None) -> list[GroupResult]:
        if self.probe_rounds is None:
            return self._run_all(actor, time_left)
        with self.probe_rounds.cycle():
            return self._run_all(actor, time_left)

    def _run_all(self, actor: str, time_left: Callable[[], float] | None) -> list[GroupResult]:
        controllers = list(self.controllers().items())
        if len(controllers) == 1:
            return [_run(name, controller, actor, time_left) for name, controller in controllers]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(MAX_PARALLEL_GROUPS, thread_name_prefix="group")
        futures = [self._pool.submit(_run, name, controller, actor, time_left) for name, controller in controllers]
        return [future.result() for future in futures]


class FleetRunner:
    """What the monitor loop drives for a fleet: every group's cycle at once. Its `run_cycle`
    answers the stack's own pair's report (the monitor's result keeps its single-pair shape); the
    other groups' outcomes are summarised by `groups()`."""

    def __init__(self, fleet: Fleet, *, runs_start_afresh: bool = True) -> None:
        self.fleet = fleet
        # One runner per monitor invocation. An alarm-started one begins afresh: what starts it is
        # often the failure itself, so runs carried across such starts add up blips that another
        # container saw end (sim short_gaps). A scheduled one starts a minute after the last and the
        # last handed over only once its failure runs ended (monitor_loop), so what it carries is a
        # run its own timeout cut, which it may finish.
        if runs_start_afresh:
            fleet.start_invocation()
        self.settings = fleet.base  # interval and timeout are the stack's
        self._last: dict[str, GroupResult] = {}
        self._moves: dict[str, list[str]] = {}
        self._errors: dict[str, list[str]] = {}
        self._move_errors: dict[str, list[str]] = {}

    def failure_run_in_progress(self) -> bool:
        return any(controller.failure_run_in_progress() for controller in self.fleet.controllers().values())

    def run_cycle(self, actor: str, time_left: Callable[[], float] | None = None) -> CycleReport:
        results = self.fleet.run_cycles(actor, time_left)
        for result in results:
            self._last[result.group] = result
            if result.report is not None and result.report.moved_to is not None:
                self._moves.setdefault(result.group, []).append(result.report.moved_to)
            if result.report is not None and result.report.move_error:
                # Room for an address set's reasons, a denial naming its action and resources included.
                self._move_errors.setdefault(result.group, []).append(bounded(result.report.move_error, 600))
            if result.error is not None:
                self._errors.setdefault(result.group, []).append(str(result.error)[:200])
        default = next(result for result in results if result.group == DEFAULT_GROUP)
        if default.error is not None:
            raise default.error
        assert default.report is not None
        return default.report

    def groups(self) -> dict[str, dict[str, object]]:
        """Each other group's latest holder, node health and alerts, and this invocation's moves
        and failed moves (the last 3: `move_errors` as the pair's, `errors` for failed cycles)."""
        summary: dict[str, dict[str, object]] = {}
        for name, result in sorted(self._last.items()):
            if name == DEFAULT_GROUP:
                continue
            entry: dict[str, object] = {
                "moves": self._moves.get(name, []),
                "move_errors": self._move_errors.get(name, [])[-3:],
                "errors": self._errors.get(name, [])[-3:],
            }
            if result.report is not None:
                settings = self.fleet.controllers()[name].settings if name in self.fleet.controllers() else None
                state = result.report.decision.state
                holder = result.report.association.instance_id
                entry.update(
                    holder=settings.describe_association(holder) if settings else holder,
                    nodes={node: health.status for node, health in sorted(state.nodes.items())},
                    alerts=sorted(state.alerts),
                    decision=result.report.decision.reason,
                )
            summary[name] = entry
        return summary


def _run(name: str, controller: FailoverController, actor: str, time_left: Callable[[], float] | None) -> GroupResult:
    try:
        return GroupResult(name, report=controller.run_cycle(actor, time_left))
    except FailoverError as exc:
        # One group's AWS fault costs its cycle, not the other groups' (nor the invocation).
        logger.exception("group cycle failed", extra={"group": name, "error": str(exc)})
        return GroupResult(name, error=exc)


def _names(controllers: Mapping[str, object]) -> str:
    names = sorted(controllers)
    return ", ".join(names[:20]) + (f" and {len(names) - 20} more" if len(names) > 20 else "")
