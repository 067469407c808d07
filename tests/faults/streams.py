"""What the event-log fault tests share: followers that reconnect like a browser, and the check
that every stream ended exactly once with a whole log that every follower saw."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httpx
from sqlalchemy import select

from chinwag.conversations.models import Message
from chinwag.db.uow import Database
from chinwag.operations.doctor import run_checks
from chinwag.streams.models import LoggedEvent, Stream
from tests.helpers import JSON
from tests.sse_client import SSEEvent, iter_events

MARKER = (b"INSERT INTO stream_events", b"ON CONFLICT DO NOTHING")  # the event log's batches


@dataclass
class Started:
    stream_id: str
    message_id: str
    via: str  # the base URL of the server generating it


async def start_streams(base_url: str, key: str, count: int) -> list[Started]:
    headers = {"authorization": f"Bearer {key}", **JSON}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30) as client:
        answers = await asyncio.gather(
            *(
                client.post("/v1/bots/vinhuset/messages", json={"message": f"question {i}"})
                for i in range(count)
            )
        )
    for answer in answers:
        assert answer.status_code == 202, answer.text
    return [
        Started(a.json()["stream_id"], a.json()["assistant_message_id"], base_url) for a in answers
    ]


async def follow(base_url: str, key: str, stream_id: str, within: float = 90) -> list[SSEEvent]:
    """Read a stream to its end, reconnecting with Last-Event-ID after any failure (as the
    widget does), on the same server."""
    events: list[SSEEvent] = []
    deadline = asyncio.get_running_loop().time() + within
    headers = {"authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        while asyncio.get_running_loop().time() < deadline:
            last = str(events[-1].id) if events else "0"
            try:
                async with client.stream(
                    "GET",
                    f"/v1/streams/{stream_id}/events",
                    headers={**headers, "Last-Event-ID": last},
                ) as response:
                    if response.status_code == 200:
                        async for event in iter_events(response):
                            events.append(event)
                            if event.type == "stream.completed":
                                return events
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.3)
    raise AssertionError(f"stream {stream_id} did not end within {within} s on {base_url}")


async def wait_all_ended(db: Database, stream_ids: list[str], within: float = 90) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        async with db.read() as conn:
            open_ = (
                await conn.execute(
                    select(Stream.id).where(Stream.id.in_(stream_ids), Stream.status == "streaming")
                )
            ).all()
        if not open_:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{len(open_)} stream(s) still `streaming` after {within} s")
        await asyncio.sleep(0.25)


async def assert_ended_once(
    db: Database, followed: dict[str, list[list[SSEEvent]]], *, full_text: str
) -> dict[str, str]:
    """Each stream: ended once, a log 1..N without gap or duplicate ending in stream.completed,
    message and stream agreeing, every follower saw exactly the stored log; a completed answer
    has the whole text. Returns each stream's status."""
    statuses = {}
    async with db.read() as conn:
        for stream_id, followers in followed.items():
            stream = (
                await conn.execute(
                    select(Stream.status, Stream.last_seq, Stream.message_id).where(
                        Stream.id == stream_id
                    )
                )
            ).one()
            rows = (
                await conn.execute(
                    select(LoggedEvent.seq, LoggedEvent.type, LoggedEvent.data)
                    .where(LoggedEvent.stream_id == stream_id)
                    .order_by(LoggedEvent.seq)
                )
            ).all()
            message = (
                await conn.execute(
                    select(Message.status, Message.content).where(Message.id == stream.message_id)
                )
            ).one()
            assert stream.status in ("completed", "failed", "interrupted"), stream_id
            assert [r.seq for r in rows] == list(range(1, stream.last_seq + 1)), stream_id
            types = [r.type for r in rows]
            assert types.count("stream.completed") == 1 and types[-1] == "stream.completed"
            assert types.count("message.completed") + types.count("error") == 1, types
            expected = "complete" if stream.status == "completed" else stream.status
            assert message.status == expected
            if stream.status == "completed":
                assert message.content == full_text
            stored = [(r.seq, r.type) for r in rows]
            for events in followers:
                assert [(e.id, e.type) for e in events] == stored, stream_id
            statuses[stream_id] = stream.status
    problems = [c for c in await run_checks(db, heartbeat_seconds=1.5) if not c.ok]
    assert problems == []
    return statuses
