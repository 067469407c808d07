"""Qdrant: a server URL in production, local mode (a directory or memory) for one machine.

Each index is a collection with a named dense vector (`dense`, cosine) and a sparse BM25 vector
(`text`, IDF computed by Qdrant) for keyword search. qdrant-client's calls block, so they run on
one dedicated thread (local mode is not thread-safe). Each upsert or delete request is atomic
in Qdrant; a replaced document is briefly present twice, never missing.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from chinwag.errors import ChinwagError, KnowledgeIndexExists, KnowledgeStoreUnavailable
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
from chinwag.providers.vectorstores.sparse import document_vector, query_vector

T = TypeVar("T")
DENSE, SPARSE = "dense", "text"
UPSERT_BATCH = 256


class QdrantStore:
    name = "qdrant"
    keyword_search = True

    def __init__(
        self,
        *,
        url: str | None = None,
        api_key: str | None = None,
        path: Path | str | None = None,
        location: str | None = None,
    ) -> None:
        self._options: dict[str, Any] = (
            {"url": url, "api_key": api_key}
            if url
            else {"path": str(path)}
            if path is not None
            else {"location": location or ":memory:"}
        )
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="chinwag-qdrant")
        self._client: Any = None

    async def _run(self, index: str, work: Callable[[Any], T]) -> T:
        def call() -> T:
            if self._client is None:
                from qdrant_client import QdrantClient

                self._client = QdrantClient(**self._options)
            return work(self._client)

        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, call)
        except ChinwagError:
            raise
        except Exception as exc:
            if getattr(exc, "status_code", None) == 404 or "not found" in str(exc).lower():
                raise index_not_found(self.name, index) from exc
            raise KnowledgeStoreUnavailable(
                f"qdrant failed on index '{index}': {type(exc).__name__}: {exc}"
            ) from exc

    def _require(self, client: Any, index: str) -> int:
        """The index's dimension; KnowledgeIndexNotFound when it does not exist."""
        if not client.collection_exists(index):
            raise index_not_found(self.name, index)
        vectors = client.get_collection(index).config.params.vectors
        return int(vectors[DENSE].size)

    async def create(self, index: str, dimension: int) -> None:
        from qdrant_client import models

        def work(client: Any) -> None:
            if client.collection_exists(index):
                raise KnowledgeIndexExists(f"index '{index}' already exists in {self.name}")
            client.create_collection(
                index,
                vectors_config={
                    DENSE: models.VectorParams(size=dimension, distance=models.Distance.COSINE)
                },
                sparse_vectors_config={
                    SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)
                },
            )
            if "url" not in self._options:
                return  # local mode filters without payload indexes (and warns about them)
            for field in ("source", "checksum", "title", "tags"):
                client.create_payload_index(index, field, models.PayloadSchemaType.KEYWORD)
            for field in ("page", "row"):
                client.create_payload_index(index, field, models.PayloadSchemaType.INTEGER)

        await self._run(index, work)

    async def info(self, index: str) -> IndexInfo:
        def work(client: Any) -> IndexInfo:
            if not client.collection_exists(index):
                return IndexInfo(self.name, index, exists=False)
            dimension = self._require(client, index)
            count = int(client.count(index, exact=True).count)
            return IndexInfo(self.name, index, exists=True, dimension=dimension, count=count)

        return await self._run(index, work)

    async def drop(self, index: str) -> None:
        def work(client: Any) -> None:
            self._require(client, index)
            client.delete_collection(index)

        await self._run(index, work)

    async def upsert(
        self, index: str, chunks: Sequence[Chunk], vectors: NDArray[np.float32]
    ) -> None:
        from qdrant_client import models

        def work(client: Any) -> None:
            dimension = self._require(client, index)
            if vectors.shape[1] != dimension:
                raise dimension_mismatch(self.name, index, dimension, int(vectors.shape[1]))
            points = []
            for chunk, vector in zip(chunks, vectors, strict=True):
                indices, values = document_vector(chunk.text)
                points.append(
                    models.PointStruct(
                        id=str(uuid.uuid5(uuid.NAMESPACE_URL, chunk.id)),
                        vector={
                            DENSE: vector.tolist(),
                            SPARSE: models.SparseVector(indices=indices, values=values),
                        },
                        payload=_payload(chunk),
                    )
                )
            for start in range(0, len(points), UPSERT_BATCH):
                client.upsert(index, points[start : start + UPSERT_BATCH], wait=True)

        await self._run(index, work)

    async def delete_document(self, index: str, source: str, *, keep: str | None = None) -> None:
        from qdrant_client import models

        def work(client: Any) -> None:
            self._require(client, index)
            must_not = [] if keep is None else [_match("checksum", keep)]
            selector = models.FilterSelector(
                filter=models.Filter(must=[_match("source", source)], must_not=must_not)
            )
            client.delete(index, points_selector=selector, wait=True)

        await self._run(index, work)

    async def documents(self, index: str) -> dict[str, Document]:
        def work(client: Any) -> dict[str, Document]:
            self._require(client, index)
            chunks: list[tuple[str, str, str | None]] = []
            offset = None
            while True:
                points, offset = client.scroll(
                    index,
                    limit=1024,
                    offset=offset,
                    with_payload=["source", "checksum", "added_at"],
                )
                chunks.extend(
                    (p.payload["source"], p.payload["checksum"], p.payload.get("added_at"))
                    for p in points
                )
                if offset is None:
                    return tally(chunks)

        return await self._run(index, work)

    async def search_vector(
        self, index: str, vector: NDArray[np.float32], top_k: int, filters: Filters
    ) -> list[Hit]:
        def work(client: Any) -> list[Hit]:
            dimension = self._require(client, index)
            if vector.shape[-1] != dimension:
                raise dimension_mismatch(self.name, index, dimension, int(vector.shape[-1]))
            return self._query(client, index, vector.tolist(), DENSE, top_k, filters)

        return await self._run(index, work)

    async def search_keyword(
        self, index: str, text: str, top_k: int, filters: Filters
    ) -> list[Hit]:
        from qdrant_client import models

        indices, values = query_vector(text)

        def work(client: Any) -> list[Hit]:
            self._require(client, index)
            if not indices:
                return []
            query = models.SparseVector(indices=indices, values=values)
            return self._query(client, index, query, SPARSE, top_k, filters)

        return await self._run(index, work)

    def _query(
        self, client: Any, index: str, query: Any, using: str, top_k: int, filters: Filters
    ) -> list[Hit]:
        response = client.query_points(
            index,
            query=query,
            using=using,
            limit=top_k,
            query_filter=_filter(filters),
            with_payload=list(CHUNK_FIELDS),
        )
        return [Hit(_chunk(p.payload), float(p.score)) for p in response.points]

    async def optimize(self, index: str) -> None:
        """Nothing to do: the server indexes writes as they arrive."""

    async def aclose(self) -> None:
        def close() -> None:
            if self._client is not None:
                self._client.close()
                self._client = None

        await asyncio.get_running_loop().run_in_executor(self._executor, close)
        self._executor.shutdown(wait=False)


def _match(key: str, value: str | int) -> Any:
    from qdrant_client import models

    return models.FieldCondition(key=key, match=models.MatchValue(value=value))


def _filter(filters: Filters) -> Any:
    from qdrant_client import models

    check_filters(filters)
    if not filters:
        return None
    return models.Filter(
        must=[_match("tags" if k == "tag" else k, v) for k, v in sorted(filters.items())]
    )


def _payload(chunk: Chunk) -> dict[str, Any]:
    return {
        "id": chunk.id,
        "source": chunk.source,
        "checksum": chunk.checksum,
        "position": chunk.position,
        "text": chunk.text,
        "title": chunk.title,
        "page": chunk.page,
        "row": chunk.row,
        "tags": list(chunk.tags),
        "url": chunk.url,
        "added_at": chunk.added_at,
    }


def _chunk(payload: dict[str, Any]) -> Chunk:
    return Chunk(**{**payload, "tags": tuple(payload.get("tags") or ())})
