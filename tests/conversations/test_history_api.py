"""Sessions, paginated messages, feedback, deleting a session, erasing a user, JSONL export."""

from __future__ import annotations

import json

import httpx
from sqlalchemy import func, select, text

from chinwag.conversations.models import ChatSession, EndUser, Feedback, Message
from chinwag.testing.fake_llm import FakeLLM
from tests.auth.conftest import SITE, Keys, user_token
from tests.auth.conftest import keys as keys  # the fixture
from tests.conftest import RunningServer
from tests.helpers import JSON, accept, wait_finished

TABLES_WITH_USER_ROWS = """
SELECT
  (SELECT count(*) FROM end_users WHERE external_id = :u),
  (SELECT count(*) FROM chat_sessions s JOIN end_users e ON e.id = s.user_id
     WHERE e.external_id = :u),
  (SELECT count(*) FROM messages WHERE id IN (:m1, :m2)),
  (SELECT count(*) FROM streams WHERE id = :s),
  (SELECT count(*) FROM stream_events WHERE stream_id = :s),
  (SELECT count(*) FROM flow_runs WHERE message_id = :m2),
  (SELECT count(*) FROM feedback WHERE message_id = :m2),
  (SELECT count(*) FROM idempotency_keys WHERE user_message_id = :m1)
"""


async def _talk(client: httpx.AsyncClient, user: str, session: str, n: int) -> list[dict[str, str]]:
    sent = []
    for i in range(n):
        ids = (
            await accept(client, {"message": f"q{i}", "user_id": user, "session_id": session})
        ).json()
        await wait_finished(client, ids["assistant_message_id"])
        sent.append(ids)
    return sent


async def test_sessions_and_messages_with_cursor_pagination(
    server: RunningServer, fake_llm: FakeLLM
) -> None:
    fake_llm.behaviour.tokens = 2
    await _talk(server.client, "ann", "ann-1", 3)
    await _talk(server.client, "ann", "ann-2", 1)
    await _talk(server.client, "bo", "bo-1", 1)
    everyone = (await server.client.get("/v1/bots/vinhuset/sessions")).json()
    assert {s["id"] for s in everyone["sessions"]} == {"ann-1", "ann-2", "bo-1"}
    first = (await server.client.get("/v1/bots/vinhuset/sessions?user_id=ann&limit=1")).json()
    assert len(first["sessions"]) == 1 and first["next_cursor"]
    second = await server.client.get(
        f"/v1/bots/vinhuset/sessions?user_id=ann&limit=1&cursor={first['next_cursor']}"
    )
    assert second.json()["next_cursor"] is None
    assert {first["sessions"][0]["id"], second.json()["sessions"][0]["id"]} == {"ann-1", "ann-2"}

    pages, cursor = [], ""
    while True:
        page = (
            await server.client.get(f"/v1/bots/vinhuset/sessions/ann-1/messages?limit=4{cursor}")
        ).json()
        pages.append(page["messages"])
        if page["next_cursor"] is None:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert [len(p) for p in pages] == [4, 2]
    roles = [m["role"] for p in pages for m in p]
    assert roles == ["user", "assistant"] * 3
    missing = await server.client.get("/v1/bots/vinhuset/sessions/nope/messages")
    assert missing.status_code == 404 and missing.json()["code"] == "session_not_found"


async def test_feedback_is_one_per_user_and_message_and_changeable(
    server: RunningServer, keys: Keys
) -> None:
    token = await user_token(server.client, keys.publishable)
    headers = Keys.bearer(token, SITE)
    ids = (
        await server.client.post(
            "/v1/bots/vinhuset/messages", json={"message": "Hei"}, headers={**JSON, **headers}
        )
    ).json()
    answer = ids["assistant_message_id"]
    await wait_finished(server.client, answer)
    url = f"/v1/messages/{answer}/feedback"
    up = await server.client.put(url, json={"rating": 1}, headers=headers)
    assert up.status_code == 200 and up.json()["rating"] == 1
    down = await server.client.put(url, json={"rating": -1, "comment": "wrong"}, headers=headers)
    assert down.json()["rating"] == -1
    async with server.db.read() as conn:
        rows = (await conn.execute(select(Feedback.rating, Feedback.comment))).all()
    assert [tuple(r) for r in rows] == [(-1, "wrong")]
    question = await server.client.put(
        f"/v1/messages/{ids['user_message_id']}/feedback", json={"rating": 1}, headers=headers
    )
    assert question.status_code == 422
    other = await user_token(server.client, keys.publishable)
    stranger = await server.client.put(url, json={"rating": 1}, headers=Keys.bearer(other, SITE))
    assert stranger.status_code == 404
    bad = await server.client.put(url, json={"rating": 5}, headers=headers)
    assert bad.status_code == 422


async def test_delete_a_session(server: RunningServer) -> None:
    await _talk(server.client, "cy", "cy-1", 2)
    await _talk(server.client, "cy", "cy-2", 1)
    deleted = await server.client.delete("/v1/bots/vinhuset/sessions/cy-1")
    assert deleted.status_code == 200
    report = deleted.json()["deleted"]
    assert report["sessions"] == 1 and report["messages"] == 4 and report["streams"] == 2
    left = (await server.client.get("/v1/bots/vinhuset/sessions?user_id=cy")).json()
    assert [s["id"] for s in left["sessions"]] == ["cy-2"]
    again = await server.client.delete("/v1/bots/vinhuset/sessions/cy-1")
    assert again.status_code == 404


async def test_erasing_a_user_leaves_no_row_of_theirs(server: RunningServer) -> None:
    body = {"message": "Hei", "user_id": "dee", "session_id": "dee-1"}
    ids = (await accept(server.client, body, **{"Idempotency-Key": "k-dee"})).json()
    await wait_finished(server.client, ids["assistant_message_id"])
    await server.client.put(
        f"/v1/messages/{ids['assistant_message_id']}/feedback", json={"rating": 1}
    )
    await _talk(server.client, "other", "other-1", 1)
    params = {
        "u": "dee",
        "m1": ids["user_message_id"],
        "m2": ids["assistant_message_id"],
        "s": ids["stream_id"],
    }
    async with server.db.read() as conn:
        before = (await conn.execute(text(TABLES_WITH_USER_ROWS), params)).one()
    assert all(before), before
    erased = await server.client.delete("/v1/bots/vinhuset/users/dee")
    assert erased.status_code == 200
    report = erased.json()["deleted"]
    assert report["end_users"] == 1 and report["messages"] == 2 and report["feedback"] == 1
    assert report["idempotency_keys"] == 1 and report["stream_events"] > 0
    async with server.db.read() as conn:
        after = (await conn.execute(text(TABLES_WITH_USER_ROWS), params)).one()
        others = (await conn.execute(select(func.count()).select_from(Message))).scalar()
        users = (await conn.execute(select(EndUser.external_id))).scalars().all()
        sessions = (await conn.execute(select(ChatSession.external_id))).scalars().all()
    assert tuple(after) == (0,) * 8
    assert others == 2 and users == ["other"] and sessions == ["other-1"]
    assert (await server.client.delete("/v1/bots/vinhuset/users/dee")).status_code == 404


async def test_export_is_jsonl_of_every_message(server: RunningServer) -> None:
    await _talk(server.client, "eve", "eve-1", 2)
    await _talk(server.client, "fay", "fay-1", 1)
    response = await server.client.get("/v1/bots/vinhuset/export")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert len(lines) == 6
    eve = [(m["position"], m["role"]) for m in lines if m["session_id"] == "eve-1"]
    assert eve == [(1, "user"), (2, "assistant"), (3, "user"), (4, "assistant")]
    assert all(m["user_id"] in ("eve", "fay") and m["status"] == "complete" for m in lines)
