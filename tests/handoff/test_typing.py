"""Typing indicators: each side's signal reaches the other side's follower as a `typing` event
without `id` (on one worker without Redis, across two with it), throttled, never stored, never
replayed on resume; only who may write in that role may signal."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select

from chinwag.conversations.models import ChatSession, Message, SessionEvent
from chinwag.settings import Settings
from tests.conftest import RedisServer, RunningServer, run_server
from tests.handoff.conftest import BOT, Shop, handoff_bot, open_shop, session_events
from tests.helpers import accept, assert_problem, wait_finished
from tests.sse_client import SSEEvent, iter_events

SESSION = f"/v1/bots/{BOT}/sessions"


async def _claimed_session(shop: Shop, operator_side: RunningServer) -> str:
    sent = await accept(shop.client, {"message": "Hei"}, **shop.alice)
    await wait_finished(shop.client, sent.json()["assistant_message_id"])
    session = str(sent.json()["session_id"])
    asked = await shop.client.post(f"{SESSION}/{session}/handoff", headers=shop.alice)
    assert asked.json()["state"] == "waiting"
    claimed = await operator_side.client.post(
        f"{SESSION}/{session}/handoff/claim", json={"name": "Kari"}, headers=shop.operator
    )
    assert claimed.status_code == 200
    return session


async def _next(events: AsyncIterator[SSEEvent]) -> SSEEvent:
    return await asyncio.wait_for(anext(events), 10)


@pytest.mark.parametrize("two_workers_with_redis", [False, True])
async def test_each_side_sees_the_other_typing(
    make_settings: Settings, request: pytest.FixtureRequest, two_workers_with_redis: bool
) -> None:
    settings = make_settings
    if two_workers_with_redis:
        redis: RedisServer = request.getfixturevalue("redis_server")
        settings = settings.model_copy(update={"redis_url": redis.url})
    bot = handoff_bot()
    async with run_server(settings, bot=bot) as visitor_side:
        async with run_server(settings, bot=bot) as other_worker:
            operator_side = other_worker if two_workers_with_redis else visitor_side
            shop = await open_shop(visitor_side)
            session = await _claimed_session(shop, operator_side)
            url = f"{SESSION}/{session}/events"
            async with (
                visitor_side.client.stream("GET", url, headers=shop.alice) as widget,
                operator_side.client.stream("GET", url, headers=shop.operator) as inbox,
            ):
                seen_by_visitor, seen_by_operator = iter_events(widget), iter_events(inbox)
                for events in (seen_by_visitor, seen_by_operator):  # both caught up
                    assert [(await _next(events)).id for _ in range(2)] == [1, 2]

                typed = f"{SESSION}/{session}/handoff/typing"
                first = await operator_side.client.post(typed, headers=shop.operator)
                again = await operator_side.client.post(typed, headers=shop.operator)
                assert (first.status_code, first.json()) == (202, {"signalled": True})
                assert (again.status_code, again.json()) == (202, {"signalled": False})
                typing = await _next(seen_by_visitor)
                assert (typing.id, typing.type) == (None, "typing")
                assert typing.data == {
                    "type": "typing",
                    "who": "operator",
                    "name": "Kari",
                    "expires_in_ms": 5000,
                }

                visitor = await visitor_side.client.post(
                    f"{SESSION}/{session}/typing", headers=shop.alice
                )
                assert (visitor.status_code, visitor.json()) == (202, {"signalled": True})
                # The operator's own signal came first on their follower, then the visitor's.
                assert (await _next(seen_by_operator)).data["who"] == "operator"
                typing = await _next(seen_by_operator)
                assert (typing.id, typing.type, typing.data["who"]) == (None, "typing", "visitor")
                assert typing.data["name"] is None

                wrote = await operator_side.client.post(
                    f"{SESSION}/{session}/handoff/messages",
                    json={"message": "Hei!"},
                    headers=shop.operator,
                )
                assert wrote.status_code == 201
                # Every follower gets both sides' signals (each side shows the other's).
                own = await _next(seen_by_visitor)
                assert (own.id, own.type, own.data["who"]) == (None, "typing", "visitor")
                message = await _next(seen_by_visitor)
                assert (message.id, message.type) == (3, "message.created")

        # Nothing of it is in the durable log: resuming replays the messages, no typing.
        resumed = await session_events(visitor_side.client, url, 1, shop.alice, after=2)
        assert [(e.id, e.type) for e in resumed] == [(3, "message.created")]
        async with visitor_side.db.read() as conn:
            kinds = (
                await conn.execute(
                    select(SessionEvent.type)
                    .join(ChatSession, ChatSession.id == SessionEvent.session_id)
                    .where(ChatSession.external_id == session)
                    .order_by(SessionEvent.seq)
                )
            ).scalars()
            assert list(kinds) == [
                "handoff.waiting",
                "handoff.claimed",
                "message.created",
            ]
            messages = (
                await conn.execute(
                    select(func.count())
                    .select_from(Message)
                    .join(ChatSession, ChatSession.id == Message.session_id)
                    .where(ChatSession.external_id == session)
                )
            ).scalar_one()
            assert messages == 3  # the visitor's, the bot's answer, the operator's


async def test_only_who_may_write_may_signal(shop: Shop) -> None:
    sent = await accept(shop.client, {"message": "Hei"}, **shop.alice)
    await wait_finished(shop.client, sent.json()["assistant_message_id"])
    session = sent.json()["session_id"]
    visitor_url = f"{SESSION}/{session}/typing"
    operator_url = f"{SESSION}/{session}/handoff/typing"
    client = shop.client

    # The bot has the conversation: the visitor's typing goes nowhere; no operator answers.
    nobody = await client.post(visitor_url, headers=shop.alice)
    assert (nobody.status_code, nobody.json()) == (202, {"signalled": False})
    assert_problem(
        await client.post(operator_url, headers=shop.operator), 409, "handoff_not_claimed"
    )

    await client.post(f"{SESSION}/{session}/handoff", headers=shop.alice)
    assert_problem(
        await client.post(operator_url, headers=shop.operator), 409, "handoff_not_claimed"
    )
    await client.post(f"{SESSION}/{session}/handoff/claim", headers=shop.operator)
    assert_problem(
        await client.post(operator_url, headers=shop.other_operator),
        409,
        "handoff_claimed_by_another",
    )
    # Another visitor cannot signal in Alice's conversation, nor can a visitor as an operator.
    stranger = await client.post(visitor_url, headers=shop.bob)
    assert stranger.status_code == 404, stranger.text
    as_operator = await client.post(operator_url, headers=shop.alice)
    assert as_operator.status_code == 403, as_operator.text
    unknown = await client.post(f"{SESSION}/nope/typing", headers=shop.alice)
    assert unknown.status_code == 404
    ok = await client.post(visitor_url, headers=shop.alice)
    assert ok.json() == {"signalled": True}


async def test_without_a_token_nobody_signals(shop: Shop) -> None:
    anonymous = httpx.AsyncClient(base_url=shop.server.base_url)
    async with anonymous:
        refused = await anonymous.post(f"{SESSION}/any/typing")
    assert refused.status_code == 401
