"""The flow runs recorded with each answer: the newest ones, and figures per flow."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, case, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from chinwag.conversations.models import FlowRun


async def newest_flow_runs(
    conn: AsyncConnection, bot_id: str, *, flow: str | None, status: str | None, limit: int
) -> Sequence[Row[FlowRun]]:
    """The bot's newest flow runs, optionally of one flow or one status."""
    query = select(FlowRun).where(FlowRun.bot_id == bot_id)
    if flow is not None:
        query = query.where(FlowRun.flow == flow)
    if status is not None:
        query = query.where(FlowRun.status == status)
    query = query.order_by(FlowRun.created_at.desc(), FlowRun.id.desc()).limit(limit)
    return (await conn.execute(query)).all()


async def flow_figures(conn: AsyncConnection, bot_id: str) -> Sequence[Row[Any]]:
    """Per flow of the bot: runs, failed runs, mean and slowest time in ms."""
    failed = func.sum(case((FlowRun.status == "failed", 1), else_=0))
    query = (
        select(
            FlowRun.flow,
            func.count().label("runs"),
            failed.label("failed"),
            func.avg(FlowRun.ms).label("mean_ms"),
            func.max(FlowRun.ms).label("max_ms"),
        )
        .where(FlowRun.bot_id == bot_id)
        .group_by(FlowRun.flow)
        .order_by(FlowRun.flow)
    )
    return (await conn.execute(query)).all()
