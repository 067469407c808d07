"""Server-Sent Events: how a stream's events are framed on the wire, and a lean ASGI response
that sends the frames of a stream's log entries (`LogEntry`, in streams/events.py).

The response never owns the generation: when the client goes away it simply stops reading.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Protocol

from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

if TYPE_CHECKING:
    from chinwag.streams.events import LogEntry

SSE_HEADERS = (
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache, no-transform"),
    (b"x-accel-buffering", b"no"),
    (b"connection", b"keep-alive"),
)
HEARTBEAT_FRAME = b": keep-alive\n\n"


def encode_frame(seq: int, event_type: str, data: str) -> bytes:
    """One SSE event: `id` is the seq, `event` the type, `data` the event's JSON (one line)."""
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (seq, event_type.encode(), data.encode())


def encode_unnumbered_frame(event_type: str, data: str) -> bytes:
    """An ephemeral SSE event, outside the log: without `id`, so a client's Last-Event-ID
    stays the last logged event's."""
    return b"event: %s\ndata: %s\n\n" % (event_type.encode(), data.encode())


class FrameSource(Protocol):
    """Where a reader of a stream reads from: batches of committed entries, and a way to stop
    waiting."""

    def entries(self) -> AsyncIterator[list[LogEntry]]:
        """Yield the entries after the position; an empty batch means "nothing new for a while"."""
        ...

    def close(self) -> None:
        """Stop: the client is gone. Wakes a waiting `batches()` so it returns."""
        ...


class SSEResponse(Response):
    """ASGI response sending the frames of each batch of entries a FrameSource yields.

    An empty batch means "nothing new for a while": a heartbeat comment goes out instead. The
    `retry:` hint is the first line of the first event; a reader cut short (this server is
    shutting down) has had it with that event, and reconnects with Last-Event-ID.
    """

    media_type = "text/event-stream"

    def __init__(
        self,
        source: FrameSource,
        *,
        retry_ms: int,
        headers: Mapping[str, str] | None = None,
        status_code: int = 200,
    ) -> None:
        self.source = source
        self.background = None
        self.retry_ms = retry_ms
        self.status_code = status_code
        self.extra_headers = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        watcher = asyncio.create_task(_watch_disconnect(receive, self.source))
        batches = self.source.entries()
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": self.status_code,
                    "headers": [*SSE_HEADERS, *self.extra_headers],
                }
            )
            # The retry hint rides with the first event: a frame of `retry:` alone is an empty
            # event to some clients (httpx-sse yields it), and every frame must parse.
            retry = b"retry: %d\n" % self.retry_ms
            async for batch in batches:
                if batch:
                    body, retry = retry + b"".join([e.frame for e in batch]), b""
                else:
                    body = HEARTBEAT_FRAME
                await send({"type": "http.response.body", "body": body, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:
            return  # the client went away while we were writing
        finally:
            watcher.cancel()
            self.source.close()
            aclose = getattr(batches, "aclose", None)
            if aclose is not None:
                await aclose()


async def _watch_disconnect(receive: Receive, source: FrameSource) -> None:
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            source.close()
            return
