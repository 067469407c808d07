"""Async engines: SQLite with WAL, foreign keys and BEGIN IMMEDIATE writes; pooled PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool

from chinwag.db.drivers import one_trip_dbapi, one_trip_ping_dbapi

SQLITE_BUSY_TIMEOUT_MS = 30_000


def create_engine(
    database_url: str, *, pool_size: int = 10, idle_transaction_seconds: float | None = None
) -> AsyncEngine:
    """Build the engine for a URL; SQLite files get their directory created.

    On PostgreSQL, `idle_transaction_seconds` has the server end a session whose transaction
    waits that long for its next statement (its process is frozen), releasing its row locks."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(database_url)
    # asyncpg (the documented driver): the pool's pre-ping is the checkout's own BEGIN
    driver = {"module": one_trip_ping_dbapi()} if url.get_driver_name() == "asyncpg" else {}
    engine = create_async_engine(
        database_url,
        **driver,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
    )
    if idle_transaction_seconds is not None:
        _limit_idle_transactions(engine, idle_transaction_seconds)
    return engine


def _limit_idle_transactions(engine: AsyncEngine, seconds: float) -> None:
    """Set on each new session, not in the startup packet, which PgBouncer refuses."""
    statement = f"SET idle_in_transaction_session_timeout = {round(seconds * 1000)}"

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.run_async(lambda connection: connection.execute(statement))


def _sqlite_engine(database_url: str) -> AsyncEngine:
    url = make_url(database_url)
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(
        database_url,
        module=one_trip_dbapi(),  # one trip to the driver's thread per statement
        poolclass=AsyncAdaptedQueuePool,
        pool_size=5,
        max_overflow=5,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin (see "begin" below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A read transaction that later writes gets SQLITE_BUSY despite busy_timeout, so write
        # transactions take the write lock up front.
        if connection.get_execution_options().get("sqlite_write", False):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")

    return engine
