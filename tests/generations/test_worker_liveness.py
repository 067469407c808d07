"""Which workers are dead: on this host (same process-id namespace) a missing pid says so at
once; a worker in another namespace (another container with the same host name) is judged by
its heartbeat only."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from datetime import datetime, timedelta

import pytest
from sqlalchemy import insert, select, text, update
from sqlalchemy.exc import DBAPIError

from chinwag.db.base import utcnow
from chinwag.db.uow import Database
from chinwag.errors import DatabaseUnavailable
from chinwag.generations.workers import (
    dead_worker_ids,
    find_orphans,
    idle_transaction_limit,
    interrupt_orphans,
    orphaned_stream_ids,
    recover_orphans,
    this_host,
)
from chinwag.http.runtime import Services
from chinwag.operations.doctor import run_checks
from chinwag.settings import Settings
from chinwag.streams.models import LoggedEvent, Stream, Worker
from chinwag.streams.store import lock_streams
from chinwag.testing.fake_llm import FakeLLM
from tests.conftest import RunningServer, run_server
from tests.helpers import accept, wait_finished


def _a_pid_that_is_gone() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(done.stdout)


@pytest.mark.parametrize(
    ("host", "dead"),
    [(this_host(), True), (f"{socket.gethostname()} pid:[1]", False)],
    ids=["same-namespace", "same-hostname-other-namespace"],
)
async def test_a_missing_pid_counts_only_in_this_pid_namespace(
    make_settings: Settings, host: str, dead: bool
) -> None:
    # A slow heartbeat, so the server's own recovery does not act before we look.
    async with run_server(make_settings.model_copy(update={"heartbeat_seconds": 60})) as server:
        await _judge(server, host, dead)


async def _judge(server: RunningServer, host: str, dead: bool) -> None:
    # beating: alive unless its pid says otherwise
    await _a_stream_of(server, "other-worker", host, _a_pid_that_is_gone(), utcnow())
    async with server.db.read() as conn:
        found = await dead_worker_ids(conn, me=None, heartbeat_seconds=60)
    assert found == (["other-worker"] if dead else [])


async def _a_stream_of(
    server: RunningServer, worker_id: str, host: str, pid: int, heartbeat_at: datetime
) -> str:
    """A finished answer's stream, handed back to `streaming` under a worker registered here
    (nothing writes it: the picture a peer's sweep sees after a crash)."""
    out = (await accept(server.client, {"message": "hello"})).json()
    await wait_finished(server.client, out["assistant_message_id"])
    async with server.db.write() as conn:
        await conn.execute(
            insert(Worker).values(
                id=worker_id, hostname=host, pid=pid, started_at=utcnow(), heartbeat_at=heartbeat_at
            )
        )
        await conn.execute(
            update(Stream)
            .where(Stream.id == out["stream_id"])
            .values(status="streaming", worker_id=worker_id)
        )
    return str(out["stream_id"])


async def _status_of(server: RunningServer, stream_id: str) -> str:
    async with server.db.read() as conn:
        found = await conn.execute(select(Stream.status).where(Stream.id == stream_id))
        return str(found.scalar_one())


async def _stale(server: RunningServer, worker_id: str) -> None:
    async with server.db.write() as conn:
        await conn.execute(
            update(Worker)
            .where(Worker.id == worker_id)
            .values(heartbeat_at=utcnow() - timedelta(hours=1))
        )


async def test_a_message_accepted_while_a_beat_is_due_beats_for_its_worker(
    make_settings: Settings, fake_llm: FakeLLM
) -> None:
    """The heartbeat task is late (a busy CPU, a database that was just unreachable): the row
    says this worker is silent, so a peer would end its streams. Accepting a message beats."""
    fake_llm.behaviour.tokens, fake_llm.behaviour.token_delay = 20, 0.1
    runner = run_server(make_settings.model_copy(update={"heartbeat_seconds": 60}))
    async with runner as server:
        services: Services = runner.uvicorn.config.app.state.services
        me = services.worker.id
        await _stale(server, me)
        on_time = services.beats.now
        services.beats.now = lambda: on_time() + 61  # a beat is due
        out = (await accept(server.client, {"message": "hello"})).json()
        async with server.db.read() as conn:
            assert await dead_worker_ids(conn, me=None, heartbeat_seconds=60) == []
        assert await recover_orphans(server.db, me=None, heartbeat_seconds=60) == 0
        assert not services.beats.due()
        message = await wait_finished(server.client, out["assistant_message_id"])
        assert message["status"] == "complete"


async def test_a_worker_that_beats_after_it_was_judged_dead_keeps_its_streams(
    make_settings: Settings, fake_llm: FakeLLM
) -> None:
    """A peer reads the workers, then the streams: a beat that lands in between is seen."""
    fake_llm.behaviour.tokens, fake_llm.behaviour.token_delay = 20, 0.1
    runner = run_server(make_settings.model_copy(update={"heartbeat_seconds": 60}))
    async with runner as server:
        me = runner.uvicorn.config.app.state.services.worker.id
        out = (await accept(server.client, {"message": "hello"})).json()
        await _stale(server, me)
        async with server.db.read() as conn:
            judged = await dead_worker_ids(conn, me=None, heartbeat_seconds=60)
        assert judged == [me]
        async with server.db.write() as conn:  # its beat lands now
            await conn.execute(update(Worker).where(Worker.id == me).values(heartbeat_at=utcnow()))
        async with server.db.read() as conn:
            assert await orphaned_stream_ids(conn, judged, heartbeat_seconds=60) == []
        message = await wait_finished(server.client, out["assistant_message_id"])
        assert message["status"] == "complete"


async def test_doctor_counts_the_streams_the_sweep_ends(make_settings: Settings) -> None:
    """`chinwag doctor` and the sweep read one definition of an orphaned stream: a stream of a
    worker whose process is gone from this host (its heartbeat still fresh) is reported, the
    sweep ends it, and the report is clean again."""
    async with run_server(make_settings.model_copy(update={"heartbeat_seconds": 60})) as server:
        gone = _a_pid_that_is_gone()
        stream_id = await _a_stream_of(server, "gone-worker", this_host(), gone, utcnow())
        assert await _orphans_doctor_reports(server) == 1
        found = await find_orphans(server.db, me=None, heartbeat_seconds=60)
        assert found.stream_ids == [stream_id]
        assert await interrupt_orphans(server.db, found, me=None, heartbeat_seconds=60) == 1
        assert await _orphans_doctor_reports(server) == 0


async def _orphans_doctor_reports(server: RunningServer) -> int:
    checks = {c.name: c for c in await run_checks(server.db, heartbeat_seconds=60)}
    check = checks["streaming rows with no live generation"]
    count = int(check.detail.split()[0])
    assert check.ok == (count == 0)
    return count


@pytest.mark.parametrize("beats_in_between", [True, False], ids=["beats", "stays-silent"])
async def test_a_worker_that_beats_after_its_streams_were_picked_keeps_them(
    make_settings: Settings, beats_in_between: bool
) -> None:
    """A peer picks the silent worker's streams, then ends each in its own transaction: a beat
    that lands in between is seen when the stream's row is locked; without one it is ended."""
    async with run_server(make_settings.model_copy(update={"heartbeat_seconds": 60})) as server:
        # in another pid namespace (judged by its heartbeat only), silent for an hour
        other_namespace = f"{socket.gethostname()} pid:[1]"
        an_hour_ago = utcnow() - timedelta(hours=1)
        stream_id = await _a_stream_of(server, "silent-worker", other_namespace, 1, an_hour_ago)
        found = await find_orphans(server.db, me=None, heartbeat_seconds=60)
        assert found.stream_ids == [stream_id]
        if beats_in_between:
            async with server.db.write() as conn:
                await conn.execute(
                    update(Worker).where(Worker.id == "silent-worker").values(heartbeat_at=utcnow())
                )
        ended = await interrupt_orphans(server.db, found, me=None, heartbeat_seconds=60)
        assert ended == (0 if beats_in_between else 1)
        status = await _status_of(server, stream_id)
        assert status == ("streaming" if beats_in_between else "interrupted")


async def test_a_stream_the_sweep_cannot_end_holds_back_no_other(make_settings: Settings) -> None:
    """The streams of stopped servers are ended one transaction each: one whose ending fails
    (here a stored event it cannot read) stays `streaming` for the next sweep, the others end
    in this one, and it ends once it can."""
    async with run_server(make_settings.model_copy(update={"heartbeat_seconds": 60})) as server:
        other_namespace = f"{socket.gethostname()} pid:[1]"
        an_hour_ago = utcnow() - timedelta(hours=1)
        ids = sorted(
            [
                await _a_stream_of(server, f"silent-{i}", other_namespace, 1, an_hour_ago)
                for i in range(3)
            ]
        )
        first = ids[0]  # the sweep goes in id order: the failure comes before the others
        delta = (LoggedEvent.stream_id == first) & (LoggedEvent.type == "message.delta")
        async with server.db.write() as conn:
            data = (
                await conn.execute(select(LoggedEvent.seq, LoggedEvent.data).where(delta))
            ).all()
            await conn.execute(update(LoggedEvent).where(delta).values(data='{"text": 7}'))
        assert await recover_orphans(server.db, me=None, heartbeat_seconds=60) == 2
        assert [await _status_of(server, s) for s in ids] == ["streaming"] + ["interrupted"] * 2

        async with server.db.write() as conn:  # readable again
            for seq, original in data:
                await conn.execute(
                    update(LoggedEvent)
                    .where(LoggedEvent.stream_id == first, LoggedEvent.seq == seq)
                    .values(data=original)
                )
        assert await recover_orphans(server.db, me=None, heartbeat_seconds=60) == 1
        assert await _status_of(server, first) == "interrupted"


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_worker_frozen_inside_a_transaction_loses_its_streams_after_the_grace(
    make_settings: Settings,
) -> None:
    """A worker stopped (SIGSTOP, a paused VM) between two statements of its event log's batch
    holds its streams' row locks, and a peer skips a locked stream. PostgreSQL ends the frozen
    session after the grace period (at least 5 s), and the peer's next sweep ends the stream.
    PostgreSQL only: a SQLite database is written by one process."""
    runner = run_server(make_settings.model_copy(update={"heartbeat_seconds": 60}))
    async with runner as server:
        services: Services = runner.uvicorn.config.app.state.services
        async with services.db.read() as conn:
            limit_ms = await conn.scalar(
                text(
                    "SELECT setting::int FROM pg_settings "
                    "WHERE name = 'idle_in_transaction_session_timeout'"
                )
            )
        assert limit_ms == idle_transaction_limit(60) * 1000  # a 60 s heartbeat's grace period

        other_namespace = f"{socket.gethostname()} pid:[1]"
        an_hour_ago = utcnow() - timedelta(hours=1)
        stream_id = await _a_stream_of(server, "frozen-worker", other_namespace, 1, an_hour_ago)
        frozen = Database.from_url(server.settings.database_url, idle_transaction_seconds=1.0)
        try:
            # It thaws: its session is gone, its batch undone. A lost connection is
            # DatabaseUnavailable; a server's FATAL it reads first is the driver's error.
            with pytest.raises((DatabaseUnavailable, DBAPIError)):
                async with frozen.write() as conn:
                    await lock_streams(conn, [stream_id])  # its batch began, then it froze
                    assert await recover_orphans(server.db, me=None, heartbeat_seconds=60) == 0
                    ended = 0
                    for _ in range(50):
                        await asyncio.sleep(0.2)
                        ended = await recover_orphans(server.db, me=None, heartbeat_seconds=60)
                        if ended:
                            break
                    assert ended == 1
                    await lock_streams(conn, [stream_id])
        finally:
            await frozen.dispose()
        assert await _status_of(server, stream_id) == "interrupted"
