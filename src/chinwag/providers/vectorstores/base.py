"""The VectorStore contract and the records every adapter stores and returns."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from chinwag.errors import (
    KnowledgeDimensionMismatch,
    KnowledgeFilterInvalid,
    KnowledgeIndexNotFound,
)

FILTER_FIELDS = ("source", "title", "page", "row", "tag")
# What a store keeps of each chunk besides its vectors (LanceDB columns, Qdrant payload).
CHUNK_FIELDS = (
    "id",
    "source",
    "checksum",
    "position",
    "text",
    "title",
    "page",
    "row",
    "tags",
    "url",
    "added_at",
)
Filters = Mapping[str, str | int]


@dataclass(frozen=True, slots=True)
class Chunk:
    """One searchable piece of one document version (source + checksum)."""

    id: str
    source: str
    checksum: str
    position: int
    text: str
    title: str
    page: int | None = None
    row: int | None = None
    tags: tuple[str, ...] = field(default_factory=tuple)
    url: str | None = None  # where a reader can open the document
    added_at: str | None = None  # when this version was indexed (ISO 8601, UTC)


@dataclass(frozen=True, slots=True)
class Document:
    """One document of an index: the version its chunks come from, how many, since when."""

    source: str
    checksum: str
    chunks: int
    added_at: datetime | None  # None: indexed before chinwag recorded the time


@dataclass(frozen=True, slots=True)
class Hit:
    chunk: Chunk
    score: float  # higher is better; cosine similarity (vector) or BM25 (keyword)


@dataclass(frozen=True, slots=True)
class IndexInfo:
    store: str
    index: str
    exists: bool
    dimension: int | None = None
    count: int = 0


@runtime_checkable
class VectorStore(Protocol):
    """Holds indexes of chunks with unit-length vectors and their text.

    Every method on an index that does not exist raises KnowledgeIndexNotFound; upserting vectors
    of another dimension raises KnowledgeDimensionMismatch. Never blocks the event loop.
    """

    name: str  # lancedb | qdrant | pinecone
    keyword_search: bool  # False: search_keyword raises KnowledgeModeUnsupported

    async def create(self, index: str, dimension: int) -> None: ...

    async def info(self, index: str) -> IndexInfo: ...

    async def drop(self, index: str) -> None: ...

    async def upsert(
        self, index: str, chunks: Sequence[Chunk], vectors: NDArray[np.float32]
    ) -> None:
        """Write chunks (of any documents) with their vectors, replacing equal ids."""
        ...

    async def delete_document(self, index: str, source: str, *, keep: str | None = None) -> None:
        """Remove a document's chunks; with `keep`, all but those of that checksum."""
        ...

    async def documents(self, index: str) -> dict[str, Document]:
        """Every document in the index, by source."""
        ...

    async def search_vector(
        self, index: str, vector: NDArray[np.float32], top_k: int, filters: Filters
    ) -> list[Hit]: ...

    async def search_keyword(
        self, index: str, text: str, top_k: int, filters: Filters
    ) -> list[Hit]: ...

    async def optimize(self, index: str) -> None:
        """Fold recent writes into the store's indexes (after an ingest); may do nothing."""
        ...

    async def aclose(self) -> None: ...


def check_filters(filters: Filters) -> None:
    """KnowledgeFilterInvalid unless every key is a known metadata field."""
    unknown = sorted(set(filters) - set(FILTER_FIELDS))
    if unknown:
        raise KnowledgeFilterInvalid(
            f"unknown search filter(s) {', '.join(unknown)}; known: {', '.join(FILTER_FIELDS)}"
        )


def index_not_found(store: str, index: str, bot: str = "BOT") -> KnowledgeIndexNotFound:
    """`bot` as the user names it where they stand: an imported bot's id, or its YAML file."""
    return KnowledgeIndexNotFound(
        f"index '{index}' does not exist in {store}; create it with "
        f"`chinwag knowledge create {bot}` or change knowledge.index in the bot",
        hint=f"Run `chinwag knowledge create {bot}` (then `chinwag ingest {bot} PATH…`), or "
        "change knowledge.index in the bot.",
    )


def dimension_mismatch(
    store: str, index: str, have: int, want: int, bot: str = "BOT"
) -> KnowledgeDimensionMismatch:
    return KnowledgeDimensionMismatch(
        f"index '{index}' in {store} holds {have}-dimensional vectors but the embedding model "
        f"makes {want}; rebuild it with `chinwag knowledge reindex {bot} PATH…` or use the model "
        "it was built with"
    )


def chunk_id(source: str, checksum: str, position: int) -> str:
    """Stable id of a chunk: the same document version always yields the same ids."""
    digest = hashlib.sha256(f"{source}\0{checksum}".encode()).hexdigest()[:24]
    return f"{digest}-{position}"


def tally(chunks: Iterable[tuple[str, str, str | None]]) -> dict[str, Document]:
    """The documents of these chunks' (source, checksum, added_at). While a document is being
    replaced both versions are in the index for a moment: the newer one is the document."""
    versions: dict[tuple[str, str], tuple[int, str | None]] = {}
    for source, checksum, added_at in chunks:
        count, seen = versions.get((source, checksum), (0, None))
        versions[(source, checksum)] = (count + 1, seen or added_at)
    found: dict[str, Document] = {}
    for (source, checksum), (count, added_at) in versions.items():
        document = Document(
            source, checksum, count, datetime.fromisoformat(added_at) if added_at else None
        )
        other = found.get(source)
        if other is None or _later(document, other):
            found[source] = document
    return found


def _later(a: Document, b: Document) -> bool:
    return b.added_at is None or (a.added_at is not None and a.added_at > b.added_at)
