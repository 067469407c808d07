"""Console analytics at 1,000,000 messages on PostgreSQL: how long each chart query takes.

    PYTHONPATH=src python bench/console_analytics_bench.py [--messages 1000000] [--days 90]

Creates its own database (chinwag_bench_console_<pid>) on CHINWAG_TEST_POSTGRES_DSN (default
postgresql://postgres@127.0.0.1:5432/test), migrates it, seeds two bots (90 % of the traffic
on one), sessions of four messages (question, answer, question, answer) spread over `--days`,
a `main` flow run per answer (plus `statistics` on 30 %, each calling the `stock` tool; `main`
calls a tool by function calling on 10 % of answers), 👍/👎 on 6 % of the answers, 2 % of
answers failed. Seeding uses COPY. Then every chart query runs 3 times per range (the last 30
days of one bot; all days of one bot; all days of every bot) and the median is printed: first
computed from the messages alone (chinwag.console.analytics), then after the fold job has
rolled up the closed days (chinwag.console.rollups, what GET /v1/analytics serves). The fold's
own time (the backfill after an upgrade) is printed too. The database is dropped at the end.
Not run in CI; about 3-5 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from result_files import copy_stdout_to, result_path

from chinwag.bots.demo import demo_bot_config
from chinwag.bots.service import put_bot
from chinwag.config.bot import RouterConfig
from chinwag.console import analytics, rollups
from chinwag.console.analytics import Chart, ChartRange, tune
from chinwag.db import migrate
from chinwag.db.uow import Database

DSN = os.environ.get("CHINWAG_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")
BOTS = ("shop", "helpdesk")
BATCH = 50_000


def _url(database: str, *, asyncpg_url: bool) -> str:
    base = DSN.rsplit("/", 1)[0]
    if asyncpg_url:
        base = base.replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{database}"


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(DSN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _rows(messages: int, days: int, end: datetime, rng: random.Random):  # type: ignore[no-untyped-def]
    """Yield (table, row) for users, sessions, messages, flow runs, feedback, in FK order."""
    sessions = messages // 4
    users = max(1, sessions // 5)
    user_ids = [[str(uuid.uuid4()) for _ in range(users // len(BOTS) + 1)] for _ in BOTS]
    for b, bot in enumerate(BOTS):
        for i, uid in enumerate(user_ids[b]):
            yield "end_users", (uid, bot, f"user-{b}-{i}", end - timedelta(days=days))
    span = days * 86_400
    for s in range(sessions):
        b = 0 if rng.random() < 0.9 else 1
        bot = BOTS[b]
        user = rng.choice(user_ids[b])
        sid = str(uuid.uuid4())
        start = end - timedelta(seconds=rng.random() * span)
        yield "chat_sessions", (sid, bot, user, f"s-{s}", 4, start, start + timedelta(seconds=90))
        for turn in range(2):
            at = start + timedelta(seconds=45 * turn)
            question_id, answer_id = str(uuid.uuid4()), str(uuid.uuid4())
            yield (
                "messages",
                (
                    question_id,
                    sid,
                    2 * turn + 1,
                    "user",
                    "When are you open?",
                    "complete",
                    None,
                    1,
                    None,
                    None,
                    None,
                    None,
                    None,
                    at,
                    at,
                ),
            )
            failed = rng.random() < 0.02
            ttft = rng.lognormvariate(5.5, 0.5)
            total = ttft + rng.lognormvariate(7, 0.4)
            chosen = ["statistics"] if rng.random() < 0.3 else []
            yield (
                "messages",
                (
                    answer_id,
                    sid,
                    2 * turn + 2,
                    "assistant",
                    "We open at ten.",
                    "failed" if failed else "complete",
                    question_id,
                    1,
                    json.dumps(
                        {
                            "prompt_tokens": rng.randint(80, 900),
                            "completion_tokens": rng.randint(10, 200),
                        }
                    ),
                    "llm_unavailable" if failed else None,
                    json.dumps({"strategy": "semantic", "flows": chosen, "scores": {}, "ms": 4.0}),
                    None if rng.random() < 0.4 else json.dumps([{"document": "hours.md"}]),
                    None if failed else ttft,
                    at,
                    at + timedelta(milliseconds=total),
                ),
            )
            for flow in ["main", *chosen]:
                tool, calls = _tool_records(flow, rng)
                yield (
                    "flow_runs",
                    (answer_id, bot, flow, "completed", None, rng.random() * 900, tool, calls, at),
                )
            if rng.random() < 0.06:
                yield (
                    "feedback",
                    (
                        str(uuid.uuid4()),
                        answer_id,
                        user,
                        1 if rng.random() < 0.7 else -1,
                        None,
                        at,
                        at,
                    ),
                )


def _call(tool: str, rng: random.Random) -> dict[str, object]:
    """A tool call as ToolOutcome.record keeps it: 3 % of them errors."""
    failed = rng.random() < 0.03
    return {
        "tool": tool,
        "status": "error" if failed else "completed",
        "code": "tool_timeout" if failed else None,
        "http_status": None if failed else 200,
        "ms": rng.lognormvariate(4, 0.6),
        "bytes": 120,
        "attempts": 1,
        "arguments": {"order": "10023"},
    }


def _tool_records(flow: str, rng: random.Random) -> tuple[str | None, str | None]:
    """`statistics` calls `stock` on each run (flow_runs.tool); `main` calls order_status by
    function calling on 10 % of answers, once or twice (flow_runs.tool_calls)."""
    if flow == "statistics":
        return json.dumps(_call("stock", rng)), None
    if rng.random() < 0.1:
        calls = [
            {**_call("order_status", rng), "step": 1, "call_id": f"call_0_{i}"}
            for i in range(rng.randint(1, 2))
        ]
        return None, json.dumps(calls)
    return None, None


COLUMNS = {
    "end_users": ("id", "bot_id", "external_id", "created_at"),
    "chat_sessions": (
        "id",
        "bot_id",
        "user_id",
        "external_id",
        "message_count",
        "created_at",
        "last_message_at",
    ),
    "messages": (
        "id",
        "session_id",
        "position",
        "role",
        "content",
        "status",
        "reply_to_id",
        "bot_version",
        "usage",
        "error_code",
        "route",
        "citations",
        "ttft_ms",
        "created_at",
        "finished_at",
    ),
    "flow_runs": (
        "message_id",
        "bot_id",
        "flow",
        "status",
        "score",
        "ms",
        "tool",
        "tool_calls",
        "created_at",
    ),
    "feedback": ("id", "message_id", "user_id", "rating", "comment", "created_at", "updated_at"),
}
ORDER = ("end_users", "chat_sessions", "messages", "flow_runs", "feedback")


async def seed(database: str, messages: int, days: int) -> None:
    conn = await asyncpg.connect(_url(database, asyncpg_url=False))
    try:
        buffers: dict[str, list[tuple[object, ...]]] = {t: [] for t in ORDER}

        async def flush(upto: int) -> None:  # parents first, so every FK holds
            for table in ORDER[: upto + 1]:
                if buffers[table]:
                    await conn.copy_records_to_table(
                        table, records=buffers[table], columns=COLUMNS[table]
                    )
                    buffers[table] = []

        end = datetime.now(UTC)
        for table, row in _rows(messages, days, end, random.Random(7)):
            buffers[table].append(row)
            if len(buffers[table]) >= BATCH:
                await flush(ORDER.index(table))
        await flush(len(ORDER) - 1)
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--keep", metavar="NAME", help="seed NAME once, reuse it, never drop it")
    parser.add_argument(
        "--out",
        type=Path,
        default=result_path("console-analytics", "md"),
        help="also write what is printed here; default bench/results/console-analytics-<stamp>.md",
    )
    args = parser.parse_args()
    copy_stdout_to(args.out)
    database = args.keep or f"chinwag_bench_console_{os.getpid()}"
    fresh = True
    try:
        await _admin(f'CREATE DATABASE "{database}"')
    except asyncpg.DuplicateDatabaseError:
        if not args.keep:
            raise
        fresh = False
    db = Database.from_url(_url(database, asyncpg_url=True))
    try:
        await migrate.upgrade(db)
        if fresh:
            await _seed_all(db, database, args.messages, args.days)
        print("\nfrom the messages alone:")
        await _time_charts(db, args.days, analytics.CHARTS)
        started = time.perf_counter()
        folded = await rollups.fold(db)
        print(f"\nfolded {folded} days in {time.perf_counter() - started:.1f} s")
        print("\nwith the daily rollups:")
        await _time_charts(db, args.days, rollups.CHARTS)
        await _same_numbers(db, args.days)
    finally:
        await db.dispose()
        if not args.keep:
            await _admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


async def _seed_all(db: Database, database: str, messages: int, days: int) -> None:
    """Two bots with the demo's `main` flow, then the rows (COPY)."""
    plain = demo_bot_config()
    plain = plain.model_copy(
        update={
            "flows": {"main": plain.flows["main"]},
            "router": RouterConfig(),
            "knowledge": None,
        }
    )
    async with db.write() as conn:
        for bot in BOTS:
            await put_bot(conn, plain.model_copy(update={"id": bot}))
    started = time.perf_counter()
    await seed(database, messages, days)
    print(f"seeded {messages:,} messages in {time.perf_counter() - started:.1f} s")


def _ranges(days: int) -> dict[str, ChartRange]:
    today = datetime.now(UTC).date()
    return {
        "shop, last 30 days": ChartRange(today - timedelta(days=29), today, "shop"),
        f"shop, all {days} days": ChartRange(today - timedelta(days=days), today, "shop"),
        f"every bot, all {days} days": ChartRange(today - timedelta(days=days), today),
    }


async def _same_numbers(db: Database, days: int) -> None:
    """The rolled-up charts give exactly the numbers computed from the messages."""
    for label, chart_range in _ranges(days).items():
        async with db.read() as conn:
            await tune(conn)
            for name in rollups.DAILY:
                live = await analytics.CHARTS[name](conn, chart_range)
                rolled = await rollups.CHARTS[name](conn, chart_range)
                assert live == rolled, f"{name}, {label}: the rollups differ from the messages"
    print("\nthe rolled-up charts equal the charts computed from the messages")


async def _time_charts(db: Database, days: int, charts: dict[str, Chart]) -> None:
    ranges = _ranges(days)
    print(f"\n| chart | {' | '.join(ranges)} |")
    print(f"|---|{'---:|' * len(ranges)}")
    for name, chart in charts.items():
        cells = []
        for chart_range in ranges.values():
            times = []
            for _ in range(3):
                async with db.read() as conn:
                    await tune(conn)
                    t = time.perf_counter()
                    await chart(conn, chart_range)
                    times.append((time.perf_counter() - t) * 1000)
            cells.append(f"{statistics.median(times):.0f} ms")
        print(f"| {name} | {' | '.join(cells)} |")


if __name__ == "__main__":
    asyncio.run(main())
