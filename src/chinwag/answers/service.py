"""Curated answer storage: functions take a connection and never commit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from chinwag.answers.models import CuratedAnswer
from chinwag.answers.schemas import CuratedAnswerIn, CuratedAnswerOut, CuratedAnswerPatch
from chinwag.bots.service import get_bot_version
from chinwag.conversations.models import ChatSession, Message
from chinwag.db.base import new_id, utcnow
from chinwag.errors import CuratedAnswerNotFound, InvalidRequest


@dataclass(frozen=True, slots=True)
class DataVersion:
    """Changes whenever a bot's curated answers change (added, edited, deleted)."""

    count: int
    latest: datetime | None


def _out(row: Any) -> CuratedAnswerOut:
    return CuratedAnswerOut.model_validate(row, from_attributes=True)


async def list_answers(
    conn: AsyncConnection, bot_id: str, *, enabled: bool | None = None, q: str | None = None
) -> list[CuratedAnswerOut]:
    """The bot's curated answers, oldest first; `q` matches question or answer text."""
    await get_bot_version(conn, bot_id)
    query = select(CuratedAnswer).where(CuratedAnswer.bot_id == bot_id)
    if enabled is not None:
        query = query.where(CuratedAnswer.enabled == enabled)
    if q:
        pattern = f"%{_escape_like(q.lower())}%"
        query = query.where(
            or_(
                func.lower(CuratedAnswer.question).like(pattern, escape="\\"),
                func.lower(CuratedAnswer.answer).like(pattern, escape="\\"),
            )
        )
    rows = await conn.execute(query.order_by(CuratedAnswer.created_at, CuratedAnswer.id))
    return [_out(r) for r in rows]


async def get_answer(conn: AsyncConnection, bot_id: str, answer_id: str) -> CuratedAnswerOut:
    await get_bot_version(conn, bot_id)
    row = (
        await conn.execute(
            select(CuratedAnswer).where(
                CuratedAnswer.bot_id == bot_id, CuratedAnswer.id == answer_id
            )
        )
    ).first()
    if row is None:
        raise CuratedAnswerNotFound(f"bot '{bot_id}' has no curated answer '{answer_id}'")
    return _out(row)


async def create_answer(
    conn: AsyncConnection, bot_id: str, body: CuratedAnswerIn
) -> CuratedAnswerOut:
    await get_bot_version(conn, bot_id)
    if body.message_id is not None:
        await _check_message(conn, bot_id, body.message_id)
    now = utcnow()
    answer_id = new_id()
    await conn.execute(
        insert(CuratedAnswer).values(
            id=answer_id,
            bot_id=bot_id,
            question=body.question,
            answer=body.answer,
            sources=[s.model_dump() for s in body.sources],
            enabled=body.enabled,
            message_id=body.message_id,
            created_at=now,
            updated_at=now,
        )
    )
    return await get_answer(conn, bot_id, answer_id)


async def update_answer(
    conn: AsyncConnection, bot_id: str, answer_id: str, patch: CuratedAnswerPatch
) -> CuratedAnswerOut:
    await get_answer(conn, bot_id, answer_id)
    values: dict[str, Any] = {
        name: value
        for name, value in patch.model_dump(exclude_unset=True).items()
        if value is not None
    }
    if values:
        await conn.execute(
            update(CuratedAnswer)
            .where(CuratedAnswer.id == answer_id)
            .values(**values, updated_at=utcnow())
        )
    return await get_answer(conn, bot_id, answer_id)


async def delete_answer(conn: AsyncConnection, bot_id: str, answer_id: str) -> None:
    await get_answer(conn, bot_id, answer_id)
    await conn.execute(delete(CuratedAnswer).where(CuratedAnswer.id == answer_id))


async def import_answers(
    conn: AsyncConnection, bot_id: str, answers: Sequence[CuratedAnswerIn], *, replace: bool
) -> int:
    """Add `answers` (after deleting the bot's others when `replace`); how many were added."""
    await get_bot_version(conn, bot_id)
    if replace:
        await conn.execute(delete(CuratedAnswer).where(CuratedAnswer.bot_id == bot_id))
    for body in answers:
        await create_answer(conn, bot_id, body.model_copy(update={"message_id": None}))
    return len(answers)


async def data_version(conn: AsyncConnection, bot_id: str) -> DataVersion:
    """A cheap fingerprint of the bot's curated answers, to key caches of their embeddings."""
    row = (
        await conn.execute(
            select(func.count(), func.max(CuratedAnswer.updated_at)).where(
                CuratedAnswer.bot_id == bot_id
            )
        )
    ).one()
    return DataVersion(int(row[0]), row[1])


async def _check_message(conn: AsyncConnection, bot_id: str, message_id: str) -> None:
    owner = (
        await conn.execute(
            select(ChatSession.bot_id)
            .join(Message, Message.session_id == ChatSession.id)
            .where(Message.id == message_id, Message.role == "assistant")
        )
    ).scalar()
    if owner != bot_id:
        raise InvalidRequest(
            f"message '{message_id}' is not an answer of bot '{bot_id}'",
            hint="message_id names the assistant message this answer corrects; leave it out "
            "for an answer written from scratch.",
        )


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
