"""Refuse request bodies above their limit (413) before they are read into memory.

Every route takes at most CHINWAG_MAX_BODY_BYTES, except a knowledge upload (`POST
/v1/bots/{bot}/knowledge/documents`, multipart files), which takes up to
CHINWAG_MAX_UPLOAD_BYTES: documents are larger than any JSON body, and a shop owner's PDF must
not meet a limit sized for chat messages. An upload over its limit is read to its end (and
thrown away) before the 413 goes out, up to DRAIN_FACTOR times the limit: a client still sending
a large body cannot read an answer given halfway (the connection breaks instead).
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chinwag.errors import BodyTooLarge
from chinwag.http.problems import send_problem

UPLOAD_PATH = re.compile(r"/v1/bots/[^/]+/knowledge/documents/?")
DRAIN_FACTOR = 4


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_upload_bytes = max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        upload = scope["method"] == "POST" and UPLOAD_PATH.fullmatch(scope["path"]) is not None
        limit = self.max_upload_bytes if upload else self.max_bytes
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            if upload and int(length) <= DRAIN_FACTOR * limit:
                await _drain(receive)
            await send_problem(scope, send, _too_large(limit, upload), [(b"connection", b"close")])
            return
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:  # a chunked body without Content-Length
                raise _too_large(limit, upload)
            return message

        await self.app(scope, counting_receive, send)


async def _drain(receive: Receive) -> None:
    """Read the request body to its end, keeping nothing."""
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return


def _too_large(limit: int, upload: bool) -> BodyTooLarge:
    if upload:
        return BodyTooLarge(
            f"the upload is larger than {limit} bytes",
            hint="Upload fewer files at once, raise CHINWAG_MAX_UPLOAD_BYTES, or ingest on the "
            "server with `chinwag ingest BOT PATH…`.",
            max_bytes=limit,
        )
    return BodyTooLarge(f"the request body is larger than {limit} bytes", max_bytes=limit)
