"""Ingest files into an index: each document once per (source, checksum), embedded in batches.

Parsing and chunking run in a worker thread, embedding in the embedder's own thread; chunks of
several small documents are embedded together so the model always sees full batches.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

import numpy as np

from chinwag.db.base import utcnow
from chinwag.errors import ChinwagError
from chinwag.knowledge.chunking import Chunker
from chinwag.knowledge.loaders import SourceFile, find_files, load
from chinwag.providers.protocols import Embedder
from chinwag.providers.vectorstores.base import Chunk, Document, VectorStore

EMBED_BATCH = 256  # chunks embedded per call (the embedder splits them into its own batches)
FIRST_BATCH = 64  # the first call starts sooner, so the model is busy while the rest is parsed


@dataclass
class IngestSummary:
    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (source, reason)
    chunks: int = 0

    def line(self) -> str:
        return (
            f"{len(self.added)} added, {len(self.replaced)} replaced, "
            f"{len(self.unchanged)} unchanged, {len(self.removed)} removed, "
            f"{len(self.failed)} failed ({self.chunks} chunks written)"
        )


class IngestProgress(Protocol):
    """Told what ingestion did; the CLI draws progress bars from it."""

    def files_found(self, total: int) -> None: ...

    def file_done(self, source: str) -> None: ...

    def chunks_made(self, count: int) -> None: ...

    def chunks_embedded(self, count: int) -> None: ...


class _Silent:
    def files_found(self, total: int) -> None:
        pass

    def file_done(self, source: str) -> None:
        pass

    def chunks_made(self, count: int) -> None:
        pass

    def chunks_embedded(self, count: int) -> None:
        pass


@dataclass
class _Pending:
    chunks: list[Chunk]
    replaces: bool  # an older version of the document is in the index


async def ingest(
    store: VectorStore,
    embedder: Embedder,
    index: str,
    paths: Iterable[str | Path],
    *,
    chunker: Chunker | None = None,
    tags: Sequence[str] = (),
    prune: bool = False,
    progress: IngestProgress | None = None,
) -> IngestSummary:
    """Bring the index up to date with these files; `prune` removes documents not among them.

    A file that cannot be read is reported in `failed` and never stops the others. Store and
    embedding errors (index missing, dimension mismatch, server down) abort with their code.
    """
    report = progress or _Silent()
    splitter = chunker if chunker is not None else await asyncio.to_thread(Chunker)
    summary = IngestSummary()
    files, missing = await asyncio.to_thread(find_files, list(paths))
    summary.failed.extend(missing)
    report.files_found(len(files))
    known = await store.documents(index)
    batch: list[_Pending] = []
    writing: asyncio.Task[None] | None = None

    async def flush() -> None:
        # Embed and write this batch while the next files are parsed (another core).
        nonlocal writing, batch
        if writing is not None:
            await writing
        if batch:
            writing = asyncio.create_task(_write(store, embedder, index, batch, summary, report))
            batch = []

    try:
        for file in files:
            pending = await _prepare(file, known, splitter, tuple(tags), summary)
            report.file_done(file.source)
            if pending is None:
                continue
            report.chunks_made(len(pending.chunks))
            batch.append(pending)
            if sum(len(p.chunks) for p in batch) >= (EMBED_BATCH if writing else FIRST_BATCH):
                await flush()
        await flush()
        if writing is not None:
            await writing
    finally:
        if writing is not None and not writing.done():
            writing.cancel()
    if prune:
        seen = {f.source for f in files}
        for source in sorted(set(known) - seen):
            await store.delete_document(index, source)
            summary.removed.append(source)
    if summary.chunks or summary.removed:
        await store.optimize(index)
    return summary


async def delete_documents(store: VectorStore, index: str, sources: Iterable[str]) -> list[str]:
    """Remove these documents' chunks; returns the sources that were in the index."""
    known = await store.documents(index)
    removed = [s for s in sources if s in known]
    for source in removed:
        await store.delete_document(index, source)
    return removed


async def _prepare(
    file: SourceFile,
    known: dict[str, Document],
    chunker: Chunker,
    tags: tuple[str, ...],
    summary: IngestSummary,
) -> _Pending | None:
    def parse() -> list[Chunk] | str:
        document = load(file)
        indexed = known.get(document.source)
        if indexed is not None and indexed.checksum == document.checksum:
            return document.checksum
        return chunker.split(document, tags)

    try:
        result = await asyncio.to_thread(parse)
    except ChinwagError as exc:
        summary.failed.append((file.source, exc.message))
        return None
    if isinstance(result, str):
        summary.unchanged.append(file.source)
        return None
    return _Pending(result, replaces=file.source in known)


async def _write(
    store: VectorStore,
    embedder: Embedder,
    index: str,
    batch: list[_Pending],
    summary: IngestSummary,
    report: IngestProgress,
) -> None:
    added_at = utcnow().isoformat()
    chunks = [replace(c, added_at=added_at) for p in batch for c in p.chunks]
    parts = []
    for start in range(0, len(chunks), EMBED_BATCH):
        texts = [c.text for c in chunks[start : start + EMBED_BATCH]]
        parts.append(await embedder.embed(texts))
        report.chunks_embedded(len(texts))
    vectors = np.concatenate(parts) if len(parts) > 1 else parts[0]
    # New chunks first, then the old version's: a reader sees the document twice for a moment,
    # never not at all. How atomic each step is depends on the store (see each adapter).
    await store.upsert(index, chunks, vectors)
    for pending in batch:
        first = pending.chunks[0]
        if pending.replaces:
            await store.delete_document(index, first.source, keep=first.checksum)
            summary.replaced.append(first.source)
        else:
            summary.added.append(first.source)
    summary.chunks += len(chunks)
