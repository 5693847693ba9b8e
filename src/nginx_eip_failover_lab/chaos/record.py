"""What the chaos soak records while it runs: the truth the lab made and what it saw from outside.

- node truth: every change the actors made to a node (stopped, hung, peers down, a raw body...),
  with whether a correct probe would pass at that moment;
- the EIP holder, polled from outside the functions (DescribeAddresses against moto directly, never
  through the functions' proxy) every `holder_interval` seconds;
- the state item, polled (consistent read): its size in bytes, whether it decodes, and every history
  entry it ever held (the item keeps only the newest, so the poll accumulates them);
- every invocation (monitor or control) with its request, answer and elapsed time, and whether the
  soak killed it;
- every fault an actor injected, by type;
- at the end, every AWS call the proxy saw (the functions' EC2 move calls among them).

Times are `time.time()` of this machine, the same clock the functions stamp their history with.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nginx_eip_failover.core.state import state_from_dict

if TYPE_CHECKING:
    from nginx_eip_failover_lab.aws.proxy import Call
    from nginx_eip_failover_lab.environment import LabEnvironment


@dataclass(frozen=True)
class NodeTruth:
    """From `at` on, `node` is in `condition`; `healthy`: a correct probe passes (2xx, a peer up, in time)."""

    at: float
    node: str
    condition: str  # "serving", "stopped", "hung", "peers down", "garbage", "slow"
    healthy: bool


@dataclass(frozen=True)
class HolderSample:
    asked_at: float  # DescribeAddresses was sent then: the association it shows is no older
    at: float  # ... and its answer came back then
    instance_id: str | None
    holder: str | None  # "node1", "node2", None (unassociated) or "foreign:<instance>"


@dataclass(frozen=True)
class StateSample:
    at: float
    size_bytes: int
    version: int
    decodes: bool
    error: str = ""
    alerts: tuple[str, ...] = ()
    up_nodes: tuple[str, ...] = ()
    move_in_progress: bool = False
    pin: str | None = None
    drains: tuple[str, ...] = ()


@dataclass
class InvocationRecord:
    number: int
    function: str  # "monitor" or "control"
    trigger: str  # "schedule", "duplicate", "alarm", "blip", "operator"
    request: Any
    started_at: float
    ended_at: float | None = None
    ok: bool | None = None
    payload: Any = None
    error: str = ""
    killed: bool = False
    budget_seconds: float = 0.0


@dataclass(frozen=True)
class InjectedFault:
    at: float
    kind: str  # e.g. "node:stop", "aws:ec2 RequestLimitExceeded", "kill:held AssociateAddress"
    detail: str


@dataclass
class ChaosRecord:
    started_at: float
    truths: list[NodeTruth] = field(default_factory=list)
    holders: list[HolderSample] = field(default_factory=list)
    states: list[StateSample] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    invocations: list[InvocationRecord] = field(default_factory=list)
    faults: list[InjectedFault] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    ended_at: float | None = None

    def fault_counts(self) -> Counter[str]:
        return Counter(fault.kind for fault in self.faults)

    def holder_changes(self) -> list[HolderSample]:
        changes: list[HolderSample] = []
        for sample in self.holders:
            if not changes or changes[-1].holder != sample.holder:
                changes.append(sample)
        return changes


class Recorder:
    """Thread-safe recording, and the two outside pollers (EIP holder, state item)."""

    def __init__(self, lab: LabEnvironment, *, holder_interval: float = 0.1, state_interval: float = 0.25) -> None:
        self.lab = lab
        self.record = ChaosRecord(started_at=time.time())
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._holder_interval = holder_interval
        self._state_interval = state_interval
        self._seen_history: set[str] = set()
        self._threads = [
            threading.Thread(
                target=self._poll, args=(self._poll_holder, holder_interval), name="chaos-eip", daemon=True
            ),
            threading.Thread(
                target=self._poll, args=(self._poll_state, state_interval), name="chaos-state", daemon=True
            ),
        ]
        self.poll_errors: Counter[str] = Counter()
        self._counter = 0

    # -- recording ---------------------------------------------------------------------------------
    def truth(self, node: str, condition: str, healthy: bool) -> None:
        with self._lock:
            self.record.truths.append(NodeTruth(time.time(), node, condition, healthy))

    def fault(self, kind: str, detail: str = "") -> None:
        with self._lock:
            self.record.faults.append(InjectedFault(time.time(), kind, detail))

    def invocation(self, function: str, trigger: str, request: Any, budget_seconds: float) -> InvocationRecord:
        with self._lock:
            self._counter += 1
            entry = InvocationRecord(
                self._counter, function, trigger, request, time.time(), budget_seconds=budget_seconds
            )
            self.record.invocations.append(entry)
        return entry

    # -- polling -----------------------------------------------------------------------------------
    def start(self) -> Recorder:
        for node in self.lab.nodes:
            self.truth(node, "serving", True)
        self._poll_holder()
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> ChaosRecord:
        self._stop.set()
        for thread in self._threads:
            thread.join(10)
        self._poll_holder()
        self._poll_state()
        with self._lock:
            self.record.ended_at = time.time()
            if self.lab.proxy is not None:
                self.record.calls = self.lab.proxy.calls()
        return self.record

    def _poll(self, poll: Any, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                poll()
            except Exception as exc:  # a slow moto answer under load: the next poll tries again
                self.poll_errors[type(exc).__name__] += 1

    def _poll_holder(self) -> None:
        asked = time.time()
        instance = self.lab.eip_instance()  # lab.ec2 talks to moto itself, not through the proxy
        with self._lock:
            self.record.holders.append(HolderSample(asked, time.time(), instance, self.lab.node_of(instance)))

    def _poll_state(self) -> None:
        item = self.lab.item()
        now = time.time()
        if item is None:
            return
        text = item["state"]["S"]
        version = int(item["version"]["N"])
        try:
            data = json.loads(text)
            state = state_from_dict(data)
        except Exception as exc:  # any failure to decode is what invariant 6 is about
            with self._lock:
                self.record.states.append(StateSample(now, _item_bytes(item), version, False, f"{exc}"[:200]))
            return
        sample = StateSample(
            now,
            _item_bytes(item),
            version,
            True,
            alerts=tuple(sorted(state.alerts)),
            up_nodes=tuple(sorted(name for name, health in state.nodes.items() if health.status == "up")),
            move_in_progress=state.move is not None,
            pin=state.pin.node if state.pin else None,
            drains=tuple(sorted(state.drains)),
        )
        with self._lock:
            if not self.record.states or self.record.states[-1].version != version:
                self.record.states.append(sample)
            for entry in data.get("history") or []:
                key = json.dumps(entry, sort_keys=True, default=str)
                if key not in self._seen_history:
                    self._seen_history.add(key)
                    self.record.history.append(entry)


def _item_bytes(item: dict[str, Any]) -> int:
    """The item's size as DynamoDB counts it, roughly: attribute names plus their values' UTF-8 bytes."""
    size = 0
    for name, value in item.items():
        size += len(name.encode())
        for text in value.values():
            size += len(str(text).encode())
    return size
