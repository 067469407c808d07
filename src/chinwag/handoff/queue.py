"""The operators' view: a bot's conversations by handoff state, and who acts on them."""

from __future__ import annotations

import dataclasses

from sqlalchemy import RowMapping, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from chinwag.auth.models import ApiKey, Operator
from chinwag.auth.principal import Principal
from chinwag.conversations.models import ChatSession, EndUser, Handoff, Message
from chinwag.handoff.schemas import WaitingOut
from chinwag.handoff.service import Acting


async def acting_as(conn: AsyncConnection, principal: Principal, name: str | None) -> Acting:
    """Who acts: a signed-in operator (by their name, or the one given), or a key (by the
    name given, else the key's own name)."""
    if principal.kind == "operator":
        found = await conn.execute(select(Operator.name).where(Operator.id == principal.key_id))
        return Acting(
            key_id=None,
            operator_id=principal.key_id,
            name=name or found.scalar() or "Support",
            is_admin=principal.operator_bots is None,
        )
    if name is None:
        found = await conn.execute(select(ApiKey.name).where(ApiKey.id == principal.key_id))
        name = found.scalar()
    admin = principal.kind == "admin"
    return Acting(key_id=principal.key_id, operator_id=None, name=name or "Support", is_admin=admin)


async def claimer(conn: AsyncConnection, principal: Principal, session: RowMapping) -> Acting:
    """Who acts on a session (`find_session`'s row), under the name they claimed it with if it
    is them."""
    acting = await acting_as(conn, principal, None)
    mine = acting.holds(session["claimed_by_key"], session["claimed_by_operator"])
    if mine and session["claimed_by_name"]:
        return dataclasses.replace(acting, name=session["claimed_by_name"])
    return acting


async def list_handoffs(
    conn: AsyncConnection, bot_id: str, state: str, *, limit: int
) -> list[WaitingOut]:
    """The bot's conversations in `state`, longest waiting first, with their last message."""
    last = (
        select(Message.content)
        .where(Message.session_id == ChatSession.id, Message.role == "user")
        .order_by(Message.position.desc())
        .limit(1)
        .scalar_subquery()
    )
    rows = await conn.execute(
        select(
            ChatSession.external_id,
            EndUser.external_id.label("user_id"),
            Handoff.state,
            Handoff.requested_by,
            Handoff.requested_at,
            Handoff.claimed_by_name,
            last.label("last_message"),
        )
        .join(ChatSession, ChatSession.id == Handoff.session_id)
        .join(EndUser, EndUser.id == ChatSession.user_id)
        .where(Handoff.bot_id == bot_id, Handoff.state == state)
        .order_by(func.coalesce(Handoff.requested_at, Handoff.updated_at), Handoff.session_id)
        .limit(limit)
    )
    return [
        WaitingOut(
            session_id=r.external_id,
            user_id=r.user_id,
            state=r.state,
            requested_by=r.requested_by,
            requested_at=r.requested_at,
            operator=r.claimed_by_name,
            last_message=r.last_message,
        )
        for r in rows
    ]
