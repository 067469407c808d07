"""This process's worker row, its heartbeat, and the recovery of dead workers' streams.

A stream left `streaming` by a worker that stopped beating (or whose process is gone from this
host) becomes `interrupted`: its message keeps the text generated so far and its event log ends
with `error` {code: interrupted} and `stream.completed`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Select, and_, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ColumnElement

from chinwag.conversations.service import record_answer
from chinwag.db.base import new_id, utcnow
from chinwag.db.uow import Database
from chinwag.errors import DatabaseUnavailable, GenerationInterrupted
from chinwag.knowledge.jobs import fail_jobs_of
from chinwag.knowledge.models import KnowledgeJob
from chinwag.streams.log import EventLog
from chinwag.streams.models import Stream, Worker
from chinwag.streams.store import end_from_stored_log

log = logging.getLogger(__name__)
STALE_AFTER_BEATS = 3
MIN_IDLE_TRANSACTION_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class WorkerIdentity:
    id: str
    hostname: str
    pid: int

    @classmethod
    def for_this_process(cls) -> WorkerIdentity:
        return cls(new_id(), this_host(), os.getpid())


def this_host() -> str:
    """The host name and the process-id namespace: two containers may share a host name (host
    networking, a fixed `hostname:`), but a pid means the same process only within one
    namespace, so only there may a missing pid tell that a worker is dead."""
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        return socket.gethostname()
    return f"{socket.gethostname()} {namespace}"


class BeatClock:
    """When this worker last wrote its heartbeat, on `now` (monotonic seconds).

    The heartbeat task beats every `every_seconds`. A message accepted while a beat is due (the
    task is late: a busy CPU, a database that was just unreachable) beats in the accept's own
    transaction, so no peer judges the owner of a stream it has just accepted dead."""

    def __init__(self, every_seconds: float, now: Callable[[], float] = time.monotonic) -> None:
        self.every_seconds = every_seconds
        self.now = now
        self._last = now()  # registering was the first beat

    def due(self) -> bool:
        return self.now() - self._last >= self.every_seconds

    def beaten(self, at: float) -> None:
        """A beat written in a transaction that began at `at` (on `now`) committed."""
        self._last = max(self._last, at)


async def beat(conn: AsyncConnection, worker_id: str, **also: object) -> None:
    """Write the worker's heartbeat (and the other columns given)."""
    await conn.execute(
        update(Worker).where(Worker.id == worker_id).values(heartbeat_at=utcnow(), **also)
    )


def grace_seconds(heartbeat_seconds: float) -> float:
    """How long a worker may stay silent before its peers consider it dead."""
    return heartbeat_seconds * STALE_AFTER_BEATS


def stale_before(heartbeat_seconds: float) -> datetime:
    """A worker whose last beat is older than this is past the grace period: dead to its peers."""
    return utcnow() - timedelta(seconds=grace_seconds(heartbeat_seconds))


def idle_transaction_limit(heartbeat_seconds: float) -> float:
    """How long PostgreSQL lets a transaction of this worker wait for its next statement before
    it ends the session: the grace period, and at least 5 s.

    A worker frozen inside a transaction (stopped, its VM paused, swapping) holds the row locks
    of its event log's batch, and a peer's sweep skips a locked stream (its owner is writing
    it). Without a limit, a frozen worker's streams stay `streaming` until it resumes or its
    connection dies; with it, they are ended `interrupted` once it is judged dead. The floor
    keeps a short heartbeat from costing a live worker a transaction in a brief stall."""
    return max(grace_seconds(heartbeat_seconds), MIN_IDLE_TRANSACTION_SECONDS)


async def register(db: Database, me: WorkerIdentity) -> None:
    async with db.write() as conn:
        now = utcnow()
        await conn.execute(
            insert(Worker).values(
                id=me.id, hostname=me.hostname, pid=me.pid, started_at=now, heartbeat_at=now
            )
        )


async def mark_stopped(db: Database, me: WorkerIdentity) -> None:
    async with db.write() as conn:
        await conn.execute(update(Worker).where(Worker.id == me.id).values(stopped_at=utcnow()))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def dead_worker_ids(
    conn: AsyncConnection, *, me: WorkerIdentity | None, heartbeat_seconds: float
) -> list[str]:
    """Workers whose generations cannot be alive: stopped, silent, or gone from this host."""
    dead, _ = await dead_workers(conn, me=me, heartbeat_seconds=heartbeat_seconds)
    return dead


async def dead_workers(
    conn: AsyncConnection, *, me: WorkerIdentity | None, heartbeat_seconds: float
) -> tuple[list[str], list[str]]:
    """(dead workers, those of them whose process is gone from this host): what
    `orphaned_streams` takes."""
    silent_before = stale_before(heartbeat_seconds)
    rows = await conn.execute(
        select(
            Worker.id, Worker.hostname, Worker.pid, Worker.heartbeat_at, Worker.stopped_at
        ).where(
            or_(
                Worker.id.in_(select(Stream.worker_id).where(Stream.status == "streaming")),
                Worker.id.in_(
                    select(KnowledgeJob.worker_id).where(KnowledgeJob.status == "running")
                ),
            )
        )
    )
    dead, gone = [], []
    for row in rows:
        if me is not None and row.id == me.id:
            continue
        process_gone = row.hostname == this_host() and not _pid_alive(row.pid)
        if process_gone:
            gone.append(row.id)
        if (
            process_gone
            or row.stopped_at is not None
            or _as_aware(row.heartbeat_at) < silent_before
        ):
            dead.append(row.id)
    return dead, gone


def _as_aware(value: datetime) -> datetime:
    """SQLite hands timestamps back without a zone; they were written in UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _orphan_condition(
    dead: Sequence[str], *, heartbeat_seconds: float, gone: Sequence[str] = ()
) -> ColumnElement[bool]:
    """A stream of no worker, or of one of `dead` that is still dead when the statement runs.

    A worker judged dead for its silence is judged again in the statement that uses this: one
    that has beaten since (with a message it accepted) keeps its streams."""
    condition: ColumnElement[bool] = Stream.worker_id.is_(None)
    if dead:
        still_dead = select(Worker.id).where(
            Worker.id.in_(dead),
            or_(
                Worker.stopped_at.is_not(None),
                Worker.heartbeat_at < stale_before(heartbeat_seconds),
                Worker.id.in_(gone),  # its process is gone from this host
            ),
        )
        condition = or_(condition, Stream.worker_id.in_(still_dead))
    return condition


def orphaned_streams(
    dead: Sequence[str], *, heartbeat_seconds: float, gone: Sequence[str] = ()
) -> Select[str]:
    """The ids of the streams no live generation writes: still `streaming`, of no worker or of
    one of `dead` (and `gone`, from `dead_workers`) still dead when the query runs. The sweep
    ends them `interrupted`; `chinwag doctor` counts them."""
    condition = _orphan_condition(dead, heartbeat_seconds=heartbeat_seconds, gone=gone)
    return select(Stream.id).where(and_(Stream.status == "streaming", condition))


async def orphaned_stream_ids(
    conn: AsyncConnection,
    dead: list[str],
    *,
    heartbeat_seconds: float,
    gone: Sequence[str] = (),
) -> list[str]:
    """Streams still `streaming` that belong to no worker or to a dead one."""
    query = orphaned_streams(dead, heartbeat_seconds=heartbeat_seconds, gone=gone)
    # In the order the event log locks rows (and a sweep retries them) in.
    return list((await conn.execute(query.order_by(Stream.id))).scalars())


@dataclass(frozen=True, slots=True)
class Orphans:
    """What one sweep found: dead workers, those whose process is gone, their streams."""

    dead: list[str]
    gone: list[str]
    stream_ids: list[str]


async def find_orphans(
    db: Database, *, me: WorkerIdentity | None, heartbeat_seconds: float
) -> Orphans:
    async with db.read() as conn:
        return await orphans_in(conn, me=me, heartbeat_seconds=heartbeat_seconds)


async def orphans_in(
    conn: AsyncConnection, *, me: WorkerIdentity | None, heartbeat_seconds: float
) -> Orphans:
    """What a sweep finds, read in the caller's transaction (the heartbeat's own)."""
    dead, gone = await dead_workers(conn, me=me, heartbeat_seconds=heartbeat_seconds)
    ids = await orphaned_stream_ids(conn, dead, heartbeat_seconds=heartbeat_seconds, gone=gone)
    return Orphans(dead, gone, ids)


async def interrupt_orphans(
    db: Database, found: Orphans, *, me: WorkerIdentity | None, heartbeat_seconds: float
) -> int:
    """End each found stream `interrupted` (one transaction each) unless its owner has beaten
    since it was found, and fail the dead workers' ingestion jobs. A stream that cannot be
    ended (its transaction fails) is left for the next sweep and holds back none of the others.
    """
    if found.dead:
        async with db.write() as conn:
            failed_jobs = await fail_jobs_of(conn, found.dead)
        if failed_jobs:
            log.warning("failed %d ingestion job(s) of stopped servers", failed_jobs)
    recovered = 0
    error = GenerationInterrupted("the server stopped while this answer was being written")
    still_orphaned = _orphan_condition(
        found.dead, heartbeat_seconds=heartbeat_seconds, gone=found.gone
    )
    for stream_id in found.stream_ids:
        try:
            async with db.write() as conn:
                recovered += await end_from_stored_log(
                    conn,
                    stream_id,
                    status="interrupted",
                    error=error,
                    ended_by=me.id if me is not None else None,
                    record_answer=record_answer,
                    only_if=still_orphaned,
                )
        except DatabaseUnavailable:
            raise  # the next beat tells whether the database is back
        except Exception:
            log.exception(
                "stream %s of a stopped server could not be ended; trying again", stream_id
            )
    if recovered:
        log.warning("marked %d stream(s) of stopped servers as interrupted", recovered)
    return recovered


async def recover_orphans(
    db: Database, *, me: WorkerIdentity | None, heartbeat_seconds: float
) -> int:
    """Interrupt every stream no live worker owns, and fail the ingestion jobs of the dead."""
    found = await find_orphans(db, me=me, heartbeat_seconds=heartbeat_seconds)
    return await interrupt_orphans(db, found, me=me, heartbeat_seconds=heartbeat_seconds)


async def beat_and_find_orphans(
    db: Database,
    me: WorkerIdentity,
    clock: BeatClock,
    *,
    heartbeat_seconds: float,
    log_failing_since: datetime | None,
    sweep: bool,
) -> Orphans | None:
    """One beat; with `sweep`, the sweep's finding read too, in the beat's own transaction (one
    transaction a beat while nobody is dead). Raises if the beat could not be written.

    A finding read that fails (and so aborts the transaction) does not fail the beat: the beat
    is written again alone, and the sweep is tried at the next one (None)."""
    found: Orphans | None = None
    finding = False
    try:
        started = clock.now()
        async with db.write() as conn:
            await beat(conn, me.id, log_failing_since=log_failing_since)
            if sweep:
                finding = True
                found = await orphans_in(conn, me=me, heartbeat_seconds=heartbeat_seconds)
                finding = False
        clock.beaten(started)
        return found
    except Exception:
        if not finding:
            raise  # the beat itself (or its commit) failed
        log.exception("finding the streams of stopped servers failed; retrying")
    started = clock.now()
    async with db.write() as conn:
        await beat(conn, me.id, log_failing_since=log_failing_since)
    clock.beaten(started)
    return None


async def heartbeat_forever(
    db: Database,
    me: WorkerIdentity,
    every_seconds: float,
    event_log: EventLog,
    clock: BeatClock,
) -> None:
    """Beat, notice streams others ended, and recover dead workers' orphans, until cancelled.

    Each beat also records since when this worker's event log has failed to commit (if it
    has), which `chinwag doctor` reports. A worker that was itself cut off judges no peer dead
    until it has beaten again for a whole grace period: the peers' beats could not land either.
    """
    grace = grace_seconds(every_seconds)
    loop = asyncio.get_running_loop()
    beating_since: float | None = loop.time()  # registering was the first beat
    while True:
        await asyncio.sleep(every_seconds)
        # A failed sweep is tried again at the next beat: only a failed beat (this worker cut
        # off) restarts the grace period before it judges its peers.
        sweep = beating_since is not None and loop.time() - beating_since >= grace
        try:
            await event_log.notice_ended_elsewhere()
            stalled = event_log.stalled_for()
            found = await beat_and_find_orphans(
                db,
                me,
                clock,
                heartbeat_seconds=every_seconds,
                log_failing_since=utcnow() - timedelta(seconds=stalled) if stalled else None,
                sweep=sweep,
            )
        except Exception:
            beating_since = None
            log.exception("heartbeat failed; retrying in %.1f s", every_seconds)
            continue
        beating_since = beating_since or loop.time()
        if found is None:
            continue
        try:  # no transaction while nobody is dead; then one per stream, as recover_orphans
            await interrupt_orphans(db, found, me=me, heartbeat_seconds=every_seconds)
        except Exception:
            log.exception("recovering the streams of stopped servers failed; retrying")
