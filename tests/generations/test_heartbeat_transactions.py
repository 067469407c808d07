"""An idle worker's heartbeat costs the database one transaction a beat: the sweep that looks
for dead workers' streams reads in the beat's own transaction (issue 33: an idle worker's
transactions fell on the few answers of a quiet server, ~7 per answer at c=1 on PostgreSQL)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import event

from chinwag.conversations.service import record_answer
from chinwag.db import migrate
from chinwag.db.uow import Database
from chinwag.generations import workers
from chinwag.generations.workers import BeatClock, WorkerIdentity, heartbeat_forever, register
from chinwag.streams.log import EventLog

EVERY = 0.02  # seconds between beats: the grace period (3 beats) passes at once


class Transactions:
    """Each transaction the engine ran: its statements, then COMMIT or ROLLBACK."""

    def __init__(self, db: Database, enough: int) -> None:
        self.done: list[list[str]] = []
        self._current: list[str] | None = None
        self._enough = enough
        self.full = asyncio.Event()
        engine = db.engine.sync_engine
        event.listen(engine, "begin", self._begin)
        event.listen(engine, "commit", lambda conn: self._end("COMMIT"))
        event.listen(engine, "rollback", lambda conn: self._end("ROLLBACK"))
        event.listen(engine, "before_cursor_execute", self._statement)

    def _begin(self, conn: Any) -> None:
        self._current = []

    def _statement(self, conn: Any, cursor: Any, sql: str, *args: Any) -> None:
        if self._current is not None and not sql.startswith("BEGIN"):
            self._current.append(" ".join(sql.split()))

    def _end(self, how: str) -> None:
        if self._current is not None:
            self.done.append([*self._current, how])
            self._current = None
        if len(self.done) >= self._enough:
            self.full.set()


def is_beat(statements: list[str]) -> bool:
    return statements[0].startswith("UPDATE workers SET heartbeat_at")


def sweeps(statements: list[str]) -> bool:
    return any(s.startswith("SELECT workers.id, workers.hostname") for s in statements)


@contextlib.asynccontextmanager
async def beating(database_url: str, enough: int) -> AsyncIterator[Transactions]:
    """A registered worker whose heartbeat runs until `enough` transactions were counted."""
    db = Database.from_url(database_url)
    await migrate.ensure_schema(db)
    me = WorkerIdentity.for_this_process()
    await register(db, me)
    counted = Transactions(db, enough)
    event_log = EventLog(db, worker_id=me.id, record_answer=record_answer)
    task = asyncio.create_task(heartbeat_forever(db, me, EVERY, event_log, BeatClock(EVERY)))
    try:
        await asyncio.wait_for(counted.full.wait(), 60)
        yield counted
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await db.dispose()


async def test_an_idle_worker_makes_one_transaction_a_beat_with_its_sweep_inside(
    database_url: str,
) -> None:
    async with beating(database_url, enough=10) as counted:
        beats = counted.done[:10]
    assert all(is_beat(t) and t[-1] == "COMMIT" for t in beats), beats
    # the grace period over (3 beats), every beat looks for dead workers' streams itself
    assert [sweeps(t) for t in beats[3:]] == [True] * 7, beats


async def test_a_sweep_whose_read_fails_still_beats_and_sweeps_again_at_the_next_beat(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    find = workers.orphans_in
    failed = False

    async def fails_once(*args: Any, **kwargs: Any) -> workers.Orphans:
        nonlocal failed
        if not failed:
            failed = True
            raise RuntimeError("the finding read fails")
        return await find(*args, **kwargs)

    monkeypatch.setattr(workers, "orphans_in", fails_once)
    async with beating(database_url, enough=8) as counted:
        done = counted.done[:8]
    at = next(i for i, t in enumerate(done) if t[-1] == "ROLLBACK")
    failed_sweep, beat_alone, next_beat = done[at : at + 3]
    assert is_beat(failed_sweep)
    assert is_beat(beat_alone) and not sweeps(beat_alone) and beat_alone[-1] == "COMMIT"
    # only a failed beat restarts the grace period: the next beat sweeps
    assert is_beat(next_beat) and sweeps(next_beat) and next_beat[-1] == "COMMIT"
