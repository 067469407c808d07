"""The console's charts computed from the messages: one SQL query each, on SQLite and
PostgreSQL, over a range of days (chinwag.console.rollups reads the per-day ones of closed days
from their daily rollups and calls these for the other days).

Percentiles are nearest-rank: PostgreSQL's percentile_disc, the same ranks by window functions
on SQLite.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, Float, Integer, Select, and_, case, cast, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from chinwag.console.tool_calls import calls_made
from chinwag.conversations.models import ChatSession, Feedback, FlowRun, Message, no_citations
from chinwag.timestamps import as_utc


@dataclass(frozen=True, slots=True)
class ChartRange:
    """Days `since` to `until` (inclusive, UTC), for one bot or all (None)."""

    since: date
    until: date
    bot_id: str | None = None

    @property
    def start(self) -> datetime:
        return as_utc(datetime.combine(self.since, time.min))

    @property
    def end(self) -> datetime:
        return as_utc(datetime.combine(self.until + timedelta(days=1), time.min))


def _day(conn: AsyncConnection, column: Any) -> ColumnElement[Any]:
    """The UTC day of a timestamp (a date on PostgreSQL, YYYY-MM-DD text on SQLite)."""
    if conn.dialect.name == "postgresql":
        return cast(func.timezone("UTC", column), Date)
    return func.substr(column, 1, 10)


def _elapsed_ms(conn: AsyncConnection) -> ColumnElement[Any]:
    """An answer's total time: from its row's creation to its end."""
    if conn.dialect.name == "postgresql":
        return func.extract("epoch", Message.finished_at - Message.created_at) * 1000
    return (func.julianday(Message.finished_at) - func.julianday(Message.created_at)) * 86_400_000


def _messages(r: ChartRange, *where: Any) -> Select[*tuple[Any, ...]]:
    query = (
        select()
        .select_from(Message)
        .where(Message.created_at >= r.start, Message.created_at < r.end, *where)
    )
    if r.bot_id is not None:
        query = query.join(ChatSession, ChatSession.id == Message.session_id).where(
            ChatSession.bot_id == r.bot_id, *_active(r)
        )
    return query


def _active(r: ChartRange) -> tuple[ColumnElement[bool], ...]:
    """Sessions that can have a message in the range: far fewer rows to join than all of a
    bot's sessions (ix_chat_sessions_bot_id_last_message_at finds them)."""
    return (ChatSession.last_message_at >= r.start, ChatSession.created_at < r.end)


def _plain(value: Any) -> Any:
    """Days as YYYY-MM-DD and numbers as floats, whichever database computed them."""
    if isinstance(value, date):
        return value.isoformat()
    return float(value) if isinstance(value, Decimal) else value


def _rows(result: Any) -> list[dict[str, Any]]:
    return [{k: _plain(v) for k, v in row._mapping.items()} for row in result]


async def activity(conn: AsyncConnection, r: ChartRange) -> list[dict[str, Any]]:
    """Per day: messages, conversations with a message, unique end users (messages are
    counted per session first, so the join to sessions sees one row per session and day)."""
    day = _day(conn, Message.created_at).label("day")
    per_session = (
        select(day, Message.session_id, func.count().label("n"))
        .where(Message.created_at >= r.start, Message.created_at < r.end)
        .group_by(day, Message.session_id)
        .subquery()
    )
    query = (
        select(
            per_session.c.day,
            cast(func.sum(per_session.c.n), Integer).label("messages"),
            func.count().label("conversations"),
            func.count(func.distinct(ChatSession.user_id)).label("users"),
        )
        .join(ChatSession, ChatSession.id == per_session.c.session_id)
        .where(*_active(r))
        .group_by(per_session.c.day)
        .order_by(per_session.c.day)
    )
    if r.bot_id is not None:
        query = query.where(ChatSession.bot_id == r.bot_id)
    return _rows(await conn.execute(query))


def _percentiles(
    conn: AsyncConnection,
    values: Select[*tuple[Any, ...]],
    group: str,
    value: str,
    *names: tuple[str, float],
    summed: str | None = None,
) -> Select[*tuple[Any, ...]]:
    """Nearest-rank percentiles (with count and mean) of `value` per `group` over the rows of
    `values`: PostgreSQL's percentile_disc, or the same ranks by window functions on SQLite;
    and the sum of the column `summed` of `values`, if one is named."""
    rows = values.subquery()
    if conn.dialect.name == "postgresql":
        return (
            select(
                rows.c[group],
                *(
                    func.percentile_disc(p / 100).within_group(rows.c[value]).label(name)
                    for name, p in names
                ),
                func.count().label("count"),
                func.avg(rows.c[value]).label("mean"),
                *([func.sum(rows.c[summed]).label(summed)] if summed else []),
            )
            .group_by(rows.c[group])
            .order_by(rows.c[group])
        )
    ranked = select(
        rows.c[group],
        rows.c[value],
        *([rows.c[summed]] if summed else []),
        func.row_number().over(partition_by=rows.c[group], order_by=rows.c[value]).label("rank"),
        func.count().over(partition_by=rows.c[group]).label("n"),
    ).subquery()
    return (
        select(
            ranked.c[group],
            *(
                func.min(case((ranked.c.rank * 100 >= ranked.c.n * p, ranked.c[value]))).label(name)
                for name, p in names
            ),
            func.count().label("count"),
            func.avg(ranked.c[value]).label("mean"),
            *([func.sum(ranked.c[summed]).label(summed)] if summed else []),
        )
        .group_by(ranked.c[group])
        .order_by(ranked.c[group])
    )


async def latency(conn: AsyncConnection, r: ChartRange) -> list[dict[str, Any]]:
    """Per day: time to first token p50/p95 and total answer time p50/p95, in ms."""
    answered = (Message.role == "assistant", Message.ttft_ms.is_not(None))
    day = _day(conn, Message.created_at).label("day")
    if conn.dialect.name == "postgresql":  # one pass: four ordered-set aggregates
        elapsed = _elapsed_ms(conn)
        query = (
            _messages(r, *answered)
            .add_columns(
                day,
                *(
                    func.percentile_disc(p / 100).within_group(column).label(name)
                    for name, column, p in (
                        ("ttft_p50", Message.ttft_ms, 50),
                        ("ttft_p95", Message.ttft_ms, 95),
                        ("total_p50", elapsed, 50),
                        ("total_p95", elapsed, 95),
                    )
                ),
                func.count().label("answers"),
            )
            .group_by(day)
            .order_by(day)
        )
        return _rows(await conn.execute(query))
    ttft = _messages(r, *answered).add_columns(day, Message.ttft_ms.label("ms"))
    total = _messages(r, *answered).add_columns(day, _elapsed_ms(conn).label("ms"))
    first = _percentiles(conn, ttft, "day", "ms", ("ttft_p50", 50), ("ttft_p95", 95))
    whole = _percentiles(conn, total, "day", "ms", ("total_p50", 50), ("total_p95", 95))
    rows: dict[str, dict[str, Any]] = {}
    for row in _rows(await conn.execute(first)):
        rows[row["day"]] = {
            "day": row["day"],
            "ttft_p50": row["ttft_p50"],
            "ttft_p95": row["ttft_p95"],
        }
    for row in _rows(await conn.execute(whole)):
        rows.setdefault(row["day"], {"day": row["day"]}).update(
            total_p50=row["total_p50"], total_p95=row["total_p95"], answers=row["count"]
        )
    return [rows[d] for d in sorted(rows)]


async def tokens(conn: AsyncConnection, r: ChartRange) -> list[dict[str, Any]]:
    """Per day: prompt and completion tokens of answers."""
    day = _day(conn, Message.created_at).label("day")
    query = (
        _messages(r, Message.role == "assistant", Message.usage.is_not(None))
        .add_columns(
            day,
            func.coalesce(func.sum(Message.usage["prompt_tokens"].as_integer()), 0).label(
                "prompt_tokens"
            ),
            func.coalesce(func.sum(Message.usage["completion_tokens"].as_integer()), 0).label(
                "completion_tokens"
            ),
        )
        .group_by(day)
        .order_by(day)
    )
    return _rows(await conn.execute(query))


async def flows(conn: AsyncConnection, r: ChartRange) -> list[dict[str, Any]]:
    """Per flow: runs, failures, mean and p50/p95 time in ms."""
    runs = select(FlowRun.flow, FlowRun.ms).where(
        FlowRun.created_at >= r.start, FlowRun.created_at < r.end
    )
    failed = select(FlowRun.flow, func.count().label("failed")).where(
        FlowRun.created_at >= r.start, FlowRun.created_at < r.end, FlowRun.status == "failed"
    )
    if r.bot_id is not None:
        runs = runs.where(FlowRun.bot_id == r.bot_id)
        failed = failed.where(FlowRun.bot_id == r.bot_id)
    query = _percentiles(conn, runs, "flow", "ms", ("p50_ms", 50), ("p95_ms", 95))
    failures = dict(
        (row.flow, row.failed) for row in await conn.execute(failed.group_by(FlowRun.flow))
    )
    return [
        {
            "flow": row["flow"],
            "runs": row["count"],
            "failed": failures.get(row["flow"], 0),
            "mean_ms": row["mean"],
            "p50_ms": row["p50_ms"],
            "p95_ms": row["p95_ms"],
        }
        for row in _rows(await conn.execute(query))
    ]


async def routes(conn: AsyncConnection, r: ChartRange) -> list[dict[str, Any]]:
    """How often the router chose each set of auxiliary flows (none: `main` alone)."""
    chosen = Message.route["flows"].as_string().label("flows")
    query = (
        _messages(r, Message.role == "assistant", Message.route.is_not(None))
        .add_columns(chosen, func.count().label("answers"))
        .group_by(chosen)
    )
    counts: dict[str, int] = {}
    for row in await conn.execute(query):
        if row.flows is None:  # JSON null: no route was recorded
            continue
        names = json.loads(row.flows)
        label = " + ".join(sorted(names)) or "main only"
        counts[label] = counts.get(label, 0) + row.answers
    return [{"flows": k, "answers": v} for k, v in sorted(counts.items(), key=lambda kv: -kv[1])]


async def feedback(conn: AsyncConnection, r: ChartRange) -> list[dict[str, Any]]:
    """Per day (of the rating): 👍 and 👎 counts and the 👍 rate."""
    day = _day(conn, Feedback.created_at).label("day")
    query = (
        select(
            day,
            func.count(case((Feedback.rating == 1, 1))).label("up"),
            func.count(case((Feedback.rating == -1, 1))).label("down"),
        )
        .where(Feedback.created_at >= r.start, Feedback.created_at < r.end)
        .group_by(day)
        .order_by(day)
    )
    if r.bot_id is not None:
        query = (
            query.join(Message, Message.id == Feedback.message_id)
            .join(ChatSession, ChatSession.id == Message.session_id)
            .where(ChatSession.bot_id == r.bot_id)
        )
    return [
        {**row, "up_rate": row["up"] / (row["up"] + row["down"])}
        for row in _rows(await conn.execute(query))
    ]


async def sources(conn: AsyncConnection, r: ChartRange) -> list[dict[str, Any]]:
    """Per day: complete answers, and the share of them given no knowledge sources."""
    day = _day(conn, Message.created_at).label("day")
    none = func.count(case((no_citations(), 1)))
    query = (
        _messages(r, Message.role == "assistant", Message.status == "complete")
        .add_columns(
            day,
            func.count().label("answers"),
            none.label("no_sources"),
            (cast(none, Float) / func.count()).label("no_sources_share"),
        )
        .group_by(day)
        .order_by(day)
    )
    return _rows(await conn.execute(query))


async def declines(conn: AsyncConnection, r: ChartRange) -> list[dict[str, Any]]:
    """Per day: complete answers, those the answer policy declined (by reason), and their
    shares of the answers."""
    day = _day(conn, Message.created_at).label("day")
    answers = func.count()
    off_topic = func.count(case((Message.declined == "out_of_scope", 1)))
    unanswerable = func.count(case((Message.declined == "unanswerable", 1)))
    query = (
        _messages(r, Message.role == "assistant", Message.status == "complete")
        .add_columns(
            day,
            answers.label("answers"),
            off_topic.label("out_of_scope"),
            unanswerable.label("unanswerable"),
            (cast(off_topic + unanswerable, Float) / answers).label("declined_share"),
            (cast(off_topic, Float) / answers).label("out_of_scope_share"),
            (cast(unanswerable, Float) / answers).label("unanswerable_share"),
        )
        .group_by(day)
        .order_by(day)
    )
    return _rows(await conn.execute(query))


async def errors(conn: AsyncConnection, r: ChartRange) -> list[dict[str, Any]]:
    """Answers that ended with an error, by error code."""
    query = (
        _messages(r, and_(Message.role == "assistant", Message.error_code.is_not(None)))
        .add_columns(Message.error_code.label("code"), func.count().label("answers"))
        .group_by(Message.error_code)
        .order_by(func.count().desc())
    )
    return _rows(await conn.execute(query))


async def tools(conn: AsyncConnection, r: ChartRange) -> list[dict[str, Any]]:
    """Per tool: calls (flows' and main's), errors (a status other than `completed`), p50 and
    p95 time in ms; one pass over the range's flow runs."""
    calls = calls_made(conn, start=r.start, end=r.end, bot_id=r.bot_id).subquery()
    failed = case((calls.c.status != "completed", 1), else_=0)
    timed = select(calls.c.tool, calls.c.ms, failed.label("errors"))
    query = _percentiles(conn, timed, "tool", "ms", ("p50_ms", 50), ("p95_ms", 95), summed="errors")
    return [
        {
            "tool": row["tool"],
            "calls": row["count"],
            "errors": int(row["errors"]),
            "p50_ms": row["p50_ms"],
            "p95_ms": row["p95_ms"],
        }
        for row in _rows(await conn.execute(query))
    ]


async def tune(conn: AsyncConnection) -> None:
    """Settings for the chart queries, for the rest of the transaction."""
    if conn.dialect.name == "postgresql":  # JIT compiling costs more than these scans save
        await conn.execute(text("SET LOCAL jit = off"))
        await conn.execute(text("SET LOCAL work_mem = '32MB'"))  # aggregate in memory


Chart = Callable[[AsyncConnection, ChartRange], Awaitable[list[dict[str, Any]]]]
CHARTS: dict[str, Chart] = {
    "activity": activity,
    "latency": latency,
    "tokens": tokens,
    "flows": flows,
    "routes": routes,
    "feedback": feedback,
    "sources": sources,
    "declines": declines,
    "errors": errors,
    "tools": tools,
}
