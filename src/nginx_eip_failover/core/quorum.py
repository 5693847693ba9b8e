"""The quorum of observers: several observers' probe verdicts -> one verdict per node.

Observers probe every node from their own subnet and Availability Zone. A network fault between one
observer and one node must not look like the node failing, so:
1. a node fails only when at least a majority of the *configured* observers (2 of 3, 1 of 1) report
   it failing, freshly and without being isolated: never on fewer, whoever is missing;
2. an observer that stops reporting (its newest report older than `stale_after`) is stale: it
   votes neither way, so losing one of three observers still lets the other two fail a node over;
3. an observer that sees every node fail while another fresh observer sees one of them answer is
   isolated (its own network is the likelier fault): its votes are discounted until it sees a node
   answer again, and the caller raises the `observer_isolated` alert while it lasts;
4. a node passes when it did not fail and at least one counted observer saw it answer; with no
   counted vote either way it gets no verdict (its streaks stand still).
With one observer this is exactly `decision.node_verdicts` of its own probes.

Pure: no I/O; `now` and the reports are inputs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from nginx_eip_failover.core.bounds import bounded
from nginx_eip_failover.core.decision import Verdict
from nginx_eip_failover.core.ports import Observation, ObserverReport

# A report is stale after this many heartbeats without a newer one: one lost write is not a death.
STALE_AFTER_HEARTBEATS = 3
# The observer_isolated alert waits at least this long. Votes are discounted at once, so the alert
# only tells an operator about a lasting network fault; in a 30-minute soak with 0.3-2 s link
# hiccups (bench.observers), waiting FallThreshold probes alone (0.5 s) raised it 50 times.
ISOLATED_ALERT_MIN_SECONDS = 5.0


def isolated_alert_after(fall_threshold: int, interval_seconds: float) -> float:
    """How long an observer must stay isolated before the alert: as long as a node's failure must
    last (FallThreshold probes), and never less than ISOLATED_ALERT_MIN_SECONDS."""
    return max((fall_threshold - 1) * interval_seconds, ISOLATED_ALERT_MIN_SECONDS)


def majority(observers: int) -> int:
    """Failure votes a node needs: more than half of the configured observers."""
    return observers // 2 + 1


def stale_after(heartbeat_seconds: float, interval_seconds: float) -> float:
    """Age past which an observer's report no longer counts (a missed heartbeat or two is tolerated)."""
    return STALE_AFTER_HEARTBEATS * heartbeat_seconds + interval_seconds


def report_of(
    observer: str, observations: Iterable[Observation], at: float, previous: ObserverReport | None = None
) -> ObserverReport:
    """One observer's report from its own probe round (several probes of a node: any failure fails it);
    `previous`, its report of the round before, carries on when each node's failures began."""
    ok: dict[str, bool] = {}
    details: dict[str, str] = {}
    seen_at: dict[str, float] = {}
    runs: dict[str, tuple[float, ...]] = {}
    for observation in observations:
        if observation.auth_failed:
            continue  # refused its credentials: this observer has no vote on the node this round
        if ok.get(observation.node, True):
            ok[observation.node] = observation.ok
            details[observation.node] = bounded(observation.detail)
            if observation.run:
                runs[observation.node] = observation.run
            if not observation.ok:
                answered = not observation.timed_out
                seen_at[observation.node] = at + (observation.latency_ms / 1000 if answered else 0.0)
    failing_since = {
        node: previous.failing_since.get(node, at) if previous is not None and previous.ok.get(node) is False else at
        for node, passed in ok.items()
        if not passed
    }
    return ObserverReport(
        observer=observer, at=at, ok=ok, details=details, failing_since=failing_since, seen_at=seen_at, runs=runs
    )


def same_verdicts(a: ObserverReport | None, b: ObserverReport) -> bool:
    """Whether `b` tells the others nothing new about the nodes (only a heartbeat would be due). A run
    that grew is news: a quorum's failure (or rise) needs the voters' runs, so an observer publishes
    each probe of a run until the run is as long as it is kept (FallThreshold or RiseThreshold), then
    only heartbeats: a few writes per failure, none while steady."""
    if a is None or dict(a.ok) != dict(b.ok):
        return False
    return all(len(a.runs.get(node, ())) == len(b.runs.get(node, ())) for node in b.ok)


def _strongest(runs: Sequence[tuple[float, ...]], needed: int) -> tuple[float, ...]:
    """The run that `needed` voters each match or beat: the needed-th longest (ties: the shorter span),
    so a quorum's run is never stronger than what a majority saw on its own."""
    ranked = sorted(runs, key=lambda run: (len(run), run[-1] - run[0] if run else 0.0), reverse=True)
    return ranked[needed - 1] if len(ranked) >= needed else ()


@dataclass(frozen=True)
class QuorumView:
    verdicts: dict[str, Verdict]  # only nodes that got a verdict (see rule 4)
    fresh: frozenset[str]
    stale: frozenset[str]
    isolated: frozenset[str]
    # isolated observer -> since when it has failed every node (by its own reports)
    isolated_since: dict[str, float]

    def isolated_for(self, seconds: float, now: float) -> frozenset[str]:
        """The isolated observers that have been so for at least `seconds`: worth an alert (a blip that
        fails one observer's probes of every node at once is discounted, but not reported)."""
        return frozenset(name for name, since in self.isolated_since.items() if now - since >= seconds)


def _sees_every_node_fail(report: ObserverReport, nodes: Sequence[str]) -> bool:
    return all(report.ok.get(node) is False for node in nodes)


def combine(
    reports: Iterable[ObserverReport],
    observers: Sequence[str],
    nodes: Sequence[str],
    now: float,
    stale_after_seconds: float,
    probed_at: float | None = None,
) -> QuorumView:
    """The verdict per node from the newest report of each configured observer (rules 1-4 above).

    A failing verdict counts from when the majority had seen the failure (`Verdict.seen_after`,
    after `probed_at`, the decider's own probes): the needed-th earliest of the voters' seen times.
    Each is inside the failure, so one blip never spans more than itself, however many observers
    and deciders see it."""
    newest: dict[str, ObserverReport] = {}
    for report in reports:
        if report.observer in observers and (report.observer not in newest or report.at > newest[report.observer].at):
            newest[report.observer] = report
    # A report from the future (clocks a little apart) is fresh, not stale.
    fresh = {name: report for name, report in newest.items() if now - report.at <= stale_after_seconds}
    # Isolation needs a witness: another fresh observer that reached at least one node. Without one,
    # every observer failing every node is what a real outage of the pair looks like.
    isolated = {
        name
        for name, report in fresh.items()
        if _sees_every_node_fail(report, nodes)
        and any(not _sees_every_node_fail(other, nodes) for other_name, other in fresh.items() if other_name != name)
    }
    counted = [report for name, report in sorted(fresh.items()) if name not in isolated]
    needed = majority(len(observers))
    verdicts: dict[str, Verdict] = {}
    for node in nodes:
        failing = [report for report in counted if report.ok.get(node) is False]
        passing = [report for report in counted if report.ok.get(node) is True]
        if len(failing) >= needed:
            seen = sorted(report.seen_at.get(node, report.at) for report in failing)[needed - 1]
            start = now if probed_at is None else probed_at
            # Each voter's own run (a report without one, from an older version: a run of one).
            run = _strongest([r.runs.get(node) or (r.seen_at.get(node, r.at),) for r in failing], needed)
            verdicts[node] = Verdict(False, _detail(failing, node, len(observers)), max(0.0, seen - start), run)
        elif passing:
            # A pass needs one counted voter (rule 4): its rise is the longest run a voter saw.
            run = _strongest([r.runs.get(node) or (r.at,) for r in passing], 1)
            verdicts[node] = Verdict(True, _detail(passing, node, len(observers)), run=run)
    return QuorumView(
        verdicts=verdicts,
        fresh=frozenset(fresh),
        stale=frozenset(observers) - frozenset(fresh),
        isolated=frozenset(isolated),
        isolated_since={
            name: max((fresh[name].failing_since.get(node, fresh[name].at) for node in nodes), default=fresh[name].at)
            for name in isolated
        },
    )


def _detail(voters: Sequence[ObserverReport], node: str, observers: int) -> str:
    first = voters[0].details.get(node, "")
    if observers == 1:
        return bounded(first)  # one observer: the probe's own words, as without a quorum
    names = ",".join(report.observer for report in voters)
    return bounded(f"{len(voters)}/{observers} observers ({names}): {first}")


def describe_isolated(isolated: frozenset[str], reports: Mapping[str, ObserverReport]) -> str:
    """For the alert: who is isolated and what it last saw."""
    parts = []
    for name in sorted(isolated):
        report = reports.get(name)
        seen = "; ".join(f"{node}: {detail}" for node, detail in sorted(report.details.items())) if report else ""
        parts.append(f"{name} ({seen})" if seen else name)
    return bounded(
        "observer(s) see every node fail while others reach them; their votes are discounted: " + ", ".join(parts), 600
    )
