"""`CHINWAG_EVENT_LOG_COMMIT_INTERVAL_MS`: adaptive group commit. An answer's first token and
its end are committed at once; its other events wait at most one interval, sharing that commit
with every other answer's. Every answer still arrives whole and in order, and a reader is never
handed an event that is not committed."""

from __future__ import annotations

import asyncio
import math
import time

import httpx
from sqlalchemy import func, select

from chinwag.settings import Settings
from chinwag.streams.models import LoggedEvent
from chinwag.testing.fake_llm import FakeLLM
from tests.conftest import RunningServer, run_server
from tests.helpers import ask
from tests.sse_client import SSEEvent, iter_events

INTERVAL_MS = 250
TOKENS = 64  # the bench's answer: 64 tokens 10 ms apart, the first after 50 ms
FIRST_TOKEN_DELAY = 0.05
TOKEN_DELAY = 0.01


def _bench_answer(fake_llm: FakeLLM) -> None:
    fake_llm.behaviour.tokens = TOKENS
    fake_llm.behaviour.first_token_delay = FIRST_TOKEN_DELAY
    fake_llm.behaviour.token_delay = TOKEN_DELAY


async def _log_commits(server: RunningServer) -> float:
    """The server's `chinwag_event_log_commits_total`."""
    metrics = (await server.client.get("/metrics")).text
    line = next(x for x in metrics.splitlines() if x.startswith("chinwag_event_log_commits_total"))
    return float(line.split()[-1])


async def _commits_holding(server: RunningServer, stream_ids: list[str]) -> int:
    """Transactions that wrote these streams' events after the accept (events committed
    together carry the same `created_at`)."""
    async with server.db.read() as conn:
        return (
            await conn.execute(
                select(func.count(func.distinct(LoggedEvent.created_at))).where(
                    LoggedEvent.stream_id.in_(stream_ids), LoggedEvent.seq > 1
                )
            )
        ).scalar_one()


async def _timed_answer(client: httpx.AsyncClient) -> tuple[list[SSEEvent], float, float]:
    """An answer's events, the seconds to its first token and to its end."""
    started = time.monotonic()
    first_token = 0.0
    async with client.stream(
        "POST", "/v1/bots/vinhuset/messages", json={"message": "hello"}
    ) as response:
        assert response.status_code == 200
        events = []
        async for event in iter_events(response):
            if event.type == "message.delta" and not first_token:
                first_token = time.monotonic() - started
            events.append(event)
    return events, first_token, time.monotonic() - started


async def test_an_answer_streaming_alone_commits_four_times(
    make_settings: Settings, fake_llm: FakeLLM
) -> None:
    _bench_answer(fake_llm)
    settings = make_settings.model_copy(update={"event_log_commit_interval_ms": INTERVAL_MS})
    async with run_server(settings) as server:
        await ask(server.client, "warm-up")  # the bot cache, the LLM connection
        before = await _log_commits(server)
        events, first_token, total = await _timed_answer(server.client)
        commits = await _log_commits(server) - before

        assert [e.id for e in events] == list(range(1, len(events) + 1))
        text = "".join(e.data["text"] for e in events if e.type == "message.delta")
        assert text == "".join(fake_llm.behaviour.token(i) for i in range(TOKENS))
        assert events[-1].data["status"] == "completed"
        # The first token, one commit per interval while it streams, the end: 64 tokens in
        # 0.68 s make 4; an interval the stream only began is one more (a busy machine's
        # timing), never one per token (64).
        streamed = total - first_token
        assert commits <= max(4, 2 + math.ceil(streamed / (INTERVAL_MS / 1000))), (
            commits,
            streamed,
        )
        assert await _commits_holding(server, [events[0].data["stream_id"]]) == commits


async def test_neither_the_first_token_nor_the_end_waits_for_the_interval(
    make_settings: Settings, fake_llm: FakeLLM
) -> None:
    """The longest interval (1 s) and two tokens 0.6 s apart: a first token that waited would
    come with the batch the route's events opened (about 1 s in), an end that waited with the
    one the second token opened (about 1.65 s in). 0.5 s of slack tells them apart on a busy
    machine."""
    fake_llm.behaviour.tokens = 2
    fake_llm.behaviour.first_token_delay = FIRST_TOKEN_DELAY
    fake_llm.behaviour.token_delay = 0.6
    settings = make_settings.model_copy(update={"event_log_commit_interval_ms": 1000})
    async with run_server(settings) as server:
        await ask(server.client, "warm-up")
        events, first_token, total = await _timed_answer(server.client)
    assert events[-1].data["status"] == "completed"
    assert first_token < FIRST_TOKEN_DELAY + 0.5, first_token
    assert total < FIRST_TOKEN_DELAY + 0.6 + 0.5, total


async def test_without_an_interval_each_token_has_its_commit(
    make_settings: Settings, fake_llm: FakeLLM
) -> None:
    """The setting at 0: the log commits as soon as the previous commit is done."""
    fake_llm.behaviour.tokens = 16
    fake_llm.behaviour.token_delay = 0.02
    settings = make_settings.model_copy(update={"event_log_commit_interval_ms": 0})
    async with run_server(settings) as server:
        before = await _log_commits(server)
        events = await ask(server.client, "hello")
        commits = await _log_commits(server) - before
    assert events[-1].data["status"] == "completed"
    # About one per token: two tokens share one only when a commit took longer than the 20 ms
    # between them (a busy machine); an interval would make it 2 or 3.
    assert commits >= 12, commits


async def test_concurrent_answers_share_commits(make_settings: Settings, fake_llm: FakeLLM) -> None:
    _bench_answer(fake_llm)
    answers = 10
    settings = make_settings.model_copy(update={"event_log_commit_interval_ms": INTERVAL_MS})
    async with run_server(settings) as server:
        await ask(server.client, "warm-up")
        before = await _log_commits(server)
        started = time.monotonic()
        done = await asyncio.gather(*(ask(server.client, f"question {i}") for i in range(answers)))
        elapsed = time.monotonic() - started
        commits = await _log_commits(server) - before

        expected = "".join(fake_llm.behaviour.token(i) for i in range(TOKENS))
        for events in done:
            assert [e.id for e in events] == list(range(1, len(events) + 1))  # no gap
            assert events[-1].data["status"] == "completed"
            assert "".join(e.data["text"] for e in events if e.type == "message.delta") == expected
        stream_ids = [events[0].data["stream_id"] for events in done]
        assert await _commits_holding(server, stream_ids) <= commits
    # At most a first token and an end per answer, and the interval's commits they all share.
    assert commits <= 2 * answers + elapsed / (INTERVAL_MS / 1000) + 1, (commits, elapsed)
    assert commits < answers * TOKENS / 16


async def test_a_reader_only_receives_committed_events(
    make_settings: Settings, fake_llm: FakeLLM
) -> None:
    """Each event a client receives is in the database when it arrives: what a reader has
    seen survives the process."""
    _bench_answer(fake_llm)
    settings = make_settings.model_copy(update={"event_log_commit_interval_ms": INTERVAL_MS})
    async with run_server(settings) as server:
        checked = 0
        async with server.client.stream(
            "POST", "/v1/bots/vinhuset/messages", json={"message": "hello"}
        ) as response:
            stream_id = ""
            async for event in iter_events(response):
                stream_id = stream_id or event.data["stream_id"]
                async with server.db.read() as conn:
                    stored = (
                        await conn.execute(
                            select(func.max(LoggedEvent.seq)).where(
                                LoggedEvent.stream_id == stream_id
                            )
                        )
                    ).scalar_one()
                assert stored is not None and stored >= event.id, (event, stored)
                checked += 1
        assert event.type == "stream.completed" and checked == event.id
