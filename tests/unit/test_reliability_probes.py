"""Reliability: every health endpoint fault on node1 while node2 is healthy, in one probe cycle.

Each fault alone is tested in test_health_probe.py (refused, reset, accept-and-hang, slow trickle,
500, 3xx, invalid/truncated JSON, zero peers up, untrusted TLS, DNS failure). Here each one is
paired with a healthy node2 probed in the same cycle: node1's probe fails within the timeout with a
reason, and node2's succeeds - the probes share one deadline, so a fault that blocked the cycle
would fail node2 too."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from test_health_probe import (  # noqa: F401 - fixtures used by name
    API,
    TIMEOUT,
    closed_port,
    never_answer,
    raw_server,
    reset,
    tls_files,
    tls_url,
    trickle,
    truncated,
)

from nginx_eip_failover.adapters.health_probe import HealthProber
from nginx_eip_failover.core.config import NodeConfig

# Only catches a cycle that blocks far past its timeout; never a performance assertion.
HANG_DETECTOR = TIMEOUT + 5.0


def answer(status: int, body: object, content_type: str = "application/json") -> Callable[[Any], str]:
    def start(node_server: Any) -> str:
        server = node_server()
        server.respond(status, body, content_type)
        return str(server.url(API))

    return start


def raw(behaviour: Callable[..., None]) -> Callable[[Any], str]:
    def start(servers: Any) -> str:
        return str(servers(behaviour).url())

    return start


# (id, fixture the fault needs, how to start it -> node1's URL, a fragment of the failure's reason)
FAULTS: list[tuple[str, str | None, Callable[[Any], str], str]] = [
    ("refused", None, lambda _: f"http://127.0.0.1:{closed_port()}{API}", "refused"),
    ("reset", "raw_server", raw(reset), "Connection"),
    ("accept-and-hang", "raw_server", raw(never_answer), "no answer within"),
    ("slow-trickle", "raw_server", raw(trickle), "no answer within"),
    ("truncated-body", "raw_server", raw(truncated), "IncompleteRead"),
    ("http-500", "node_server", answer(500, {"peers": [{"state": "up"}]}), "HTTP 500"),
    ("http-302", "node_server", answer(302, b"", "text/html"), "HTTP 302"),
    ("http-404", "node_server", answer(404, b"not found", "text/plain"), "HTTP 404"),
    ("invalid-json", "node_server", answer(200, b"<html>oops</html>", "text/html"), "invalid JSON"),
    ("truncated-json", "node_server", answer(200, b'{"peers": [{"state": "up"}'), "invalid JSON"),
    ("zero-peers", "node_server", answer(200, {"peers": []}), "no peer up"),
    ("all-peers-down", "node_server", answer(200, {"peers": [{"state": "down"}, {"state": "drain"}]}), "no peer up"),
    ("untrusted-tls", "tls_url", lambda url: str(url), "certificate verify failed"),
    ("dns-failure", None, lambda _: f"http://no-such-host.invalid:8080{API}", "no-such-host.invalid"),
]


@pytest.mark.parametrize(
    ("fixture", "start", "reason"), [case[1:] for case in FAULTS], ids=[case[0] for case in FAULTS]
)
def test_a_faulty_node_fails_its_probe_and_does_not_block_the_other(
    request: pytest.FixtureRequest,
    node_server: Any,
    fixture: str | None,
    start: Callable[[Any], str],
    reason: str,
) -> None:
    faulty_url = start(request.getfixturevalue(fixture) if fixture else None)
    healthy = node_server()
    prober = HealthProber(
        [
            NodeConfig("node1", "i-0123456789abcdef1", faulty_url, 101),
            NodeConfig("node2", "i-0123456789abcdef2", healthy.url(API), 100),
        ],
        TIMEOUT,
    )
    started = time.monotonic()
    node1, node2 = prober.probe_all()
    elapsed = time.monotonic() - started
    assert (node1.node, node1.ok) == ("node1", False)
    assert reason in node1.detail, node1.detail
    assert (node2.node, node2.ok) == ("node2", True), node2.detail
    assert elapsed < HANG_DETECTOR


def test_the_untrusted_certificate_passes_with_the_operators_ca_bundle(
    tls_url: str,  # noqa: F811 - the fixture
    tls_files: Any,  # noqa: F811 - the fixture
) -> None:
    """The same TLS node as "untrusted-tls" above is healthy once its CA bundle is configured."""
    [observation] = HealthProber(
        [NodeConfig("node1", "i-0123456789abcdef1", tls_url, 101)], TIMEOUT, str(tls_files[0])
    ).probe_all()
    assert observation.ok, observation.detail
