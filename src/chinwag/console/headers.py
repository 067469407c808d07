"""The console's security headers, on every response under /admin (pages, files, errors)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The console's own scripts and styles only (no inline script or style, no eval), calls to
# this server, the widget preview framed from this server; never framed itself (clickjacking).
CONSOLE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
DEFAULTS = {
    b"content-security-policy": CONSOLE_CSP.encode(),
    b"x-content-type-options": b"nosniff",
    b"referrer-policy": b"same-origin",
}


def is_console(path: str) -> bool:
    return path == "/admin" or path.startswith("/admin/")


class ConsoleHeaders:
    """Adds the console's CSP and friends to a /admin response that does not set its own (the
    widget preview sets a policy that lets the bot page frame it)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_console(scope["path"]):
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(k, v) for k, v in DEFAULTS.items() if k not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)
