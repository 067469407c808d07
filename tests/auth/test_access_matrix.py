"""Every key kind against every endpoint: allowed, or 401/403/404 as documented."""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import SecretStr

from chinwag.auth.keys import create_key
from chinwag.auth.tokens import identity_secret
from chinwag.db import migrate
from chinwag.http.problems import OPENAI_PATHS
from chinwag.settings import Settings
from tests.auth.conftest import SITE, Keys, user_token
from tests.conftest import RunningServer, run_server
from tests.helpers import JSON, wait_finished

BOT = "vinhuset"


async def test_every_key_kind_against_every_endpoint(server: RunningServer, keys: Keys) -> None:
    client = server.client
    alice = await user_token(client, keys.publishable)
    bob = await user_token(client, keys.publishable)
    sent = await client.post(
        f"/v1/bots/{BOT}/messages",
        json={"message": "Hei"},
        headers={**JSON, **Keys.bearer(alice, SITE)},
    )
    assert sent.status_code == 202, sent.text
    ids = sent.json()
    await wait_finished(client, ids["assistant_message_id"])
    config = (await client.get(f"/v1/bots/{BOT}")).json()["config"]
    made = await client.post(f"/v1/bots/{BOT}/answers", json={"question": "q", "answer": "a"})
    curated = made.json()["id"]

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
    message = {"message": "Hallo"}
    authenticated = [c for c in callers if c not in ("none", "bad")]
    no_knowledge = {"admin": 422, "secret": 422, "other_secret": 404}
    # endpoint: (method, path, body, {caller: status}); callers left out expect `default`.
    admin_only = {"admin": 200}
    bot_readers = {"admin": 200, "secret": 200, "other_secret": 404}
    bot_writers = {"admin": 201, "secret": 201, "other_secret": 404}
    no_answer = {"admin": 404, "secret": 404, "other_secret": 404}
    cases: list[tuple[str, str, Any, dict[str, int]]] = [
        ("GET", "/v1/bots", None, admin_only),
        ("POST", "/v1/bots/validate", config, admin_only),
        # The test bot reads a flow it lacks: past authentication, validation refuses it.
        ("PUT", f"/v1/bots/{BOT}", config, {"admin": 422}),
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
            f"/v1/messages/{ids['assistant_message_id']}",
            None,
            {**bot_readers, "alice": 200, "bob": 404, "other_publishable": 403},
        ),
        (
            "GET",
            f"/v1/streams/{ids['stream_id']}/events?after=0",
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
            "POST",
            "/v1/chat/completions",
            {"model": BOT, "messages": [{"role": "user", "content": "Hei"}]},
            {"admin": 200, "secret": 200, "other_secret": 404, "alice": 200, "bob": 200},
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
            f"/v1/bots/{BOT}/sessions/{ids['session_id']}/messages",
            None,
            {**bot_readers, "alice": 200, "bob": 404},
        ),
        (
            "PUT",
            f"/v1/messages/{ids['assistant_message_id']}/feedback",
            {"rating": 1},
            {**bot_readers, "alice": 200, "bob": 404, "other_publishable": 403},
        ),
        ("GET", f"/v1/bots/{BOT}/export", None, bot_readers),
        ("GET", f"/v1/bots/{BOT}/answers", None, bot_readers),
        ("POST", f"/v1/bots/{BOT}/answers", {"question": "q", "answer": "a"}, bot_writers),
        ("GET", f"/v1/bots/{BOT}/answers/{curated}", None, bot_readers),
        ("PATCH", f"/v1/bots/{BOT}/answers/{curated}", {"enabled": True}, bot_readers),
        ("DELETE", f"/v1/bots/{BOT}/answers/no-such-answer", None, no_answer),
        ("GET", "/v1/keys", None, admin_only),
        ("POST", "/v1/keys", {"kind": "secret", "name": "x", "bot_id": BOT}, {"admin": 201}),
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
        ("POST", f"/v1/bots/{BOT}/knowledge/search", {"query": "x"}, no_knowledge),
        ("DELETE", f"/v1/bots/{BOT}/knowledge/documents/x.md", None, no_knowledge),
        ("GET", "/v1/knowledge/jobs/no-such-job", None, dict.fromkeys(authenticated, 404)),
        ("POST", "/v1/knowledge/indexes", {"knowledge": {"index": "matrix"}}, {"admin": 201}),
        # The console's endpoints: admin everything, a secret key its own bot only.
        ("GET", f"/v1/conversations?bot_id={BOT}", None, bot_readers),
        ("GET", "/v1/conversations", None, {**bot_readers, "other_secret": 200}),
        ("GET", f"/v1/conversations/export?bot_id={BOT}&format=csv", None, bot_readers),
        ("GET", f"/v1/analytics?bot_id={BOT}", None, bot_readers),
        ("GET", f"/v1/bots/{BOT}/sessions/{ids['session_id']}/transcript", None, bot_readers),
        ("GET", f"/v1/bots/{BOT}/yaml", None, bot_readers),
        ("GET", f"/v1/bots/{BOT}/diff?old=1", None, bot_readers),
        ("POST", "/v1/bots/validate-yaml", {"yaml": "id: x"}, admin_only),
        ("GET", "/v1/doctor", None, admin_only),
    ]
    failures = []
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as anonymous:
        for method, path, body, expected in cases:
            for caller, headers in callers.items():
                want = expected.get(caller, 401 if caller in ("none", "bad") else 403)
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
    upload = f"/v1/bots/{BOT}/knowledge/documents"
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as anonymous:
        for caller, headers in callers.items():
            want = {**no_knowledge, "none": 401, "bad": 401}.get(caller, 403)
            response = await anonymous.post(
                upload, files=[("files", ("a.txt", b"hello"))], headers=headers
            )
            if response.status_code != want:
                failures.append(("POST", upload, caller, want, response.status_code))
    assert failures == []


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
    from fastapi.routing import APIRoute

    from chinwag.app import create_app
    from chinwag.http.deps import authenticate

    app = create_app(server.settings)
    for route in app.routes:
        if isinstance(route, APIRoute) and route.path.startswith("/v1"):
            calls = [d.call for d in route.dependant.dependencies]
            assert authenticate in calls, route.path
