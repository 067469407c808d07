"""The per-day charts of closed days, folded once into `daily_charts` and read from there.

A chart over a range reads the folded days and computes only the others (today, days not
folded yet, days made stale by a deletion) from the messages, with the same queries
(chinwag.console.analytics): the numbers are those of the live queries, and a 90-day range at
a million messages reads 90 small rows instead of every message.

A day is folded once it ended FOLD_AFTER ago and none of its answers is still streaming (an
answer's row is written on the day it starts; its end, usage and status come later).
Deleting messages (erasure, retention) marks their days stale in the same transaction; the
next fold computes them again from what is stored. The rows hold counts and percentiles only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from chinwag.bots.models import Bot
from chinwag.console import analytics
from chinwag.console.analytics import Chart, ChartRange
from chinwag.conversations.models import EVERY_BOT, ChatSession, DailyCharts, Message
from chinwag.db.base import utcnow
from chinwag.db.conflicts import insert_or_ignore
from chinwag.db.uow import Database
from chinwag.errors import ChinwagError
from chinwag.timestamps import as_utc

log = logging.getLogger(__name__)

DAILY = ("activity", "latency", "tokens", "sources", "declines")  # one row per day
FOLD_AFTER = timedelta(minutes=5)  # a message written just before midnight has committed


def _scope(r: ChartRange) -> str:
    return r.bot_id or EVERY_BOT


async def _folded(conn: AsyncConnection, r: ChartRange) -> dict[date, dict[str, Any]]:
    """The range's folded days that no deletion has made stale: day → chart → row (or None)."""
    rows = await conn.execute(
        select(DailyCharts.day, DailyCharts.charts).where(
            DailyCharts.scope == _scope(r),
            DailyCharts.day >= r.since,
            DailyCharts.day <= r.until,
            DailyCharts.stale.is_(False),
        )
    )
    return {day: charts or {} for day, charts in rows}


def _gaps(r: ChartRange, folded: Collection[date]) -> list[ChartRange]:
    """The runs of consecutive days of the range that are not folded."""
    gaps: list[ChartRange] = []
    start: date | None = None
    day = r.since
    while day <= r.until:
        if day in folded and start is not None:
            gaps.append(ChartRange(start, day - timedelta(days=1), r.bot_id))
            start = None
        elif day not in folded and start is None:
            start = day
        day += timedelta(days=1)
    if start is not None:
        gaps.append(ChartRange(start, r.until, r.bot_id))
    return gaps


def _daily(name: str) -> Chart:
    live = analytics.CHARTS[name]

    async def chart(conn: AsyncConnection, r: ChartRange) -> list[dict[str, Any]]:
        # A day folded before this chart existed has no entry for it (None: a day without
        # data): it is computed from the messages like a day not folded yet.
        folded = {day: charts for day, charts in (await _folded(conn, r)).items() if name in charts}
        rows = [row for charts in folded.values() if (row := charts[name]) is not None]
        for gap in _gaps(r, folded):
            rows.extend(await live(conn, gap))
        return sorted(rows, key=lambda row: str(row["day"]))

    chart.__doc__ = live.__doc__
    return chart


CHARTS: dict[str, Chart] = {
    name: _daily(name) if name in DAILY else chart for name, chart in analytics.CHARTS.items()
}


async def all_charts(conn: AsyncConnection, r: ChartRange) -> dict[str, list[dict[str, Any]]]:
    """Every chart, in the caller's (read) transaction."""
    await analytics.tune(conn)
    return {name: await chart(conn, r) for name, chart in CHARTS.items()}


def last_closed_day(now: datetime) -> date:
    return (now - FOLD_AFTER).date() - timedelta(days=1)


async def fold(db: Database, *, now: datetime | None = None) -> int:
    """Fold every closed day not folded yet (or stale), for every bot and for all bots;
    returns how many days were written. The first run after an upgrade folds them all."""
    last = last_closed_day(as_utc(now or utcnow()))
    async with db.read() as conn:
        first = await conn.scalar(select(func.min(Message.created_at)))
        if first is None or as_utc(first).date() > last:
            return 0
        scopes = [EVERY_BOT, *(await conn.execute(select(Bot.id).order_by(Bot.id))).scalars()]
        known = {
            (scope, day): (stale, generation)
            for scope, day, stale, generation in await conn.execute(
                select(
                    DailyCharts.scope, DailyCharts.day, DailyCharts.stale, DailyCharts.generation
                ).where(DailyCharts.day >= as_utc(first).date())
            )
        }
    written = 0
    for scope in scopes:
        closed = ChartRange(as_utc(first).date(), last, None if scope == EVERY_BOT else scope)
        clean = {day for (s, day), (stale, _) in known.items() if s == scope and not stale}
        for run in _gaps(closed, clean):
            generations = {
                day: known[(scope, day)][1] for day in _days(run) if (scope, day) in known
            }
            written += await fold_days(db, run, generations)
    return written


async def fold_days(db: Database, r: ChartRange, generations: dict[date, int]) -> int:
    """Compute the charts of the range's days (one query per chart) and write each day, except
    days with an answer still streaming and days a deletion changed since their generation was
    read (a day with no row yet is written only if none has appeared); returns days written."""
    async with db.read() as conn:
        await analytics.tune(conn)
        busy = await _streaming_days(conn, r)
        computed = {
            name: {row["day"]: row for row in await analytics.CHARTS[name](conn, r)}
            for name in DAILY
        }
    written = 0
    async with db.write() as conn:
        for day in _days(r):
            if day in busy:
                continue
            charts = {name: computed[name].get(day.isoformat()) for name in DAILY}
            generation = generations.get(day)
            if generation is None:
                result = await conn.execute(
                    insert_or_ignore(conn, DailyCharts).values(
                        scope=_scope(r), day=day, charts=charts, stale=False, folded_at=utcnow()
                    )
                )
            else:
                result = await conn.execute(
                    update(DailyCharts)
                    .where(
                        DailyCharts.scope == _scope(r),
                        DailyCharts.day == day,
                        DailyCharts.generation == generation,
                    )
                    .values(charts=charts, stale=False, folded_at=utcnow())
                )
            written += max(int(getattr(result, "rowcount", 0) or 0), 0)
    return written


def _days(r: ChartRange) -> list[date]:
    return [r.since + timedelta(days=n) for n in range((r.until - r.since).days + 1)]


async def _streaming_days(conn: AsyncConnection, r: ChartRange) -> set[date]:
    """The days of the range with an answer still being written."""
    query = select(Message.created_at).where(
        Message.created_at >= r.start, Message.created_at < r.end, Message.status == "streaming"
    )
    if r.bot_id is not None:
        query = query.join(ChatSession, ChatSession.id == Message.session_id).where(
            ChatSession.bot_id == r.bot_id
        )
    return {as_utc(created_at).date() for created_at in (await conn.execute(query)).scalars()}


async def fold_forever(db: Database, interval: float) -> None:
    """The background job: fold closed days now (after an upgrade: every day), then again
    every `interval` seconds."""
    while True:
        try:
            written = await fold(db)
        except ChinwagError as exc:  # the database is away; the next pass tries again
            log.warning("folding the daily charts failed: %s (%s)", exc.message, exc.code)
        except SQLAlchemyError as exc:  # it went away during the pass: the same
            log.warning("folding the daily charts failed: %s", exc)
        else:
            if written:
                log.info("folded %d day(s) of charts", written)
        await asyncio.sleep(interval)
