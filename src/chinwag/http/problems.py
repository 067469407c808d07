"""The one place an error becomes an HTTP response, and is counted: RFC 9457 problem+json with
chinwag's `code` and `hint`, or OpenAI's error shape on the OpenAI-compatible endpoints.

The app's exception handlers use it, and so does the middleware that answers before the app
does (the body limit, a refused CORS preflight).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

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
# Their errors answer in OpenAI's shape ({"error": {message, type, code}}), which OpenAI's SDKs
# read; every other endpoint answers problem+json.
OPENAI_PATHS = frozenset({"/v1/chat/completions", "/v1/models"})
Headers = list[tuple[bytes, bytes]]


def render(error: ChinwagError, scope: Scope) -> tuple[int, Headers, bytes]:
    """Status, headers and body of the error for this request; counts it in the metrics."""
    services = getattr(scope["app"].state, "services", None) if "app" in scope else None
    if services is not None:
        services.metrics.errors.labels(error.code).inc()
    if scope.get("path") in OPENAI_PATHS:
        body, kind = orjson.dumps(error.to_openai()), b"application/json"
    else:
        body, kind = orjson.dumps(error.to_problem()), PROBLEM_JSON
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
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"path": ".".join(str(p) for p in e["loc"]), "message": e["msg"], "type": e["type"]}
        for e in exc.errors()
    ]
    return _problem(InvalidRequest("the request is not valid", errors=errors), request)


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
