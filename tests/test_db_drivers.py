"""The database adapters: SQLite statements take one trip to aiosqlite's thread and behave as
through SQLAlchemy's own adapter (rows, rowcounts, generated ids, constraint errors, a closed
connection); PostgreSQL's pre-ping is the checkout's own BEGIN and still replaces a dead
connection."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosqlite
import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError

from chinwag.db.drivers import OneTripConnection, OneTripPingConnection
from chinwag.db.uow import Database

SCHEMA = (
    "CREATE TABLE parents (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE)",
    "CREATE TABLE children (id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL "
    "REFERENCES parents(id), name TEXT)",
)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database.from_url(f"sqlite+aiosqlite:///{tmp_path}/one-trip.db")
    async with database.write() as conn:
        for statement in SCHEMA:
            await conn.execute(text(statement))
    yield database
    await database.dispose()


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of each function run in aiosqlite's thread."""
    seen: list[str] = []
    run = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(getattr(fn, "__name__", repr(fn)))
        return await run(self, fn, *args, **kwargs)  # type: ignore[no-untyped-call]

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return seen


async def test_the_engines_use_the_adapters(database_url: str) -> None:
    db = Database.from_url(database_url)
    try:
        async with db.read() as conn:
            adapter = (await conn.get_raw_connection()).dbapi_connection
    finally:
        await db.dispose()
    expected = OneTripConnection if db.is_sqlite else OneTripPingConnection
    assert isinstance(adapter, expected)


async def test_a_postgres_checkout_pings_with_its_own_begin(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pool's pre-ping is the BEGIN of the checkout's transaction: no `SELECT 1`, no
    transaction of its own, and the transaction's statements follow in it."""
    if database_url.startswith("sqlite"):
        pytest.skip("the pre-ping is PostgreSQL's")
    calls: list[str] = []
    for name in ("execute", "fetchrow", "transaction", "prepare"):
        original = getattr(asyncpg.Connection, name)

        def counted(self: Any, *args: Any, _name: str = name, _f: Any = original, **kw: Any) -> Any:
            calls.append(f"{_name}{args[:1]}")
            return _f(self, *args, **kw)

        monkeypatch.setattr(asyncpg.Connection, name, counted)
    db = Database.from_url(database_url)
    try:
        async with db.read() as conn:  # the first checkout connects; the pool pings the next ones
            await conn.execute(text("SELECT 1"))
        calls.clear()
        async with db.write() as conn:
            backend = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar()
        async with db.connect():  # a checkout that runs nothing: its BEGIN is rolled back
            pass
        async with db.read() as conn:
            assert (await conn.execute(text("SELECT pg_backend_pid()"))).scalar() == backend
    finally:
        await db.dispose()
    # One BEGIN per checkout (the ping's), then its COMMIT, or a ROLLBACK if it ran nothing.
    assert [c for c in calls if c.startswith(("execute", "fetchrow"))] == [
        "execute('BEGIN;',)",
        "execute('COMMIT;',)",
        "execute('BEGIN;',)",
        "execute('ROLLBACK;',)",
        "execute('BEGIN;',)",
        "execute('COMMIT;',)",
    ]


async def test_a_postgres_connection_the_server_dropped_is_replaced(database_url: str) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("the pre-ping is PostgreSQL's")
    db = Database.from_url(database_url)
    try:
        async with db.connect() as first, db.connect() as second:
            dropped = (await first.execute(text("SELECT pg_backend_pid()"))).scalar()
            await first.commit()
            await second.execute(text("SELECT 1"))
        async with db.write() as conn:  # ends every other backend of this test's database
            await conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid != pg_backend_pid()"
                )
            )
        for _ in range(3):  # whichever pooled connection comes first works
            async with db.read() as conn:
                assert (await conn.execute(text("SELECT pg_backend_pid()"))).scalar() != dropped
    finally:
        await db.dispose()


async def test_a_select_is_one_trip_and_returns_its_rows(db: Database, trips: list[str]) -> None:
    async with db.write() as conn:
        await conn.execute(text("INSERT INTO parents (name) VALUES ('a'), ('b'), ('c')"))
    async with db.read() as conn:
        trips.clear()
        result = await conn.execute(text("SELECT id, name FROM parents ORDER BY id"))
        assert trips == ["_execute"]
        rows = result.all()
    assert [tuple(r) for r in rows] == [(1, "a"), (2, "b"), (3, "c")]
    assert list(result.keys()) == ["id", "name"]


async def test_a_transaction_is_a_trip_per_statement_and_no_more(
    db: Database, trips: list[str]
) -> None:
    async with db.write() as conn:
        await conn.execute(text("INSERT INTO parents (name) VALUES ('one')"))
    # BEGIN IMMEDIATE, the INSERT, COMMIT; the pool's rollback of a committed connection is
    # skipped.
    assert trips == ["_execute", "_execute", "commit"]


async def test_rowcounts_and_generated_ids(db: Database) -> None:
    async with db.write() as conn:
        inserted = await conn.execute(text("INSERT INTO parents (name) VALUES ('x')"))
        assert inserted.lastrowid == 1
        many = await conn.execute(
            text("INSERT INTO children (parent_id, name) VALUES (1, :name)"),
            [{"name": "p"}, {"name": "q"}, {"name": "r"}],
        )
        assert many.rowcount == 3
        updated = await conn.execute(text("UPDATE children SET name = 'z' WHERE name != 'p'"))
        assert updated.rowcount == 2
    async with db.read() as conn:
        names = (await conn.execute(text("SELECT name FROM children ORDER BY id"))).scalars()
        assert list(names) == ["p", "z", "z"]


async def test_constraint_errors_are_sqlalchemys_and_roll_back(db: Database) -> None:
    with pytest.raises(IntegrityError, match="FOREIGN KEY"):
        async with db.write() as conn:
            await conn.execute(text("INSERT INTO parents (name) VALUES ('kept only if committed')"))
            await conn.execute(text("INSERT INTO children (parent_id, name) VALUES (99, 'orphan')"))
    async with db.read() as conn:
        count = (await conn.execute(text("SELECT count(*) FROM parents"))).scalar()
    assert count == 0
    with pytest.raises(IntegrityError, match="UNIQUE"):
        async with db.write() as conn:
            await conn.execute(text("INSERT INTO parents (name) VALUES ('same'), ('same')"))


async def test_a_closed_connection_is_an_operational_error(db: Database) -> None:
    async with db.connect() as conn:
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection
        assert isinstance(driver, aiosqlite.Connection)
        await driver.close()
        with pytest.raises(OperationalError):
            await conn.execute(text("SELECT 1"))
        await conn.invalidate()
