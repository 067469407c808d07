"""End-user tokens, identity verification, cross-user attempts, origins and CORS."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select

from chinwag.auth.models import ApiKey
from chinwag.auth.tokens import identity_secret, user_hash
from chinwag.conversations.models import EndUser
from tests.auth.conftest import SITE, Keys, user_token
from tests.conftest import RunningServer
from tests.helpers import JSON, assert_problem, wait_finished


async def _send(client: httpx.AsyncClient, token: str, **body: str) -> httpx.Response:
    return await client.post(
        "/v1/bots/vinhuset/messages",
        json={"message": "Hei", **body},
        headers={**JSON, **Keys.bearer(token, SITE)},
    )


async def test_a_verified_user_keeps_their_history_across_devices(
    server: RunningServer, keys: Keys
) -> None:
    identity = identity_secret(b"test-secret", keys.publishable_id)
    signed = {"user_id": "customer-42", "user_hash": user_hash(identity, "customer-42")}
    laptop = await user_token(server.client, keys.publishable, **signed)
    phone = await user_token(server.client, keys.publishable, **signed)
    sent = await _send(server.client, laptop, session_id="s-42")
    assert sent.status_code == 202 and sent.json()["user_id"] == "customer-42"
    message_id = sent.json()["assistant_message_id"]
    await wait_finished(server.client, message_id)
    seen = await server.client.get(f"/v1/messages/{message_id}", headers=Keys.bearer(phone, SITE))
    assert seen.status_code == 200 and seen.json()["status"] == "complete"
    again = await _send(server.client, phone, session_id="s-42")
    assert again.status_code == 202


async def test_a_wrong_user_hash_gets_no_token(server: RunningServer, keys: Keys) -> None:
    response = await server.client.post(
        "/v1/bots/vinhuset/tokens",
        json={"user_id": "customer-42", "user_hash": "0" * 64},
        headers=Keys.bearer(keys.publishable, SITE),
    )
    assert_problem(response, 403, "identity_not_verified")
    async with server.db.read() as conn:
        assert (await conn.execute(select(func.count()).select_from(EndUser))).scalar() == 0


async def test_a_user_cannot_reach_another_users_session(server: RunningServer, keys: Keys) -> None:
    alice = await user_token(server.client, keys.publishable)
    mallory = await user_token(server.client, keys.publishable)
    assert (await _send(server.client, alice, session_id="alices")).status_code == 202
    stolen = await _send(server.client, mallory, session_id="alices")
    assert_problem(stolen, 404, "session_not_found")
    through_openai = await server.client.post(
        "/v1/chat/completions",
        json={"model": "vinhuset", "messages": [{"role": "user", "content": "Hei"}]},
        headers={**Keys.bearer(mallory, SITE), "X-Chinwag-Session-Id": "alices"},
    )
    assert through_openai.status_code == 404
    assert through_openai.json()["error"]["code"] == "session_not_found"
    unknown = await _send(server.client, mallory, session_id="nobodys")
    assert unknown.status_code == 202  # a new session of mallory's own
    posing = await _send(server.client, mallory, user_id="alice-external-id")
    assert_problem(posing, 403, "forbidden")


async def test_forged_and_revoked_credentials_are_refused(
    server: RunningServer, keys: Keys
) -> None:
    token = await user_token(server.client, keys.publishable)
    payload, signature = token.split(".")
    forged = f"{payload[:-2]}xx.{signature}"
    assert_problem(await _send(server.client, forged), 401, "unauthenticated")
    revoked = await server.client.delete(f"/v1/keys/{keys.publishable_id}")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    unknown = await server.client.delete("/v1/keys/no-such-key")
    assert "no-such-key" in assert_problem(unknown, 404, "key_not_found")["detail"]
    assert_problem(await _send(server.client, token), 401, "unauthenticated")
    again = await server.client.post(
        "/v1/bots/vinhuset/tokens", json={}, headers=Keys.bearer(keys.publishable, SITE)
    )
    assert_problem(again, 401, "unauthenticated")


async def test_publishable_keys_work_only_from_their_origins(
    server: RunningServer, keys: Keys
) -> None:
    for origin in ("https://evil.example", None):
        response = await server.client.post(
            "/v1/bots/vinhuset/tokens", json={}, headers=Keys.bearer(keys.publishable, origin)
        )
        assert_problem(response, 403, "origin_not_allowed")
    token = await user_token(server.client, keys.publishable)
    stolen = await server.client.post(
        "/v1/bots/vinhuset/messages",
        json={"message": "Hei"},
        headers={**JSON, **Keys.bearer(token, "https://evil.example")},
    )
    assert_problem(stolen, 403, "origin_not_allowed")


async def test_cors_preflight_and_headers_follow_the_keys_origins(
    server: RunningServer, keys: Keys
) -> None:
    preflight = {"access-control-request-method": "POST"}
    allowed = await server.client.options(
        "/v1/bots/vinhuset/tokens", headers={**preflight, "origin": SITE}
    )
    assert allowed.status_code == 204
    assert allowed.headers["access-control-allow-origin"] == SITE
    assert "authorization" in allowed.headers["access-control-allow-headers"]
    refused = await server.client.options(
        "/v1/bots/vinhuset/tokens", headers={**preflight, "origin": "https://evil.example"}
    )
    assert_problem(refused, 403, "origin_not_allowed")
    assert "access-control-allow-origin" not in refused.headers
    response = await server.client.post(
        "/v1/bots/vinhuset/tokens", json={}, headers=Keys.bearer(keys.publishable, SITE)
    )
    assert response.headers["access-control-allow-origin"] == SITE


async def test_keys_are_stored_as_hashes_and_shown_once(server: RunningServer) -> None:
    created = await server.client.post(
        "/v1/keys",
        json={
            "kind": "publishable",
            "name": "w",
            "bot_id": "vinhuset",
            "allowed_origins": ["https://Shop.example/"],
        },
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["key"].startswith("cw_pk_") and body["identity_secret"]
    assert body["allowed_origins"] == ["https://shop.example"]
    listed = (await server.client.get("/v1/keys")).json()
    assert all("key" not in k for k in listed) and body["id"] in {k["id"] for k in listed}
    async with server.db.read() as conn:
        stored = (await conn.execute(select(ApiKey.__table__))).all()
    assert all(body["key"] not in str(tuple(row)) for row in stored)
    no_origin = await server.client.post(
        "/v1/keys", json={"kind": "publishable", "name": "w", "bot_id": "vinhuset"}
    )
    assert no_origin.status_code == 422 and no_origin.json()["hint"]
