"""A short demo of found nodes (docs/found-nodes.md): each node in an Auto Scaling group, instances
replaced while the EIP stays on the healthy node.

    python -m nginx_eip_failover_lab found-nodes [--keep]

The lab is the usual one with `found_nodes=True`: one group per node in the moto server, the
template's lifecycle hooks, the MonitorFunction on its schedule (back-to-back invocations), and
DescribeAddresses polled every 100 ms to record every EIP holder change. Steps: the EIP is placed
on node1; node2's instance is replaced (the EIP must stay on node1 throughout, and node2's new
instance must rise); node1's instance is terminated through its lifecycle hook (the EIP must move
to node2 before the action is completed, and stay there); node1's replacement rises and, with
Preempt, takes the EIP back. Exit 0 only if every step behaved.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from nginx_eip_failover_lab.environment import LabEnvironment
from nginx_eip_failover_lab.iam.enforcement import summary_line
from nginx_eip_failover_lab.scheduler import MonitorScheduler

from .demo import QUICK


class HolderWatch:
    """Every change of the EIP's instance, polled every 100 ms: (seconds since start, instance)."""

    def __init__(self, lab: LabEnvironment) -> None:
        self.lab = lab
        self.changes: list[tuple[float, str | None]] = []
        self._stop = threading.Event()
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._poll, name="eip-watch", daemon=True)

    def start(self) -> HolderWatch:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2.0)

    def mark(self) -> int:
        return len(self.changes)

    def since(self, mark: int) -> list[str | None]:
        return [instance for _, instance in self.changes[mark:]]

    def _poll(self) -> None:
        while not self._stop.is_set():
            try:
                instance = self.lab.eip_instance()
            except Exception:  # a poll that fails is tried again
                instance = "?"
            if not self.changes or self.changes[-1][1] != instance:
                self.changes.append((time.monotonic() - self._started, instance))
            time.sleep(0.1)


def _until(done: Callable[[], bool], seconds: float) -> bool:
    give_up = time.monotonic() + seconds
    while time.monotonic() < give_up:
        if done():
            return True
        time.sleep(0.2)
    return done()


def run_found_nodes_demo(*, keep: bool = False) -> int:
    started = time.monotonic()

    def say(text: str) -> None:
        print(f"{time.monotonic() - started:6.1f} s  {text}", flush=True)

    lab = LabEnvironment(settings={**QUICK.settings(), "RiseThreshold": "3"}, found_nodes=True)
    results: list[tuple[str, bool, str]] = []
    schedule: MonitorScheduler | None = None
    watch: HolderWatch | None = None
    try:
        lab.start()
        assert lab.node_groups is not None and lab.stack is not None
        say(f"lab up: stack {lab.stack_name}; groups {dict(lab.node_groups.groups)}")
        schedule = MonitorScheduler(
            {**lab.monitor_env, **lab.extra_env}, lab.stack.schedule_input, remaining_ms=QUICK.invocation_ms
        ).start()
        watch = HolderWatch(lab).start()

        def node_status(node: str) -> dict[str, Any]:
            return dict(lab.state().get("nodes", {}).get(node) or {})

        # 1. placement
        ok = _until(lambda: lab.holder() == "node1" and node_status("node2").get("status") == "up", 30)
        results.append(("EIP placed on node1; node2 up", ok, f"holder {lab.holder()}"))
        say(f"1 placed: EIP on {lab.holder()} ({lab.eip_instance()})")

        # 2. node2's instance replaced while node1 serves
        mark = watch.mark()
        old, new, result = lab.replace_node("node2")
        say(f"2 node2 replaced: {old} -> {new}; lifecycle: {result.payload if result else None}")
        risen = _until(
            lambda: node_status("node2").get("instance_id") == new and node_status("node2").get("status") == "up", 30
        )
        held = all(instance == lab.node_instance("node1") for instance in watch.since(mark)) and lab.holder() == "node1"
        results.append(
            (
                "node2 replaced: EIP stays on node1 throughout; the new node2 rises",
                held and risen,
                f"holders seen {watch.since(mark) or ['unchanged']}; node2 {node_status('node2').get('status')}",
            )
        )

        # 3. node1's instance terminated through its lifecycle hook: the EIP leaves it first
        mark = watch.mark()
        instance, event = lab.terminate_node("node1")
        answer = lab.lifecycle(event)
        payload = answer.payload or {}
        moved = lab.eip_instance() == new
        let_go = instance not in lab.group_instances("node1")
        say(f"3 node1 {instance} terminating: lifecycle answered {payload}")
        results.append(
            (
                "node1 terminated via its hook: EIP moved to node2, then the action completed",
                bool(answer.ok) and payload.get("moved_to") == "node2" and moved and let_go,
                f"EIP on {lab.holder()}; action {payload.get('completed')}; instance let go: {let_go}",
            )
        )
        lab.nodes["node1"].stop()
        lab.nodes["node1"].start()  # the replacement's nginx
        # 4. node1's replacement rises; with Preempt it takes the EIP back
        replacement = lab.node_instance("node1")
        back = _until(lambda: lab.eip_instance() == replacement, 45)
        results.append(
            (
                "node1's replacement rises and, with Preempt, takes the EIP back",
                back,
                f"holders seen {watch.since(mark)}",
            )
        )
        line, iam_ok = summary_line(lab.proxy.iam if lab.proxy else None)
        results.append(("every call allowed by template.yaml's IAM", iam_ok, line.splitlines()[0]))
    finally:
        if watch is not None:
            watch.stop()
        if schedule is not None:
            schedule.stop()
        lab.stop()
    print()
    for number, (title, ok, observed) in enumerate(results, start=1):
        print(f"{number:>2}  {'PASS' if ok else 'FAIL'}  {title}: {observed}")
    passed = bool(results) and all(ok for _, ok, _ in results)
    print(f"{sum(ok for _, ok, _ in results)}/{len(results)} steps passed: {'ALL PASS' if passed else 'FAILED'}")
    if passed and not keep:
        lab.remove_files()
    else:
        print(f"lab files kept in {lab.dir}")
    return 0 if passed else 1
