"""Driver-level multi-row INSERT for the hot path (the stream event log).

SQLAlchemy's executemany builds a cache key, a parameter dict and bind-processes every row; the
event log writes tens of thousands of rows a second under load, so it hands the driver tuples
directly, using the same type conversions SQLAlchemy would have applied.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

Processor = Callable[[Any], Any] | None


@lru_cache(maxsize=32)
def _compiled(
    table: Table, columns: tuple[str, ...], dialect: Dialect, skip_existing: bool
) -> tuple[str, tuple[Processor, ...]]:
    style = dialect.paramstyle
    if style == "qmark":
        marks = ["?"] * len(columns)
    elif style == "numeric_dollar":
        marks = [f"${i}" for i in range(1, len(columns) + 1)]
    elif style == "format":
        marks = ["%s"] * len(columns)
    else:
        raise NotImplementedError(f"paramstyle {style!r} is not supported by insert_rows")
    preparer = dialect.identifier_preparer
    sql = (
        f"INSERT INTO {preparer.format_table(table)} "
        f"({', '.join(preparer.quote(c) for c in columns)}) VALUES ({', '.join(marks)})"
    )
    if skip_existing:  # SQLite and PostgreSQL spell it the same way
        sql += " ON CONFLICT DO NOTHING"
    processors = tuple(table.c[c].type.bind_processor(dialect) for c in columns)
    return sql, processors


async def insert_rows(
    conn: AsyncConnection,
    table: Table,
    columns: tuple[str, ...],
    rows: Sequence[tuple[Any, ...]],
    *,
    skip_existing: bool = False,
) -> None:
    """INSERT `rows` (tuples in `columns` order) with one driver executemany; with
    `skip_existing`, rows whose key is already there are left as they are."""
    sql, processors = _compiled(table, columns, conn.dialect, skip_existing)
    if any(processors):
        rows = [
            tuple(p(v) if p else v for p, v in zip(processors, row, strict=True)) for row in rows
        ]
    await conn.exec_driver_sql(sql, list(rows))
