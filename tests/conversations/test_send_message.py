"""POST /v1/bots/{bot}/messages: one streamed answer end to end, and its rows."""

from __future__ import annotations

from sqlalchemy import select

from chinwag.conversations.models import ChatSession, EndUser, Message
from chinwag.operations.doctor import run_checks
from chinwag.streams.models import LoggedEvent, Stream
from chinwag.testing.fake_llm import FakeLLM
from tests.conftest import RunningServer
from tests.sse_client import read_all


async def test_streams_answer_and_logs_every_row(server: RunningServer, fake_llm: FakeLLM) -> None:
    fake_llm.behaviour.tokens = 5
    async with server.client.stream(
        "POST",
        "/v1/bots/vinhuset/messages",
        json={"message": "Hei! Har dere Barolo?", "session_id": "s-1", "user_id": "u-1"},
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["x-accel-buffering"] == "no"
        events = await read_all(response)

    types = [e.type for e in events]
    assert types == [
        "stream.started",
        "route.decided",
        "flow.started",
        *["message.delta"] * 5,
        "flow.completed",
        "message.completed",
        "stream.completed",
    ]
    assert [e.id for e in events] == list(range(1, len(events) + 1))
    expected_text = "".join(fake_llm.behaviour.token(i) for i in range(5))
    completed = events[-2].data
    assert completed["text"] == expected_text
    assert completed["usage"] == {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10}
    assert events[-1].data == {"type": "stream.completed", "status": "completed"}
    stream_id = events[0].data["stream_id"]

    async with server.db.read() as conn:
        users = (await conn.execute(select(EndUser.external_id))).scalars().all()
        sessions = (await conn.execute(select(ChatSession.external_id))).scalars().all()
        messages = (
            await conn.execute(
                select(Message.role, Message.content, Message.status).order_by(Message.position)
            )
        ).all()
        stream = (await conn.execute(select(Stream.status, Stream.last_seq))).one()
        stored = (
            await conn.execute(
                select(LoggedEvent.seq, LoggedEvent.type)
                .where(LoggedEvent.stream_id == stream_id)
                .order_by(LoggedEvent.seq)
            )
        ).all()
    assert users == ["u-1"] and sessions == ["s-1"]
    assert messages == [
        ("user", "Hei! Har dere Barolo?", "complete"),
        ("assistant", expected_text, "complete"),
    ]
    assert tuple(stream) == ("completed", len(events))
    assert [(s.seq, s.type) for s in stored] == [(e.id, e.type) for e in events]
    assert all(c.ok for c in await run_checks(server.db, heartbeat_seconds=0.5))
    # The prompt carried the bot's system prompt and the user's words.
    prompt = fake_llm.requests[-1]["messages"]
    assert prompt[0]["role"] == "system" and "Vinhuset" in prompt[0]["content"]
    assert prompt[-1] == {"role": "user", "content": "Hei! Har dere Barolo?"}
