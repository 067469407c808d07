"""How an error looks over HTTP, and the one place an error becomes an HTTP response (and is
counted): RFC 9457 problem+json with chinwag's `code` and `hint`, or OpenAI's error shape on
the OpenAI-compatible endpoints (also the `error` chunk of their streams), and the OpenAPI
schemas of both bodies.

Which errors exist (code, status, message, hint) is errors.py's catalogue. The app's
exception handlers use this module, and so does the middleware that answers before the app
does (the body limit, a refused CORS preflight).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import Scope, Send

from chinwag.errors import (
    BadRequest,
    ChinwagError,
    DatabaseUnavailable,
    InvalidRequest,
    MethodNotAllowed,
    NotFound,
    RetryLater,
)

log = logging.getLogger(__name__)
PROBLEM_JSON = b"application/problem+json"


class _OpenAIPaths:
    """The OpenAI-compatible endpoints' paths (`path in OPENAI_PATHS`): their errors answer in
    OpenAI's shape ({"error": {message, type, param, code}}), which OpenAI's SDKs read; every
    other endpoint answers problem+json."""

    EXACT = frozenset({"/v1/chat/completions", "/v1/models", "/v1/responses"})
    PREFIXES = ("/v1/models/", "/v1/responses/")

    def __contains__(self, path: object) -> bool:
        return isinstance(path, str) and (path in self.EXACT or path.startswith(self.PREFIXES))


OPENAI_PATHS = _OpenAIPaths()
Headers = list[tuple[bytes, bytes]]
# OpenAI's error `type` by HTTP status (else server_error for 5xx, invalid_request_error).
OPENAI_ERROR_TYPES = {
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    429: "rate_limit_error",
}


def problem_body(error: ChinwagError) -> dict[str, Any]:
    """RFC 9457 problem details with chinwag's `code` and `hint` members."""
    return {
        "type": f"https://chinwag.dev/errors/{error.code}",
        "title": error.code.replace("_", " "),
        "status": error.status,
        "detail": error.message,
        "code": error.code,
        "hint": error.hint,
        **error.extra,
    }


def openai_body(error: ChinwagError) -> dict[str, Any]:
    """OpenAI's error shape, which OpenAI clients read and show (`error.message`); a streamed
    chunk holding it makes the OpenAI SDKs raise `APIError`."""
    kind = OPENAI_ERROR_TYPES.get(error.status)
    extra = dict(error.extra)
    param = extra.pop("param", None)
    return {
        "error": {
            "message": f"{error.message}. {error.hint}" if error.hint else error.message,
            "type": kind or ("server_error" if error.status >= 500 else "invalid_request_error"),
            "code": error.code,
            "param": param,
            "hint": error.hint,
            **extra,
        }
    }


OPENAI_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "OpenAI's error shape (the OpenAI-compatible endpoints), with chinwag's "
    "stable `code` and a `hint`.",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type", "code"],
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "code": {"type": "string"},
                "param": {"type": ["string", "null"]},
                "hint": {"type": "string"},
            },
            "additionalProperties": True,
        }
    },
}

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details with chinwag's stable `code` and a `hint`.",
    "required": ["type", "title", "status", "detail", "code", "hint"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "hint": {"type": "string"},
    },
    "additionalProperties": True,
}
PROBLEM_STATUSES = {
    400: "The body could not be read (`bad_request`).",
    401: "No valid key or token (`unauthenticated`).",
    403: "The credential's kind may not do this (`forbidden`, `origin_not_allowed`, …).",
    404: "Not found, or not visible to the caller.",
    413: "The body is too large (`body_too_large`).",
    422: "The request is invalid (`invalid_request`, with `errors`).",
    429: "A rate limit; see Retry-After (`rate_limited`, `too_many_open_streams`).",
    503: "Not now: the database is away (`database_unavailable`) or this server is shutting "
    "down (`server_draining`, see Retry-After).",
}


def problem_responses(
    *statuses: int, openai: bool = False, described: dict[int, str] | None = None
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for these statuses (all common ones when none are given); with
    `openai`, in OpenAI's error shape; `described`: an endpoint's own statuses and words."""
    content = (
        {"application/json": {"schema": {"$ref": "#/components/schemas/OpenAIError"}}}
        if openai
        else {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    )
    words = {**PROBLEM_STATUSES, **(described or {})}
    return {
        status: {"description": words[status], "content": content}
        for status in statuses or described or PROBLEM_STATUSES
    }


def render(error: ChinwagError, scope: Scope) -> tuple[int, Headers, bytes]:
    """Status, headers and body of the error for this request; counts it in the metrics."""
    services = getattr(scope["app"].state, "services", None) if "app" in scope else None
    if services is not None:
        services.metrics.errors.labels(error.code).inc()
    if scope.get("path") in OPENAI_PATHS:
        body, kind = orjson.dumps(openai_body(error)), b"application/json"
    else:
        body, kind = orjson.dumps(problem_body(error)), PROBLEM_JSON
    headers = [(b"content-type", kind)]
    if isinstance(error, RetryLater):
        headers.append((b"retry-after", str(error.retry_after).encode()))
    return error.status, headers, body


async def send_problem(
    scope: Scope, send: Send, error: ChinwagError, extra: Iterable[tuple[bytes, bytes]] = ()
) -> None:
    """Answer with the error straight from ASGI middleware (before the app has run)."""
    status, headers, body = render(error, scope)
    headers = [*headers, *extra, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def handle_errors(app: FastAPI) -> None:
    """Route every error the app can raise through `render`."""
    app.add_exception_handler(ChinwagError, _on_chinwag_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(OperationalError, _on_database_error)
    app.add_exception_handler(InterfaceError, _on_database_error)


def _problem(error: ChinwagError, request: Request) -> Response:
    status, headers, body = render(error, request.scope)
    return Response(body, status_code=status, headers={k.decode(): v.decode() for k, v in headers})


async def _on_chinwag_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ChinwagError)
    if exc.status >= 500:
        log.error("%s: %s", exc.code, exc.message)
    return _problem(exc, request)


async def _on_validation_error(request: Request, exc: Exception) -> Response:
    """The first cause in words (SDKs show only `message`), `param` naming where it is, and
    every problem in `errors`; a body that is not JSON is a 400 `bad_request`."""
    assert isinstance(exc, RequestValidationError)
    found = list(exc.errors())
    unreadable = next((e for e in found if e["type"] == "json_invalid"), None)
    if unreadable is not None:
        cause = unreadable.get("ctx", {}).get("error", unreadable["msg"])
        return _problem(BadRequest(f"the body is not valid JSON: {cause}"), request)
    errors = [{"path": _path(e["loc"]), "message": e["msg"], "type": e["type"]} for e in found]
    if not errors:
        return _problem(InvalidRequest("the request is not valid", errors=[]), request)
    first = found[0]
    param = _param(first["loc"])
    more = f" (and {len(errors) - 1} more problems, in `errors`)" if len(errors) > 1 else ""
    message = f"{param or 'the body'}: {first['msg']}{more}"
    return _problem(InvalidRequest(message, errors=errors, param=param), request)


def _path(loc: Sequence[int | str]) -> str:
    return ".".join(str(p) for p in loc)


def _param(loc: Sequence[int | str]) -> str | None:
    """Where a problem is, as OpenAI names parameters: `messages[0].role` (None: the body)."""
    where = list(loc[1:]) if loc and loc[0] in ("body", "query", "header", "path") else list(loc)
    if loc and loc[0] == "header":
        return f"header {where[0]}" if where else None
    text = ""
    for part in where:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or None


async def _on_http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own errors (unknown path, wrong method, unreadable body) as problems too."""
    assert isinstance(exc, StarletteHTTPException)
    if isinstance(exc.__cause__, ChinwagError):
        return _problem(exc.__cause__, request)
    if exc.status_code == 404:
        return _problem(
            NotFound("no such endpoint", hint="The OpenAPI document lists them."), request
        )
    if exc.status_code == 405:
        return _problem(MethodNotAllowed(f"this endpoint does not allow {request.method}"), request)
    return _problem(BadRequest(str(exc.detail)), request)


async def _on_database_error(request: Request, exc: Exception) -> Response:
    """A connection lost mid-request is the database being unavailable, not a bug."""
    log.error("database error: %s", exc)
    return _problem(DatabaseUnavailable(f"the database failed: {exc}"), request)
