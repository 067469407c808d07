"""A TCP proxy between chinwag and PostgreSQL that a test controls: it can cut every connection
(an outage), or let one COMMIT reach the server and drop its reply (a lost acknowledgement).

It runs its own event loop in a thread, so a paused or busy test loop does not pause it, and it
never touches the PostgreSQL server itself. Connections must not use TLS (`?ssl=disable`), so
that it can read the protocol's message boundaries.
"""

from __future__ import annotations

import asyncio
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from chinwag.testing.fake_llm import free_port

SSL_REQUEST = 80877103


class PgProxy:
    def __init__(self, upstream_host: str = "127.0.0.1", upstream_port: int = 5432) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = free_port()
        self.cut_off = False
        self.commit_replies_lost = 0
        self._lose_commit_marker: tuple[bytes, ...] | None = None
        self._cut_after_lost_commit = 0.0
        self._writers: set[asyncio.StreamWriter] = set()
        self._background: set[asyncio.Future[None]] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}?ssl=disable"

    def __enter__(self) -> PgProxy:
        self._thread.start()
        self._call(self._start())
        return self

    def __exit__(self, *_: object) -> None:
        self._call(self._stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    def cut(self) -> None:
        """Close every connection and refuse new ones until `restore`."""
        self.cut_off = True
        self._call(self._close_all())

    def restore(self) -> None:
        self.cut_off = False

    @contextmanager
    def outage(self) -> Iterator[None]:
        self.cut()
        try:
            yield
        finally:
            self.restore()

    def lose_next_commit_reply(self, *marker: bytes, then_cut_for: float = 0.0) -> None:
        """The next COMMIT of a transaction that sent a message containing every part of
        `marker` reaches PostgreSQL, but its reply is dropped and the connection closed;
        optionally every connection stays cut for a while after it."""
        self._cut_after_lost_commit = then_cut_for
        self._lose_commit_marker = marker

    def _call(self, coro: object) -> None:
        asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)  # type: ignore[arg-type]

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
        await self._close_all()

    async def _close_all(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        if self.cut_off:
            client_w.transport.abort()
            return
        try:
            server_r, server_w = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_w.transport.abort()
            return
        self._writers.update((client_w, server_w))
        conn = _Connection(self, client_w, server_w)
        pumps = [
            asyncio.ensure_future(conn.client_to_server(client_r)),
            asyncio.ensure_future(conn.server_to_client(server_r)),
        ]
        await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        for pump in pumps:
            pump.cancel()
        await asyncio.gather(*pumps, return_exceptions=True)
        for w in (client_w, server_w):
            w.transport.abort()
            self._writers.discard(w)

    async def _cut_for(self, seconds: float) -> None:
        self.cut_off = True
        await self._close_all()
        await asyncio.sleep(seconds)
        self.cut_off = False


class _Connection:
    """One proxied connection; reads the client's messages to spot a marked COMMIT."""

    def __init__(
        self, proxy: PgProxy, client_w: asyncio.StreamWriter, server_w: asyncio.StreamWriter
    ) -> None:
        self.proxy = proxy
        self.client_w, self.server_w = client_w, server_w
        self.marked = False
        self.drop_replies = False

    async def client_to_server(self, reader: asyncio.StreamReader) -> None:
        # Untyped messages first: the startup message (and an SSL request, refused by the server).
        while True:
            head = await reader.readexactly(8)
            length, code = struct.unpack("!ii", head)
            body = await reader.readexactly(length - 8)
            self.server_w.write(head + body)
            if code != SSL_REQUEST:
                break
        while True:
            head = await reader.readexactly(5)
            kind, length = head[:1], struct.unpack("!i", head[1:])[0]
            body = await reader.readexactly(length - 4)
            marker = self.proxy._lose_commit_marker
            if marker is not None and all(part in body for part in marker):
                self.marked = True
            statement = body.lstrip().upper()
            if kind == b"Q" and statement.startswith(b"COMMIT") and self.marked and marker:
                self.proxy._lose_commit_marker = None
                self.drop_replies = True
            elif kind == b"Q" and statement.startswith((b"COMMIT", b"ROLLBACK")):
                self.marked = False
            self.server_w.write(head + body)
            await self.server_w.drain()

    async def server_to_client(self, reader: asyncio.StreamReader) -> None:
        while True:
            data = await reader.read(65536)
            if not data:
                return
            if self.drop_replies:
                # PostgreSQL has committed and answered; the client never hears of it.
                self.proxy.commit_replies_lost += 1
                if self.proxy._cut_after_lost_commit:
                    self.proxy._background.add(
                        asyncio.ensure_future(
                            self.proxy._cut_for(self.proxy._cut_after_lost_commit)
                        )
                    )
                return
            self.client_w.write(data)
            await self.client_w.drain()
