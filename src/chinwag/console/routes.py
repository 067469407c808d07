"""The console's own routes: its pages, its pinned front-end libraries, sign-in and sign-out.

Everything else the console shows comes from the public /v1 API, called by the browser.
"""

from __future__ import annotations

import html
import logging
import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Body, Request, Response
from fastapi.responses import FileResponse, HTMLResponse
from pydantic import BaseModel, Field

from chinwag.auth.keys import KeyInfo
from chinwag.auth.operator_admin import record_lockout
from chinwag.auth.operators import OperatorInfo, check_password, normal_email
from chinwag.auth.sessions import (
    COOKIE,
    CSRF_HEADER,
    csrf_matches,
    csrf_token,
    end_session,
    session_holder,
    start_session,
)
from chinwag.console.headers import CONSOLE_CSP
from chinwag.db.base import utcnow
from chinwag.errors import (
    ConsoleAssetsMissing,
    CsrfTokenInvalid,
    Forbidden,
    NotFound,
    RateLimited,
    Unauthenticated,
)
from chinwag.http.runtime import ServicesDep
from chinwag.settings import Settings
from chinwag.timestamps import UtcDatetime

router = APIRouter(prefix="/admin", tags=["console"])
log = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent / "static"
# The only files served from node_modules: the ES modules the console imports, and a stylesheet.
VENDOR_FILES = {
    "preact.mjs": "preact/dist/preact.mjs",
    "hooks.mjs": "preact/hooks/dist/hooks.mjs",
    "htm.mjs": "htm/dist/htm.mjs",
    "uPlot.esm.js": "uplot/dist/uPlot.esm.js",
    "uPlot.min.css": "uplot/dist/uPlot.min.css",
}
# Bare module names inside those files, and the file each one is. An import map would name
# them, but it is an inline script, which the console's CSP forbids: they are rewritten to
# relative URLs as the file is served (preact's hooks import "preact").
BARE_IMPORTS = {"preact": "./preact.mjs"}
BARE_IMPORT = re.compile(r"""(\bfrom\s*|\bimport\s*)(["'])(preact)\2""")


def _relative_imports(source: str) -> str:
    def relative(match: re.Match[str]) -> str:
        keyword, quote, name = match.groups()
        return f"{keyword}{quote}{BARE_IMPORTS[name]}{quote}"

    return BARE_IMPORT.sub(relative, source)


def node_modules(settings: Settings) -> Path:
    """The node_modules folder with the console's libraries (the checkout's, unless set)."""
    if settings.console_node_modules is not None:
        return settings.console_node_modules
    return Path(__file__).resolve().parents[3] / "node_modules"


def _missing_assets(settings: Settings) -> list[str]:
    folder = node_modules(settings)
    return [path for path in VENDOR_FILES.values() if not (folder / path).is_file()]


@router.get("/vendor/{name}", include_in_schema=False)
async def vendor(name: str, services: ServicesDep) -> Response:
    if name not in VENDOR_FILES:
        raise NotFound(f"the console has no library file '{name}'")
    path = node_modules(services.settings) / VENDOR_FILES[name]
    if not path.is_file():
        raise ConsoleAssetsMissing(f"{path} is missing")
    if name.endswith(".css"):
        return FileResponse(path, media_type="text/css", headers={"cache-control": "no-cache"})
    source = _relative_imports(path.read_text(encoding="utf-8"))
    return Response(source, media_type="text/javascript", headers={"cache-control": "no-cache"})


@router.get("/assets/{name}", include_in_schema=False)
async def asset(name: str) -> FileResponse:
    path = STATIC / name
    if "/" in name or not path.is_file():
        raise NotFound(f"the console has no file '{name}'")
    media = "text/css" if name.endswith(".css") else "text/javascript"
    return FileResponse(path, media_type=media, headers={"cache-control": "no-cache"})


class SignIn(BaseModel):
    key: str = Field(min_length=8, max_length=200, description="An admin or bot secret key.")


SIGN_INS_PER_EMAIL = "10/minute"  # a password guesser's pace, and far above a person's
SIGN_INS_PER_IP = "30/minute"
LOCKOUT_WINDOW_SECONDS = 60.0  # refusals within a minute of a recorded lockout are the same one


class OperatorSignIn(BaseModel):
    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=1000)


class ConsoleSessionOut(BaseModel):
    kind: str = Field(
        description="admin or secret: the kind of key signed in with; operator: an operator "
        "signed in by email and password."
    )
    bot_id: str | None = Field(description="The bot of a secret key; null for admin keys.")
    key_name: str = Field(description="The key's name, or the operator's.")
    key_prefix: str = Field(description="The key's first characters, or the operator's email.")
    bots: list[str] | None = Field(
        None, description="An operator's bots (null: every bot, the `admin` role)."
    )
    csrf_token: str = Field(description="Send as X-CSRF-Token with every change.")
    expires_at: UtcDatetime | None = None


def _set_cookie(response: Response, request: Request, token: str, seconds: int) -> None:
    response.set_cookie(
        COOKIE,
        token,
        max_age=seconds,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


@router.post("/session", response_model=ConsoleSessionOut)
async def sign_in(
    body: Annotated[SignIn, Body()], request: Request, response: Response, services: ServicesDep
) -> ConsoleSessionOut:
    """Sign in with an admin or bot secret key: sets an HttpOnly, SameSite=Strict cookie."""
    key = await services.keys.lookup(body.key.strip())
    if key is None:
        raise Unauthenticated("the API key is not valid (unknown or revoked)")
    if key.kind == "publishable":
        raise Forbidden(
            "publishable keys cannot sign in to the console",
            hint="Sign in with an admin key or the bot's secret key (cw_sk_…).",
        )
    seconds = services.settings.console_session_seconds
    async with services.db.write() as conn:
        token = await start_session(conn, key_id=key.id, seconds=seconds)
    _set_cookie(response, request, token, seconds)
    return ConsoleSessionOut(
        kind=key.kind,
        bot_id=key.bot_id,
        key_name=key.name,
        key_prefix=key.prefix,
        csrf_token=csrf_token(services.secret, token),
        expires_at=utcnow() + timedelta(seconds=seconds),
    )


@router.post("/operator-session", response_model=ConsoleSessionOut)
async def operator_sign_in(
    body: Annotated[OperatorSignIn, Body()],
    request: Request,
    response: Response,
    services: ServicesDep,
) -> ConsoleSessionOut:
    """Sign in as an operator by email and password: the same cookie (HttpOnly,
    SameSite=Strict) and CSRF token as a key's sign-in. Attempts are limited per email and per
    client IP (429 `rate_limited`); each lockout is logged and kept (GET /v1/operators/lockouts)."""
    client = request.client.host if request.client else "unknown"
    try:
        await services.limiter.hit(SIGN_INS_PER_EMAIL, "operator email", normal_email(body.email))
        await services.limiter.hit(SIGN_INS_PER_IP, "sign-in client IP", client)
    except RateLimited as refused:
        log.warning("operator sign-in locked out: email %r from %s", body.email, client)
        async with services.db.write() as conn:
            await record_lockout(
                conn,
                email=body.email,
                client_ip=client,
                scope=str(refused.extra.get("scope", "")),
                now=utcnow(),
                window=LOCKOUT_WINDOW_SECONDS,
            )
        raise
    seconds = services.settings.console_session_seconds
    async with services.db.write() as conn:
        operator = await check_password(conn, body.email, body.password)
        token = await start_session(conn, operator_id=operator.id, seconds=seconds)
    _set_cookie(response, request, token, seconds)
    out = _operator_out(operator, csrf_token(services.secret, token))
    out.expires_at = utcnow() + timedelta(seconds=seconds)
    return out


def _operator_out(operator: OperatorInfo, csrf: str) -> ConsoleSessionOut:
    return ConsoleSessionOut(
        kind="operator",
        bot_id=None,
        key_name=operator.name,
        key_prefix=operator.email,
        csrf_token=csrf,
        bots=None if operator.role == "admin" else sorted(operator.bots),
    )


async def _signed_in(request: Request, services: ServicesDep) -> tuple[str, ConsoleSessionOut]:
    token = request.cookies.get(COOKIE)
    holder = None
    if token:
        async with services.db.read() as conn:
            holder = await session_holder(conn, token)
    if token is None or holder is None:
        raise Unauthenticated(
            "not signed in to the console",
            hint="Sign in at /admin with an admin or secret key, or an operator's email and "
            "password.",
        )
    csrf = csrf_token(services.secret, token)
    if not isinstance(holder, KeyInfo):
        return token, _operator_out(holder, csrf)
    out = ConsoleSessionOut(
        kind=holder.kind,
        bot_id=holder.bot_id,
        key_name=holder.name,
        key_prefix=holder.prefix,
        csrf_token=csrf,
    )
    return token, out


@router.get("/session", response_model=ConsoleSessionOut)
async def whoami(request: Request, services: ServicesDep) -> ConsoleSessionOut:
    """The signed-in key and the session's CSRF token; 401 when not signed in."""
    return (await _signed_in(request, services))[1]


@router.delete("/session", status_code=204)
async def sign_out(request: Request, services: ServicesDep) -> Response:
    """Sign out: the session ends on the server and the cookie is cleared."""
    token, _ = await _signed_in(request, services)
    if not csrf_matches(services.secret, token, request.headers.get(CSRF_HEADER)):
        raise CsrfTokenInvalid("sign-out came without the session's CSRF token")
    async with services.db.write() as conn:
        await end_session(conn, token)
    response = Response(status_code=204)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response


# The console's policy, never framed (clickjacking), no referrer leaving the site, always
# the current page.
PAGE_HEADERS = {
    "cache-control": "no-cache",
    "x-frame-options": "DENY",
    "content-security-policy": CONSOLE_CSP,
    "referrer-policy": "same-origin",
    "x-content-type-options": "nosniff",
}
MISSING_PAGE = """<!doctype html><meta charset="utf-8"><title>chinwag console</title>
<link rel="stylesheet" href="/admin/assets/console.css">
<body class="missing">
<h1>The console's libraries are not installed</h1>
<p>chinwag could not find: <code>{missing}</code>.</p>
<p>Run <code>make install</code> (it runs <code>npm ci</code>) in chinwag's checkout, or set
<code>CHINWAG_CONSOLE_NODE_MODULES</code> to the <code>node_modules</code> that holds them,
then reload this page.</p></body>"""


# The widget preview is framed by the console's bot page only, and holds itself to the demo
# shop's policy (a strict site's): its own scripts and /widget.js, calls to this server.
PREVIEW_HEADERS = {
    "cache-control": "no-cache",
    "x-frame-options": "SAMEORIGIN",
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; "
        "img-src 'self' data: https: http:; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'self'"
    ),
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
}
PREVIEW_PAGE = (STATIC / "preview.html").read_text()


@router.get("/preview", include_in_schema=False, response_class=HTMLResponse)
async def widget_preview() -> HTMLResponse:
    """A bare visitor's page with the widget (bot and publishable key in the URL fragment)."""
    return HTMLResponse(PREVIEW_PAGE, headers=PREVIEW_HEADERS)


@router.get("", include_in_schema=False, response_class=HTMLResponse)
@router.get("/{page:path}", include_in_schema=False, response_class=HTMLResponse)
async def page(services: ServicesDep, page: str = "") -> HTMLResponse:
    """The console's single page, for every URL under /admin (deep links)."""
    missing = _missing_assets(services.settings)
    if missing:
        return HTMLResponse(
            MISSING_PAGE.format(missing=html.escape(", ".join(missing))),
            status_code=503,
            headers=PAGE_HEADERS,
        )
    return HTMLResponse((STATIC / "index.html").read_text(), headers=PAGE_HEADERS)
