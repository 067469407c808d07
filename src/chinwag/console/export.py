"""Export the messages of a filtered set of conversations as JSON Lines or CSV, page by page."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from typing import Any, Literal

import orjson
from sqlalchemy import select

from chinwag.console.conversations import ConversationFilters, Position, after, filtered_sessions
from chinwag.conversations.models import Message
from chinwag.db.uow import Database
from chinwag.timestamps import as_utc

ExportFormat = Literal["jsonl", "csv"]
COLUMNS = (
    "bot_id",
    "session_id",
    "user_id",
    "message_id",
    "position",
    "role",
    "content",
    "status",
    "error_code",
    "declined",
    "bot_version",
    "prompt_tokens",
    "completion_tokens",
    "ttft_ms",
    "created_at",
    "user_display_name",
    "user_email",
)
SESSIONS_PER_PAGE = 200


async def export_rows(db: Database, filters: ConversationFilters) -> AsyncIterator[dict[str, Any]]:
    """Every message of every matching session, session by session; no transaction stays open
    between pages, and each page starts after the previous one's last session (keyset)."""
    start: Position | None = None
    while True:
        query = filtered_sessions(filters)
        if start is not None:
            query = query.where(after(start))
        async with db.read() as conn:
            sessions = (await conn.execute(query.limit(SESSIONS_PER_PAGE))).all()
            by_id = {s.id: s for s in sessions}
            messages = (
                (
                    await conn.execute(
                        select(Message)
                        .where(Message.session_id.in_(list(by_id)))
                        .order_by(Message.session_id, Message.position)
                    )
                ).all()
                if by_id
                else []
            )
        if not sessions:
            return
        order = {s.id: i for i, s in enumerate(sessions)}
        for m in sorted(messages, key=lambda m: (order[m.session_id], m.position)):
            session = by_id[m.session_id]
            usage = m.usage or {}
            yield {
                "bot_id": session.bot_id,
                "session_id": session.external_id,
                "user_id": session.user_external_id,
                "message_id": m.id,
                "position": m.position,
                "role": m.role,
                "content": m.content,
                "status": m.status,
                "error_code": m.error_code,
                "declined": m.declined,
                "bot_version": m.bot_version,
                "prompt_tokens": usage.get("prompt_tokens"),
                "completion_tokens": usage.get("completion_tokens"),
                "ttft_ms": m.ttft_ms,
                "created_at": as_utc(m.created_at).isoformat(),
                "user_display_name": session.user_display_name,
                "user_email": session.user_email,
            }
        start = Position(sessions[-1].last_message_at, sessions[-1].id)


async def encode(rows: AsyncIterator[dict[str, Any]], fmt: ExportFormat) -> AsyncIterator[bytes]:
    """The rows as JSON Lines, or as CSV with a header line."""
    if fmt == "jsonl":
        async for row in rows:
            yield orjson.dumps(row) + b"\n"
        return
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
    writer.writeheader()
    async for row in rows:
        writer.writerow(row)
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()
