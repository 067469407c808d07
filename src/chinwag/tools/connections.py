"""Kept-open HTTP connections for tool calls: one client per remote (scheme, name, port), so a
second call to the same shop API reuses the connection the first one opened instead of paying a
new TCP (and TLS) handshake.

A client is keyed by the host *name* as well as the port: requests go to a checked address
(tools/safety.py) with the name in the Host header and TLS SNI, and a connection verified for one
name is never reused for another name that happens to share its address. The number of remotes
kept is capped; the least recently used one is closed when a new one would exceed it."""

from __future__ import annotations

import asyncio
import ssl
from collections import OrderedDict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

REMOTES_KEPT = 64
CONNECTIONS_PER_REMOTE = 16  # idle connections kept per remote (the bot's concurrency caps use)
IDLE_SECONDS = 30.0  # an idle connection is closed after this long


class ToolConnections:
    """The tool callers' HTTP clients, one per remote; `aclose()` at shutdown."""

    def __init__(self, *, remotes_kept: int = REMOTES_KEPT) -> None:
        self._clients: OrderedDict[tuple[str, str, int, int], httpx.AsyncClient] = OrderedDict()
        self._remotes_kept = remotes_kept
        self._closing: set[asyncio.Task[None]] = set()

    def client(
        self, scheme: str, host: str, port: int, tls: ssl.SSLContext | None
    ) -> httpx.AsyncClient:
        """The client for one remote, made on first use (httpx is imported then: a worker whose
        bots call no tool never loads it)."""
        key = (scheme, host.lower(), port, id(tls) if tls is not None else 0)
        found = self._clients.get(key)
        if found is not None:
            self._clients.move_to_end(key)
            return found
        import httpx

        made = httpx.AsyncClient(
            verify=tls or False,
            trust_env=False,
            follow_redirects=False,
            timeout=None,  # the call's own deadline (asyncio.timeout) bounds every request
            limits=httpx.Limits(
                max_connections=None,
                max_keepalive_connections=CONNECTIONS_PER_REMOTE,
                keepalive_expiry=IDLE_SECONDS,
            ),
        )
        self._clients[key] = made
        while len(self._clients) > self._remotes_kept:
            _, evicted = self._clients.popitem(last=False)
            task = asyncio.get_running_loop().create_task(evicted.aclose())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
        return made

    @property
    def remotes(self) -> int:
        return len(self._clients)

    async def aclose(self) -> None:
        """Close every kept connection."""
        clients = list(self._clients.values())
        self._clients.clear()
        for client in clients:
            await client.aclose()
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
