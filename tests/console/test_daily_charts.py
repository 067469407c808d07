"""The per-day charts of closed days come from their daily rollups with the numbers the messages
give: after an upgrade (backfill), after an erasure, and never for a day still being answered."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, insert, select, update

from chinwag.bots.service import put_bot
from chinwag.console import analytics, rollups
from chinwag.console.analytics import ChartRange
from chinwag.conversations.erase import erase_user
from chinwag.conversations.models import (
    EVERY_BOT,
    ChatSession,
    DailyCharts,
    EndUser,
    Message,
)
from chinwag.db import migrate
from chinwag.db.uow import Database
from tests.conftest import POSTGRES_ADMIN_DSN, _admin, _asyncpg_url, plain_demo_bot

NOW = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
TODAY = NOW.date()
BOTS = ("vinhuset", "bokhandel")
DAYS = 4  # days before today with messages, plus today


@pytest.fixture(params=["sqlite", "postgres"])
async def db_0009(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A database at revision 0009 (before daily charts), as an existing installation has."""
    if request.param == "sqlite":
        db = Database.from_url(f"sqlite+aiosqlite:///{tmp_path}/chinwag.db")
        await migrate.upgrade(db, "0009")
        yield db
        await db.dispose()
        return
    name = f"chinwag_t_{uuid.uuid4().hex[:12]}"
    await _admin(f'CREATE DATABASE "{name}"')
    db = Database.from_url(_asyncpg_url(POSTGRES_ADMIN_DSN, name))
    try:
        await migrate.upgrade(db, "0009")
        yield db
    finally:
        await db.dispose()
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _seed(db: Database) -> None:
    """Both bots: a few conversations a day, answers with TTFT, usage, sources or none, and a
    failed one, from DAYS days ago to today."""
    rng = random.Random(12)
    async with db.write() as conn:
        for bot in BOTS:
            await put_bot(conn, plain_demo_bot().model_copy(update={"id": bot}))
            await conn.execute(
                insert(EndUser).values(
                    [
                        dict(id=f"{bot}-u{i}", bot_id=bot, external_id=f"u{i}", created_at=NOW)
                        for i in range(3)
                    ]
                )
            )
        for back in range(DAYS, -1, -1):
            for n in range(3 + back):
                bot = BOTS[n % 2]
                at = NOW - timedelta(days=back, hours=n)
                user = f"{bot}-u{n % 3}"
                session = str(uuid.uuid4())
                await conn.execute(
                    insert(ChatSession).values(
                        id=session,
                        bot_id=bot,
                        user_id=user,
                        external_id=session,
                        message_count=2,
                        created_at=at,
                        last_message_at=at,
                    )
                )
                question = str(uuid.uuid4())
                failed = n == 2
                await conn.execute(
                    insert(Message).values(
                        id=question,
                        session_id=session,
                        position=1,
                        role="user",
                        content="Any Riesling?",
                        status="complete",
                        created_at=at,
                    )
                )
                await conn.execute(
                    insert(Message).values(
                        id=str(uuid.uuid4()),
                        session_id=session,
                        position=2,
                        role="assistant",
                        content="" if failed else "Yes.",
                        status="failed" if failed else "complete",
                        reply_to_id=question,
                        error_code="llm_unavailable" if failed else None,
                        usage=None
                        if failed
                        else {"prompt_tokens": 40 + n, "completion_tokens": 9 + back},
                        route={"strategy": "all", "flows": []},
                        citations=[{"document": "a.md"}] if n % 3 == 0 else None,
                        ttft_ms=None if failed else rng.uniform(50, 900),
                        created_at=at + timedelta(milliseconds=5),
                        finished_at=at + timedelta(seconds=rng.uniform(0.5, 4)),
                    )
                )


RANGES = [
    ChartRange(TODAY - timedelta(days=30), TODAY),
    ChartRange(TODAY - timedelta(days=30), TODAY, "vinhuset"),
    ChartRange(TODAY - timedelta(days=2), TODAY - timedelta(days=1), "bokhandel"),
]


async def _charts(db: Database, charts: dict[str, analytics.Chart]) -> list[Any]:
    async with db.read() as conn:
        return [{n: await c(conn, r) for n, c in charts.items()} for r in RANGES]


async def _folded(db: Database) -> dict[tuple[str, date], bool]:
    async with db.read() as conn:
        rows = await conn.execute(select(DailyCharts.scope, DailyCharts.day, DailyCharts.stale))
        return {(scope, day): stale for scope, day, stale in rows}


async def test_an_upgraded_database_backfills_its_days_with_the_same_numbers(
    db_0009: Database,
) -> None:
    await _seed(db_0009)
    assert await migrate.upgrade(db_0009) == ("0009", migrate.head_revision())
    live = await _charts(db_0009, analytics.CHARTS)
    assert live[0]["activity"] and live[0]["latency"] and live[0]["tokens"]
    assert await _charts(db_0009, rollups.CHARTS) == live  # nothing folded yet: all live

    written = await rollups.fold(db_0009, now=NOW)

    folded = await _folded(db_0009)
    assert written == DAYS * (len(BOTS) + 1) == len(folded)
    assert {day for _, day in folded} == {TODAY - timedelta(days=d) for d in range(1, DAYS + 1)}
    assert not any(folded.values())
    assert await _charts(db_0009, rollups.CHARTS) == live
    assert await rollups.fold(db_0009, now=NOW) == 0  # nothing left to fold


async def test_erasing_a_user_takes_their_messages_out_of_the_charts_at_once(
    db_0009: Database,
) -> None:
    await migrate.upgrade(db_0009)
    await _seed(db_0009)
    await rollups.fold(db_0009, now=NOW)
    before = await _charts(db_0009, rollups.CHARTS)

    async with db_0009.write() as conn:
        await erase_user(conn, "vinhuset-u0")

    stale = {key for key, is_stale in (await _folded(db_0009)).items() if is_stale}
    assert ("vinhuset", TODAY - timedelta(days=1)) in stale
    assert ("bokhandel", TODAY - timedelta(days=1)) not in stale
    assert (EVERY_BOT, TODAY - timedelta(days=1)) in stale
    after = await _charts(db_0009, rollups.CHARTS)
    assert after == await _charts(db_0009, analytics.CHARTS) != before
    closed = {(scope, day) for scope, day in stale if day < TODAY}  # today is never folded
    assert await rollups.fold(db_0009, now=NOW) == len(closed)
    stale_now = {key for key, is_stale in (await _folded(db_0009)).items() if is_stale}
    assert stale_now == stale - closed
    assert await _charts(db_0009, rollups.CHARTS) == after


async def test_a_day_with_an_answer_still_streaming_is_not_folded(db_0009: Database) -> None:
    await migrate.upgrade(db_0009)
    await _seed(db_0009)
    yesterday = TODAY - timedelta(days=1)
    start = datetime.combine(yesterday, datetime.min.time(), UTC)
    async with db_0009.write() as conn:
        await conn.execute(
            update(Message)
            .where(
                Message.role == "assistant",
                Message.created_at >= start,
                Message.created_at < start + timedelta(days=1),
            )
            .values(status="streaming")
        )
    await rollups.fold(db_0009, now=NOW)
    assert all(day != yesterday for _, day in await _folded(db_0009))
    live = await _charts(db_0009, analytics.CHARTS)
    assert await _charts(db_0009, rollups.CHARTS) == live


async def test_a_fold_computed_before_a_deletion_is_not_written_after_it(
    db_0009: Database,
) -> None:
    """The fold reads a day's generation before computing it; an erasure that commits in
    between (marking the day stale, inserting the row if there was none) wins."""
    await migrate.upgrade(db_0009)
    await _seed(db_0009)
    yesterday, before = TODAY - timedelta(days=1), TODAY - timedelta(days=2)
    await rollups.fold(db_0009, now=NOW)
    async with db_0009.write() as conn:  # yesterday: folded (generation 0); the day before: not
        await conn.execute(delete(DailyCharts).where(DailyCharts.day == before))
        await erase_user(conn, "vinhuset-u0")
    days = ChartRange(before, yesterday, "vinhuset")
    assert await rollups.fold_days(db_0009, days, {yesterday: 0}) == 0
    folded = await _folded(db_0009)
    assert folded[("vinhuset", yesterday)] and folded[("vinhuset", before)]  # still stale
    assert await _charts(db_0009, rollups.CHARTS) == await _charts(db_0009, analytics.CHARTS)


async def _decline_some(db: Database) -> None:
    """Every third answer declined as out of scope, every fifth as unanswerable."""
    async with db.write() as conn:
        answers = (
            await conn.execute(
                select(Message.id)
                .where(Message.role == "assistant", Message.status == "complete")
                .order_by(Message.created_at)
            )
        ).scalars()
        for n, message_id in enumerate(list(answers)):
            reason = "out_of_scope" if n % 3 == 0 else "unanswerable" if n % 5 == 0 else None
            if reason is not None:
                await conn.execute(
                    update(Message).where(Message.id == message_id).values(declined=reason)
                )


async def test_days_folded_before_the_declines_chart_are_folded_again_with_it(
    db_0009: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Upgrading to 0011 marks the folded days stale (the declines chart is computed from the
    messages until the next fold); a folded day that lacks a chart is never read as empty."""
    await migrate.upgrade(db_0009, "0010")
    await _seed(db_0009)
    with monkeypatch.context() as before_0011:  # the fold of the version before declines
        before_0011.setattr(rollups, "DAILY", ("activity", "latency", "tokens", "sources"))
        written = await rollups.fold(db_0009, now=NOW)
    assert written == DAYS * (len(BOTS) + 1)
    async with db_0009.read() as conn:
        old = {
            (s, d): g
            for s, d, g in await conn.execute(
                select(DailyCharts.scope, DailyCharts.day, DailyCharts.generation)
            )
        }

    assert await migrate.upgrade(db_0009) == ("0010", migrate.head_revision())
    async with db_0009.read() as conn:
        upgraded = {
            (s, d): (stale, g)
            for s, d, stale, g in await conn.execute(
                select(
                    DailyCharts.scope, DailyCharts.day, DailyCharts.stale, DailyCharts.generation
                )
            )
        }
    assert upgraded == {key: (True, generation + 1) for key, generation in old.items()}
    await _decline_some(db_0009)
    live = await _charts(db_0009, analytics.CHARTS)
    assert sum(row["out_of_scope"] for row in live[0]["declines"]) > 0
    assert sum(row["unanswerable"] for row in live[0]["declines"]) > 0
    assert await _charts(db_0009, rollups.CHARTS) == live

    assert await rollups.fold(db_0009, now=NOW) == len(old)
    assert await _charts(db_0009, rollups.CHARTS) == live
    async with db_0009.write() as conn:  # a day folded by an older version, not made stale
        charts = await conn.scalar(
            select(DailyCharts.charts).where(
                DailyCharts.scope == EVERY_BOT, DailyCharts.day == TODAY - timedelta(days=1)
            )
        )
        assert charts["declines"] is not None
        await conn.execute(
            update(DailyCharts)
            .where(DailyCharts.scope == EVERY_BOT, DailyCharts.day == TODAY - timedelta(days=1))
            .values(charts={k: v for k, v in charts.items() if k != "declines"})
        )
    assert await _charts(db_0009, rollups.CHARTS) == live
