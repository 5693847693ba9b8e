"""HTTP(S) health probes of the nodes, all at once, each bounded by the probe timeout.

One probe succeeds only on a 2xx answer within the timeout whose body, when it is NGINX Plus API
JSON for an upstream (an object with `peers`), has at least one peer `up`; for the collection of
all upstreams (`/api/<n>/http/upstreams`, `/api/<n>/stream/upstreams`) every upstream needs a peer
`up`. Everything else is a failure with a one-line reason, bounded in bytes whatever the node
answers (an upstream of 12,000 peers is summarised, not listed). Each probe runs in its own daemon
thread and the cycle waits for the timeout at most, so a node that hangs (or a DNS lookup that
does) never delays the others.
"""

from __future__ import annotations

import json
import re
import ssl
import threading
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import urllib3

from nginx_eip_failover.core.bounds import bounded
from nginx_eip_failover.core.config import NodeConfig
from nginx_eip_failover.core.ports import Observation

MAX_BODY_BYTES = 1 << 20
_API_PATH = re.compile(r"/api/\d+/")
# The collection of every upstream: an object of upstream name -> upstream (each with `peers`).
_ALL_UPSTREAMS_PATH = re.compile(r"/api/\d+/(?:http|stream)/upstreams/?$")
# How many distinct peer states a failure detail names ("11990 down, 10 unhealthy").
_STATES_SHOWN = 4
_READ_CHUNK = 16 * 1024


class HealthProber:
    def __init__(
        self,
        nodes: Sequence[NodeConfig],
        timeout_seconds: float,
        ca_bundle: str | None = None,
        observer: str = "local",
    ) -> None:
        self._nodes = tuple(nodes)
        self._timeout = timeout_seconds
        self._observer = observer
        # TLS is verified against the system trust store, or only the operator's CA bundle. Loading
        # a trust store costs about 40 ms of CPU at cold start, so only when a URL is https.
        needs_tls = any(urlsplit(node.health_check_url).scheme == "https" for node in self._nodes)
        context = ssl.create_default_context(cafile=ca_bundle) if needs_tls else None
        self._http = urllib3.PoolManager(
            num_pools=max(4, len(self._nodes)),
            ssl_context=context,
            cert_reqs="CERT_REQUIRED",
            retries=False,
        )

    def probe_all(self, budget_seconds: float | None = None) -> list[Observation]:
        """Probe every node at once; each probe ends at the timeout, or sooner when the caller has
        less time left (`budget_seconds`: a control request must answer within its invocation)."""
        results: dict[str, Observation] = {}
        timeout = self._timeout if budget_seconds is None else max(0.001, min(self._timeout, budget_seconds))
        deadline = time.monotonic() + timeout
        threads = []
        for node in self._nodes:
            thread = threading.Thread(
                target=self._probe_into,
                args=(node, deadline, timeout, results),
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

    def _probe_into(self, node: NodeConfig, deadline: float, timeout: float, results: dict[str, Observation]) -> None:
        started = time.monotonic()
        try:
            ok, detail = self._check(node.health_check_url, deadline)
        except Exception as exc:
            ok, detail = False, _describe_exception(exc)
        timed_out = time.monotonic() > deadline
        if timed_out:
            ok, detail = False, f"no answer within {timeout:g}s"
        results[node.name] = Observation(
            node=node.name,
            ok=ok,
            detail=bounded(detail),
            latency_ms=round((time.monotonic() - started) * 1000, 1),
            observer=self._observer,
            timed_out=timed_out,
        )

    def _check(self, url: str, deadline: float) -> tuple[bool, str]:
        remaining = max(0.001, deadline - time.monotonic())
        response = self._http.request(
            "GET",
            url,
            headers={
                "Connection": "close",
                "Accept": "application/json, */*",
                "User-Agent": "nginx-eip-failover",
            },
            timeout=urllib3.Timeout(connect=remaining, read=remaining),
            preload_content=False,
            redirect=False,
        )
        try:
            body = _read_until(response, deadline)
        finally:
            response.release_conn()
        if not 200 <= response.status < 300:
            return False, f"HTTP {response.status}"
        content_type = response.headers.get("Content-Type", "")
        path = urlsplit(url).path
        if _API_PATH.search(path) or "json" in content_type.lower():
            return _check_api_body(body, response.status, all_upstreams=bool(_ALL_UPSTREAMS_PATH.search(path)))
        return True, f"HTTP {response.status}"


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
