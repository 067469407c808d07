"""Pinecone through the official SDK: dense vectors with metadata, one index per knowledge index.

Keyword and hybrid search are not offered: they would need sparse vectors in a dotproduct index
whose IDF Pinecone does not compute, so asking for them raises knowledge_mode_unsupported up front.
Vector ids are `<source hash>#<checksum>#<position>` so a document's chunks can be listed by id
prefix (serverless indexes cannot delete by metadata). Upserts and deletes are eventually
consistent in Pinecone: a replaced document can be seen twice for a moment, never missing.
The SDK blocks, so every call runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from chinwag.errors import (
    ChinwagError,
    KnowledgeIndexExists,
    KnowledgeModeUnsupported,
    KnowledgeStoreUnavailable,
)
from chinwag.providers.vectorstores.base import (
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

T = TypeVar("T")
UPSERT_BATCH = 100
FETCH_BATCH = 100


def _prefix(source: str) -> str:
    return hashlib.sha256(source.encode()).hexdigest()[:16] + "#"


def _vector_id(chunk: Chunk) -> str:
    return f"{_prefix(chunk.source)}{chunk.checksum[:16]}#{chunk.position}"


class PineconeStore:
    name = "pinecone"
    keyword_search = False

    def __init__(
        self,
        *,
        api_key: str,
        host: str | None = None,
        cloud: str = "aws",
        region: str = "us-east-1",
    ) -> None:
        self._api_key = api_key
        self._host = host
        self._cloud, self._region = cloud, region
        self._client: Any = None
        self._indexes: dict[str, tuple[Any, int]] = {}  # name → (data-plane client, dimension)

    async def _run(self, index: str, work: Callable[[], T]) -> T:
        from pinecone.errors import NotFoundError

        try:
            return await asyncio.to_thread(work)
        except ChinwagError:
            raise
        except NotFoundError as exc:
            self._indexes.pop(index, None)
            raise index_not_found(self.name, index) from exc
        except Exception as exc:
            raise KnowledgeStoreUnavailable(
                f"pinecone failed on index '{index}': {type(exc).__name__}: {exc}"
            ) from exc

    def _pc(self) -> Any:
        if self._client is None:
            from pinecone import Pinecone

            self._client = Pinecone(api_key=self._api_key, host=self._host)
        return self._client

    def _open(self, index: str) -> tuple[Any, int]:
        """The index's data-plane client and dimension; NotFoundError when it does not exist."""
        if index not in self._indexes:
            model = self._pc().describe_index(index)
            dimension = int(model.schema.fields["_values"].dimension)
            self._indexes[index] = (self._pc().Index(host=model.host), dimension)
        return self._indexes[index]

    async def create(self, index: str, dimension: int) -> None:
        from pinecone import ServerlessSpec

        def work() -> None:
            if self._pc().has_index(index):
                raise KnowledgeIndexExists(f"index '{index}' already exists in {self.name}")
            self._pc().create_index(
                name=index,
                dimension=dimension,
                metric="cosine",
                spec=ServerlessSpec(cloud=self._cloud, region=self._region),
            )

        await self._run(index, work)

    async def info(self, index: str) -> IndexInfo:
        def work() -> IndexInfo:
            if not self._pc().has_index(index):
                self._indexes.pop(index, None)
                return IndexInfo(self.name, index, exists=False)
            client, dimension = self._open(index)
            count = int(client.describe_index_stats().total_vector_count)
            return IndexInfo(self.name, index, exists=True, dimension=dimension, count=count)

        return await self._run(index, work)

    async def drop(self, index: str) -> None:
        def work() -> None:
            self._indexes.pop(index, None)
            self._pc().delete_index(index)

        await self._run(index, work)

    async def upsert(
        self, index: str, chunks: Sequence[Chunk], vectors: NDArray[np.float32]
    ) -> None:
        def work() -> None:
            client, dimension = self._open(index)
            if vectors.shape[1] != dimension:
                raise dimension_mismatch(self.name, index, dimension, int(vectors.shape[1]))
            rows = [
                {"id": _vector_id(c), "values": v.tolist(), "metadata": _metadata(c)}
                for c, v in zip(chunks, vectors, strict=True)
            ]
            for start in range(0, len(rows), UPSERT_BATCH):
                client.upsert(vectors=rows[start : start + UPSERT_BATCH], show_progress=False)

        await self._run(index, work)

    async def delete_document(self, index: str, source: str, *, keep: str | None = None) -> None:
        def work() -> None:
            client, _ = self._open(index)
            keep_prefix = None if keep is None else f"{_prefix(source)}{keep[:16]}#"
            ids = [
                i
                for i in self._ids(client, _prefix(source))
                if keep_prefix is None or not i.startswith(keep_prefix)
            ]
            for start in range(0, len(ids), UPSERT_BATCH):
                client.delete(ids=ids[start : start + UPSERT_BATCH])

        await self._run(index, work)

    async def documents(self, index: str) -> dict[str, Document]:
        def work() -> dict[str, Document]:
            client, _ = self._open(index)
            # A version's chunks share an id prefix (`<source hash>#<checksum>#`): count them,
            # and read the source, checksum and time of each version from its first chunk.
            counts = Counter(i.rsplit("#", 1)[0] for i in self._ids(client, None))
            firsts = [f"{version}#0" for version in counts]
            chunks: list[tuple[str, str, str | None]] = []
            for start in range(0, len(firsts), FETCH_BATCH):
                fetched = client.fetch(ids=firsts[start : start + FETCH_BATCH])
                for vector_id, vector in fetched.vectors.items():
                    meta = vector.metadata
                    version = vector_id.rsplit("#", 1)[0]
                    chunks.extend(
                        [(meta["source"], meta["checksum"], meta.get("added_at"))] * counts[version]
                    )
            return tally(chunks)

        return await self._run(index, work)

    async def search_vector(
        self, index: str, vector: NDArray[np.float32], top_k: int, filters: Filters
    ) -> list[Hit]:
        def work() -> list[Hit]:
            client, dimension = self._open(index)
            if vector.shape[-1] != dimension:
                raise dimension_mismatch(self.name, index, dimension, int(vector.shape[-1]))
            response = client.query(
                vector=vector.tolist(),
                top_k=top_k,
                filter=_filter(filters),
                include_metadata=True,
            )
            return [Hit(_chunk(m.metadata), float(m.score)) for m in response.matches]

        return await self._run(index, work)

    async def search_keyword(
        self, index: str, text: str, top_k: int, filters: Filters
    ) -> list[Hit]:
        raise KnowledgeModeUnsupported(
            f"index '{index}' in pinecone holds dense vectors only and cannot do keyword search; "
            "set knowledge.mode to `vector` in the bot, or use the lancedb or qdrant store"
        )

    @staticmethod
    def _ids(client: Any, prefix: str | None) -> list[str]:
        ids: list[str] = []
        for page in client.list(prefix=prefix, limit=100):
            ids.extend(v.id for v in page.vectors)
        return ids

    async def optimize(self, index: str) -> None:
        """Nothing to do: the server indexes writes as they arrive."""

    async def aclose(self) -> None:
        if self._client is not None:
            await asyncio.to_thread(self._client.close)
            self._client = None
        self._indexes.clear()


def _filter(filters: Filters) -> dict[str, Any] | None:
    check_filters(filters)
    if not filters:
        return None
    return {
        ("tags" if key == "tag" else key): {"$in": [value]} if key == "tag" else {"$eq": value}
        for key, value in sorted(filters.items())
    }


def _metadata(chunk: Chunk) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "id": chunk.id,
        "source": chunk.source,
        "checksum": chunk.checksum,
        "position": chunk.position,
        "text": chunk.text,
        "title": chunk.title,
        "tags": list(chunk.tags),
    }
    if chunk.page is not None:  # Pinecone metadata has no null
        metadata["page"] = chunk.page
    if chunk.row is not None:
        metadata["row"] = chunk.row
    if chunk.url is not None:
        metadata["url"] = chunk.url
    if chunk.added_at is not None:
        metadata["added_at"] = chunk.added_at
    return metadata


def _chunk(metadata: dict[str, Any]) -> Chunk:
    return Chunk(
        id=metadata["id"],
        source=metadata["source"],
        checksum=metadata["checksum"],
        position=int(metadata["position"]),
        text=metadata["text"],
        title=metadata["title"],
        page=int(metadata["page"]) if "page" in metadata else None,
        row=int(metadata["row"]) if "row" in metadata else None,
        tags=tuple(metadata.get("tags") or ()),
        url=metadata.get("url"),
        added_at=metadata.get("added_at"),
    )
