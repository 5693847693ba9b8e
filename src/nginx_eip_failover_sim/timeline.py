"""The recorded timeline the invariants are checked on: plain events, each with a time.

The simulator records these from its simulated world; the chaos soak on the lab records the same
types from the outside (the EIP polled, the nodes' true states, requests and answers). Nothing here
depends on how the events were obtained: `invariants.Checker` reads them in time order.

Times are epoch seconds on the recorder's clock. `group` is the fleet group ("default": the stack's
own pair); node names are per group.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Literal

Outcome = Literal["ok", "refused", "invalid", "error", "crashed"]


@dataclass(frozen=True)
class NodeTruth:
    """Ground truth: from `at`, probes of `node` fail (`failing`, `how` says in which way: refused,
    reset, hang, http_500, garbage, peers_down, ...) or succeed again (`failing` False)."""

    at: float
    group: str
    node: str
    failing: bool
    how: str = ""


@dataclass(frozen=True)
class ProbeFailed:
    """A probe of `node` sent at `sent_at` by `actor` (an invocation) failed; `at`: when it was known.
    `prober`: the container whose probe it was; `run`: that container's consecutive failed probes of
    the node so far, this one included (no success of its own in between), the first sent at
    `run_from` (what the checker's no_down_without_run reads)."""

    at: float
    group: str
    node: str
    sent_at: float
    actor: str
    detail: str = ""
    prober: str = ""
    run: int = 0
    run_from: float | None = None


@dataclass(frozen=True)
class HolderChange:
    """The EIP (or one address of a group's set) is now on `instance_id` (None: unassociated), as seen
    from outside the controller; `node` is the pair member with that instance, if any."""

    at: float
    group: str
    address: str
    instance_id: str | None
    node: str | None


@dataclass(frozen=True)
class MoveCall:
    """One mutating EC2 call (AssociateAddress, AssignPrivateIpAddresses, ReplaceRoute ...) for one
    address, on behalf of the committed decision `decision_id` (the move intent's id).

    `cause`: `invariants.move_cause(reason)` of the intent's reason; `probed_at`: when the probes the
    decision was made on were taken; `forced`: an operator failover with "force": true."""

    at: float
    group: str
    address: str
    target: str
    source: str | None
    decision_id: str
    cause: str
    probed_at: float
    actor: str
    forced: bool = False
    # When the request was sent, where it differs from `at` (its effect): a slow EC2 call in flight
    # when the target failed was decided and sent before anyone could know.
    sent_at: float | None = None


@dataclass(frozen=True)
class DecisionCommitted:
    """A move intent won its conditional write (the decision, before EC2 is called)."""

    at: float
    group: str
    decision_id: str
    target: str
    source: str | None
    cause: str
    reason: str
    probed_at: float
    actor: str
    version: int


@dataclass(frozen=True)
class StateWritten:
    """The state item after a successful write: its size, whether it decodes, and what it says."""

    at: float
    group: str
    version: int
    size_bytes: int
    decodes: bool
    alerts: tuple[str, ...] = ()
    up_nodes: tuple[str, ...] = ()
    move_in_progress: bool = False
    pin: str | None = None
    drains: tuple[str, ...] = ()


@dataclass(frozen=True)
class OperatorRequest:
    at: float
    request_id: str
    group: str
    action: str
    node: str | None = None
    force: bool = False


@dataclass(frozen=True)
class OperatorAnswer:
    """The answer to `request_id` (`elapsed`: seconds since the request). `crashed`: the invocation
    died before answering (its budget still applies to the caller, who sees a Lambda error)."""

    at: float
    request_id: str
    outcome: Outcome
    elapsed: float
    detail: str = ""


@dataclass(frozen=True)
class ReplayChecked:
    """The decision log of `group` replayed through the core (service/replay.py)."""

    at: float
    group: str
    exact: bool
    steps: int
    detail: str = ""


@dataclass(frozen=True)
class Note:
    """Anything else worth reading in a trace: invocations, crashes, injected faults."""

    at: float
    actor: str
    text: str


Event = (
    NodeTruth
    | ProbeFailed
    | HolderChange
    | MoveCall
    | DecisionCommitted
    | StateWritten
    | OperatorRequest
    | OperatorAnswer
    | ReplayChecked
    | Note
)


def describe(event: Event) -> str:
    """One line of a readable trace: time, kind, then the fields that are set."""
    parts = []
    for item in fields(event):
        if item.name == "at":
            continue
        value = getattr(event, item.name)
        if value in (None, "", (), False):
            continue
        parts.append(f"{item.name}={value:.3f}" if isinstance(value, float) else f"{item.name}={value}")
    return f"{event.at:14.3f} {type(event).__name__:<17} {' '.join(parts)}"
