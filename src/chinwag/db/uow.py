"""The unit of work: the only code that begins and commits transactions.

Services receive an `AsyncConnection` and never commit. `Database.write()` opens one write
transaction (BEGIN IMMEDIATE on SQLite, serialised in-process so SQLite's single writer never
reports "database is locked"); `Database.read()` opens a read transaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from chinwag.db.engine import create_engine
from chinwag.errors import DatabaseUnavailable


class Database:
    """An engine plus the rules for using it."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.is_sqlite = engine.dialect.name == "sqlite"
        self._sqlite_writer = asyncio.Lock() if self.is_sqlite else None

    @classmethod
    def from_url(
        cls, url: str, *, pool_size: int = 10, idle_transaction_seconds: float | None = None
    ) -> Database:
        engine = create_engine(
            url, pool_size=pool_size, idle_transaction_seconds=idle_transaction_seconds
        )
        return cls(engine)

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """One write transaction: commits when the block ends, rolls back if it raises."""
        if self._sqlite_writer is None:
            async with self.connect() as conn, conn.begin():
                yield conn
            return
        async with self._sqlite_writer, self.connect(sqlite_write=True) as conn, conn.begin():
            yield conn

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """One read-only transaction."""
        async with self.connect() as conn, conn.begin():
            yield conn

    @asynccontextmanager
    async def connect(self, *, sqlite_write: bool = False) -> AsyncIterator[AsyncConnection]:
        """A connection without a transaction; DatabaseUnavailable if none can be opened, or
        if the connection is lost while the block uses it (the server went away mid-query),
        so that callers meet one error with a code, not a driver's exception."""
        try:
            conn = await self.engine.connect()
        except (OperationalError, DBAPIError, OSError) as exc:
            raise DatabaseUnavailable(f"cannot connect to the database: {exc}") from exc
        try:
            if sqlite_write:
                await conn.execution_options(sqlite_write=True)
            yield conn
        except DBAPIError as exc:
            if exc.connection_invalidated:
                raise DatabaseUnavailable(
                    f"lost the connection to the database: {exc.orig or exc}"
                ) from exc
            raise
        finally:
            await conn.close()

    async def dispose(self) -> None:
        await self.engine.dispose()
