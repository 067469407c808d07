"""Retention on both databases while answers are being written: old rows go, live ones stay."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from chinwag.bots.service import put_bot
from chinwag.config.bot import BotConfig
from chinwag.conversations.models import (
    ChatSession,
    EndUser,
    Feedback,
    FlowRun,
    IdempotencyKey,
    Message,
)
from chinwag.db.base import utcnow
from chinwag.operations.doctor import run_checks
from chinwag.operations.retention import purge
from chinwag.settings import Settings
from chinwag.streams.models import LoggedEvent, Stream
from chinwag.testing.fake_llm import FakeLLM
from tests.conftest import RunningServer, plain_demo_bot, run_server
from tests.helpers import accept, chinwag, wait_finished
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
    old_events = await _count(server, LoggedEvent, LoggedEvent.stream_id.in_(old_streams))
    fake_llm.behaviour.tokens = 40
    fake_llm.behaviour.token_delay = 0.05
    live = (await accept(server.client, {"message": "still going"})).json()
    await asyncio.sleep(0.3)

    purged = await purge(server.db, server.settings.model_copy(update={"gc_batch_size": 2}))

    assert (purged.stream_events, purged.streams, purged.messages) == (old_events, 0, {})
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


async def _age(server: RunningServer, ids: dict[str, str], *, finished: float, sent: float) -> None:
    """Move one exchange back in time: its stream ended `finished` hours ago, its messages were
    written `sent` hours ago."""
    ago = utcnow()
    async with server.db.write() as conn:
        await conn.execute(
            update(Stream)
            .where(Stream.id == ids["stream_id"])
            .values(finished_at=ago - timedelta(hours=finished))
        )
        await conn.execute(
            update(Message)
            .where(Message.id.in_([ids["user_message_id"], ids["assistant_message_id"]]))
            .values(created_at=ago - timedelta(hours=sent))
        )


@pytest.mark.slow
async def test_chinwag_gc_purges_what_is_past_each_retention_period(
    make_settings: Settings, fake_llm: FakeLLM
) -> None:
    """Four conversations of ages either side of each period (events 1 h after the stream ended,
    streams 1 day, the bot's messages 30 days); `chinwag gc` deletes exactly what is past."""
    fake_llm.behaviour.tokens = 3
    bot = BotConfig.model_validate(
        {**plain_demo_bot().model_dump(), "retention": {"message_days": 30}}
    )
    settings = make_settings.model_copy(update={"gc_interval_seconds": 3600})  # only the CLI's
    async with run_server(settings, bot=bot) as server:
        sent: dict[str, dict[str, str]] = {}
        for name in ("old", "day", "hour", "fresh"):
            body = {"message": f"{name} question", "user_id": f"u-{name}", "session_id": name}
            accepted = await accept(server.client, body, **{"idempotency-key": f"k-{name}"})
            assert accepted.status_code == 202, accepted.text
            sent[name] = accepted.json()
            await wait_finished(server.client, sent[name]["assistant_message_id"])
            rated = await server.client.put(
                f"/v1/messages/{sent[name]['assistant_message_id']}/feedback", json={"rating": 1}
            )
            assert rated.status_code == 200, rated.text
        answers = {
            name: (await server.client.get(f"/v1/messages/{ids['assistant_message_id']}")).json()
            for name, ids in sent.items()
        }
        await _age(server, sent["old"], finished=31 * 24, sent=31 * 24)
        await _age(server, sent["day"], finished=25, sent=25)
        await _age(server, sent["hour"], finished=2, sent=2)
        events = {
            name: await _count(server, LoggedEvent, LoggedEvent.stream_id == ids["stream_id"])
            for name, ids in sent.items()
        }
        assert all(n >= 5 for n in events.values()), events

        code, out, err = await chinwag(server.settings.database_url, "gc")

        assert code == 0, out + err
        purged = events["old"] + events["day"] + events["hour"]
        assert out == f"purged stream events: {purged}, streams: 2, messages: vinhuset 2\n"
        assert err == ""
        async with server.db.read() as conn:
            streams = dict((await conn.execute(select(Stream.id, Stream.events_purged_at))).all())
            left_events = (await conn.execute(select(LoggedEvent.stream_id))).scalars().all()
            messages = set((await conn.execute(select(Message.id))).scalars().all())
            keys = set((await conn.execute(select(IdempotencyKey.key))).scalars().all())
            rated = set((await conn.execute(select(Feedback.message_id))).scalars().all())
            runs = set((await conn.execute(select(FlowRun.message_id))).scalars().all())
        assert set(streams) == {sent["hour"]["stream_id"], sent["fresh"]["stream_id"]}
        assert streams[sent["hour"]["stream_id"]] is not None  # marked: its events are gone
        assert streams[sent["fresh"]["stream_id"]] is None
        assert left_events == [sent["fresh"]["stream_id"]] * events["fresh"]
        kept = ("day", "hour", "fresh")
        assistants = {sent[n]["assistant_message_id"] for n in kept}
        assert messages == assistants | {sent[n]["user_message_id"] for n in kept}
        assert keys == {"k-day", "k-hour", "k-fresh"}
        assert rated == assistants and runs == assistants
        # Sessions and end users stay, the old one's too (now without messages).
        assert await _count(server, ChatSession) == 4 and await _count(server, EndUser) == 4

        # What a user of the API sees now.
        client = server.client
        for message_id in (sent["old"]["user_message_id"], sent["old"]["assistant_message_id"]):
            gone = await client.get(f"/v1/messages/{message_id}")
            assert gone.status_code == 404 and gone.json()["code"] == "not_found", gone.text
        for name in kept:  # the answers' text stays after their streams go
            message = await client.get(f"/v1/messages/{sent[name]['assistant_message_id']}")
            assert message.json()["content"] == answers[name]["content"] != ""
        old_history = await client.get("/v1/bots/vinhuset/sessions/old/messages")
        assert old_history.status_code == 200, old_history.text
        assert old_history.json()["messages"] == []
        hour = await client.get(f"/v1/streams/{sent['hour']['stream_id']}/events?after=0")
        assert hour.status_code == 410 and hour.json()["code"] == "stream_events_purged"
        day = await client.get(f"/v1/streams/{sent['day']['stream_id']}/events?after=0")
        assert day.status_code == 404 and day.json()["code"] == "stream_not_found"
        async with client.stream("GET", f"/v1/streams/{sent['fresh']['stream_id']}/events") as r:
            replay = await read_all(r)
        assert [e.id for e in replay] == list(range(1, events["fresh"] + 1))
        assert replay[-1].data["status"] == "completed"

        # Every foreign key and integrity query still holds, as `chinwag doctor` reports it;
        # a second pass finds nothing left to purge.
        code, out, err = await chinwag(server.settings.database_url, "doctor")
        assert code == 0 and "FAIL" not in out, out + err
        code, out, err = await chinwag(server.settings.database_url, "gc")
        assert (code, out) == (0, "purged stream events: 0, streams: 0, messages: 0\n"), err
