"""Routes of the website face: the widget script, its settings, and the demo shop page.

The script and the page need no credential; the settings are read with the page's publishable
key (or an end-user token), like every other call the widget makes.
"""

from __future__ import annotations

import gzip
import hashlib
import html
from dataclasses import dataclass
from functools import cache
from importlib import resources

from fastapi import APIRouter, Request, Response

from chinwag.bots.service import get_bot
from chinwag.errors import NotFound
from chinwag.http.deps import PrincipalDep
from chinwag.http.runtime import ServicesDep
from chinwag.web.schemas import WidgetOut

api_router = APIRouter(prefix="/v1", tags=["widget"])
assets_router = APIRouter(include_in_schema=False)

# The URL /widget.js never changes, so a browser revalidates it daily (a 304 costs ~200 bytes);
# /widget.js?v=<etag> is the same file and may be cached for a year.
DAILY = "public, max-age=86400, stale-while-revalidate=604800"
YEARLY = "public, max-age=31536000, immutable"
# The demo page holds itself to the strictest policy a shop could set: the widget needs only
# its server in script-src and connect-src (docs/widget.md).
DEMO_CSP = (
    "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    etag: str  # quoted, as sent in the header
    media_type: str
    gzipped: bytes  # the same bytes gzipped once at level 9 (GZip middleware would break SSE)

    @property
    def gzip_etag(self) -> str:
        """A representation's own strong ETag: the gzipped bytes are not the plain ones."""
        return self.etag[:-1] + '-gzip"'


def _package_file(*parts: str) -> bytes:
    return resources.files("chinwag.web").joinpath(*parts).read_bytes()


@cache
def asset(*parts: str) -> Asset:
    """A file shipped in chinwag.web, read once, with its content hash as ETag."""
    body = _package_file(*parts)
    media = "text/javascript" if parts[-1].endswith(".js") else "text/css"
    etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    return Asset(body, etag, f"{media}; charset=utf-8", gzip.compress(body, 9, mtime=0))


def _accepts_gzip(request: Request) -> bool:
    """Whether Accept-Encoding lists gzip (or *) without q=0."""
    for part in request.headers.get("accept-encoding", "").split(","):
        coding, _, params = part.partition(";")
        if coding.strip().lower() in ("gzip", "*"):
            q = params.strip().removeprefix("q=").strip() if "q=" in params else "1"
            try:
                return float(q) > 0
            except ValueError:
                return False
    return False


def _serve(request: Request, found: Asset) -> Response:
    """The asset, gzipped when the client accepts it; each encoding has its own ETag, and an
    If-None-Match holding the ETag of the encoding it would get answers 304."""
    pinned = request.query_params.get("v")
    versioned = pinned is not None and pinned.removesuffix("-gzip") == found.etag.strip('"')
    zipped = _accepts_gzip(request)
    etag = found.gzip_etag if zipped else found.etag
    headers = {
        "ETag": etag,
        "Cache-Control": YEARLY if versioned else DAILY,
        "Vary": "Accept-Encoding",
        "X-Content-Type-Options": "nosniff",
        "Cross-Origin-Resource-Policy": "cross-origin",
    }
    held = _etags(request.headers.get("if-none-match", ""))
    if etag in held or "*" in held:
        return Response(status_code=304, headers=headers)
    if zipped:
        headers["Content-Encoding"] = "gzip"
        return Response(found.gzipped, media_type=found.media_type, headers=headers)
    return Response(found.body, media_type=found.media_type, headers=headers)


def _etags(header: str) -> set[str]:
    """The entity tags of an If-None-Match header, weak ones compared weakly (RFC 9110)."""
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}


@assets_router.get("/widget.js")
async def widget_script(request: Request) -> Response:
    """The chat widget: one script, no dependencies."""
    return _serve(request, asset("widget", "widget.js"))


@assets_router.get("/demo/shop.css")
async def demo_styles(request: Request) -> Response:
    return _serve(request, asset("demo", "shop.css"))


@assets_router.get("/")
async def demo_page(request: Request) -> Response:
    """The demo shop with the widget on it; served by `chinwag demo` only."""
    key: str | None = getattr(request.app.state, "demo_publishable_key", None)
    if key is None:
        raise NotFound("no page here", hint="`chinwag demo` serves the demo shop at /.")
    page = _package_file("demo", "index.html").decode()
    page = page.replace("{{publishable_key}}", html.escape(key, quote=True))
    page = page.replace("{{widget_version}}", asset("widget", "widget.js").etag.strip('"'))
    return Response(
        page,
        media_type="text/html; charset=utf-8",
        headers={"Content-Security-Policy": DEMO_CSP, "Cache-Control": "no-store"},
    )


async def _widget_settings(bot_id: str, services: ServicesDep) -> WidgetOut:
    async with services.db.read() as conn:
        bot = await get_bot(conn, bot_id)
    widget = bot.config.widget
    return WidgetOut(
        bot_id=bot_id,
        bot_version=bot.version,
        title=widget.title or bot.config.name,
        widget=widget,
        handoff=bot.config.handoff.enabled,
    )


@api_router.get("/bots/{bot_id}/widget", response_model=WidgetOut)
async def bot_widget(bot_id: str, principal: PrincipalDep, services: ServicesDep) -> WidgetOut:
    """The bot's widget settings (publishable key, end-user token, secret or admin key)."""
    principal.require_bot(bot_id, kinds=("publishable", "user", "secret"))
    return await _widget_settings(bot_id, services)


@api_router.get("/widget", response_model=WidgetOut)
async def key_widget(principal: PrincipalDep, services: ServicesDep) -> WidgetOut:
    """The widget settings of the bot the credential belongs to (a page without `data-bot`)."""
    principal.require_bot(principal.bot_id or "", kinds=("publishable", "user", "secret"))
    if principal.bot_id is None:
        raise NotFound("an admin key belongs to no bot", hint="Use /v1/bots/{bot_id}/widget.")
    return await _widget_settings(principal.bot_id, services)
