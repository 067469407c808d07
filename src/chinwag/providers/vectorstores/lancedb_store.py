"""The embedded default: one LanceDB table per index, on disk, with a full-text (BM25) index.

LanceDB's async API runs on its own Rust runtime, so no call here blocks the event loop.
Each add or delete is one atomic commit (a new table version): a document being replaced is
briefly visible twice (new chunks written before the old are deleted), never missing.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from chinwag.errors import ChinwagError, KnowledgeIndexExists
from chinwag.providers.vectorstores.base import (
    CHUNK_FIELDS,
    Chunk,
    Document,
    Filters,
    Hit,
    IndexInfo,
    check_filters,
    dimension_mismatch,
    index_not_found,
    tally,
)
from chinwag.providers.vectorstores.small_tables import SMALL_TABLE_ROWS, SmallTable

# How stale a served table may be after another process (`chinwag ingest`) wrote to it.
READ_CONSISTENCY_SECONDS = 2.0
ANN_THRESHOLD = 50_000  # below this many chunks an exact (flat) vector search is fast enough


def _schema(dimension: int) -> pa.Schema:
    return pa.schema(
        [
            ("id", pa.string()),
            ("source", pa.string()),
            ("checksum", pa.string()),
            ("position", pa.int32()),
            ("text", pa.string()),
            ("title", pa.string()),
            ("page", pa.int32()),
            ("row", pa.int32()),
            ("tags", pa.list_(pa.string())),
            ("url", pa.string()),
            ("added_at", pa.string()),
            ("vector", pa.list_(pa.float32(), dimension)),
        ]
    )


def _quote(value: str | int) -> str:
    if isinstance(value, int):
        return str(value)
    return "'" + value.replace("'", "''") + "'"


def _where(filters: Filters) -> str | None:
    check_filters(filters)
    parts = []
    for key, value in sorted(filters.items()):
        if key == "tag":
            parts.append(f"array_has(tags, {_quote(str(value))})")
        else:
            parts.append(f"{key} = {_quote(value)}")
    return " AND ".join(parts) or None


class LanceDBStore:
    """Indexes as LanceDB tables under one directory (`<data_dir>/lancedb`)."""

    name = "lancedb"
    keyword_search = True

    def __init__(self, path: Path | str) -> None:
        self._path = str(path)
        self._db: Any = None
        self._tables: dict[str, Any] = {}
        # Per index, for the table object it was read from (a dropped and re-created index is
        # a new object, whose versions start again): its rows in memory for vector search
        # (small_tables.py), or the version at which it was counted too large.
        self._small: dict[str, tuple[Any, SmallTable | int]] = {}

    async def _connect(self) -> Any:
        if self._db is None:
            # The first import takes seconds (LanceDB's generated REST client): beside the loop.
            lancedb = await asyncio.to_thread(importlib.import_module, "lancedb")
            self._db = await lancedb.connect_async(
                self._path, read_consistency_interval=timedelta(seconds=READ_CONSISTENCY_SECONDS)
            )
        return self._db

    async def _table(self, index: str) -> Any:
        table = self._tables.get(index)
        if table is None:
            db = await self._connect()
            if index not in await self._names():
                raise index_not_found(self.name, index)
            table = await db.open_table(index)
            names = (await table.schema()).names
            for column in ("url", "added_at"):  # an index made before chunks had them
                if column not in names:
                    await table.add_columns({column: "CAST(NULL AS STRING)"})
            self._tables[index] = table
        return table

    @asynccontextmanager
    async def _using(self, index: str) -> AsyncIterator[None]:
        """Turn a failure on an index that has since been dropped (by another process, whose
        drop this process's cached table cannot see) into KnowledgeIndexNotFound."""
        try:
            yield
        except ChinwagError:
            raise
        except Exception as exc:
            if index in await self._names():
                raise
            self._tables.pop(index, None)
            raise index_not_found(self.name, index) from exc

    async def _names(self) -> set[str]:
        db = await self._connect()
        names: set[str] = set()
        page_token: str | None = None
        while True:
            page = await db.list_tables(page_token=page_token)
            names.update(page.tables)
            page_token = page.page_token
            if not page_token:
                return names

    async def create(self, index: str, dimension: int) -> None:
        from lancedb.index import FTS

        db = await self._connect()
        if index in await self._names():
            raise KnowledgeIndexExists(f"index '{index}' already exists in {self.name}")
        table = await db.create_table(index, schema=_schema(dimension))
        await table.create_index("text", config=FTS(with_position=False))
        self._tables[index] = table

    async def info(self, index: str) -> IndexInfo:
        if index not in await self._names():
            self._tables.pop(index, None)
            return IndexInfo(self.name, index, exists=False)
        table = await self._table(index)
        return IndexInfo(
            self.name,
            index,
            exists=True,
            dimension=await self._dimension(table),
            count=await table.count_rows(),
        )

    async def drop(self, index: str) -> None:
        if index not in await self._names():
            raise index_not_found(self.name, index)
        self._tables.pop(index, None)
        await (await self._connect()).drop_table(index)

    async def upsert(
        self, index: str, chunks: Sequence[Chunk], vectors: NDArray[np.float32]
    ) -> None:
        async with self._using(index):
            table = await self._table(index)
            dimension = await self._dimension(table)
            if vectors.shape[1] != dimension:
                raise dimension_mismatch(self.name, index, dimension, int(vectors.shape[1]))
            if not chunks:
                return
            columns: dict[str, list[Any]] = {name: [] for name in CHUNK_FIELDS}
            for c in chunks:
                for name in CHUNK_FIELDS:
                    value = getattr(c, name)
                    columns[name].append(list(value) if name == "tags" else value)
            flat = pa.array(np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1))
            data = pa.table(
                {
                    **columns,
                    "vector": pa.FixedSizeListArray.from_arrays(flat, dimension),
                },
                schema=_schema(dimension),
            )
            await (
                table.merge_insert("id")
                .when_matched_update_all()
                .when_not_matched_insert_all()
                .execute(data)
            )

    async def delete_document(self, index: str, source: str, *, keep: str | None = None) -> None:
        async with self._using(index):
            table = await self._table(index)
            where = f"source = {_quote(source)}"
            if keep is not None:
                where += f" AND checksum != {_quote(keep)}"
            await table.delete(where)

    async def documents(self, index: str) -> dict[str, Document]:
        async with self._using(index):
            table = await self._table(index)
            rows = await table.query().select(["source", "checksum", "added_at"]).to_arrow()
            return tally(
                zip(
                    rows["source"].to_pylist(),
                    rows["checksum"].to_pylist(),
                    rows["added_at"].to_pylist(),
                    strict=True,
                )
            )

    async def search_vector(
        self, index: str, vector: NDArray[np.float32], top_k: int, filters: Filters
    ) -> list[Hit]:
        async with self._using(index):
            table = await self._table(index)
            small = await self._small_table(index, table)
            dimension = small.dimension if small is not None else await self._dimension(table)
            if vector.shape[-1] != dimension:
                raise dimension_mismatch(self.name, index, dimension, int(vector.shape[-1]))
            if small is not None:
                return small.search(vector, top_k, filters)
            query = (
                table.query()
                .nearest_to(vector)
                .distance_type("cosine")
                .select([*CHUNK_FIELDS, "_distance"])
            )
            where = _where(filters)
            if where:
                query = query.where(where)
            rows = (await query.limit(top_k).to_arrow()).to_pylist()
            return [Hit(_chunk(r), 1.0 - float(r["_distance"])) for r in rows]

    async def _small_table(self, index: str, table: Any) -> SmallTable | None:
        """The table's rows in memory if it has at most SMALL_TABLE_ROWS, read again when its
        version changed (a write by this process; other processes' writes are seen as LanceDB
        sees them)."""
        version = await table.version()
        read_from, known = self._small.get(index, (None, None))
        if read_from is table and isinstance(known, SmallTable) and known.version == version:
            return known
        if read_from is table and known == version:
            return None
        if await table.count_rows() > SMALL_TABLE_ROWS:
            self._small[index] = (table, version)
            return None
        rows = await table.query().select([*CHUNK_FIELDS, "vector"]).to_arrow()
        small = await asyncio.to_thread(SmallTable.of, version, rows, _chunk)
        self._small[index] = (table, small)
        return small

    async def search_keyword(
        self, index: str, text: str, top_k: int, filters: Filters
    ) -> list[Hit]:
        async with self._using(index):
            table = await self._table(index)
            small = await self._small_table(index, table)
            if small is not None:
                # LanceDB ranks; the chunks come from memory: reading their columns out of the
                # table took ~40 % of a keyword query's CPU on the demo's index (measured).
                rows = await self._keyword_rows(table, text, top_k, filters, ["id", "_score"])
                hits = [(small.by_id.get(r["id"]), float(r["_score"])) for r in rows]
                if all(chunk is not None for chunk, _ in hits):
                    return [Hit(chunk, score) for chunk, score in hits if chunk is not None]
                # written meanwhile (by another process): read the chunks from the table
            rows = await self._keyword_rows(table, text, top_k, filters, [*CHUNK_FIELDS, "_score"])
            return [Hit(_chunk(r), float(r["_score"])) for r in rows]

    @staticmethod
    async def _keyword_rows(
        table: Any, text: str, top_k: int, filters: Filters, columns: list[str]
    ) -> list[dict[str, Any]]:
        query = table.query().nearest_to_text(text).select(columns)
        where = _where(filters)
        if where:
            query = query.where(where)
        rows: list[dict[str, Any]] = (await query.limit(top_k).to_arrow()).to_pylist()
        return rows

    async def optimize(self, index: str) -> None:
        """Fold new rows into the full-text index; build a vector (ANN) index on large tables."""
        async with self._using(index):
            table = await self._table(index)
            await table.optimize()
            count = await table.count_rows()
            indices = {i.name for i in await table.list_indices()}
            if count >= ANN_THRESHOLD and "vector_idx" not in indices:
                from lancedb.index import IvfPq

                await table.create_index(
                    "vector",
                    config=IvfPq(distance_type="cosine", num_partitions=max(count // 4096, 1)),
                )

    async def aclose(self) -> None:
        self._tables.clear()
        self._small.clear()
        self._db = None

    @staticmethod
    async def _dimension(table: Any) -> int:
        return int((await table.schema()).field("vector").type.list_size)


def _chunk(row: dict[str, Any]) -> Chunk:
    return Chunk(
        id=row["id"],
        source=row["source"],
        checksum=row["checksum"],
        position=row["position"],
        text=row["text"],
        title=row["title"],
        page=row["page"],
        row=row["row"],
        tags=tuple(row["tags"] or ()),
        url=row.get("url"),
        added_at=row.get("added_at"),
    )
