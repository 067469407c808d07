"""INSERT … ON CONFLICT on SQLite and PostgreSQL alike.

SQLAlchemy's generic `insert()` has no conflict clause; each dialect's own `insert()` has one.
With DO NOTHING, a row that a concurrent transaction inserted first is left alone, without an
error (on PostgreSQL, RETURNING gives no row for it: select it afterwards).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection


def dialect_insert(conn: AsyncConnection, table: Any) -> postgresql.Insert | sqlite.Insert:
    """An INSERT into `table` in the connection's dialect, which has the ON CONFLICT clauses."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    return insert(table)


def insert_or_ignore(
    conn: AsyncConnection, table: Any, *, unique: Sequence[str] | None = None
) -> postgresql.Insert | sqlite.Insert:
    """An INSERT into `table` that skips a row conflicting with one already there: on the
    columns `unique` (a unique constraint) if given, else on any constraint."""
    return dialect_insert(conn, table).on_conflict_do_nothing(index_elements=unique)
