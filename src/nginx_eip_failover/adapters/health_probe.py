"""HTTP(S) health probes of the nodes, all at once, each bounded by the probe timeout.

One probe succeeds only on a 2xx answer within the timeout whose body, when it is NGINX Plus API
JSON for an upstream (an object with `peers`), has at least one peer `up`; for the collection of
all upstreams (`/api/<n>/http/upstreams`, `/api/<n>/stream/upstreams`) every upstream needs a peer
`up`. Everything else is a failure with a one-line reason, bounded in bytes whatever the node
answers (an upstream of 12,000 peers is summarised, not listed). Each probe runs in its own daemon
thread and the cycle waits for the timeout at most, so a node that hangs (or a DNS lookup that
does) never delays the others.

With authenticated health checks (core/probe_auth) every probe sends the credentials the stack's
secret holds (adapters/probe_credentials), and an answer that refuses them (401/403, or a refused
client certificate) is an auth failure (`Observation.auth_failed`), not the node failing its check.
"""

from __future__ import annotations

import json
import re
import ssl
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import urllib3

from nginx_eip_failover.core.bounds import bounded
from nginx_eip_failover.core.config import NodeConfig
from nginx_eip_failover.core.ports import Observation
from nginx_eip_failover.core.probe_auth import (
    NO_PROBE_AUTH,
    ProbeAuth,
    ProbeSecretError,
    is_auth_failure,
    is_client_cert_refusal,
)

if TYPE_CHECKING:
    from nginx_eip_failover.adapters.probe_credentials import ProbeCredentials, ProbeSecrets

MAX_BODY_BYTES = 1 << 20
_API_PATH = re.compile(r"/api/\d+/")
# The collection of every upstream: an object of upstream name -> upstream (each with `peers`).
_ALL_UPSTREAMS_PATH = re.compile(r"/api/\d+/(?:http|stream)/upstreams/?$")
# How many distinct peer states a failure detail names ("11990 down, 10 unhealthy").
_STATES_SHOWN = 4
_READ_CHUNK = 16 * 1024
_HEADERS = {"Connection": "close", "Accept": "application/json, */*", "User-Agent": "nginx-eip-failover"}


class HealthProber:
    def __init__(
        self,
        nodes: Sequence[NodeConfig],
        timeout_seconds: float,
        ca_bundle: str | None = None,
        observer: str = "local",
        credentials: ProbeCredentials | None = None,
    ) -> None:
        self._nodes = tuple(nodes)
        self._timeout = timeout_seconds
        self._observer = observer
        self._ca_bundle = ca_bundle
        self._credentials = credentials
        self._auth: ProbeAuth = credentials.auth if credentials is not None else NO_PROBE_AUTH
        self._cert_version: int | None = None
        self._http = self._pool(None)

    def _pool(self, client_cert_file: str | None) -> urllib3.PoolManager:
        # TLS is verified against the system trust store, or only the operator's CA bundle. Loading
        # a trust store costs about 40 ms of CPU at cold start, so only when a URL is https.
        needs_tls = any(urlsplit(node.health_check_url).scheme == "https" for node in self._nodes)
        context = ssl.create_default_context(cafile=self._ca_bundle) if needs_tls else None
        if context is not None and client_cert_file is not None:
            context.load_cert_chain(client_cert_file)  # mutual TLS: the stack's client certificate
        return urllib3.PoolManager(
            num_pools=max(4, len(self._nodes)),
            ssl_context=context,
            cert_reqs="CERT_REQUIRED",
            retries=False,
        )

    def _secrets(self) -> ProbeSecrets | None:
        """The credentials for this round (None: probes do not authenticate); a rotated client
        certificate gets a new TLS context."""
        if self._credentials is None:
            return None
        secrets = self._credentials.current()
        if secrets.client_cert_file is not None and secrets.version != self._cert_version:
            try:
                self._http = self._pool(secrets.client_cert_file)
            except (OSError, ssl.SSLError) as exc:
                raise ProbeSecretError(
                    self._auth.parameter("HEALTH_CHECK_CLIENT_CERT_SECRET_ARN"),
                    self._auth.client_cert_secret_arn or "",
                    f"the certificate and key do not load ({exc.__class__.__name__}: {str(exc)[:80]})",
                ) from None
            self._cert_version = secrets.version
        return secrets

    def probe_all(self, budget_seconds: float | None = None) -> list[Observation]:
        """Probe every node at once; each probe ends at the timeout, or sooner when the caller has
        less time left (`budget_seconds`: a control request must answer within its invocation)."""
        results: dict[str, Observation] = {}
        timeout = self._timeout if budget_seconds is None else max(0.001, min(self._timeout, budget_seconds))
        try:
            secrets = self._secrets()
        except ProbeSecretError as exc:
            # No credentials to probe with: every node is an auth failure (never down for our fault).
            return [
                Observation(node.name, False, bounded(f"auth failed: {exc}"), 0.0, self._observer, auth_failed=True)
                for node in self._nodes
            ]
        headers = dict(_HEADERS, **secrets.headers) if secrets is not None else _HEADERS
        deadline = time.monotonic() + timeout
        threads = []
        for node in self._nodes:
            thread = threading.Thread(
                target=self._probe_into,
                args=(node, deadline, timeout, results, headers),
                name=f"probe-{node.name}",
                daemon=True,
            )
            thread.start()
            threads.append(thread)
        for thread in threads:
            # A small grace lets a probe that is finishing exactly at the deadline report itself.
            thread.join(max(0.0, deadline - time.monotonic()) + 0.05)
        return [
            results.get(node.name)
            or Observation(
                node=node.name,
                ok=False,
                detail=f"no answer within {timeout:g}s",
                latency_ms=timeout * 1000,
                observer=self._observer,
                timed_out=True,
            )
            for node in self._nodes
        ]

    def _probe_into(
        self,
        node: NodeConfig,
        deadline: float,
        timeout: float,
        results: dict[str, Observation],
        headers: dict[str, str],
    ) -> None:
        started = time.monotonic()
        auth_failed = False
        try:
            ok, detail, auth_failed = self._check(node.health_check_url, deadline, headers)
        except Exception as exc:
            ok, detail = False, _describe_exception(exc)
            if is_client_cert_refusal(self._auth, error=detail):
                auth_failed, detail = True, f"auth failed: client certificate refused ({detail})"
        timed_out = time.monotonic() > deadline
        if timed_out:
            ok, detail, auth_failed = False, f"no answer within {timeout:g}s", False
        results[node.name] = Observation(
            node=node.name,
            ok=ok,
            detail=bounded(detail),
            latency_ms=round((time.monotonic() - started) * 1000, 1),
            observer=self._observer,
            timed_out=timed_out,
            auth_failed=auth_failed,
        )

    def _check(self, url: str, deadline: float, headers: dict[str, str]) -> tuple[bool, str, bool]:
        """(ok, detail, auth failed) of one probe."""
        remaining = max(0.001, deadline - time.monotonic())
        response = self._http.request(
            "GET",
            url,
            headers=headers,
            timeout=urllib3.Timeout(connect=remaining, read=remaining),
            preload_content=False,
            redirect=False,
        )
        try:
            body = _read_until(response, deadline)
        finally:
            response.release_conn()
        if is_auth_failure(response.status, self._auth):
            return False, f"auth failed: HTTP {response.status}, the node refused the health check's credentials", True
        if is_client_cert_refusal(self._auth, status=response.status, body=body[:4096]):
            return False, f"auth failed: HTTP {response.status}, the node refused the client certificate", True
        if not 200 <= response.status < 300:
            return False, f"HTTP {response.status}", False
        content_type = response.headers.get("Content-Type", "")
        path = urlsplit(url).path
        if _API_PATH.search(path) or "json" in content_type.lower():
            ok, detail = _check_api_body(body, response.status, all_upstreams=bool(_ALL_UPSTREAMS_PATH.search(path)))
            return ok, detail, False
        return True, f"HTTP {response.status}", False


def _read_until(response: Any, deadline: float) -> bytes:
    """Read the body, giving up at the deadline even if the server trickles bytes slowly."""
    chunks: list[bytes] = []
    size = 0
    # read() waits for a whole chunk, so a trickle would hold the thread past the deadline;
    # read1() returns what one socket read brings (an older urllib3 without it falls back).
    read = getattr(response, "read1", None) or response.read
    while True:
        if time.monotonic() > deadline:
            raise TimeoutError("body not complete within the timeout")
        chunk = read(_READ_CHUNK)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise ValueError(f"body larger than {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)


def _check_api_body(body: bytes, status: int, *, all_upstreams: bool = False) -> tuple[bool, str]:
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return False, f"HTTP {status} with invalid JSON ({exc.__class__.__name__}: {str(exc)[:80]})"
    if isinstance(data, dict) and "peers" in data:
        ok, summary = _check_peers(data["peers"])
        return ok, f"HTTP {status}, {summary}" if ok else f"upstream has {summary}"
    if all_upstreams:
        return _check_all_upstreams(data, status)
    return True, f"HTTP {status}"


def _check_all_upstreams(data: object, status: int) -> tuple[bool, str]:
    """Every upstream of the collection needs a peer up: a node serving one site of two is not healthy."""
    if not isinstance(data, dict) or not data:
        return False, f"HTTP {status} but the upstreams collection is empty or not an object"
    failing: list[str] = []
    for name, upstream in data.items():
        if not isinstance(upstream, dict) or "peers" not in upstream:
            failing.append(f"{str(name)[:40]}: not an upstream")
            continue
        ok, summary = _check_peers(upstream["peers"])
        if not ok:
            failing.append(f"{str(name)[:40]}: {summary}")
    if failing:
        return False, f"HTTP {status} but {len(failing)} of {len(data)} upstreams failing ({'; '.join(failing[:2])})"
    return True, f"HTTP {status}, all {len(data)} upstreams have a peer up"


def _check_peers(peers: object) -> tuple[bool, str]:
    if not isinstance(peers, list):
        return False, f"'peers' is {type(peers).__name__}, not a list"
    counts: dict[str, int] = {}
    for peer in peers:
        state = peer.get("state") if isinstance(peer, dict) else None
        key = state[:20] if isinstance(state, str) else "invalid"
        counts[key] = counts.get(key, 0) + 1
    up = counts.get("up", 0)
    if up:
        return True, f"{up}/{len(peers)} peers up"
    # A summary, never a list: a real upstream can have thousands of peers.
    shown = sorted(counts.items(), key=lambda item: -item[1])[:_STATES_SHOWN]
    states = ", ".join(f"{count} {state}" for state, count in shown) or "no peers"
    return False, f"no peer up (0/{len(peers)} peers up: {states})"


def _describe_exception(exc: BaseException) -> str:
    # urllib3 wraps the root cause; the innermost one names what really happened.
    reason = getattr(exc, "reason", None)
    while isinstance(reason, BaseException) and getattr(reason, "reason", None) is not None:
        reason = getattr(reason, "reason", None)
    text = str(reason) if isinstance(reason, BaseException) else str(exc)
    name = (reason if isinstance(reason, BaseException) else exc).__class__.__name__
    return f"{name}: {text}"[:200]
