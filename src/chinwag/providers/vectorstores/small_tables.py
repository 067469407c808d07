"""Exact vector search over a small table held in memory.

LanceDB spends ~2.8 ms of CPU on any vector query, even over the 85 chunks of the demo's index,
where the arithmetic takes microseconds. A table of at most SMALL_TABLE_ROWS chunks is therefore
read once per table version and searched here: the same cosine similarity as LanceDB's flat
search (the tables this covers have no ANN index), the same filters, ~0.1 ms per search.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from chinwag.providers.vectorstores.base import Chunk, Filters, Hit, check_filters

# Bounds the memory a table takes here (~2 MB at 384 dimensions plus its texts) and the time one
# search takes on the event loop (~0.1 ms for the matrix-vector product).
SMALL_TABLE_ROWS = 2_000


@dataclass(frozen=True, slots=True)
class SmallTable:
    """One version of a table: its chunks and their unit vectors, row for row."""

    version: int
    chunks: list[Chunk]
    vectors: NDArray[np.float32]  # one row per chunk, the table's width (no rows: empty index)
    by_id: dict[str, Chunk]  # the same chunks by id: keyword search asks LanceDB for ids only

    @property
    def dimension(self) -> int:
        return int(self.vectors.shape[1])

    @classmethod
    def of(cls, version: int, rows: pa.Table, chunk: Any) -> SmallTable:
        """From every row of the table (its chunk fields and `vector`); `chunk` makes a Chunk of
        a row's fields. Blocking (a few ms per thousand rows): run it beside the event loop."""
        dimension = rows.schema.field("vector").type.list_size
        vectors = rows.column("vector").combine_chunks().flatten().to_numpy()
        matrix = np.asarray(vectors, dtype=np.float32).reshape(rows.num_rows, dimension)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        unit = matrix / np.maximum(norms, 1e-12)
        chunks = [chunk(r) for r in rows.drop_columns(["vector"]).to_pylist()]
        return cls(version, chunks, unit, {c.id: c for c in chunks})

    def search(self, vector: NDArray[np.float32], top_k: int, filters: Filters) -> list[Hit]:
        """The `top_k` chunks most similar to `vector` (cosine) among those the filters keep."""
        check_filters(filters)
        query = vector.astype(np.float32, copy=False).reshape(-1)
        scores = self.vectors @ (query / max(float(np.linalg.norm(query)), 1e-12))
        if filters:
            keep = np.fromiter((_matches(c, filters) for c in self.chunks), bool, len(self.chunks))
            scores = np.where(keep, scores, -np.inf)
        count = min(top_k, int(np.isfinite(scores).sum()))
        if count <= 0:
            return []
        best = np.argpartition(-scores, count - 1)[:count]
        best = best[np.argsort(-scores[best], kind="stable")]
        return [Hit(self.chunks[i], float(scores[i])) for i in best]


def _matches(chunk: Chunk, filters: Filters) -> bool:
    """As the stores' filters: `tag` is one of the chunk's tags, any other key equals a field."""
    for key, value in filters.items():
        if key == "tag":
            if str(value) not in chunk.tags:
                return False
        elif getattr(chunk, key) != value:
            return False
    return True
