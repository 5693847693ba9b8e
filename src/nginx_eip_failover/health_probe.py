"""HTTP(S) health probes of the nodes, all at once, each bounded by the probe timeout.

One probe succeeds only on a 2xx answer within the timeout whose body, when it is NGINX Plus API
JSON for an upstream (an object with `peers`), has at least one peer `up`. Everything else is a
failure with a one-line reason. Each probe runs in its own daemon thread and the cycle waits for
the timeout at most, so a node that hangs (or a DNS lookup that does) never delays the others.
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

from .config import NodeConfig
from .ports import Observation

MAX_BODY_BYTES = 1 << 20
_API_PATH = re.compile(r"/api/\d+/")
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

    def probe_all(self) -> list[Observation]:
        results: dict[str, Observation] = {}
        deadline = time.monotonic() + self._timeout
        threads = []
        for node in self._nodes:
            thread = threading.Thread(
                target=self._probe_into,
                args=(node, deadline, results),
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
                detail=f"no answer within {self._timeout:g}s",
                latency_ms=self._timeout * 1000,
                observer=self._observer,
            )
            for node in self._nodes
        ]

    def _probe_into(self, node: NodeConfig, deadline: float, results: dict[str, Observation]) -> None:
        started = time.monotonic()
        try:
            ok, detail = self._check(node.health_check_url, deadline)
        except Exception as exc:
            ok, detail = False, _describe_exception(exc)
        if time.monotonic() > deadline:
            ok, detail = False, f"no answer within {self._timeout:g}s"
        results[node.name] = Observation(
            node=node.name,
            ok=ok,
            detail=detail,
            latency_ms=round((time.monotonic() - started) * 1000, 1),
            observer=self._observer,
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
        if _API_PATH.search(urlsplit(url).path) or "json" in content_type.lower():
            return _check_api_body(body, response.status)
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


def _check_api_body(body: bytes, status: int) -> tuple[bool, str]:
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return False, f"HTTP {status} with invalid JSON ({exc.__class__.__name__}: {str(exc)[:80]})"
    if not isinstance(data, dict) or "peers" not in data:
        return True, f"HTTP {status}"
    peers = data["peers"]
    if not isinstance(peers, list):
        return False, f"HTTP {status} but 'peers' is {type(peers).__name__}, not a list"
    states = [peer.get("state") if isinstance(peer, dict) else None for peer in peers]
    up = states.count("up")
    if up == 0:
        return False, f"upstream has no peer up ({len(peers)} peers: {', '.join(map(str, states)) or 'none'})"
    return True, f"HTTP {status}, {up}/{len(peers)} peers up"


def _describe_exception(exc: BaseException) -> str:
    # urllib3 wraps the root cause; the innermost one names what really happened.
    reason = getattr(exc, "reason", None)
    while isinstance(reason, BaseException) and getattr(reason, "reason", None) is not None:
        reason = getattr(reason, "reason", None)
    text = str(reason) if isinstance(reason, BaseException) else str(exc)
    name = (reason if isinstance(reason, BaseException) else exc).__class__.__name__
    return f"{name}: {text}"[:200]
