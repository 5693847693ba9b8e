"""The network between each lab observer and each node: a TCP forwarder per (observer, node) on 127.0.0.1.

An observer's health check URLs point at its own links, so the lab can cut one observer off from one
node (or from all of them) while the others still reach it, and give one observer's probes a
long-tailed latency. A cut link accepts and then drops everything (a partition: the probe times out);
a live link waits for the link's latency, then forwards to the node (a stopped node refuses, and the
probe fails as it would without the link).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

# Seconds a new connection waits before it is forwarded: None draws nothing (no added latency).
LatencySampler = Callable[[], float]


@dataclass
class _Link:
    target_host: str
    target_port: int
    cut: bool = False
    latency: LatencySampler | None = None
    port: int = 0
    server: asyncio.Server | None = field(default=None, repr=False)


class ObserverLinks:
    """Links from each observer to each node; `url(observer, node)` is that observer's health URL."""

    def __init__(self, observers: list[str], node_urls: dict[str, str]) -> None:
        self._node_urls = dict(node_urls)
        self._links: dict[tuple[str, str], _Link] = {}
        for observer in observers:
            for node, url in node_urls.items():
                parts = urlsplit(url)
                assert parts.hostname is not None and parts.port is not None, url
                self._links[(observer, node)] = _Link(parts.hostname, parts.port)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="observer-links", daemon=True)

    def start(self) -> ObserverLinks:
        self._thread.start()
        for link in self._links.values():
            asyncio.run_coroutine_threadsafe(self._listen(link), self._loop).result(timeout=5)
        return self

    def stop(self) -> None:
        async def close() -> None:
            for link in self._links.values():
                if link.server is not None:
                    link.server.close()

        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=5)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)

    def url(self, observer: str, node: str) -> str:
        link = self._links[(observer, node)]
        parts = urlsplit(self._node_urls[node])
        return urlunsplit(parts._replace(netloc=f"127.0.0.1:{link.port}"))

    def cut(self, observer: str, node: str | None = None) -> None:
        """Partition `observer` from `node`, or from every node when None."""
        for (who, where), link in self._links.items():
            if who == observer and node in (None, where):
                link.cut = True

    def heal(self, observer: str | None = None) -> None:
        for (who, _where), link in self._links.items():
            if observer in (None, who):
                link.cut = False

    def set_latency(self, observer: str, sampler: LatencySampler | None, node: str | None = None) -> None:
        """Delay each new connection of `observer` (to `node`, or to every node) by `sampler()` seconds."""
        for (who, where), link in self._links.items():
            if who == observer and node in (None, where):
                link.latency = sampler

    async def _listen(self, link: _Link) -> None:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await self._serve(link, reader, writer)

        link.server = await asyncio.start_server(handle, "127.0.0.1", 0)
        link.port = link.server.sockets[0].getsockname()[1]

    async def _serve(self, link: _Link, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if link.cut:
                # A partition: nothing comes back; the prober gives up at its timeout.
                while await reader.read(4096):
                    pass
                return
            if link.latency is not None:
                await asyncio.sleep(max(0.0, link.latency()))
            try:
                upstream_reader, upstream_writer = await asyncio.open_connection(link.target_host, link.target_port)
            except OSError:
                return  # the node refuses: so does the link (closed at once)
            await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()
