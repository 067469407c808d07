"""Two workers on one database: one claim wins when operators click at once, and an
operator's message reaches a visitor who follows the session on the other worker."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from chinwag.conversations.models import ChatSession, Handoff, SessionEvent
from chinwag.handoff.follow import SessionFollower
from chinwag.settings import Settings
from tests.conftest import RedisServer, run_server
from tests.handoff.conftest import BOT, Shop, handoff_bot, open_shop, session_events
from tests.helpers import accept, wait_finished

SESSION = f"/v1/bots/{BOT}/sessions"


async def _waiting_session(shop: Shop) -> str:
    sent = await accept(shop.client, {"message": "Hei"}, **shop.alice)
    await wait_finished(shop.client, sent.json()["assistant_message_id"])
    session = str(sent.json()["session_id"])
    asked = await shop.client.post(f"{SESSION}/{session}/handoff", headers=shop.alice)
    assert asked.json()["state"] == "waiting"
    return session


async def test_one_claim_wins_across_two_workers(make_settings: Settings) -> None:
    bot = handoff_bot()
    async with run_server(make_settings, bot=bot) as one, run_server(make_settings, bot=bot) as two:
        shop = await open_shop(one)
        for _ in range(3):  # a few rounds, each a fresh race
            session = await _waiting_session(shop)
            url = f"{SESSION}/{session}/handoff/claim"
            claims = [
                client.post(url, json={"name": f"op-{i}"}, headers=headers)
                for i in range(4)
                for client, headers in (
                    (one.client, shop.operator),
                    (two.client, shop.other_operator),
                )
            ]
            answers = await asyncio.gather(*claims)
            statuses = sorted(a.status_code for a in answers)
            assert statuses == [200] + [409] * 7, [a.text for a in answers]
            assert {a.json()["code"] for a in answers if a.status_code == 409} == {
                "handoff_not_waiting"
            }
            (winner,) = [a.json()["operator"] for a in answers if a.status_code == 200]
            async with one.db.read() as conn:
                row = (
                    await conn.execute(
                        select(Handoff.state, Handoff.claimed_by_name, Handoff.event_count)
                        .join(ChatSession, ChatSession.id == Handoff.session_id)
                        .where(ChatSession.external_id == session)
                    )
                ).one()
                claimed_events = (
                    (
                        await conn.execute(
                            select(SessionEvent.seq).where(
                                SessionEvent.session_id == Handoff.session_id,
                                ChatSession.id == Handoff.session_id,
                                ChatSession.external_id == session,
                                SessionEvent.type == "handoff.claimed",
                            )
                        )
                    )
                    .scalars()
                    .all()
                )
            assert tuple(row) == ("claimed", winner, 2)
            assert claimed_events == [2], "one claim, one event"


@pytest.mark.parametrize("with_redis", [False, True])
async def test_an_operators_message_reaches_the_visitor_on_another_worker(
    make_settings: Settings, request: pytest.FixtureRequest, with_redis: bool
) -> None:
    settings = make_settings
    if with_redis:
        redis: RedisServer = request.getfixturevalue("redis_server")
        settings = settings.model_copy(update={"redis_url": redis.url})
    bot = handoff_bot()
    async with (
        run_server(settings, bot=bot) as visitor_side,
        run_server(settings, bot=bot) as operator_side,
    ):
        shop = await open_shop(visitor_side)
        session = await _waiting_session(shop)
        following = asyncio.create_task(
            session_events(
                visitor_side.client, f"{SESSION}/{session}/events", 3, shop.alice, after=1
            )
        )
        await asyncio.sleep(0.3)  # the visitor is following, caught up
        claimed = await operator_side.client.post(
            f"{SESSION}/{session}/handoff/claim", json={"name": "Kari"}, headers=shop.operator
        )
        assert claimed.status_code == 200
        for text in ("Hei!", "Hva lurer du på?"):
            wrote = await operator_side.client.post(
                f"{SESSION}/{session}/handoff/messages",
                json={"message": text},
                headers=shop.operator,
            )
            assert wrote.status_code == 201
        events = await asyncio.wait_for(following, 10)
    assert [(e.id, e.type) for e in events] == [
        (2, "handoff.claimed"),
        (3, "message.created"),
        (4, "message.created"),
    ]
    assert [e.data["text"] for e in events[1:]] == ["Hei!", "Hva lurer du på?"]
    assert {e.data["author"]["name"] for e in events[1:]} == {"Kari"}


async def test_a_message_redis_never_carried_still_reaches_the_visitor(
    make_settings: Settings, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The operator's worker commits without publishing (here: it has no Redis; in life: it
    died in between). The visitor's follower, waiting on Redis, finds it in the database after
    its quiet wait."""
    monkeypatch.setattr(SessionFollower, "quiet_database_seconds", 1.5)
    bot = handoff_bot()
    with_redis = make_settings.model_copy(update={"redis_url": redis_server.url})
    async with (
        run_server(with_redis, bot=bot) as visitor_side,
        run_server(make_settings, bot=bot) as operator_side,
    ):
        shop = await open_shop(visitor_side)
        session = await _waiting_session(shop)
        claimed = await operator_side.client.post(
            f"{SESSION}/{session}/handoff/claim", json={"name": "Kari"}, headers=shop.operator
        )
        assert claimed.status_code == 200
        following = asyncio.create_task(
            session_events(
                visitor_side.client, f"{SESSION}/{session}/events", 1, shop.alice, after=2
            )
        )
        await asyncio.sleep(0.5)  # caught up from the database, now waiting on Redis
        wrote = await operator_side.client.post(
            f"{SESSION}/{session}/handoff/messages", json={"message": "Hei!"}, headers=shop.operator
        )
        assert wrote.status_code == 201
        (event,) = await asyncio.wait_for(following, 10)
    assert (event.id, event.type, event.data["text"]) == (3, "message.created", "Hei!")


async def test_an_idle_follower_with_redis_does_not_read_the_database_every_second(
    make_settings: Settings, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = 0
    page = SessionFollower._next_page

    async def counted(self: SessionFollower) -> tuple[list[object], bool]:
        nonlocal reads
        reads += 1
        return await page(self)

    monkeypatch.setattr(SessionFollower, "_next_page", counted)
    settings = make_settings.model_copy(update={"redis_url": redis_server.url})
    async with run_server(settings, bot=handoff_bot()) as server:
        shop = await open_shop(server)
        session = await _waiting_session(shop)
        following = asyncio.create_task(
            session_events(server.client, f"{SESSION}/{session}/events", 2, shop.alice, after=1)
        )
        await asyncio.sleep(3.5)  # quiet: three Redis waits of a second each
        assert reads == 1  # the catch-up; the next read comes after QUIET_DATABASE_SECONDS
        claimed = await server.client.post(
            f"{SESSION}/{session}/handoff/claim", json={"name": "Kari"}, headers=shop.operator
        )
        assert claimed.status_code == 200
        wrote = await server.client.post(
            f"{SESSION}/{session}/handoff/messages", json={"message": "Hei!"}, headers=shop.operator
        )
        assert wrote.status_code == 201
        events = await asyncio.wait_for(following, 10)
    assert [e.type for e in events] == ["handoff.claimed", "message.created"]
