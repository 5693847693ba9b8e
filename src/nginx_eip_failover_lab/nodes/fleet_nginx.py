"""One real nginx process serving many nodes, one port each: the nodes of a lab fleet.

A fleet of 50 groups has 100 nodes; 100 nginx masters (and their workers) would cost more than the
monitor they are there to test. `FleetNginx` runs one nginx with a server per node port. Each
port serves the NGINX Plus API-shaped upstream document of its own node from its own files, and
each node can be switched on its own, while the process keeps running:

- `PortNode.set_peers(False)`: the node answers 200 with every upstream peer `down` (a failed
  node as NGINX Plus reports it);
- `PortNode.stop()`: the port closes every request's connection without an answer (nginx's
  `return 444`), as a dead node's port would refuse it: the probe fails at once;
- `PortNode.start()`: serving again.

Switching is a file rename (nginx checks the file per request): no reload, no signal, so stopping
25 nodes at once takes milliseconds.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from nginx_eip_failover_lab.processes import ManagedProcess, free_port, wait_until

from .nginx_node import (
    API_VERSION,
    UPSTREAM,
    _write_atomically,
    check_authorization_value,
    ensure_nginx,
    upstream_document,
)


def _auth_guard(authorization: str | None) -> str:
    if authorization is None:
        return ""
    return f'            if ($http_authorization != "{authorization}") {{ return 401; }}\n'


class PortNode:
    """One node of the fleet: a port of the shared nginx, switchable on its own."""

    def __init__(self, owner: FleetNginx, name: str, port: int) -> None:
        self.owner = owner
        self.name = name
        self.port = port
        self.dir = owner.dir / "api" / name.replace("/", "-")
        self.dir.mkdir(parents=True, exist_ok=True)
        self.peers_up = True
        self.serving = True
        self.authorization: str | None = None  # the Authorization header the node requires (None: none)
        self._write()

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/{API_VERSION}/http/upstreams/{UPSTREAM}"

    @property
    def running(self) -> bool:
        return self.serving and self.owner.running

    @property
    def pid(self) -> int | None:
        return self.owner.pid

    @property
    def state(self) -> str:
        if not self.running:
            return "stopped"
        return "serving" if self.peers_up else "serving, upstream peers down"

    def stop(self) -> None:
        """The port closes connections without answering from now on (the process keeps running)."""
        self.serving = False
        (self.dir / "running").unlink(missing_ok=True)

    def start(self) -> None:
        self.serving = True
        self._write()

    def set_peers(self, up: bool) -> None:
        self.peers_up = up
        self._write()

    def require_authorization(self, value: str | None) -> None:
        """Require `value` as every request's Authorization header (401 otherwise), as a protected
        NGINX Plus API does; the fleet's nginx restarts with the new configuration (a few ms)."""
        check_authorization_value(value)
        self.authorization = value
        self.owner.restart()

    def describe(self) -> dict[str, Any]:
        return {"port": self.port, "state": self.state, "health_check_url": self.health_url, "pid": self.pid}

    def _write(self) -> None:
        _write_atomically(self.dir / "upstream.json", upstream_document(self.peers_up))
        if self.serving:
            marker = self.dir / "running"
            marker.write_text("1\n")
            marker.chmod(0o644)


class FleetNginx:
    """One nginx master (+ workers) listening on one 127.0.0.1 port per node added before `start()`."""

    def __init__(self, base_dir: Path, *, nginx: str | None = None, workers: int = 1) -> None:
        self.dir = base_dir / "fleet-nginx"
        for sub in ("api", "temp"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        self._nginx = nginx or ensure_nginx()
        self._workers = workers
        self._process: ManagedProcess | None = None
        self.nodes: dict[str, PortNode] = {}
        self.config_path = self.dir / "nginx.conf"

    def add_node(self, name: str) -> PortNode:
        if self._process is not None:
            raise RuntimeError("add every node before starting the fleet's nginx")
        node = PortNode(self, name, free_port())
        self.nodes[name] = node
        return node

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.running

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None and self.running else None

    def config(self) -> str:
        user = "user root root;\n" if os.geteuid() == 0 else ""
        temp = self.dir / "temp"
        api = f"/api/{API_VERSION}"
        servers = "".join(
            f"""    server {{
        listen 127.0.0.1:{node.port};
        location = {api}/http/upstreams/{UPSTREAM} {{
            if (!-f {node.dir}/running) {{ return 444; }}
{_auth_guard(node.authorization)}            alias {node.dir}/upstream.json;
        }}
        location / {{ return 404 '{{"error":{{"status":404,"text":"path not found"}}}}'; }}
    }}
"""
            for node in self.nodes.values()
        )
        connections = max(256, 8 * len(self.nodes))
        return f"""# Generated by the nginx-eip-failover lab: the fleet's nodes, one port each, 127.0.0.1 only.
daemon off;
master_process on;
worker_processes {self._workers};
worker_rlimit_nofile {connections * 2 + len(self.nodes) + 64};
{user}pid {self.dir}/nginx.pid;
error_log {self.dir}/error.log warn;
events {{ worker_connections {connections}; }}
http {{
    access_log off;
    client_body_temp_path {temp}/client_body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    default_type application/json;
    add_header Cache-Control "no-store" always;
{servers}}}
"""

    def start(self, timeout: float = 15.0) -> FleetNginx:
        if self.running:
            return self
        self.config_path.write_text(self.config())
        self._process = ManagedProcess(
            f"nginx fleet ({len(self.nodes)} ports)",
            [self._nginx, "-p", str(self.dir), "-c", str(self.config_path), "-e", str(self.dir / "error.log")],
            self.dir / "nginx.out",
            cwd=self.dir,
        )
        self._process.start()
        if not wait_until(lambda: self._all_answer() or not self.running, timeout) or not self.running:
            log = self.dir / "error.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            self.stop()
            raise RuntimeError(f"the fleet's nginx did not start on its {len(self.nodes)} ports:\n{tail}")
        return self

    def stop(self) -> None:
        if self._process is not None:
            self._process.stop()

    def restart(self) -> None:
        """A new configuration (a node's auth): stopped and started again on the same ports."""
        if self.running:
            self.stop()
            self.start()

    def _all_answer(self) -> bool:
        import socket

        for node in self.nodes.values():
            try:
                with socket.create_connection(("127.0.0.1", node.port), timeout=0.2):
                    pass
            except OSError:
                time.sleep(0.05)
                return False
        return True
