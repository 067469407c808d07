"""CORS for the widget: only origins some active publishable key allows get CORS headers.

Preflight requests carry no key, so they are answered for the union of all publishable keys'
origins; the request itself is then checked against its own key's origins (auth/deps.py).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chinwag.errors import OriginNotAllowed
from chinwag.http.problems import send_problem

ALLOWED_HEADERS = "authorization, content-type, accept, idempotency-key, last-event-id"
EXPOSED_HEADERS = (
    "x-chinwag-stream-id, x-chinwag-session-id, x-chinwag-user-id, x-chinwag-replayed, retry-after"
)


class KeyOriginsCORS:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        origin = headers.get("origin")
        services = getattr(scope["app"].state, "services", None)
        if origin is None or services is None:
            await self.app(scope, receive, send)
            return
        allowed = origin.rstrip("/").lower() in await services.keys.allowed_origins()
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            await _preflight(scope, send, origin, allowed)
            return
        if not allowed:
            await self.app(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (b"access-control-allow-origin", origin.encode()),
                    (b"access-control-expose-headers", EXPOSED_HEADERS.encode()),
                    (b"vary", b"Origin"),
                ]
            await send(message)

        await self.app(scope, receive, send_with_cors)


async def _preflight(scope: Scope, send: Send, origin: str, allowed: bool) -> None:
    if not allowed:
        error = OriginNotAllowed(f"no publishable key allows the origin {origin}")
        await send_problem(scope, send, error, [(b"vary", b"Origin")])
        return
    headers = [
        (b"access-control-allow-origin", origin.encode()),
        (b"access-control-allow-methods", b"GET, POST, PUT, DELETE, OPTIONS"),
        (b"access-control-allow-headers", ALLOWED_HEADERS.encode()),
        (b"access-control-max-age", b"600"),
        (b"vary", b"Origin"),
        (b"content-length", b"0"),
    ]
    await send({"type": "http.response.start", "status": 204, "headers": headers})
    await send({"type": "http.response.body", "body": b""})
