"""Counts every HTTP response for the server's metrics."""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class RequestMetrics:
    """Counts every response by route template (not the raw path), method and status."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._templates: list[tuple[re.Pattern[str], str]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            services = getattr(scope["app"].state, "services", None)
            if services is not None:
                route = self._route(scope)
                services.metrics.requests.labels(route, scope["method"], str(status)).inc()

    def _route(self, scope: Scope) -> str:
        """The path template (from the OpenAPI document), so ids never become label values."""
        if self._templates is None:
            paths = sorted(scope["app"].openapi()["paths"], key=lambda p: (p.count("{"), p))
            self._templates = [
                (re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(p)) + "$"), p)
                for p in paths
            ]
        path = scope["path"]
        return next((t for pattern, t in self._templates if pattern.match(path)), "unmatched")
