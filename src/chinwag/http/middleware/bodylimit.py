"""Refuse request bodies above CHINWAG_MAX_BODY_BYTES (413) before they are read into memory."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chinwag.errors import BodyTooLarge
from chinwag.http.problems import send_problem


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await _refuse(scope, send, self.max_bytes)
            return
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:  # a chunked body without Content-Length
                raise BodyTooLarge(f"the request body is larger than {self.max_bytes} bytes")
            return message

        await self.app(scope, counting_receive, send)


async def _refuse(scope: Scope, send: Send, max_bytes: int) -> None:
    error = BodyTooLarge(f"the request body is larger than {max_bytes} bytes", max_bytes=max_bytes)
    await send_problem(scope, send, error, [(b"connection", b"close")])
