"""The store of tool actions waiting for the visitor's confirmation: holds them, decides each
once (the decision's primary key is the action's id), finishes them with the call's record."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    insert,
    select,
    update,
)

from chinwag.conversations.models import Message, ToolAction, ToolActionDecision
from chinwag.db.base import new_id, utcnow
from chinwag.db.conflicts import insert_or_ignore
from chinwag.db.uow import Database
from chinwag.errors import ToolActionNotFound
from chinwag.tools.decisions import Decided, Decision, DecisionKind


@dataclass(frozen=True, slots=True)
class ActionStore:
    """Short write transactions of their own, never open while an answer streams."""

    db: Database

    async def hold(
        self,
        *,
        bot_id: str,
        message_id: str,
        flow: str,
        tool: str,
        arguments: dict[str, Any],
        shown: dict[str, Any],
        text: str,
        request: str,
    ) -> str:
        """Keep an action until the visitor decides; its id goes out in the event."""
        action_id = new_id()
        async with self.db.write() as conn:
            await conn.execute(
                insert(ToolAction).values(
                    id=action_id,
                    bot_id=bot_id,
                    message_id=message_id,
                    flow=flow,
                    tool=tool,
                    arguments=arguments,
                    shown=shown,
                    text=text,
                    request=request,
                    status="pending",
                    created_at=utcnow(),
                )
            )
        return action_id

    async def decide(
        self, *, bot_id: str, session_pk: str, message_id: str, decision: Decision
    ) -> Decided:
        """Record the decision unless one is recorded already (a retry, another tab)."""
        async with self.db.write() as conn:
            row = (
                await conn.execute(
                    select(ToolAction)
                    .join(Message, Message.id == ToolAction.message_id)
                    .where(
                        ToolAction.id == decision.action_id,
                        ToolAction.bot_id == bot_id,
                        Message.session_id == session_pk,
                    )
                )
            ).first()
            if row is None:
                raise ToolActionNotFound(
                    f"no action '{decision.action_id}' waits in this session of bot '{bot_id}'"
                )
            inserted = await conn.execute(
                insert_or_ignore(conn, ToolActionDecision.__table__).values(
                    action_id=row.id,
                    message_id=message_id,
                    decision=decision.decision,
                    created_at=utcnow(),
                )
            )
            if not inserted.rowcount:  # decided already: say what that decision did
                earlier, status = (
                    await conn.execute(
                        select(ToolActionDecision.decision, ToolAction.status)
                        .join(ToolAction, ToolAction.id == ToolActionDecision.action_id)
                        .where(ToolActionDecision.action_id == row.id)
                    )
                ).one()
                kind: DecisionKind = "confirm" if earlier == "confirm" else "cancel"
                if status == "pending":  # its transaction had not yet moved it on
                    status = "confirmed" if kind == "confirm" else "cancelled"
                return Decided(False, kind, status, row.flow, row.tool, {}, row.shown, row.request)
            status = "confirmed" if decision.decision == "confirm" else "cancelled"
            await conn.execute(
                update(ToolAction)
                .where(ToolAction.id == row.id)
                .values(status=status, decided_at=utcnow(), arguments=None)
            )
        values = dict(row.arguments or {}) if status == "confirmed" else {}
        return Decided(
            True, decision.decision, status, row.flow, row.tool, values, row.shown, row.request
        )

    async def finish(self, action_id: str, *, status: str, outcome: dict[str, Any] | None) -> None:
        """The confirmed call's end: `done` or `failed`, with its record."""
        async with self.db.write() as conn:
            await conn.execute(
                update(ToolAction)
                .where(ToolAction.id == action_id)
                .values(status=status, outcome=outcome)
            )
