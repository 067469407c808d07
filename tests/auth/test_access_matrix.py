"""Every key kind against every endpoint: allowed, or 401/403/404 as documented."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import fastapi.routing
import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from chinwag.app import create_app
from chinwag.auth.keys import create_key
from chinwag.auth.tokens import identity_secret
from chinwag.db import migrate
from chinwag.http.problems import OPENAI_PATHS
from chinwag.settings import Settings
from tests.auth.conftest import SITE, Keys, user_token
from tests.conftest import RunningServer, run_server
from tests.helpers import JSON, wait_finished

BOT = "vinhuset"
CALLERS = (
    "none",
    "bad",
    "admin",
    "secret",
    "other_secret",
    "publishable",
    "other_publishable",
    "alice",
    "bob",
)
UPLOAD = object()  # the body of a knowledge upload (multipart files)
FEED = object()  # a GET of a feed that stays open: only its status is read
NEW_OPERATOR = {"name": "Kari", "email": "kari@shop.example", "password": "correct horse b"}
NEW_BOT = {"id": "matrix", "name": "Matrix", "flows": {"main": {"template": "{{ message }}"}}}


@dataclass(frozen=True)
class PerCaller:
    """A path per caller (`own`), for requests that use their target up (erasure); the callers
    not named share `other`."""

    other: str
    own: dict[str, str]

    def __call__(self, caller: str) -> str:
        return self.own.get(caller, self.other)


@dataclass(frozen=True)
class Seeded:
    """What the rows point at: alice's answer, the bot's configuration, a curated answer, a key
    to revoke, and sessions and end users to delete."""

    message_id: str
    stream_id: str
    session_id: str
    config: dict[str, Any]
    curated: str
    key_id: str
    sessions: PerCaller
    users: PerCaller
    response: str  # alice's, through the OpenAI Responses API


Row = tuple[str, str | PerCaller, Any, dict[str, int]]


def matrix(seeded: Seeded) -> list[Row]:
    """Every /v1 endpoint: (method, path, body, {caller: status}); callers left out expect 401
    (no or a bad credential) or 403."""
    message = {"message": "Hallo"}
    authenticated = [c for c in CALLERS if c not in ("none", "bad")]
    no_knowledge = {"admin": 422, "secret": 422, "other_secret": 404}
    admin_only = {"admin": 200}
    bot_readers = {"admin": 200, "secret": 200, "other_secret": 404}
    bot_writers = {"admin": 201, "secret": 201, "other_secret": 404}
    no_answer = {"admin": 404, "secret": 404, "other_secret": 404}
    not_waiting = {"admin": 409, "secret": 409, "other_secret": 404}
    # A conversation's readers: the bot's keys, and its own end user (alice, not bob).
    erasers = {**bot_readers, "alice": 200, "bob": 404}
    curated, ids = seeded.curated, seeded
    return [
        ("GET", "/v1/bots", None, admin_only),
        ("POST", "/v1/bots", NEW_BOT, {"admin": 201}),
        ("POST", "/v1/bots/validate", seeded.config, admin_only),
        # The test bot reads a flow it lacks: past authentication, validation refuses it.
        ("PUT", f"/v1/bots/{BOT}", seeded.config, {"admin": 422}),
        ("POST", f"/v1/bots/{BOT}/rollback", {"version": 1}, admin_only),
        ("GET", f"/v1/bots/{BOT}", None, bot_readers),
        ("GET", f"/v1/bots/{BOT}/versions", None, bot_readers),
        ("GET", f"/v1/bots/{BOT}/versions/1", None, bot_readers),
        ("GET", f"/v1/bots/{BOT}/flow-runs", None, bot_readers),
        ("GET", f"/v1/bots/{BOT}/flow-stats", None, bot_readers),
        (
            "POST",
            f"/v1/bots/{BOT}/messages",
            message,
            {"admin": 202, "secret": 202, "other_secret": 404, "alice": 202, "bob": 202},
        ),
        (
            "GET",
            f"/v1/messages/{ids.message_id}",
            None,
            {**bot_readers, "alice": 200, "bob": 404, "other_publishable": 403},
        ),
        (
            "GET",
            f"/v1/streams/{ids.stream_id}/events?after=0",
            None,
            {**bot_readers, "alice": 200, "bob": 404},
        ),
        (
            "GET",
            "/v1/models",
            None,
            {"admin": 200, "secret": 200, "other_secret": 200, "alice": 200, "bob": 200},
        ),
        (
            "GET",
            f"/v1/models/{BOT}",
            None,
            {"admin": 200, "secret": 200, "other_secret": 404, "alice": 200, "bob": 200},
        ),
        (
            "POST",
            "/v1/chat/completions",
            {"model": BOT, "messages": [{"role": "user", "content": "Hei"}]},
            {"admin": 200, "secret": 200, "other_secret": 404, "alice": 200, "bob": 200},
        ),
        (
            "POST",
            "/v1/responses",
            {"model": BOT, "input": "Hei"},
            {"admin": 200, "secret": 200, "other_secret": 404, "alice": 200, "bob": 200},
        ),
        ("GET", f"/v1/responses/{ids.response}", None, {**bot_readers, "alice": 200, "bob": 404}),
        (
            "POST",
            f"/v1/responses/{ids.response}/cancel",  # not a background response
            None,
            {"admin": 400, "secret": 400, "other_secret": 404, "alice": 400, "bob": 404},
        ),
        # A body chinwag refuses, sent with a key that may not call it: the key's 403 first.
        (
            "POST",
            "/v1/chat/completions",
            {"model": BOT, "messages": [{"role": "assistant", "content": "Hei"}]},
            {"admin": 422, "secret": 422, "other_secret": 404, "alice": 422, "bob": 422},
        ),
        (
            "GET",
            f"/v1/bots/{BOT}/sessions",
            None,
            {**bot_readers, "alice": 200, "bob": 200},
        ),
        (
            "GET",
            f"/v1/bots/{BOT}/sessions/{ids.session_id}/messages",
            None,
            {**bot_readers, "alice": 200, "bob": 404},
        ),
        (
            "PUT",
            f"/v1/messages/{ids.message_id}/feedback",
            {"rating": 1},
            {**bot_readers, "alice": 200, "bob": 404, "other_publishable": 403},
        ),
        # Corrections from the console (admin): alice's answer was neither declined nor routed
        # by a semantic router, so the admin meets the refusal, the others 403 first.
        ("POST", f"/v1/bots/{BOT}/messages/{ids.message_id}/in-scope", None, {"admin": 409}),
        ("POST", f"/v1/bots/{BOT}/messages/{ids.message_id}/route", {"flows": []}, {"admin": 409}),
        ("GET", f"/v1/bots/{BOT}/routes/uncertain", None, bot_readers),
        ("GET", f"/v1/bots/{BOT}/export", None, bot_readers),
        ("GET", f"/v1/bots/{BOT}/answers", None, bot_readers),
        ("POST", f"/v1/bots/{BOT}/answers", {"question": "q", "answer": "a"}, bot_writers),
        ("GET", f"/v1/bots/{BOT}/answers/{curated}", None, bot_readers),
        ("PATCH", f"/v1/bots/{BOT}/answers/{curated}", {"enabled": True}, bot_readers),
        ("DELETE", f"/v1/bots/{BOT}/answers/no-such-answer", None, no_answer),
        ("GET", "/v1/keys", None, admin_only),
        ("POST", "/v1/keys", {"kind": "secret", "name": "x", "bot_id": BOT}, {"admin": 201}),
        ("DELETE", f"/v1/keys/{seeded.key_id}", None, admin_only),
        ("POST", f"/v1/bots/{BOT}/tokens", {}, {"publishable": 201, "other_publishable": 404}),
        # The widget's settings: anything the page holds (publishable key, its tokens).
        (
            "GET",
            f"/v1/bots/{BOT}/widget",
            None,
            {**bot_readers, "publishable": 200, "other_publishable": 404, "alice": 200, "bob": 200},
        ),
        (
            "GET",
            "/v1/widget",
            None,
            {
                "admin": 404,
                "secret": 200,
                "other_secret": 200,
                "publishable": 200,
                "other_publishable": 200,
                "alice": 200,
                "bob": 200,
            },
        ),
        # Knowledge: the test bot has none, so allowed callers meet knowledge_not_configured.
        ("GET", f"/v1/bots/{BOT}/knowledge", None, no_knowledge),
        ("POST", f"/v1/bots/{BOT}/knowledge/documents", UPLOAD, no_knowledge),
        ("POST", f"/v1/bots/{BOT}/knowledge/search", {"query": "x"}, no_knowledge),
        ("DELETE", f"/v1/bots/{BOT}/knowledge/documents/x.md", None, no_knowledge),
        ("GET", "/v1/knowledge/jobs/no-such-job", None, dict.fromkeys(authenticated, 404)),
        ("POST", "/v1/knowledge/indexes", {"knowledge": {"index": "matrix"}}, {"admin": 201}),
        # The console's endpoints: admin everything, a secret key its own bot only.
        ("GET", f"/v1/conversations?bot_id={BOT}", None, bot_readers),
        ("GET", "/v1/conversations", None, {**bot_readers, "other_secret": 200}),
        ("GET", f"/v1/conversations/export?bot_id={BOT}&format=csv", None, bot_readers),
        ("GET", f"/v1/analytics?bot_id={BOT}", None, bot_readers),
        ("GET", f"/v1/bots/{BOT}/sessions/{ids.session_id}/transcript", None, bot_readers),
        ("GET", f"/v1/bots/{BOT}/yaml", None, bot_readers),
        ("GET", f"/v1/bots/{BOT}/diff?old=1", None, bot_readers),
        ("POST", "/v1/bots/validate-yaml", {"yaml": "id: x"}, admin_only),
        # Saving YAML text (admin): an incomplete config is refused, nothing saved.
        ("PUT", f"/v1/bots/{BOT}/yaml", {"yaml": "id: x"}, {"admin": 422}),
        ("GET", "/v1/doctor", None, admin_only),
        # Human handoff: the test bot has it off, so asking meets handoff_not_enabled (before
        # the session is looked up: bob learns nothing); nobody asked, so operators meet the
        # state. A session's events stay open: an unknown session shows who gets past auth.
        (
            "POST",
            f"/v1/bots/{BOT}/sessions/{ids.session_id}/handoff",
            None,
            {"admin": 409, "secret": 409, "other_secret": 404, "alice": 409, "bob": 409},
        ),
        ("GET", f"/v1/bots/{BOT}/handoffs", None, bot_readers),
        # The console's inbox: every bot the caller answers for (a secret key: its own).
        ("GET", "/v1/handoffs", None, {**bot_readers, "other_secret": 200}),
        ("GET", "/v1/handoffs/events", FEED, {**bot_readers, "other_secret": 200}),
        ("GET", "/v1/handoffs/stats", None, {**bot_readers, "other_secret": 200}),
        ("GET", f"/v1/bots/{BOT}/webhook-deliveries", None, bot_readers),
        # Tickets: nobody asked for a person in alice's session, so it is not waiting.
        (
            "POST",
            f"/v1/bots/{BOT}/sessions/{ids.session_id}/ticket",
            {"email": "alice@example.com", "consent": True},
            {"admin": 409, "secret": 409, "other_secret": 404, "alice": 409, "bob": 404},
        ),
        ("GET", f"/v1/bots/{BOT}/tickets", None, bot_readers),
        # Operators: admin keys (and operators with the admin role, tests/handoff).
        ("GET", "/v1/operators", None, admin_only),
        ("POST", "/v1/operators", NEW_OPERATOR, {"admin": 201}),
        ("DELETE", "/v1/operators/no-such-operator", None, {"admin": 404}),
        ("GET", "/v1/operators/lockouts", None, admin_only),
        ("POST", f"/v1/bots/{BOT}/sessions/{ids.session_id}/handoff/claim", {}, not_waiting),
        (
            "POST",
            f"/v1/bots/{BOT}/sessions/{ids.session_id}/handoff/messages",
            message,
            not_waiting,
        ),
        ("POST", f"/v1/bots/{BOT}/sessions/{ids.session_id}/handoff/typing", None, not_waiting),
        # A visitor's typing: nobody has alice's conversation, so it goes nowhere (202).
        (
            "POST",
            f"/v1/bots/{BOT}/sessions/{ids.session_id}/typing",
            None,
            {"admin": 202, "secret": 202, "other_secret": 404, "alice": 202, "bob": 404},
        ),
        ("POST", f"/v1/bots/{BOT}/sessions/{ids.session_id}/handoff/release", None, not_waiting),
        ("POST", f"/v1/bots/{BOT}/sessions/{ids.session_id}/handoff/close", None, not_waiting),
        (
            "GET",
            f"/v1/bots/{BOT}/sessions/no-such-session/events?after=0",
            None,
            {"admin": 404, "secret": 404, "other_secret": 404, "alice": 404, "bob": 404},
        ),
        # Erasure, last: each caller that may erase gets a session (an end user) of its own.
        ("DELETE", seeded.sessions, None, erasers),
        ("DELETE", seeded.users, None, erasers),
    ]


async def _seed(server: RunningServer, alice: str) -> Seeded:
    client = server.client
    as_alice = {**JSON, **Keys.bearer(alice, SITE)}
    sent = []
    for _ in range(5):  # alice's first answer, then four sessions to delete, one at a time
        accepted = await client.post(
            f"/v1/bots/{BOT}/messages", json={"message": "Hei"}, headers=as_alice
        )
        assert accepted.status_code == 202, accepted.text
        sent.append(accepted.json())
        await wait_finished(client, sent[-1]["assistant_message_id"])
    users = {}
    for caller in ("admin", "secret", "other"):  # end users to erase
        accepted = await client.post(
            f"/v1/bots/{BOT}/messages",
            json={"message": "Hei", "user_id": f"erased-by-{caller}"},
            headers=JSON,
        )
        assert accepted.status_code == 202, accepted.text
        sent.append(accepted.json())
        users[caller] = f"/v1/bots/{BOT}/users/erased-by-{caller}"
    for ids in sent[5:]:
        await wait_finished(client, ids["assistant_message_id"])
    sessions = [f"/v1/bots/{BOT}/sessions/{ids['session_id']}" for ids in sent[1:5]]
    made = await client.post(f"/v1/bots/{BOT}/answers", json={"question": "q", "answer": "a"})
    key = await client.post("/v1/keys", json={"kind": "secret", "name": "revoked", "bot_id": BOT})
    response = await client.post(
        "/v1/responses", json={"model": BOT, "input": "Hei"}, headers=as_alice
    )
    assert response.status_code == 200, response.text
    return Seeded(
        response=response.json()["id"],
        message_id=sent[0]["assistant_message_id"],
        stream_id=sent[0]["stream_id"],
        session_id=sent[0]["session_id"],
        config=(await client.get(f"/v1/bots/{BOT}")).json()["config"],
        curated=made.json()["id"],
        key_id=key.json()["id"],
        sessions=PerCaller(
            sessions[3], {"admin": sessions[0], "secret": sessions[1], "alice": sessions[2]}
        ),
        users=PerCaller(
            users["other"],
            {
                "admin": users["admin"],
                "secret": users["secret"],
                "alice": f"/v1/bots/{BOT}/users/{sent[0]['user_id']}",  # alice erases herself
            },
        ),
    )


@pytest.fixture
def make_settings(make_settings: Settings) -> Settings:
    """The matrix sends every caller to every route within a minute: more than the default
    limits allow one client (each limit has its own tests)."""
    return make_settings.model_copy(
        update={"rate_limit_ip": "3000/minute", "rate_limit_key": "3000/minute"}
    )


async def test_every_key_kind_against_every_endpoint(server: RunningServer, keys: Keys) -> None:
    alice = await user_token(server.client, keys.publishable)
    bob = await user_token(server.client, keys.publishable)
    seeded = await _seed(server, alice)
    callers: dict[str, dict[str, str]] = {
        "none": {},
        "bad": Keys.bearer("cw_sk_not-a-key"),
        "admin": server.admin_headers,
        "secret": Keys.bearer(keys.secret),
        "other_secret": Keys.bearer(keys.other_secret),
        "publishable": Keys.bearer(keys.publishable, SITE),
        "other_publishable": Keys.bearer(keys.other_publishable, SITE),
        "alice": Keys.bearer(alice, SITE),
        "bob": Keys.bearer(bob, SITE),
    }
    assert tuple(callers) == CALLERS
    failures = []
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as anonymous:
        for method, where, body, expected in matrix(seeded):
            for caller, headers in callers.items():
                want = expected.get(caller, 401 if caller in ("none", "bad") else 403)
                path = where if isinstance(where, str) else where(caller)
                if body is UPLOAD:
                    response = await anonymous.request(
                        method, path, files=[("files", ("a.txt", b"hello"))], headers=headers
                    )
                elif body is FEED:
                    async with anonymous.stream(method, path, headers=headers) as response:
                        if response.status_code >= 400:
                            await response.aread()
                else:
                    response = await anonymous.request(
                        method, path, json=body, headers={**JSON, **headers}
                    )
                if response.status_code != want:
                    failures.append((method, path, caller, want, response.status_code))
                if response.status_code >= 400 and path in OPENAI_PATHS:  # OpenAI's shape
                    error = response.json()["error"]
                    assert response.headers["content-type"] == "application/json"
                    assert error["code"] and error["hint"] and error["type"]
                elif response.status_code >= 400:
                    problem = response.json()
                    assert response.headers["content-type"] == "application/problem+json"
                    assert problem["code"] and problem["hint"]
    assert failures == []


def api_routes(app: FastAPI) -> list[Any]:
    """Every /v1 route of the app (path, methods, path_regex, dependant), in the order they
    match.

    Newer FastAPI keeps an included router as one entry of `app.routes`; its routes, with the
    dependencies the app added when including it, come from `fastapi.routing.iter_route_contexts`.
    """
    flatten = getattr(fastapi.routing, "iter_route_contexts", None)
    routes = list(flatten(app.routes)) if flatten is not None else list(app.routes)
    found = [route for route in routes if (getattr(route, "path", None) or "").startswith("/v1/")]
    assert found, "no /v1 route found: the app's routes are read wrongly"
    return found


def v1_routes(app: FastAPI) -> list[tuple[str, str, re.Pattern[str]]]:
    """(method, path, path pattern) of every /v1 route of the app, in the order they match."""
    return [
        (method, route.path, route.path_regex)
        for route in api_routes(app)
        for method in sorted(route.methods or ())
    ]


def test_the_matrix_has_a_row_for_every_v1_route() -> None:
    """A /v1 route (method and path) added without a row in the matrix fails here."""
    sessions = PerCaller("/v1/bots/x/sessions/x", {})
    users = PerCaller("/v1/bots/x/users/x", {})
    seeded = Seeded("x", "x", "x", {}, "x", "x", sessions, users, "resp_x")
    routes = v1_routes(create_app())
    covered = set()
    for method, where, _, _ in matrix(seeded):
        paths = {where} if isinstance(where, str) else {where.other, *where.own.values()}
        for path in paths:
            path = path.split("?")[0]
            matched = [(m, p) for m, p, pattern in routes if m == method and pattern.match(path)]
            assert matched, f"the matrix's {method} {path} matches no route of the app"
            covered.add(matched[0])  # the first match serves it, as in the router
    assert [f"{m} {p}" for m, p, _ in routes if (m, p) not in covered] == []


async def test_health_endpoints_need_no_key_and_show_no_secret(make_settings: Settings) -> None:
    assert make_settings.llm_base_url
    settings = make_settings.model_copy(
        update={
            "llm_api_key": SecretStr("sk-llm-provider-secret"),
            # A password in the LLM server's URL (a proxy with basic auth) is a secret too.
            "llm_base_url": make_settings.llm_base_url.replace("//", "//chinwag:url-password@"),
        }
    )
    async with (
        run_server(settings) as server,
        httpx.AsyncClient(base_url=server.base_url) as anonymous,
    ):
        async with server.db.write() as conn:
            secret = await create_key(conn, kind="secret", name="s", bot_id=BOT)
            publishable = await create_key(
                conn, kind="publishable", name="p", bot_id=BOT, allowed_origins=[SITE]
            )
        alive = await anonymous.get("/healthz")
        ready = await anonymous.get("/readyz")
    assert alive.status_code == 200 and alive.json() == {"status": "ok"}
    assert ready.status_code == 200 and ready.headers["content-type"] == "application/json"
    body = ready.json()
    assert body["ready"] is True
    # Every check docs/operations.md names, each passing, with what it found.
    checks = body["checks"]
    assert list(checks) == ["database", "schema", "bots", "knowledge", "event_log", "generations"]
    assert [name for name, check in checks.items() if check["ok"] is not True] == []
    assert checks["schema"] == {
        "ok": True,
        "current": migrate.head_revision(),
        "head": migrate.head_revision(),
    }
    assert checks["bots"]["bots"] == {
        BOT: {
            "ok": True,
            "providers": [
                {
                    "ok": True,
                    "url": settings.llm_base_url.replace("url-password", "***"),
                    "status": 200,
                }
            ],
            "embedded": ["embedding: all-MiniLM-L6-v2 (embedded)"],
        }
    }
    assert checks["knowledge"] == {"ok": True, "bots": {}}
    assert checks["event_log"]["backlog"] == 0 and checks["generations"]["running"] == 0
    # Anyone may ask: no credential, and not where the database is, is in the answer.
    assert settings.secret_key and settings.llm_api_key
    server_secret = settings.secret_key.get_secret_value()
    shown = [
        server_secret,
        settings.llm_api_key.get_secret_value(),
        server.admin_key,
        secret.key,
        publishable.key,
        identity_secret(server_secret.encode(), publishable.info.id),
        "url-password",
        settings.database_url,
    ]
    assert [s for s in shown if s in ready.text] == []


async def test_every_api_route_runs_authentication(server: RunningServer) -> None:
    from chinwag.http.deps import authenticate

    routes = api_routes(create_app(server.settings))
    for route in routes:
        calls = [d.call for d in route.dependant.dependencies]
        assert authenticate in calls, route.path
