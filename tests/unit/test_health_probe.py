"""HTTP(S) probes against real tiny servers on 127.0.0.1: every way a node can answer, or not."""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from nginx_eip_failover.adapters.health_probe import MAX_BODY_BYTES, HealthProber
from nginx_eip_failover.core.bounds import MAX_DETAIL_BYTES, stored_size
from nginx_eip_failover.core.config import NodeConfig
from nginx_eip_failover.core.ports import Observation

TIMEOUT = 0.5
# Loose on purpose: only catches a probe that blocks far beyond its timeout (a hang, a trickle).
GENEROUS = TIMEOUT + 3.0
API = "/api/9/http/upstreams/backend"


def node(url: str, name: str = "node1") -> NodeConfig:
    return NodeConfig(name=name, instance_id="i-0123456789abcdef1", health_check_url=url, priority=101)


def probe(url: str, timeout: float = TIMEOUT, ca_bundle: str | None = None) -> tuple[Observation, float]:
    prober = HealthProber([node(url)], timeout, ca_bundle)
    started = time.monotonic()
    [observation] = prober.probe_all()
    return observation, time.monotonic() - started


# --- raw socket servers for the misbehaving nodes ---------------------------------------------------


class RawServer:
    """Listens on 127.0.0.1 and hands every connection to `behaviour(conn, stop)` in a thread."""

    def __init__(self, behaviour: Callable[[socket.socket, threading.Event], None]) -> None:
        self.stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port = self._listener.getsockname()[1]
        self._behaviour = behaviour
        self._conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                continue
            self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            self._behaviour(conn, self.stop)

    def url(self, path: str = API) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self.stop.set()
        self._listener.close()
        for conn in self._conns:
            conn.close()


@pytest.fixture
def raw_server() -> Iterator[Callable[[Callable[[socket.socket, threading.Event], None]], RawServer]]:
    servers: list[RawServer] = []

    def start(behaviour: Callable[[socket.socket, threading.Event], None]) -> RawServer:
        servers.append(RawServer(behaviour))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def _read_request(conn: socket.socket) -> None:
    data = b""
    conn.settimeout(5)
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return
        data += chunk


def never_answer(conn: socket.socket, stop: threading.Event) -> None:
    _read_request(conn)
    stop.wait(30)


def trickle(conn: socket.socket, stop: threading.Event) -> None:
    _read_request(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
    while not stop.wait(0.05):
        conn.sendall(b" ")


def reset(conn: socket.socket, stop: threading.Event) -> None:
    _read_request(conn)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def truncated(conn: socket.socket, stop: threading.Event) -> None:
    _read_request(conn)
    body = b'{"peers": [{"state": "up"}'
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n" + body)
    conn.shutdown(socket.SHUT_WR)
    stop.wait(1)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- answers that count -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"peers": [{"id": 0, "state": "up"}]}, "1/1 peers up"),
        ({"peers": [{"state": "down"}, {"state": "unhealthy"}, {"state": "up"}]}, "1/3 peers up"),
        ({"peers": [{"state": "up"}, {"state": "up"}], "keepalive": 0}, "2/2 peers up"),
        ({"backend": {"peers": []}}, "HTTP 200"),  # not an upstream object: a plain 2xx
    ],
)
def test_an_upstream_with_a_peer_up_passes(node_server: Any, body: object, detail: str) -> None:
    server = node_server()
    server.respond(200, body)
    observation, _ = probe(server.url())
    assert observation.ok
    assert detail in observation.detail
    assert observation.node == "node1"
    assert observation.latency_ms >= 0


@pytest.mark.parametrize("status", [200, 204])
def test_a_plain_2xx_page_on_a_non_api_url_passes(node_server: Any, status: int) -> None:
    server = node_server()
    server.respond(status, b"" if status == 204 else b"<h1>ok</h1>", content_type="text/html")
    observation, _ = probe(server.url("/healthz"))
    assert observation.ok, observation.detail
    assert str(status) in observation.detail


# --- answers that fail --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "path", "content_type", "detail"),
    [
        (200, {"peers": [{"state": "down"}, {"state": "unavail"}]}, API, "application/json", "no peer up"),
        (200, {"peers": []}, API, "application/json", "no peer up"),
        (200, {"peers": "up"}, API, "application/json", "not a list"),
        (200, {"peers": ["up"]}, API, "application/json", "no peer up"),
        (500, {"peers": [{"state": "up"}]}, API, "application/json", "HTTP 500"),
        (503, b"busy", "/healthz", "text/plain", "HTTP 503"),
        (404, b"nope", "/healthz", "text/plain", "HTTP 404"),
        (302, b"", "/healthz", "text/html", "HTTP 302"),
        (200, b"<html>not json</html>", API, "text/html", "invalid JSON"),
        (200, b'{"peers": [{"state": "up"}', API, "application/json", "invalid JSON"),
        (200, b"", API, "application/json", "invalid JSON"),
        (200, b"\xff\xfe garbage", "/status", "application/json", "invalid JSON"),
    ],
    ids=[
        "all-peers-down",
        "zero-peers",
        "peers-not-a-list",
        "peers-not-objects",
        "500-with-up-peers",
        "503",
        "404",
        "302",
        "html-on-api-url",
        "truncated-json-on-api-url",
        "empty-body-on-api-url",
        "bad-json-with-json-content-type",
    ],
)
def test_a_bad_answer_fails(
    node_server: Any, status: int, body: object, path: str, content_type: str, detail: str
) -> None:
    server = node_server()
    server.respond(status, body, content_type)
    observation, _ = probe(server.url(path))
    assert not observation.ok
    assert detail in observation.detail


def test_a_redirect_is_not_followed(node_server: Any) -> None:
    target = node_server()
    server = node_server()
    server.respond(302, b"")
    server.headers["Location"] = target.url()
    observation, _ = probe(server.url("/healthz"))
    assert not observation.ok
    assert target.requests == 0


def test_a_body_larger_than_the_limit_fails(node_server: Any) -> None:
    server = node_server()
    server.respond(200, b"x" * (MAX_BODY_BYTES + 1), content_type="text/plain")
    observation, _ = probe(server.url("/healthz"), timeout=5)
    assert not observation.ok
    assert "larger" in observation.detail


@pytest.mark.parametrize(
    ("behaviour", "detail"),
    [
        (never_answer, "within"),
        (trickle, "within"),
        (reset, "Connection"),
        (truncated, "IncompleteRead"),
    ],
    ids=["accept-and-never-answer", "slow-trickle-body", "reset", "truncated-body"],
)
def test_a_misbehaving_node_fails_within_the_timeout(
    raw_server: Any, behaviour: Callable[[socket.socket, threading.Event], None], detail: str
) -> None:
    server = raw_server(behaviour)
    observation, elapsed = probe(server.url())
    assert not observation.ok
    assert detail in observation.detail
    assert elapsed < GENEROUS


def test_a_trickling_node_does_not_keep_a_probe_thread_past_its_cycle(raw_server: Any) -> None:
    # Otherwise a node trickling for minutes piles up one blocked thread and socket per cycle.
    server = raw_server(trickle)
    observation, _ = probe(server.url())
    assert not observation.ok
    give_up = time.monotonic() + TIMEOUT + 2.0
    while _probe_threads() and time.monotonic() < give_up:
        time.sleep(0.05)
    assert _probe_threads() == []


def _probe_threads() -> list[str]:
    return [thread.name for thread in threading.enumerate() if thread.name.startswith("probe-")]


def test_a_refused_connection_fails() -> None:
    observation, elapsed = probe(f"http://127.0.0.1:{closed_port()}{API}")
    assert not observation.ok
    assert "refused" in observation.detail.lower()
    assert elapsed < GENEROUS


def test_an_unresolvable_name_fails() -> None:
    observation, elapsed = probe(f"http://no-such-host.invalid:8080{API}")
    assert not observation.ok
    assert "no-such-host.invalid" in observation.detail
    assert elapsed < GENEROUS


def test_a_hung_node_does_not_stop_the_other_nodes_success(raw_server: Any, node_server: Any) -> None:
    hung = raw_server(never_answer)
    healthy = node_server()
    prober = HealthProber([node(hung.url(), "node1"), node(healthy.url(), "node2")], TIMEOUT)
    started = time.monotonic()
    observations = prober.probe_all()
    elapsed = time.monotonic() - started
    assert [(o.node, o.ok) for o in observations] == [("node1", False), ("node2", True)]
    assert elapsed < GENEROUS


def test_every_cycle_probes_again(node_server: Any) -> None:
    server = node_server()
    prober = HealthProber([node(server.url())], TIMEOUT)
    assert prober.probe_all()[0].ok
    server.respond(500, b"down")
    assert not prober.probe_all()[0].ok
    server.respond(200, {"peers": [{"state": "up"}]})
    assert prober.probe_all()[0].ok
    assert server.requests == 3


# --- TLS ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A private CA and a server certificate it signed for localhost and 127.0.0.1."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    directory = tmp_path_factory.mktemp("tls")
    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_file, server_file = directory / "ca.pem", directory / "server.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    server_file.write_bytes(
        leaf.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return ca_file, server_file


@pytest.fixture
def tls_url(tls_files: tuple[Path, Path]) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b'{"peers": [{"state": "up"}]}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls_files[1])
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield f"https://127.0.0.1:{server.server_address[1]}{API}"
    server.shutdown()
    server.server_close()


def test_tls_with_an_unknown_ca_fails(tls_url: str) -> None:
    observation, elapsed = probe(tls_url)
    assert not observation.ok
    assert "certificate verify failed" in observation.detail
    assert elapsed < GENEROUS


def test_tls_passes_with_the_operators_ca_bundle(tls_url: str, tls_files: tuple[Path, Path]) -> None:
    observation, _ = probe(tls_url, ca_bundle=str(tls_files[0]))
    assert observation.ok, observation.detail
    assert "1/1 peers up" in observation.detail


def test_plain_http_to_a_tls_port_fails(tls_url: str, tls_files: tuple[Path, Path]) -> None:
    observation, elapsed = probe(tls_url.replace("https://", "http://"), ca_bundle=str(tls_files[0]))
    assert not observation.ok
    assert elapsed < GENEROUS


# --- hardening (issue 11): huge upstreams, the all-upstreams collection, the caller's budget -------


def test_an_upstream_of_twelve_thousand_peers_is_summarised_in_bounded_bytes(node_server: Any) -> None:
    server = node_server()
    peers = [{"id": i, "server": f"10.0.{i // 250}.{i % 250}:8080", "state": "down"} for i in range(12_000)]
    peers[:10] = [{**peer, "state": "unhealthy \u2603" * 30} for peer in peers[:10]]
    server.respond(200, {"peers": peers})
    observation, _ = probe(server.url())
    assert not observation.ok
    assert "no peer up" in observation.detail and "0/12000" in observation.detail
    assert stored_size(observation.detail) <= MAX_DETAIL_BYTES


ALL_HTTP = "/api/9/http/upstreams"
ALL_STREAM = "/api/9/stream/upstreams/"
UP = {"peers": [{"state": "up"}]}
DOWN = {"peers": [{"state": "down"}, {"state": "unavail"}]}


@pytest.mark.parametrize("path", [ALL_HTTP, ALL_STREAM])
@pytest.mark.parametrize(
    ("body", "ok", "detail"),
    [
        ({"site_a": UP, "site_b": UP}, True, "all 2 upstreams have a peer up"),
        ({"site_a": UP, "site_b": DOWN}, False, "site_b: no peer up"),
        ({}, False, "empty"),
        ({"site_a": UP, "site_b": {"zone": "x"}}, False, "site_b: not an upstream"),
    ],
)
def test_the_all_upstreams_url_needs_a_peer_up_in_every_upstream(
    node_server: Any, path: str, body: object, ok: bool, detail: str
) -> None:
    """The old probe passed the whole collection: it has no top-level `peers`."""
    server = node_server()
    server.respond(200, body)
    observation, _ = probe(server.url(path))
    assert observation.ok is ok
    assert detail in observation.detail


def test_a_probe_is_cut_to_the_callers_budget(raw_server: Any) -> None:
    """A control request has its invocation's time left: a hung node costs that, not the timeout."""
    hung = raw_server(never_answer)
    prober = HealthProber([node(hung.url())], timeout_seconds=5.0)
    [observation] = prober.probe_all(budget_seconds=0.2)
    assert not observation.ok
    assert observation.detail == "no answer within 0.2s"
