"""Kept-open HTTP connections for tool calls, so a second call to the same shop API reuses a
connection an earlier one opened instead of paying a new TCP (and TLS) handshake.

Each connection has a client of its own (an aiohttp session with a pool of one), lent to one
call at a time and given back after it: httpcore's shared pool looked at every connection it held
for every request it placed, which cost a step of ten parallel calls about 40 % of its CPU, and
httpx's request and response models cost a call about 0.5 ms more than aiohttp. Clients are
kept per remote, keyed by the host *name* as well as the port: requests go to a checked address
(tools/safety.py) with the name in the Host header and TLS SNI, and a connection verified for one
name is never reused for another that happens to share its address. The number of remotes kept
is capped; the least recently used one is closed when a new one would exceed it."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections import OrderedDict
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import aiohttp

REMOTES_KEPT = 64
CONNECTIONS_PER_REMOTE = 16  # idle connections kept per remote (the bot's concurrency caps use)
IDLE_SECONDS = 30.0  # an idle connection is closed after this long

Remote = tuple[str, str, int, int]


class ToolConnections:
    """The tool callers' HTTP clients, a few idle ones per remote; `aclose()` at shutdown."""

    def __init__(self, *, remotes_kept: int = REMOTES_KEPT) -> None:
        self._idle: OrderedDict[Remote, list[aiohttp.ClientSession]] = OrderedDict()
        self._remotes_kept = remotes_kept
        self._closing: set[asyncio.Task[None]] = set()

    @contextlib.asynccontextmanager
    async def lease(
        self, scheme: str, host: str, port: int, tls: ssl.SSLContext | None
    ) -> AsyncIterator[aiohttp.ClientSession]:
        """A client for one remote, for one call: an idle one, else a new one (aiohttp is
        imported then: a worker whose bots call no tool never loads it); kept after the call
        while the remote has fewer than CONNECTIONS_PER_REMOTE idle."""
        key = (scheme, host.lower(), port, id(tls) if tls is not None else 0)
        idle = self._idle.get(key)
        client = idle.pop() if idle else _new_client()
        try:
            yield client
        finally:
            kept = self._idle.setdefault(key, [])
            self._idle.move_to_end(key)
            if len(kept) < CONNECTIONS_PER_REMOTE and not client.closed:
                kept.append(client)
            else:
                self._close_later([client])
            while len(self._idle) > self._remotes_kept:
                _, evicted = self._idle.popitem(last=False)
                self._close_later(evicted)

    def _close_later(self, clients: list[aiohttp.ClientSession]) -> None:
        for client in clients:
            task = asyncio.get_running_loop().create_task(client.close())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    @property
    def remotes(self) -> int:
        return len(self._idle)

    async def aclose(self) -> None:
        """Close every kept connection."""
        clients = [c for kept in self._idle.values() for c in kept]
        self._idle.clear()
        for client in clients:
            await client.close()
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)


def _new_client() -> aiohttp.ClientSession:
    """A client of one connection that keeps no cookies, follows no redirect and decodes nothing:
    the call sets its TLS context, its name for SNI and its Host header per request."""
    import aiohttp

    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=1, keepalive_timeout=IDLE_SECONDS),
        cookie_jar=aiohttp.DummyCookieJar(),
        timeout=aiohttp.ClientTimeout(total=None),  # the call's deadline (asyncio.timeout)
        auto_decompress=False,
        trust_env=False,
    )
