"""Concurrent first messages and idempotent retries never break a constraint or duplicate rows."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import func, select

from chinwag.conversations.models import ChatSession, EndUser, Message
from chinwag.operations.doctor import run_checks
from chinwag.streams.models import Stream
from chinwag.testing.fake_llm import FakeLLM
from tests.conftest import RunningServer
from tests.helpers import accept, wait_finished


async def _count(server: RunningServer, model: type) -> int:
    async with server.db.read() as conn:
        return (await conn.execute(select(func.count()).select_from(model))).scalar_one()


@pytest.mark.slow
async def test_200_concurrent_first_messages_for_one_new_user_and_session(
    server: RunningServer, fake_llm: FakeLLM
) -> None:
    fake_llm.behaviour.tokens = 3
    limits = httpx.Limits(max_connections=250, max_keepalive_connections=250)
    async with httpx.AsyncClient(
        base_url=server.base_url, timeout=60, limits=limits, headers=server.admin_headers
    ) as client:
        responses = await asyncio.gather(
            *[
                accept(
                    client,
                    {
                        "message": f"question {i}",
                        "user_id": "new-user",
                        "session_id": "new-session",
                    },
                )
                for i in range(200)
            ]
        )
        assert [r.status_code for r in responses] == [202] * 200
        ids = [r.json() for r in responses]
        for out in ids:
            await wait_finished(client, out["assistant_message_id"])

    assert await _count(server, EndUser) == 1
    assert await _count(server, ChatSession) == 1
    assert await _count(server, Message) == 400
    assert await _count(server, Stream) == 200
    async with server.db.read() as conn:
        positions = (await conn.execute(select(Message.position))).scalars().all()
        statuses = set((await conn.execute(select(Message.status))).scalars().all())
    assert sorted(positions) == list(range(1, 401))
    assert statuses == {"complete"}
    checks = await run_checks(server.db, heartbeat_seconds=0.5)
    assert [c for c in checks if not c.ok] == []


async def test_50_concurrent_posts_with_one_idempotency_key_make_one_generation(
    server: RunningServer, fake_llm: FakeLLM
) -> None:
    fake_llm.behaviour.tokens = 3
    body = {"message": "Do you deliver to Oslo?", "user_id": "u-idem", "session_id": "s-idem"}
    limits = httpx.Limits(max_connections=60)
    async with httpx.AsyncClient(
        base_url=server.base_url, timeout=60, limits=limits, headers=server.admin_headers
    ) as client:
        responses = await asyncio.gather(
            *[accept(client, body, **{"Idempotency-Key": "key-123"}) for _ in range(50)]
        )
        assert [r.status_code for r in responses] == [202] * 50
        outs = [r.json() for r in responses]
        assert len({o["stream_id"] for o in outs}) == 1
        assert len({o["user_message_id"] for o in outs}) == 1
        assert sum(not o["replayed"] for o in outs) == 1
        await wait_finished(client, outs[0]["assistant_message_id"])

        # The same key with the same body later still answers with the same stream …
        again = await accept(client, body, **{"Idempotency-Key": "key-123"})
        assert again.status_code == 202 and again.json()["stream_id"] == outs[0]["stream_id"]
        # … and with another body it is an error that says what to do.
        other = await accept(
            client, {**body, "message": "something else"}, **{"Idempotency-Key": "key-123"}
        )
        assert other.status_code == 422
        assert other.headers["content-type"] == "application/problem+json"
        assert other.json()["code"] == "idempotency_key_reused"
        assert "hint" in other.json()

    assert await _count(server, Message) == 2
    assert await _count(server, Stream) == 1
    assert len(fake_llm.requests) == 1


async def test_replayed_post_streams_the_original_events(
    server: RunningServer, fake_llm: FakeLLM
) -> None:
    fake_llm.behaviour.tokens = 4
    body = {"message": "Hva koster frakt?"}
    headers = {"Idempotency-Key": "replay-sse"}
    first = await server.client.post("/v1/bots/vinhuset/messages", json=body, headers=headers)
    second = await server.client.post("/v1/bots/vinhuset/messages", json=body, headers=headers)
    assert first.status_code == second.status_code == 200
    assert second.headers["x-chinwag-replayed"] == "true"
    assert first.text == second.text
    assert len(fake_llm.requests) == 1
