"""The event log when the database misbehaves under one server: a COMMIT whose reply is lost,
a stream the database refuses, a stream deleted while it is written. Every stream ends exactly
once, with a whole log, and the server goes on serving."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, text

from chinwag.conversations.models import Message
from chinwag.db.uow import Database
from chinwag.errors import DatabaseUnavailable
from chinwag.operations.doctor import run_checks
from chinwag.settings import Settings
from chinwag.testing.fake_llm import FakeLLM
from tests.conftest import POSTGRES_ADMIN_DSN, _admin, _asyncpg_url, run_server
from tests.faults.streams import (
    MARKER,
    assert_ended_once,
    follow,
    start_streams,
    wait_all_ended,
)
from tests.helpers import accept, assert_problem, wait_finished
from tests.pg_proxy import PgProxy

TOKENS = 30


def full_text(fake: FakeLLM) -> str:
    return "".join(fake.behaviour.token(i) for i in range(TOKENS))


@pytest.fixture
async def proxied_database(postgres_template: str) -> AsyncIterator[tuple[str, PgProxy]]:
    """A database of the test's own, reached through a proxy the test controls."""
    name = f"chinwag_fault_{uuid.uuid4().hex[:10]}"
    await _admin(f'CREATE DATABASE "{name}" TEMPLATE "{postgres_template}"')
    try:
        with PgProxy() as proxy:
            yield name, proxy
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def settings_for(url: str, fake_llm: FakeLLM, tmp_path: Path) -> Settings:
    return Settings(
        database_url=url,
        data_dir=tmp_path / "data",
        llm_base_url=fake_llm.base_url,
        llm_model="fake-model",
        heartbeat_seconds=1.5,
        shutdown_grace_seconds=1,
        secret_key="test-secret",
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.mark.slow
@pytest.mark.parametrize("then_cut_for", [0.0, 3.0], ids=["reply-lost", "outage-mid-commit"])
async def test_a_commit_whose_reply_is_lost_is_resolved_not_retried_blindly(
    proxied_database: tuple[str, PgProxy], fake_llm: FakeLLM, tmp_path: Path, then_cut_for: float
) -> None:
    name, proxy = proxied_database
    fake_llm.behaviour.tokens = TOKENS
    fake_llm.behaviour.token_delay = 0.1
    direct = Database.from_url(_asyncpg_url(POSTGRES_ADMIN_DSN, name))
    try:
        async with run_server(settings_for(proxy.url(name), fake_llm, tmp_path)) as server:
            started = await start_streams(server.base_url, server.admin_key, 10)
            followers = [
                asyncio.create_task(follow(server.base_url, server.admin_key, s.stream_id))
                for s in started
            ]
            await asyncio.sleep(0.5)
            proxy.lose_next_commit_reply(*MARKER, then_cut_for=then_cut_for)
            seen = await asyncio.gather(*followers)
            assert proxy.commit_replies_lost == 1
            ids = [s.stream_id for s in started]
            await wait_all_ended(direct, ids)
            statuses = await assert_ended_once(
                direct,
                {s.stream_id: [events] for s, events in zip(started, seen, strict=True)},
                full_text=full_text(fake_llm),
            )
            assert set(statuses.values()) == {"completed"}
            # The server goes on answering, and says it is ready again.
            again = (await accept(server.client, {"message": "still there?"})).json()
            assert (await wait_finished(server.client, again["assistant_message_id"]))[
                "status"
            ] == "complete"
            ready = await server.client.get("/readyz")
            assert ready.json()["checks"]["event_log"]["ok"] is True
            metrics = (await server.client.get("/metrics")).text
            assert "chinwag_event_log_commit_failures_total 0.0" not in metrics
    finally:
        await direct.dispose()


async def test_readyz_is_503_while_the_event_log_cannot_commit(
    proxied_database: tuple[str, PgProxy], fake_llm: FakeLLM, tmp_path: Path
) -> None:
    name, proxy = proxied_database
    fake_llm.behaviour.tokens = TOKENS
    fake_llm.behaviour.token_delay = 0.1
    async with run_server(settings_for(proxy.url(name), fake_llm, tmp_path)) as server:
        await start_streams(server.base_url, server.admin_key, 3)
        async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as plain:
            with proxy.outage():
                await asyncio.sleep(1.5)
                ready = await plain.get("/readyz")
                assert ready.status_code == 503
                log_check = ready.json()["checks"]["event_log"]
                assert log_check["ok"] is False and log_check["failing_for_seconds"] > 0
                assert log_check["error"] and "CHINWAG_DATABASE_URL" in log_check["hint"]
            for _ in range(100):
                if (await plain.get("/readyz")).status_code == 200:
                    break
                await asyncio.sleep(0.2)
            else:
                raise AssertionError("/readyz did not turn 200 after the outage")
            metrics = (await plain.get("/metrics")).text
        failures = next(
            line
            for line in metrics.splitlines()
            if line.startswith("chinwag_event_log_commit_failures_total")
        )
        assert float(failures.split()[-1]) >= 1


POISON = {
    "postgres": [
        """CREATE FUNCTION refuse_poisoned() RETURNS trigger AS $$
           BEGIN RAISE EXCEPTION 'refused by the test'; END; $$ LANGUAGE plpgsql""",
        """CREATE TRIGGER poisoned BEFORE INSERT ON stream_events FOR EACH ROW
           WHEN (NEW.stream_id = '{id}' AND NEW.seq > 4 AND NEW.type = 'message.delta')
           EXECUTE FUNCTION refuse_poisoned()""",
    ],
    "sqlite": [
        """CREATE TRIGGER poisoned BEFORE INSERT ON stream_events
           WHEN NEW.stream_id = '{id}' AND NEW.seq > 4 AND NEW.type = 'message.delta'
           BEGIN SELECT RAISE(ABORT, 'refused by the test'); END""",
    ],
}


async def test_a_stream_the_database_refuses_ends_alone_and_the_others_go_on(
    make_settings: Settings, fake_llm: FakeLLM
) -> None:
    fake_llm.behaviour.tokens = TOKENS
    fake_llm.behaviour.token_delay = 0.05
    fake_llm.behaviour.first_token_delay = 0.5
    async with run_server(make_settings) as server:
        started = await start_streams(server.base_url, server.admin_key, 5)
        poisoned = started[0].stream_id
        kind = "sqlite" if server.db.is_sqlite else "postgres"
        async with server.db.write() as conn:
            for sql in POISON[kind]:
                await conn.execute(text(sql.format(id=poisoned)))
        seen = await asyncio.gather(
            *(follow(server.base_url, server.admin_key, s.stream_id) for s in started)
        )
        statuses = await assert_ended_once(
            server.db,
            {s.stream_id: [events] for s, events in zip(started, seen, strict=True)},
            full_text=full_text(fake_llm),
        )
        assert statuses.pop(poisoned) == "failed"
        assert set(statuses.values()) == {"completed"}
        error = seen[0][-2]
        assert error.type == "error" and error.data["code"] == "stream_log_failed"
        assert error.data["hint"]
        message = (await server.client.get(f"/v1/messages/{started[0].message_id}")).json()
        assert message["status"] == "failed" and message["error_code"] == "stream_log_failed"
        # Nothing is wedged: the next answer is written and completes.
        again = (await accept(server.client, {"message": "and now?"})).json()
        finished = await wait_finished(server.client, again["assistant_message_id"])
        assert finished["status"] == "complete"
        metrics = (await server.client.get("/metrics")).text
        assert 'chinwag_streams_ended_elsewhere_total{reason="log_failed"} 1.0' in metrics


@pytest.mark.slow
async def test_deleting_a_session_while_its_answer_streams_stops_that_generation_only(
    make_settings: Settings, fake_llm: FakeLLM
) -> None:
    fake_llm.behaviour.tokens = 60
    fake_llm.behaviour.token_delay = 0.05
    async with run_server(make_settings) as server:
        doomed, other = await start_streams(server.base_url, server.admin_key, 2)
        follower = asyncio.create_task(follow(server.base_url, server.admin_key, other.stream_id))
        await asyncio.sleep(0.5)
        message = (await server.client.get(f"/v1/messages/{doomed.message_id}")).json()
        deleted = await server.client.delete(f"/v1/bots/vinhuset/sessions/{message['session_id']}")
        assert deleted.status_code == 200, deleted.text
        events = await follower
        assert events[-1].data["status"] == "completed"
        gone = await server.client.get(f"/v1/streams/{doomed.stream_id}/events")
        assert gone.status_code == 404
        for _ in range(100):  # the deleted stream's generation was stopped
            ready = (await server.client.get("/readyz")).json()
            if ready["checks"]["generations"]["running"] == 0:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the deleted stream's generation is still running")
        metrics = (await server.client.get("/metrics")).text
        assert 'chinwag_streams_ended_elsewhere_total{reason="deleted"} 1.0' in metrics
        again = (await accept(server.client, {"message": "next"})).json()
        assert (await wait_finished(server.client, again["assistant_message_id"]))[
            "status"
        ] == "complete"


async def test_a_stream_whose_ending_is_refused_too_is_reported_and_ended_later(
    make_settings: Settings, fake_llm: FakeLLM
) -> None:
    fake_llm.behaviour.tokens = TOKENS
    fake_llm.behaviour.token_delay = 0.05
    fake_llm.behaviour.first_token_delay = 0.5
    async with run_server(make_settings) as server:  # heartbeat 0.5 s: a short grace period
        started = await start_streams(server.base_url, server.admin_key, 3)
        stuck = started[0].stream_id
        kind = "sqlite" if server.db.is_sqlite else "postgres"
        async with server.db.write() as conn:  # every later row of that stream is refused
            for sql in POISON[kind]:
                sql = sql.replace(" AND NEW.type = 'message.delta'", "")
                await conn.execute(text(sql.format(id=stuck)))
        others = await asyncio.gather(
            *(follow(server.base_url, server.admin_key, s.stream_id) for s in started[1:])
        )
        assert all(events[-1].data["status"] == "completed" for events in others)
        # The log ends the stuck stream after a retry delay (its ending is refused too), which
        # may come after the others' last events: readiness turns 503 once it has tried.
        for _ in range(100):
            ready = await server.client.get("/readyz")
            if ready.status_code == 503:
                break
            await asyncio.sleep(0.1)
        assert ready.status_code == 503, ready.text
        assert "cannot be ended" in ready.json()["checks"]["event_log"]["error"]
        stuck_check = "streaming rows whose worker has not written for longer than the grace period"
        for _ in range(100):  # its worker's heartbeat records the failing log: doctor reports it
            checks = {c.name: c for c in await run_checks(server.db, heartbeat_seconds=0.5)}
            if not checks[stuck_check].ok:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("doctor did not report the stream that cannot be ended")
        assert "1 row(s)" in checks[stuck_check].detail
        # The worker still beats: its other streams are not taken from it.
        assert checks["streaming rows with no live generation"].ok

        async with server.db.write() as conn:
            drop = "DROP TRIGGER poisoned" + (" ON stream_events" if kind == "postgres" else "")
            await conn.execute(text(drop))
        await wait_all_ended(server.db, [stuck], within=30)
        events = await follow(server.base_url, server.admin_key, stuck)
        assert [e.type for e in events[-2:]] == ["error", "stream.completed"]
        assert events[-2].data["code"] == "stream_log_failed"
        assert events[-1].data["status"] == "failed"
        for _ in range(100):
            if (await server.client.get("/readyz")).status_code == 200:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("/readyz stayed 503 after the stream was ended")
        assert [c for c in await run_checks(server.db, heartbeat_seconds=0.5) if not c.ok] == []


async def test_an_outage_past_the_backlog_bound_stops_answers_and_loses_nothing(
    proxied_database: tuple[str, PgProxy],
    fake_llm: FakeLLM,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """While the database is away, new messages are refused and running answers queue their
    events in memory; past CHINWAG_EVENT_LOG_MAX_BACKLOG they stop, and when the database is
    back everything queued is written: each answer ends `interrupted` with every token it had."""
    name, proxy = proxied_database
    fake_llm.behaviour.tokens = 400
    fake_llm.behaviour.token_delay = 0.02  # 8 s each: far longer than the outage
    settings = settings_for(proxy.url(name), fake_llm, tmp_path).model_copy(
        update={"event_log_max_backlog": 40}
    )
    async with run_server(settings) as server:
        started = await start_streams(server.base_url, server.admin_key, 3)
        readers = [
            asyncio.create_task(follow(server.base_url, server.admin_key, s.stream_id))
            for s in started
        ]
        # The premise: the three answers are streaming (past their reads of the database)
        # when it goes away. On a busy machine a fixed pause was not always enough.
        for _ in range(200):
            if len(fake_llm.requests) >= 3:
                break
            await asyncio.sleep(0.05)
        assert len(fake_llm.requests) >= 3, "the answers never reached the LLM"
        await asyncio.sleep(0.3)
        with proxy.outage():
            refused = await accept(server.client, {"message": "while the database is away"})
            assert_problem(refused, 503, "database_unavailable")
            await asyncio.sleep(3)  # 3 answers, 50 tokens a second each: well past 40 events
        followed = await asyncio.gather(*readers)
        db = server.db
        async with db.read() as conn:
            rows = (
                await conn.execute(
                    select(Message.id, Message.status, Message.content, Message.error_code).where(
                        Message.id.in_([s.message_id for s in started])
                    )
                )
            ).all()
        assert [c for c in await run_checks(db, heartbeat_seconds=1.5) if not c.ok] == []
    by_id = {row.id: row for row in rows}
    for stream, events in zip(started, followed, strict=True):
        assert [e.id for e in events] == list(range(1, len(events) + 1))
        assert [e.type for e in events[-2:]] == ["error", "stream.completed"]
        assert "CHINWAG_EVENT_LOG_MAX_BACKLOG" in events[-2].data["message"]
        text = "".join(e.data["text"] for e in events if e.type == "message.delta")
        row = by_id[stream.message_id]
        assert (row.status, row.error_code) == ("interrupted", "interrupted")
        whole = "".join(fake_llm.behaviour.token(i) for i in range(400))
        assert row.content == text and whole.startswith(text) and text != whole
    assert "interrupting 3 answer(s)" in caplog.text


async def test_a_connection_lost_mid_query_is_database_unavailable(
    proxied_database: tuple[str, PgProxy],
) -> None:
    """The server going away while a transaction uses its connection is the same coded error
    as one that cannot be reached (a generation reading curated answers met the driver's own
    exception and ended as `internal error`)."""
    name, proxy = proxied_database
    db = Database.from_url(proxy.url(name))
    try:
        with pytest.raises(DatabaseUnavailable) as caught:
            async with db.read() as conn:
                await conn.execute(select(1))
                proxy.cut()
                await conn.execute(select(1))
        assert caught.value.code == "database_unavailable"
        assert "lost the connection" in caught.value.message
        proxy.restore()
        async with db.read() as conn:  # and the next transaction works again
            assert (await conn.execute(select(1))).scalar_one() == 1
    finally:
        proxy.restore()
        await db.dispose()
