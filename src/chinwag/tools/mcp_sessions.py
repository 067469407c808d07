"""MCP sessions kept open between calls: one per bot and server, so a call pays one JSON-RPC
round trip instead of a new connection, handshake (and, for stdio, a new process) each time.

Each session is owned by a task of its own, which enters the SDK client (its task groups and
cancel scopes live and end in that task) and holds it until the session has been idle for
IDLE_SECONDS, breaks, or the server shuts down. Calls are made from the callers' own tasks on
the open client; the SDK matches concurrent requests to their answers. A session whose server
configuration or secrets change is a different session: the old one idles out."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mcp import Client

IDLE_SECONDS = 60.0
log = logging.getLogger(__name__)

Connect = Callable[[], AbstractAsyncContextManager["Client"]]


@dataclass(slots=True)
class _Session:
    opened: asyncio.Future[Client]
    task: asyncio.Task[None] | None = None
    last_used: float = field(default_factory=time.monotonic)
    in_use: int = 0
    broken: asyncio.Event = field(default_factory=asyncio.Event)


class McpSessions:
    """Open MCP clients by key; `aclose()` ends them all (at server shutdown)."""

    def __init__(self, *, idle_seconds: float = IDLE_SECONDS) -> None:
        self._sessions: dict[str, _Session] = {}
        self._idle_seconds = idle_seconds

    @staticmethod
    def key(*parts: str) -> str:
        """A session's key from what identifies it (bot, server, configuration, secrets), hashed
        so that no secret is kept in it."""
        return hashlib.sha256("\x00".join(parts).encode()).hexdigest()

    @contextlib.asynccontextmanager
    async def client(self, key: str, connect: Connect) -> AsyncIterator[Client]:
        """The open client for `key`, connected with `connect` when there is none; a failure
        while using it closes the session, so the next call connects afresh."""
        session = self._sessions.get(key)
        if session is None or session.broken.is_set():
            session = self._start(key, connect)
        session.in_use += 1
        try:
            client = await asyncio.shield(session.opened)
            yield client
        except Exception:  # not a cancellation (a caller's deadline): the session is fine
            session.broken.set()
            raise
        finally:
            session.in_use -= 1
            session.last_used = time.monotonic()

    def _start(self, key: str, connect: Connect) -> _Session:
        session = _Session(opened=asyncio.get_running_loop().create_future())
        self._sessions[key] = session
        session.task = asyncio.create_task(self._own(key, session, connect), name="chinwag-mcp")
        return session

    async def _own(self, key: str, session: _Session, connect: Connect) -> None:
        """Hold the client open in this task until idle, broken or cancelled."""
        try:
            async with connect() as client:
                session.opened.set_result(client)
                while not session.broken.is_set():
                    idle = time.monotonic() - session.last_used
                    if session.in_use == 0 and idle >= self._idle_seconds:
                        break
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(max(self._idle_seconds - idle, 0.05)):
                            await session.broken.wait()
        except BaseException as exc:
            if not session.opened.done():
                session.opened.set_exception(exc)
                session.opened.exception()  # retrieved here; the callers re-raise it
            if isinstance(exc, asyncio.CancelledError):
                raise
            if not isinstance(exc, Exception):
                raise
            log.info("MCP session ended: %s", type(exc).__name__)
        finally:
            session.broken.set()
            if self._sessions.get(key) is session:
                del self._sessions[key]

    @property
    def open(self) -> int:
        return len(self._sessions)

    async def aclose(self) -> None:
        """End every session (each closes its connection or program)."""
        tasks = [s.task for s in self._sessions.values() if s.task is not None]
        for session in self._sessions.values():
            session.broken.set()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
