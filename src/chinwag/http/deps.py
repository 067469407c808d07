"""Who is calling: one FastAPI dependency every API route runs, and the rules per key kind."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncConnection

from chinwag.auth.keys import KeyInfo, find_key
from chinwag.auth.operators import operator_principal
from chinwag.auth.principal import Principal
from chinwag.auth.sessions import COOKIE, CSRF_HEADER, csrf_matches, session_holder
from chinwag.auth.tokens import TOKEN_PREFIX, read_token
from chinwag.errors import CsrfTokenInvalid, OriginNotAllowed, Unauthenticated
from chinwag.handoff.inbox import StillAllowed
from chinwag.http.runtime import ServicesDep

bearer = HTTPBearer(auto_error=False, description="An API key or an end-user token.")


async def authenticate(
    request: Request,
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """The caller behind `Authorization: Bearer …` (or a console session cookie); 401 without a
    valid key, token or session."""
    if credentials is None and COOKIE in request.cookies:
        return await _console_caller(request, services, request.cookies[COOKIE])
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated("this endpoint needs an API key or an end-user token")
    value = credentials.credentials
    keys = services.keys
    if value.startswith(TOKEN_PREFIX):
        claims = read_token(services.secret, value)
        key = await keys.lookup_id(claims.key_id)
        if key is None:
            raise Unauthenticated("the key this token was issued under has been revoked")
        _check_origin(request, key)
        return Principal("user", key.id, claims.bot_id, claims.user_id)
    key = await keys.lookup(value)
    if key is None:
        raise Unauthenticated("the API key is not valid (unknown or revoked)")
    if key.kind == "publishable":
        _check_origin(request, key)
    return Principal(key.kind, key.id, key.bot_id)


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def _console_caller(request: Request, services: ServicesDep, token: str) -> Principal:
    """A console session acts as the key (or operator) it was signed in with; changes need the
    CSRF token."""
    async with services.db.read() as conn:
        holder = await session_holder(conn, token)
    if holder is None:
        raise Unauthenticated(
            "the console session has ended (signed out, expired, its key revoked or its "
            "operator removed)",
            hint="Sign in again at /admin (an admin or bot secret key, or an operator's email "
            "and password).",
        )
    if request.method not in SAFE_METHODS and not csrf_matches(
        services.secret, token, request.headers.get(CSRF_HEADER)
    ):
        raise CsrfTokenInvalid("this change came without the session's CSRF token")
    if isinstance(holder, KeyInfo):
        return Principal(holder.kind, holder.id, holder.bot_id)
    return operator_principal(holder)


def _request_origin(request: Request) -> str | None:
    """The page's origin: the Origin header, or this server's own for a same-origin request.

    Browsers leave Origin out of same-origin GETs; `Sec-Fetch-Site: same-origin` says the page
    is on this server (the demo shop at /). Like Origin, it binds browsers, not scripts.
    """
    origin = request.headers.get("origin")
    if origin is None and request.headers.get("sec-fetch-site") == "same-origin":
        host = request.headers.get("host")
        return f"{request.url.scheme}://{host}" if host else None
    return origin


def _check_origin(request: Request, key: KeyInfo) -> None:
    origin = _request_origin(request)
    if origin is None or origin.rstrip("/").lower() not in key.allowed_origins:
        raise OriginNotAllowed(
            f"requests with this key must come from {', '.join(key.allowed_origins)}"
            + (f", not {origin}" if origin else " (no Origin header was sent)")
        )


PrincipalDep = Annotated[Principal, Depends(authenticate)]


def still_allowed(request: Request, principal: Principal) -> StillAllowed:
    """For a response that stays open: whether its caller may still read (their console
    session not ended, their key not revoked), asked again on a connection of its own."""
    token = request.cookies.get(COOKIE) if "authorization" not in request.headers else None

    async def allowed(conn: AsyncConnection) -> bool:
        if token is not None:
            return await session_holder(conn, token) is not None
        if principal.kind == "operator":
            return False  # operators only ever come with a console session
        key = await find_key(conn, key_id=principal.key_id)
        return key is not None and key.revoked_at is None

    return allowed


async def limit_caller(request: Request, principal: PrincipalDep, services: ServicesDep) -> None:
    """Rate limits per client IP and per credential (key, or end-user token); admins are exempt."""
    if principal.kind == "admin":
        return
    limits = await services.limiter.for_bot(principal.bot_id)
    client = request.client.host if request.client else "unknown"
    bot = principal.bot_id or "*"
    await services.limiter.hit(limits.per_ip, "client IP", bot, client)
    credential = (
        principal.key_id if principal.kind != "user" else f"{principal.key_id}:{principal.user_id}"
    )
    await services.limiter.hit(limits.per_key, "key", credential)
