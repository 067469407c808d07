"""Stateless OpenAI-style clients resend a conversation's whole history with every message:
the session whose stored turns are exactly that history, of the same end user, continues."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from chinwag.conversations.models import ChatSession, Message

# The user's most recent sessions of that length that are compared, newest first.
CANDIDATES = 20


async def continued_session(
    conn: AsyncConnection, *, bot_id: str, user_pk: str, turns: Sequence[tuple[str, str]]
) -> str | None:
    """The external id of the end user's session (of this bot) whose messages are `turns`
    (role, content), in order and nothing else; None when there is none. Never another
    user's: the lookup starts from the user's own sessions."""
    found = await conn.execute(
        select(ChatSession.id, ChatSession.external_id)
        .where(
            ChatSession.bot_id == bot_id,
            ChatSession.user_id == user_pk,
            ChatSession.message_count == len(turns),
        )
        .order_by(ChatSession.last_message_at.desc())
        .limit(CANDIDATES)
    )
    candidates = [(pk, external_id) for pk, external_id in found]
    if not candidates:
        return None
    rows = await conn.execute(
        select(Message.session_id, Message.role, Message.content)
        .where(Message.session_id.in_([pk for pk, _ in candidates]))
        .order_by(Message.session_id, Message.position)
    )
    stored: dict[str, list[tuple[str, str]]] = {}
    for session_pk, role, content in rows:
        stored.setdefault(session_pk, []).append((role, content))
    wanted = list(turns)
    for pk, external_id in candidates:  # newest first
        if stored.get(pk) == wanted:
            return external_id
    return None
