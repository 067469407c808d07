"""The one module that writes the stream tables (`streams`, `stream_events`).

A stream's first event (at accept), its events (the event log's batches), its end (a live
generation, a refused log, recovery), and deletions (erasure, retention). Every function takes
a connection and never commits. Readers (followers, the history API) only select.

Who may write a stream: the worker named in `streams.worker_id` while the row is `streaming`
(see docs/architecture.md, "Who writes a stream's log").
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import DateTime, Row, Table, bindparam, delete, select, text, true, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ColumnElement

from chinwag.db.base import utcnow
from chinwag.db.bulk import insert_rows
from chinwag.errors import ChinwagError
from chinwag.streams.ending import EndStatus, RecordAnswer, StreamEnd, ending_events
from chinwag.streams.events import STARTED_SEQ, STARTED_TYPE, MessageDeclined, MessageDelta
from chinwag.streams.models import LoggedEvent, Stream

EVENTS: Table = LoggedEvent.__table__  # type: ignore[assignment]
EVENT_COLUMNS = ("stream_id", "seq", "type", "data", "created_at")
EventRow = tuple[str, int, str, str, datetime]  # in EVENT_COLUMNS order

_OPEN_STREAM_SQL = """
INSERT INTO streams (id, message_id, worker_id, status, last_seq, created_at)
VALUES (:stream_id, :message_id, :worker_id, 'streaming', :started_seq, :now)
"""
_FIRST_EVENT_SQL = """
INSERT INTO stream_events (stream_id, seq, type, data, created_at)
VALUES (:stream_id, :started_seq, :started_type, :started_event, :now)
"""
_NOW = bindparam("now", type_=DateTime(timezone=True))
# PostgreSQL: one statement (the foreign key is checked at its end); SQLite: the two in turn.
_POSTGRES_OPEN = text(f"WITH new_stream AS ({_OPEN_STREAM_SQL}){_FIRST_EVENT_SQL}").bindparams(_NOW)
_SQLITE_OPEN_STREAM = text(_OPEN_STREAM_SQL).bindparams(_NOW)
_SQLITE_FIRST_EVENT = text(_FIRST_EVENT_SQL).bindparams(_NOW)


async def insert_stream(
    conn: AsyncConnection,
    *,
    stream_id: str,
    message_id: str,
    worker_id: str,
    started_event: str,
    now: datetime,
) -> None:
    """The stream of an accepted message, owned by `worker_id`, with its first event
    (`started_event`, the stream.started JSON). One statement on PostgreSQL (the foreign key is
    checked at its end)."""
    values = {
        "stream_id": stream_id,
        "message_id": message_id,
        "worker_id": worker_id,
        "started_seq": STARTED_SEQ,
        "started_type": STARTED_TYPE,
        "started_event": started_event,
        "now": now,
    }
    if conn.dialect.name == "postgresql":
        await conn.execute(_POSTGRES_OPEN, values)
        return
    await conn.execute(_SQLITE_OPEN_STREAM, values)
    await conn.execute(_SQLITE_FIRST_EVENT, values)


# Built once: the event log runs these with every batch and every answer's end.
_LOCK_STREAMS = (
    select(Stream.id, Stream.status, Stream.worker_id)
    .where(Stream.id.in_(bindparam("ids", expanding=True)))
    .order_by(Stream.id)
    .with_for_update()
)
_WRITE_END = (
    update(Stream)
    .where(Stream.id == bindparam("b_id"))
    .values(
        status=bindparam("b_status"),
        last_seq=bindparam("b_last_seq"),
        finished_at=bindparam("b_finished_at"),
    )
)


async def lock_streams(conn: AsyncConnection, ids: Sequence[str]) -> dict[str, tuple[str, str]]:
    """Lock the rows of these streams (id order): {id: (status, owning worker)}."""
    rows = await conn.execute(_LOCK_STREAMS, {"ids": list(ids)})
    return {r.id: (r.status, r.worker_id) for r in rows}


async def append_events(conn: AsyncConnection, rows: list[EventRow]) -> None:
    """Insert numbered events; an event already stored (a retried batch) is skipped."""
    if rows:
        await insert_rows(conn, EVENTS, EVENT_COLUMNS, rows, skip_existing=True)


async def events_after(
    conn: AsyncConnection, stream_id: str, after: int, *, limit: int | None = None
) -> Sequence[Row[int, str, str]]:
    """(seq, type, data) of a stream's stored events after `after`, in order (the first
    `limit` of them if given)."""
    result = await conn.execute(
        select(LoggedEvent.seq, LoggedEvent.type, LoggedEvent.data)
        .where(LoggedEvent.stream_id == stream_id, LoggedEvent.seq > after)
        .order_by(LoggedEvent.seq)
        .limit(limit)
    )
    return result.all()


async def write_end(
    conn: AsyncConnection, end: StreamEnd, now: datetime, record_answer: RecordAnswer
) -> None:
    """Record the end on the stream row and, through `record_answer`, on its message."""
    await record_answer(conn, end, now)
    await conn.execute(
        _WRITE_END,
        {
            "b_id": end.stream_id,
            "b_status": end.status,
            "b_last_seq": end.last_seq,
            "b_finished_at": now,
        },
    )


async def end_from_stored_log(
    conn: AsyncConnection,
    stream_id: str,
    *,
    status: EndStatus,
    error: ChinwagError,
    ended_by: str | None,
    record_answer: RecordAnswer,
    only_if: ColumnElement[bool] | None = None,
) -> bool:
    """End a `streaming` stream with what the database holds: its committed text, then `error`
    and `stream.completed`. False if it already ended, is gone, its owner is writing it now, or
    its row does not meet `only_if` when it is locked (recovery: its owner is still dead).

    The row is locked first (SKIP LOCKED: a row locked by its owner's event log is being
    written, so its owner is alive), and the log is read after the lock, so the ending always
    follows the last event the owner committed. The ending worker becomes the row's owner.
    """
    stream = (
        await conn.execute(
            select(Stream.message_id, Stream.status)
            .where(Stream.id == stream_id, true() if only_if is None else only_if)
            .with_for_update(skip_locked=True)
        )
    ).first()
    if stream is None or stream.status != "streaming":
        return False
    events = await events_after(conn, stream_id, 0)
    content = "".join(
        MessageDelta.model_validate_json(e.data).text for e in events if e.type == "message.delta"
    )
    declined = next(
        (
            MessageDeclined.model_validate_json(e.data).reason
            for e in events
            if e.type == "message.declined"
        ),
        None,
    )
    last_seq = events[-1].seq if events else 0
    final = ending_events(status, message_id=stream.message_id, text=content, error=error)
    now = utcnow()
    await append_events(
        conn,
        [
            (stream_id, last_seq + i, e.type, e.model_dump_json(), now)
            for i, e in enumerate(final, start=1)
        ],
    )
    end = StreamEnd(
        stream_id=stream_id,
        message_id=stream.message_id,
        status=status,
        content=content,
        error_code=error.code,
        declined=declined,  # the text so far is the decline's
        last_seq=last_seq + len(final),
    )
    await write_end(conn, end, now, record_answer)
    await conn.execute(update(Stream).where(Stream.id == stream_id).values(worker_id=ended_by))
    return True


async def delete_streams_of(conn: AsyncConnection, message_ids: Sequence[str]) -> tuple[int, int]:
    """Delete the streams of these messages and their events: (events, streams) deleted.

    The rows are locked first, as the event log does before writing: a stream being written is
    deleted between two of its batches, never under one (its writer then stops)."""
    ids = (
        (
            await conn.execute(
                select(Stream.id)
                .where(Stream.message_id.in_(message_ids))
                .order_by(Stream.id)
                .with_for_update()
            )
        )
        .scalars()
        .all()
    )
    if not ids:
        return 0, 0
    return await delete_streams(conn, ids)


async def finished_streams(
    conn: AsyncConnection, before: datetime, size: int, *, with_events: bool
) -> Sequence[str]:
    """Up to `size` streams that ended before `before` (only those still holding events if
    `with_events`)."""
    query = select(Stream.id).where(Stream.status != "streaming", Stream.finished_at < before)
    if with_events:
        query = query.where(Stream.events_purged_at.is_(None))
    return (await conn.execute(query.limit(size))).scalars().all()


async def purge_events(conn: AsyncConnection, stream_ids: Sequence[str], now: datetime) -> int:
    """Delete these streams' events and mark them purged (their rows stay); events deleted."""
    deleted = _count(
        await conn.execute(delete(LoggedEvent).where(LoggedEvent.stream_id.in_(stream_ids)))
    )
    await conn.execute(update(Stream).where(Stream.id.in_(stream_ids)).values(events_purged_at=now))
    return deleted


async def delete_streams(conn: AsyncConnection, stream_ids: Sequence[str]) -> tuple[int, int]:
    """Delete these streams and their events: (events, streams) deleted."""
    events = _count(
        await conn.execute(delete(LoggedEvent).where(LoggedEvent.stream_id.in_(stream_ids)))
    )
    streams = _count(await conn.execute(delete(Stream).where(Stream.id.in_(stream_ids))))
    return events, streams


def _count(result: object) -> int:
    return max(int(getattr(result, "rowcount", 0) or 0), 0)
