"""The handoff end to end over HTTP: a visitor asks for a person, the bot falls silent, an
operator claims, answers and hands back; what each side sees, and the rows behind it."""

from __future__ import annotations

from sqlalchemy import func, select

from chinwag.conversations.models import Handoff, Message, MessageAuthor, SessionEvent
from chinwag.operations.doctor import run_checks
from chinwag.testing.fake_llm import FakeLLM
from tests.handoff.conftest import BOT, Shop, session_events
from tests.helpers import accept, assert_problem, wait_finished

SESSION = f"/v1/bots/{BOT}/sessions"


async def _started(shop: Shop) -> str:
    """Alice's session after one answer from the bot."""
    sent = await accept(shop.client, {"message": "Hei"}, **shop.alice)
    assert sent.status_code == 202, sent.text
    await wait_finished(shop.client, sent.json()["assistant_message_id"])
    return str(sent.json()["session_id"])


async def test_a_person_takes_over_and_hands_back(shop: Shop, fake_llm: FakeLLM) -> None:
    client, session = shop.client, await _started(shop)
    asked = await client.post(f"{SESSION}/{session}/handoff", headers=shop.alice)
    assert asked.status_code == 200, asked.text
    body = asked.json()
    assert body["state"] == "waiting" and body["within_hours"] is True
    assert "Someone will join" in body["text"]
    assert body["events_url"] == f"{SESSION}/{session}/events"
    # Asking again changes nothing.
    again = await client.post(f"{SESSION}/{session}/handoff", headers=shop.alice)
    assert again.json()["state"] == "waiting"

    queue = await client.get(f"/v1/bots/{BOT}/handoffs", headers=shop.operator)
    assert queue.status_code == 200
    (waiting,) = queue.json()["handoffs"]
    assert waiting["session_id"] == session and waiting["requested_by"] == "button"

    # While waiting, the visitor's message is stored and the bot stays silent.
    llm_calls = len(fake_llm.requests)
    held = await client.post(
        f"/v1/bots/{BOT}/messages",
        json={"message": "Er det noen der?", "session_id": session},
        headers=shop.alice,  # no Accept: JSON, as the widget streams: still JSON
    )
    assert held.status_code == 202, held.text
    assert held.headers["content-type"] == "application/json"
    assert held.json()["handoff"] == "waiting" and held.json()["replayed"] is False

    claimed = await client.post(
        f"{SESSION}/{session}/handoff/claim", json={"name": "Kari"}, headers=shop.operator
    )
    assert claimed.status_code == 200, claimed.text
    assert claimed.json() == {
        "session_id": session,
        "state": "claimed",
        "operator": "Kari",
        "text": None,
        "within_hours": None,
        "events_url": f"{SESSION}/{session}/events",
    }
    late = await client.post(f"{SESSION}/{session}/handoff/claim", headers=shop.other_operator)
    assert_problem(late, 409, "handoff_not_waiting")
    # Only the claimer writes.
    intruder = await client.post(
        f"{SESSION}/{session}/handoff/messages", json={"message": "x"}, headers=shop.other_operator
    )
    assert_problem(intruder, 409, "handoff_claimed_by_another")
    wrote = await client.post(
        f"{SESSION}/{session}/handoff/messages",
        json={"message": "Hei, Kari her! Hva kan jeg hjelpe med?"},
        headers=shop.operator,
    )
    assert wrote.status_code == 201, wrote.text
    assert wrote.json()["seq"] == 4
    held_again = await accept(
        client, {"message": "Takk! Har dere Barolo?", "session_id": session}, **shop.alice
    )
    assert held_again.json()["handoff"] == "claimed"
    assert len(fake_llm.requests) == llm_calls, "no LLM call while a person has the session"

    events = await session_events(client, f"{SESSION}/{session}/events", 5, shop.alice)
    assert [(e.id, e.type) for e in events] == [
        (1, "handoff.waiting"),
        (2, "message.created"),
        (3, "handoff.claimed"),
        (4, "message.created"),
        (5, "message.created"),
    ]
    assert events[1].data["author"] == {"kind": "visitor", "name": None}
    assert events[1].data["text"] == "Er det noen der?"
    assert events[2].data["operator"] == {"name": "Kari"}
    assert events[3].data["author"] == {"kind": "operator", "name": "Kari"}
    assert events[3].data["role"] == "assistant"
    # Resumable by Last-Event-ID (or ?after=N), from the database.
    resumed = await session_events(
        client, f"{SESSION}/{session}/events", 2, shop.alice, last_event_id=3
    )
    assert [e.id for e in resumed] == [4, 5]
    after = await session_events(client, f"{SESSION}/{session}/events", 1, shop.alice, after=4)
    assert after[0].data["text"] == "Takk! Har dere Barolo?"

    history = await client.get(f"{SESSION}/{session}/messages", headers=shop.alice)
    said = [(m["role"], m["author"], m["content"]) for m in history.json()["messages"]]
    assert said[2:] == [
        ("user", {"kind": "visitor", "name": None}, "Er det noen der?"),
        (
            "assistant",
            {"kind": "operator", "name": "Kari"},
            "Hei, Kari her! Hva kan jeg hjelpe med?",
        ),
        ("user", {"kind": "visitor", "name": None}, "Takk! Har dere Barolo?"),
    ]
    assert said[1][1] == {"kind": "bot", "name": None}
    one = await client.get(f"/v1/messages/{wrote.json()['message_id']}", headers=shop.alice)
    assert one.json()["author"] == {"kind": "operator", "name": "Kari"}

    released = await client.post(f"{SESSION}/{session}/handoff/release", headers=shop.operator)
    assert released.status_code == 200 and released.json()["state"] == "bot"
    answered = await accept(client, {"message": "Og Chianti?", "session_id": session}, **shop.alice)
    assert answered.status_code == 202 and "stream_id" in answered.json()
    done = await wait_finished(client, answered.json()["assistant_message_id"])
    assert done["status"] == "complete" and len(fake_llm.requests) == llm_calls + 1
    prompt = [m["content"] for m in fake_llm.requests[-1]["messages"]]
    assert "Hei, Kari her! Hva kan jeg hjelpe med?" in prompt, "the bot sees the person's words"
    last = await session_events(client, f"{SESSION}/{session}/events", 1, shop.alice, after=5)
    assert last[0].type == "handoff.released" and last[0].data["state"] == "bot"

    async with shop.server.db.read() as conn:
        state = (await conn.execute(select(Handoff.state))).scalar_one()
        seqs = (await conn.execute(select(SessionEvent.seq).order_by(SessionEvent.seq))).scalars()
        authors = (await conn.execute(select(MessageAuthor.name))).scalars().all()
        positions = (
            await conn.execute(select(Message.position).order_by(Message.position))
        ).scalars()
    assert state == "bot" and list(seqs) == [1, 2, 3, 4, 5, 6] and authors == ["Kari"]
    assert list(positions) == list(range(1, 8)), "gap-free positions across the handoff"
    assert all(c.ok for c in await run_checks(shop.server.db, heartbeat_seconds=0.5))


async def test_closing_and_erasing_a_handed_over_session(shop: Shop) -> None:
    client, session = shop.client, await _started(shop)
    await client.post(f"{SESSION}/{session}/handoff", headers=shop.alice)
    await client.post(f"{SESSION}/{session}/handoff/claim", headers=shop.operator)
    await client.post(
        f"{SESSION}/{session}/handoff/messages", json={"message": "Hei"}, headers=shop.operator
    )
    # An admin may close another operator's conversation.
    closed = await client.post(f"{SESSION}/{session}/handoff/close")
    assert closed.status_code == 200 and closed.json()["state"] == "closed"
    not_claimed = await client.post(
        f"{SESSION}/{session}/handoff/messages", json={"message": "x"}, headers=shop.operator
    )
    assert_problem(not_claimed, 409, "handoff_not_claimed")
    queue = await client.get(f"/v1/bots/{BOT}/handoffs?state=closed", headers=shop.operator)
    assert [h["session_id"] for h in queue.json()["handoffs"]] == [session]

    deleted = await client.delete(f"{SESSION}/{session}", headers=shop.alice)
    assert deleted.status_code == 200, deleted.text
    report = deleted.json()["deleted"]
    assert report["session_events"] == 4 and report["message_authors"] == 1
    async with shop.server.db.read() as conn:
        left = [
            (await conn.execute(select(func.count()).select_from(table))).scalar_one()
            for table in (Handoff, SessionEvent, MessageAuthor)
        ]
    assert left == [0, 0, 0]


async def test_who_may_do_what(shop: Shop) -> None:
    client, session = shop.client, await _started(shop)
    # Another visitor's session does not exist for bob; a bare publishable key may not ask.
    assert_problem(
        await client.post(f"{SESSION}/{session}/handoff", headers=shop.bob),
        404,
        "session_not_found",
    )
    assert_problem(
        await client.post(f"{SESSION}/{session}/handoff", headers=shop.publishable),
        403,
        "forbidden",
    )
    assert_problem(
        await client.get(f"{SESSION}/{session}/events", headers=shop.bob), 404, "session_not_found"
    )
    # Visitors do not operate.
    await client.post(f"{SESSION}/{session}/handoff", headers=shop.alice)
    assert_problem(
        await client.post(f"{SESSION}/{session}/handoff/claim", headers=shop.alice),
        403,
        "forbidden",
    )
    assert_problem(
        await client.get(f"/v1/bots/{BOT}/handoffs", headers=shop.alice), 403, "forbidden"
    )
    bad_id = await client.get(
        f"{SESSION}/{session}/events", headers={**shop.alice, "last-event-id": "x"}
    )
    assert_problem(bad_id, 422, "invalid_request")
    # An OpenAI-compatible client cannot continue the session behind the person's back.
    completion = await client.post(
        "/v1/chat/completions",
        json={"model": BOT, "messages": [{"role": "user", "content": "Hallo?"}]},
        headers={**shop.alice, "x-chinwag-session-id": session},
    )
    assert completion.status_code == 409, completion.text
    assert completion.json()["error"]["code"] == "session_with_operator"


async def test_a_bot_without_handoff_refuses_the_request(server_without_handoff: Shop) -> None:
    shop = server_without_handoff
    session = await _started(shop)
    refused = await shop.client.post(f"{SESSION}/{session}/handoff", headers=shop.alice)
    assert_problem(refused, 409, "handoff_not_enabled")
