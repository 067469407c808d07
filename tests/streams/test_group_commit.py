"""`CHINWAG_EVENT_LOG_COMMIT_INTERVAL_MS`: the event log commits at most once per interval, so
concurrent answers share transactions; every answer still arrives whole and in order."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import func, select

from chinwag.settings import Settings
from chinwag.streams.models import LoggedEvent
from chinwag.testing.fake_llm import FakeLLM
from tests.conftest import run_server
from tests.helpers import ask

INTERVAL_MS = 100
TOKENS = 20


async def test_answers_share_commits_at_most_one_per_interval(
    make_settings: Settings, fake_llm: FakeLLM
) -> None:
    fake_llm.behaviour.tokens = TOKENS
    fake_llm.behaviour.token_delay = 0.02
    settings = make_settings.model_copy(update={"event_log_commit_interval_ms": INTERVAL_MS})
    async with run_server(settings) as server:
        started = time.monotonic()
        answers = await asyncio.gather(*(ask(server.client, f"question {i}") for i in range(4)))
        elapsed = time.monotonic() - started

        expected = "".join(fake_llm.behaviour.token(i) for i in range(TOKENS))
        stream_ids = []
        for events in answers:
            assert [e.id for e in events] == list(range(1, len(events) + 1))  # no gap
            assert events[-1].type == "stream.completed"
            text = "".join(e.data["text"] for e in events if e.type == "message.delta")
            assert text == expected
            stream_ids.append(events[0].data["stream_id"])

        # Events committed together carry the same `created_at`: count the transactions.
        async with server.db.read() as conn:
            commits = (
                await conn.execute(
                    select(func.count(func.distinct(LoggedEvent.created_at))).where(
                        LoggedEvent.stream_id.in_(stream_ids), LoggedEvent.seq > 1
                    )
                )
            ).scalar_one()
    deltas = 4 * TOKENS
    assert commits <= elapsed * 1000 / INTERVAL_MS + 2, (commits, elapsed)
    assert commits < deltas / 4  # without the interval, nearly one commit per token
