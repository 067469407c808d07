"""Retention on both databases while answers are being written: old rows go, live ones stay."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select, update

from chinwag.bots.service import put_bot
from chinwag.config.bot import BotConfig
from chinwag.conversations.models import Message
from chinwag.db.base import utcnow
from chinwag.operations.doctor import run_checks
from chinwag.operations.retention import purge
from chinwag.streams.models import LoggedEvent, Stream
from chinwag.testing.fake_llm import FakeLLM
from tests.conftest import RunningServer, plain_demo_bot
from tests.helpers import accept, wait_finished
from tests.sse_client import read_all


async def _count(server: RunningServer, table: type, *where: object) -> int:
    async with server.db.read() as conn:
        query = select(func.count()).select_from(table).where(*where)  # type: ignore[arg-type]
        return int((await conn.execute(query)).scalar_one())


async def test_gc_purges_old_rows_while_streams_run(
    server: RunningServer, fake_llm: FakeLLM
) -> None:
    fake_llm.behaviour.tokens = 3
    old = [(await accept(server.client, {"message": f"q{i}"})).json() for i in range(3)]
    for ids in old:
        await wait_finished(server.client, ids["assistant_message_id"])
    old_streams = [ids["stream_id"] for ids in old]
    async with server.db.write() as conn:  # finished two hours ago
        await conn.execute(
            update(Stream)
            .where(Stream.id.in_(old_streams))
            .values(finished_at=utcnow() - timedelta(hours=2))
        )
    fake_llm.behaviour.tokens = 40
    fake_llm.behaviour.token_delay = 0.05
    live = (await accept(server.client, {"message": "still going"})).json()
    await asyncio.sleep(0.3)

    purged = await purge(server.db, server.settings.model_copy(update={"gc_batch_size": 2}))

    assert purged.stream_events > 0 and purged.streams == 0
    assert await _count(server, LoggedEvent, LoggedEvent.stream_id.in_(old_streams)) == 0
    gone = await server.client.get(f"/v1/streams/{old_streams[0]}/events?after=0")
    assert gone.status_code == 410 and gone.json()["code"] == "stream_events_purged"
    async with server.client.stream("GET", f"/v1/streams/{live['stream_id']}/events") as r:
        events = await read_all(r)
    assert events[-1].data["status"] == "completed"
    assert [e.id for e in events] == list(range(1, len(events) + 1))  # nothing of it was lost
    message = await wait_finished(server.client, old[0]["assistant_message_id"])
    assert message["content"]  # the answer's text stays

    later = await purge(server.db, server.settings, now=utcnow() + timedelta(days=2))
    assert later.streams == 4
    assert await _count(server, Stream) == 0 and await _count(server, Message) == 8
    checks = await run_checks(server.db, heartbeat_seconds=server.settings.heartbeat_seconds)
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]


async def test_a_bots_message_retention_deletes_old_conversations(
    server: RunningServer, fake_llm: FakeLLM
) -> None:
    fake_llm.behaviour.tokens = 2
    bot = plain_demo_bot()
    async with server.db.write() as conn:
        await put_bot(
            conn, BotConfig.model_validate({**bot.model_dump(), "retention": {"message_days": 30}})
        )
    first = (
        await accept(server.client, {"message": "old", "session_id": "s1", "user_id": "u1"})
    ).json()
    await wait_finished(server.client, first["assistant_message_id"])
    second = (
        await accept(server.client, {"message": "new", "session_id": "s1", "user_id": "u1"})
    ).json()
    await wait_finished(server.client, second["assistant_message_id"])
    async with server.db.write() as conn:
        await conn.execute(
            update(Message)
            .where(Message.id.in_([first["user_message_id"], first["assistant_message_id"]]))
            .values(created_at=utcnow() - timedelta(days=31))
        )
    purged = await purge(server.db, server.settings)
    assert purged.messages == {"vinhuset": 2}
    remaining = await server.client.get(f"/v1/messages/{second['assistant_message_id']}")
    assert remaining.status_code == 200
    assert (await server.client.get(f"/v1/messages/{first['user_message_id']}")).status_code == 404
    checks = await run_checks(server.db, heartbeat_seconds=server.settings.heartbeat_seconds)
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]


async def test_chinwag_gc_runs_one_pass(server: RunningServer) -> None:
    from tests.bots.test_bots_cli import chinwag

    ids = (await accept(server.client, {"message": "Hei"})).json()
    await wait_finished(server.client, ids["assistant_message_id"])
    code, out = await chinwag(server.settings.database_url, "gc")
    assert code == 0 and "purged stream events: 0, streams: 0, messages: 0" in out, out
