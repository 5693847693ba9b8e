"""This observer's side of the quorum: share its verdicts, and count the others' when deciding.

How the observers of one EIP share (docs/observers.md):
- after each probe round an observer writes its report (its latest verdict per node) to the board
  when a verdict changed, and otherwise at most once per OBSERVER_HEARTBEAT_SECONDS, so the others
  can tell it is alive: a steady observer costs one write per heartbeat;
- every observer decides (any of them can move the EIP, so losing one loses no decider), through
  the same conditional state write as today;
- it reads the others' reports (one BatchGetItem) only when its decision could depend on them: when
  one of its own probes failed, or the stored state is not "every node up, no failure streak, no
  isolated observer". While all is well nobody reads: its own passing probes change nothing that
  the others' could contradict.
With one observer (the default) nothing is shared and verdicts are today's `node_verdicts`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from nginx_eip_failover.core.config import Settings
from nginx_eip_failover.core.decision import (
    ALERT_OBSERVER_ISOLATED,
    Context,
    Notices,
    Verdict,
    node_verdicts,
    record_isolation,
    record_probes,
)
from nginx_eip_failover.core.errors import StateStoreError
from nginx_eip_failover.core.ports import Observation, ObserverBoard, ObserverReport
from nginx_eip_failover.core.quorum import (
    QuorumView,
    combine,
    describe_isolated,
    isolated_alert_after,
    report_of,
    same_verdicts,
    stale_after,
)
from nginx_eip_failover.core.state import ControllerState
from nginx_eip_failover.observability import logger


class ObserverExchange:
    def __init__(
        self, settings: Settings, board: ObserverBoard | None, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.settings = settings
        self._board = board if settings.shares_verdicts else None
        self._clock = clock
        self._published: ObserverReport | None = None
        self._own: ObserverReport | None = None
        self._others: list[ObserverReport] | None = None  # read at most once per probe round
        self.last_view: QuorumView | None = None

    @property
    def others(self) -> tuple[str, ...]:
        return tuple(name for name in self.settings.observers if name != self.settings.observer)

    def share(self, observations: Sequence[Observation], probed_at: float) -> None:
        """Publish this round's report if a verdict changed or the heartbeat is due."""
        self._own = report_of(self.settings.observer, observations, probed_at, self._own)
        self._others = None
        if self._board is None:
            return
        last = self._published
        due = last is None or probed_at - last.at >= self.settings.observer_heartbeat_seconds
        if not due and same_verdicts(last, self._own):
            return
        try:
            self._board.publish(self._own)
        except StateStoreError as exc:
            # Not fatal: the others see this observer's older report age, then go stale.
            logger.warning("observer report not published", extra={"error": str(exc)})
            return
        self._published = self._own

    def record(
        self, state: ControllerState, observations: Sequence[Observation], ctx: Context, probed_at: float
    ) -> tuple[ControllerState, Notices]:
        """`record_probes` with the quorum's verdicts, and the isolation alert raised or cleared."""
        if self._board is None or self._own is None:
            return record_probes(state, node_verdicts(observations, self.settings.quorum), ctx, probed_at), ()
        if self._all_well(state, self._own):
            verdicts = {node: Verdict(True, self._own.details.get(node, "")) for node in self.settings.node_names}
            return record_probes(state, verdicts, ctx, probed_at), ()
        view = combine(
            [self._own, *self._read_others()],
            self.settings.observers,
            self.settings.node_names,
            ctx.now,
            stale_after(self.settings.observer_heartbeat_seconds, self.settings.interval_seconds),
            probed_at,
        )
        self.last_view = view
        recorded = record_probes(state, view.verdicts, ctx, probed_at)
        reports = {report.observer: report for report in [self._own, *(self._others or [])]}
        # Votes are discounted at once; the alert waits until the isolation has lasted (see
        # isolated_alert_after), so a hiccup on one observer's network is not an incident.
        settings = self.settings
        lasting = view.isolated_for(isolated_alert_after(settings.fall_threshold, settings.interval_seconds), ctx.now)
        return record_isolation(recorded, lasting, describe_isolated(lasting, reports), ctx)

    def _all_well(self, state: ControllerState, own: ObserverReport) -> bool:
        if ALERT_OBSERVER_ISOLATED in state.alerts:
            return False
        for node in self.settings.node_names:
            health = state.health(node)
            if own.ok.get(node) is not True or health.status != "up" or health.fail_streak:
                return False
        return True

    def _read_others(self) -> list[ObserverReport]:
        if self._others is None:
            assert self._board is not None
            try:
                self._others = [r for r in self._board.read(self.others) if r.observer != self.settings.observer]
            except StateStoreError as exc:
                # Without the others' reports this observer's own failure is one vote: not a quorum.
                logger.warning("observer reports not read", extra={"error": str(exc)})
                self._others = []
        return self._others
