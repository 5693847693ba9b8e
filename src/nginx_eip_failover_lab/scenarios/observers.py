"""Observer processes on the lab: MonitorFunction ("local") and the template's Observer2/3Function, each a
long monitor invocation in its own process, probing the nodes through its own links (observer_links).

    observers = LabObservers(lab).start(seconds=60)
    observers.links.cut("observer2", "node1")   # partition one observer from one node
    observers.kill("observer3")                 # an observer lost (its process killed)
    observers.stop()

The lab must be made with observer subnets (OBSERVER_PARAMETERS), so the template itself deploys them.
"""

from __future__ import annotations

import subprocess
import threading
from typing import Any

from nginx_eip_failover_lab import processes
from nginx_eip_failover_lab.environment import LabEnvironment
from nginx_eip_failover_lab.invoke import InvokeResult, invoke_handler
from nginx_eip_failover_lab.nodes.observer_links import ObserverLinks
from nginx_eip_failover_lab.stack.template import MONITOR_FUNCTION

# Template parameters that deploy three observers (the lab has no VPC: the IDs only have to be valid).
OBSERVER_PARAMETERS = {
    "Observer2SubnetId": "subnet-0000000000000b002",
    "Observer3SubnetId": "subnet-0000000000000c003",
    "SecurityGroupIds": "sg-00000000000000001",
}
FUNCTIONS = {"local": MONITOR_FUNCTION, "observer2": "Observer2Function", "observer3": "Observer3Function"}


class LabObservers:
    def __init__(self, lab: LabEnvironment) -> None:
        assert lab.stack is not None, "start the lab first"
        self.lab = lab
        self.names = [name for name, function in FUNCTIONS.items() if function in lab.stack.function_env]
        node_urls = {name: node.health_url for name, node in lab.nodes.items()}
        self.links = ObserverLinks(self.names, node_urls)
        self._processes: dict[str, subprocess.Popen[str]] = {}
        self._threads: dict[str, threading.Thread] = {}
        self.results: dict[str, InvokeResult] = {}

    def env(self, observer: str) -> dict[str, str]:
        """The observer's function environment, as the template sets it, with its own links as URLs."""
        env = self.lab.function_env(FUNCTIONS[observer])
        for node in self.lab.nodes:
            env[f"{node.upper()}_HEALTH_CHECK_URL"] = self.links.url(observer, node)
        return env

    def start(self, seconds: float) -> LabObservers:
        """Start every observer as one monitor invocation that probes for about `seconds`."""
        self.links.start()
        assert self.lab.stack is not None
        event = dict(self.lab.stack.schedule_input)
        for name in self.names:
            env = self.env(name)

            def run(name: str = name, env: dict[str, str] = env) -> None:
                def started(process: Any) -> None:
                    self._processes[name] = process

                self.results[name] = invoke_handler(
                    "monitor", event, env, remaining_ms=int(seconds * 1000), on_start=started
                )

            thread = threading.Thread(target=run, name=f"observer-{name}", daemon=True)
            self._threads[name] = thread
            thread.start()
        return self

    def kill(self, observer: str) -> None:
        """The observer is lost: its process is killed, mid-cycle if it is in one."""
        process = self._processes.get(observer)
        if process is not None:
            processes.terminate_group(process, timeout=1.0)
        self._threads[observer].join(timeout=5)

    def stop(self) -> None:
        for name in list(self._threads):
            self.kill(name)
        self.links.stop()

    def __enter__(self) -> LabObservers:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()
