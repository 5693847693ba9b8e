"""Shared fixtures: an AWS-free environment for unit tests, the template's environment, tiny HTTP nodes."""

from __future__ import annotations

import functools
import json
import os
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

# The template sets these; Metrics reads the namespace when the package is first imported.
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "NginxEipFailoverTests")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "nginx-eip-failover")

from nginx_eip_failover.adapters import aws_clients
from nginx_eip_failover.core.config import Settings, load_settings
from nginx_eip_failover.handlers import preflight_wiring, wiring

# In-process suites: the pure core and service with fakes (unit), adapters and handlers on moto's
# in-process mock_aws (adapters). Integration and e2e tests bring a moto server of their own.
IN_PROCESS_DIRS = (Path(__file__).parent / "unit", Path(__file__).parent / "adapters")
NODE1_ID = "i-0123456789abcdef1"
NODE2_ID = "i-0123456789abcdef2"
ALLOCATION_ID = "eipalloc-0123456789abcdef0"
PEERS_UP = {"peers": [{"id": 0, "server": "10.0.0.5:8080", "state": "up"}]}


@functools.cache
def _shared_session() -> boto3.session.Session:
    # One boto3 session for all unit tests: its loader keeps the parsed service models, so the
    # per-test clients (created inside each test's mock_aws) cost milliseconds, not a second.
    with pytest.MonkeyPatch.context() as env:
        _isolate(env)
        return boto3.session.Session()


def _clear_caches() -> None:
    # Clients must be created inside each test's mock_aws; only the session above is shared.
    wiring.controller.cache_clear()
    wiring.fleet.cache_clear()
    wiring.monitor_lease.cache_clear()
    wiring.probe_credentials.cache_clear()
    for cached in (aws_clients.ec2, aws_clients.dynamodb, aws_clients.sns):
        cached.cache_clear()
    preflight_wiring.clear_control_preflights()
    preflight_wiring.periodic_preflight.cache_clear()


def _isolate(env: pytest.MonkeyPatch) -> None:
    """Dummy credentials and region, no endpoint override, no profile or AWS config files."""
    for name in list(os.environ):
        if name.startswith("AWS_ENDPOINT_URL") or name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
            env.delenv(name)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECURITY_TOKEN", "AWS_SESSION_TOKEN"):
        env.setenv(name, "testing")
    env.setenv("AWS_DEFAULT_REGION", "us-east-1")
    env.setenv("AWS_CONFIG_FILE", os.devnull)
    env.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    env.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")  # 5000 AMIs per mock_aws otherwise


@pytest.fixture(autouse=True)
def _no_real_aws(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Unit and adapter tests: dummy credentials, no endpoint override, no profile, fresh boto3 clients."""
    if not set(IN_PROCESS_DIRS) & set(Path(str(request.node.path)).parents):
        yield  # integration tests bring their own moto server and AWS_ENDPOINT_URL
        return
    _isolate(monkeypatch)
    _clear_caches()
    monkeypatch.setattr(aws_clients, "_session", _shared_session)
    yield
    _clear_caches()


@pytest.fixture(scope="session")
def boto_session() -> boto3.session.Session:
    """The shared session; create clients from it inside `mock_aws` (boto3.client reloads models)."""
    return _shared_session()


@pytest.fixture(scope="module")
def moto_module(boto_session: boto3.session.Session) -> Iterator[None]:
    """One mock_aws for a whole test module (starting EC2's costs half a second): the module's tests
    share it and each makes its own resources (instances, EIPs, queues)."""
    with pytest.MonkeyPatch.context() as env:
        _isolate(env)
        with mock_aws():
            yield


@pytest.fixture
def base_env() -> dict[str, str]:
    """The environment the template gives both functions (a fresh copy per test)."""
    return {
        "EIP_ALLOCATION_ID": ALLOCATION_ID,
        "NODE1_INSTANCE_ID": NODE1_ID,
        "NODE2_INSTANCE_ID": NODE2_ID,
        "NODE1_HEALTH_CHECK_URL": "http://10.0.1.10:8080/api/9/http/upstreams/backend",
        "NODE2_HEALTH_CHECK_URL": "http://10.0.2.10:8080/api/9/http/upstreams/backend",
        "NODE1_PRIORITY": "101",
        "NODE2_PRIORITY": "100",
        "HEALTH_CHECK_INTERVAL_SECONDS": "1",
        "HEALTH_CHECK_TIMEOUT_SECONDS": "1",
        "FALL_THRESHOLD": "3",
        "RISE_THRESHOLD": "2",
        "PREEMPT": "true",
        "PREEMPT_DELAY_SECONDS": "60",
        "STATE_TABLE_NAME": "nginx-eip-failover-state",
        "PREFLIGHT_INTERVAL_SECONDS": "0",  # the template's 900; tests of the preflight turn it on
    }


@pytest.fixture
def settings(base_env: dict[str, str]) -> Settings:
    return load_settings(base_env)


class NodeServer:
    """A tiny HTTP node on 127.0.0.1 whose answer a test can change at any time."""

    def __init__(self) -> None:
        self.status = 200
        self.body: bytes = json.dumps(PEERS_UP).encode()
        self.content_type = "application/json"
        self.headers: dict[str, str] = {}
        self.requests = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests += 1
                self.send_response(owner.status)
                self.send_header("Content-Type", owner.content_type)
                self.send_header("Content-Length", str(len(owner.body)))
                for name, value in owner.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(owner.body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def url(self, path: str = "/api/9/http/upstreams/backend") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def respond(self, status: int, body: object, content_type: str = "application/json") -> None:
        self.status = status
        self.body = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.content_type = content_type

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def node_server() -> Iterator[Callable[[], NodeServer]]:
    """Factory of NodeServers (answering 200 with one peer up), all closed after the test."""
    servers: list[NodeServer] = []

    def start() -> NodeServer:
        servers.append(NodeServer())
        return servers[-1]

    yield start
    for server in servers:
        server.close()


@pytest.fixture(autouse=True)
def _fresh_probers() -> Iterator[None]:
    """Every test starts with no prober's runs (support.core_builders.PROBERS)."""
    from support.core_builders import PROBERS

    PROBERS.clear()
    yield
    PROBERS.clear()


# The IAM ledger (support/iam_ledger.py) is filled by the integration tests' labs. These hooks live
# here, not in tests/integration/conftest.py: under pytest-xdist (make test) the controller process
# that prints the summary collects nothing, so only this conftest is loaded there.
def pytest_sessionfinish(session: pytest.Session) -> None:
    """A pytest-xdist worker hands its IAM ledger to the controller."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        from support.iam_ledger import IAM_LEDGER

        workeroutput["iam_ledger"] = IAM_LEDGER.export()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """pytest-xdist's controller: a worker is done; its IAM ledger adds to the session's."""
    exported = getattr(node, "workeroutput", {}).get("iam_ledger")
    if exported is not None:
        from support.iam_ledger import IAM_LEDGER

        IAM_LEDGER.merge(exported)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The IAM ledger of the session: calls evaluated, denials, and the grants no test exercised."""
    from support.iam_ledger import IAM_LEDGER

    for line in IAM_LEDGER.summary():
        terminalreporter.write_line(line)
