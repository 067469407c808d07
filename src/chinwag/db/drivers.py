"""The DBAPI adapters SQLAlchemy's async dialects are given (`module=`): fewer round trips.

SQLite: one trip to aiosqlite's thread per statement instead of three or four. SQLAlchemy's
aiosqlite adapter opens a cursor, executes, fetches and closes it as separate
calls, each a round trip to the thread that owns the sqlite3 connection (a queue put, a thread
wake-up, a callback into the event loop: ~50 us of CPU each). Here a statement is one function
run in that thread: execute, read the description, fetch every row, close. The rows are held
as the adapter holds them (SQLAlchemy's async cursors are buffered anyway), so results,
rowcounts and errors are the same; only the round trips go.

It relies on aiosqlite's `Connection._execute` (run a function in the connection's thread), as
SQLAlchemy's own adapter relies on its queue; pyproject.toml keeps aiosqlite below its next
minor version, and tests/test_db_drivers.py fails if that method goes away.

PostgreSQL: the pool's pre-ping is the BEGIN the checkout sends anyway (see OneTripPingConnection).
"""

from __future__ import annotations

import collections
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiosqlite
from sqlalchemy.dialects.postgresql.asyncpg import (
    AsyncAdapt_asyncpg_connection,
    AsyncAdapt_asyncpg_dbapi,
)
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util.concurrency import await_


@dataclass(frozen=True, slots=True)
class _Executed:
    """What a DBAPI cursor reports after a statement, read in the connection's thread."""

    description: Any = None
    rowcount: int = -1
    lastrowid: int | None = None
    arraysize: int = 1

    def close(self) -> None:
        """Closed already, in the connection's thread."""


def _execute(
    conn: sqlite3.Connection, operation: str, parameters: Any, many: bool
) -> tuple[_Executed, list[Any]]:
    cursor = conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        rows = cursor.fetchall() if cursor.description else []
        return _Executed(cursor.description, cursor.rowcount, cursor.lastrowid), rows
    finally:
        cursor.close()


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """A buffered cursor whose every statement is one call into aiosqlite's thread."""

    __slots__ = ()
    _awaitable_cursor_close = False

    def _make_new_cursor(self, connection: Any) -> Any:
        return _Executed()

    def _aenter_cursor(self, cursor: Any) -> Any:
        return cursor

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        await self._run(operation, parameters, many=False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Sequence[Any]) -> Any:
        await self._run(operation, seq_of_parameters, many=True)

    async def _run(self, operation: str, parameters: Any, *, many: bool) -> None:
        connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        async with self._adapt_connection._execute_mutex:
            executed, rows = await connection._execute(  # type: ignore[no-untyped-call]
                _execute, connection._conn, operation, parameters, many
            )
        self._cursor = executed
        self._rows = collections.deque(rows)


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = OneTripCursor

    def rollback(self) -> None:
        # The pool rolls back every connection it takes back; after a commit there is nothing
        # to roll back, and asking costs a trip (`in_transaction` is read without one).
        connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        if connection._connection is not None and connection.in_transaction:
            super().rollback()


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """The DBAPI module handed to SQLAlchemy's aiosqlite dialect (`module=`)."""

    def connect(self, *arg: Any, **kw: Any) -> OneTripConnection:
        adapted = super().connect(*arg, **kw)
        return OneTripConnection(self, adapted._connection)


def one_trip_dbapi() -> OneTripDBAPI:
    return OneTripDBAPI(aiosqlite, sqlite3)


class OneTripPingConnection(AsyncAdapt_asyncpg_connection):
    """An asyncpg connection whose pre-ping (at every checkout from the pool) is the BEGIN of the
    transaction the checkout is for: no round trip and no transaction of its own.

    SQLAlchemy pings with BEGIN, `;` as a prepared statement, then ROLLBACK (three round trips,
    and PostgreSQL counts a transaction), and the checkout's own transaction then sends its
    BEGIN with its first statement. Here the ping sends that BEGIN: a dead connection fails it
    (the pool replaces the connection and, after a restart, every pooled one, as before), a live
    one is left in the transaction its first statement would have begun. Every checkout runs a
    transaction (`Database.read` / `write`); one that runs nothing is rolled back at check-in,
    and setting an isolation level rolls back first, as without a ping. In autocommit mode the
    ping is one `SELECT 1` in the simple protocol (no prepared statement, so pgbouncer's
    transaction mode needs no transaction around it).
    """

    __slots__ = ()

    async def _async_ping(self) -> None:
        if self._transaction is None and self.isolation_level != "autocommit":
            await self._start_transaction()  # type: ignore[no-untyped-call]
            return
        connection: Any = self._connection  # an asyncpg.Connection
        await connection.execute("SELECT 1")


class OneTripPingDBAPI(AsyncAdapt_asyncpg_dbapi):
    """The DBAPI module handed to SQLAlchemy's asyncpg dialect (`module=`)."""

    def connect(self, *arg: Any, **kw: Any) -> OneTripPingConnection:
        creator = kw.pop("async_creator_fn", self.asyncpg.connect)
        options = {
            "prepared_statement_cache_size": kw.pop("prepared_statement_cache_size", 100),
            "prepared_statement_name_func": kw.pop("prepared_statement_name_func", None),
        }
        return await_(OneTripPingConnection.create(self, creator(*arg, **kw), **options))


def one_trip_ping_dbapi() -> OneTripPingDBAPI:
    import asyncpg  # type: ignore[import-untyped]  # here: a server on SQLite never loads it

    return OneTripPingDBAPI(asyncpg)  # type: ignore[no-untyped-call]
