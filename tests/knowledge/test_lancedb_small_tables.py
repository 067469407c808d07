"""LanceDB's small tables are searched by vector in memory: the same hits as LanceDB's own flat
search, and every write (or a re-created index) seen by the next search."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from chinwag.errors import ChinwagError
from chinwag.providers.vectorstores import lancedb_store
from chinwag.providers.vectorstores.base import Chunk, chunk_id
from chinwag.providers.vectorstores.lancedb_store import LanceDBStore
from chinwag.providers.vectorstores.small_tables import SmallTable

DIM = 16
INDEX = "shop"


def _chunks(source: str, count: int) -> list[Chunk]:
    return [
        Chunk(
            chunk_id(source, "c1", i), source, "c1", i, f"{source} {i}", source, tags=(f"t{i % 3}",)
        )
        for i in range(count)
    ]


def _unit(rows: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((rows, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


async def _lancedb_flat(store: LanceDBStore, vector: np.ndarray, top_k: int) -> list[str]:
    """LanceDB's own answer, around the in-memory search."""
    table = await store._table(INDEX)
    query = table.query().nearest_to(vector).distance_type("cosine").select(["id"])
    return [r["id"] for r in (await query.limit(top_k).to_arrow()).to_pylist()]


async def test_the_in_memory_search_finds_what_lancedb_finds(tmp_path: Path) -> None:
    store = LanceDBStore(tmp_path / "lancedb")
    await store.create(INDEX, DIM)
    await store.upsert(INDEX, _chunks("a.md", 150) + _chunks("b.md", 150), _unit(300, 1))
    try:
        for query in _unit(20, 2):
            hits = await store.search_vector(INDEX, query, 7, {})
            assert [h.chunk.id for h in hits] == await _lancedb_flat(store, query, 7)
            assert hits[0].score == pytest.approx(float(np.max(_unit(300, 1) @ query)), abs=1e-5)
        assert isinstance(store._small[INDEX][1], SmallTable)  # it was the in-memory path
        filtered = await store.search_vector(
            INDEX, _unit(1, 3)[0], 50, {"source": "b.md", "tag": "t1"}
        )
        assert len(filtered) == 50 and {h.chunk.source for h in filtered} == {"b.md"}
        assert all("t1" in h.chunk.tags for h in filtered)
    finally:
        await store.aclose()


async def test_an_empty_index_finds_nothing_and_a_wrong_dimension_is_named(
    tmp_path: Path,
) -> None:
    store = LanceDBStore(tmp_path / "lancedb")
    await store.create(INDEX, DIM)  # created, nothing ingested yet
    try:
        assert await store.search_vector(INDEX, _unit(1, 8)[0], 5, {}) == []
        assert await store.search_keyword(INDEX, "anything", 5, {}) == []
        await store.upsert(INDEX, _chunks("a.md", 3), _unit(3, 9))
        with pytest.raises(ChinwagError) as wrong:
            await store.search_vector(INDEX, np.ones(DIM + 1, dtype=np.float32), 5, {})
        assert wrong.value.code == "knowledge_dimension_mismatch"
        assert isinstance(store._small[INDEX][1], SmallTable)  # checked on the in-memory path
    finally:
        await store.aclose()


async def test_writes_and_a_re_created_index_are_seen_by_the_next_search(tmp_path: Path) -> None:
    store = LanceDBStore(tmp_path / "lancedb")
    await store.create(INDEX, DIM)
    vectors = _unit(11, 4)
    await store.upsert(INDEX, _chunks("a.md", 10), vectors[:10])
    try:
        assert (await store.search_vector(INDEX, vectors[10], 1, {}))[0].chunk.source == "a.md"
        await store.upsert(INDEX, _chunks("new.md", 1), vectors[10:])
        assert (await store.search_vector(INDEX, vectors[10], 1, {}))[0].chunk.source == "new.md"
        await store.delete_document(INDEX, "new.md")
        assert (await store.search_vector(INDEX, vectors[10], 1, {}))[0].chunk.source == "a.md"
        await store.drop(INDEX)  # the same name again: its versions start again
        await store.create(INDEX, DIM)
        await store.upsert(INDEX, _chunks("c.md", 10), vectors[:10])
        found = await store.search_vector(INDEX, vectors[10], 20, {})
        assert {h.chunk.source for h in found} == {"c.md"} and len(found) == 10
    finally:
        await store.aclose()


async def test_a_table_above_the_bound_is_searched_by_lancedb(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lancedb_store, "SMALL_TABLE_ROWS", 5)
    store = LanceDBStore(tmp_path / "lancedb")
    await store.create(INDEX, DIM)
    await store.upsert(INDEX, _chunks("a.md", 30), _unit(30, 5))
    try:
        query = _unit(1, 6)[0]
        hits = await store.search_vector(INDEX, query, 4, {})
        assert [h.chunk.id for h in hits] == await _lancedb_flat(store, query, 4)
        assert isinstance(store._small[INDEX][1], int)  # counted, not held in memory
    finally:
        await store.aclose()


async def test_a_write_by_another_process_is_seen_within_the_consistency_interval(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`chinwag ingest` writes while `chinwag serve` runs: a separate connection stands for it."""
    monkeypatch.setattr(lancedb_store, "READ_CONSISTENCY_SECONDS", 0.2)
    served, ingest = LanceDBStore(tmp_path / "lancedb"), LanceDBStore(tmp_path / "lancedb")
    vectors = _unit(11, 7)
    await served.create(INDEX, DIM)
    await served.upsert(INDEX, _chunks("a.md", 10), vectors[:10])
    try:
        assert (await served.search_vector(INDEX, vectors[10], 1, {}))[0].chunk.source == "a.md"
        await ingest.upsert(INDEX, _chunks("new.md", 1), vectors[10:])
        await asyncio.sleep(0.3)
        assert (await served.search_vector(INDEX, vectors[10], 1, {}))[0].chunk.source == "new.md"
    finally:
        await served.aclose()
        await ingest.aclose()


async def _lancedb_keyword(store: LanceDBStore, text: str, top_k: int) -> list[tuple[Chunk, float]]:
    """LanceDB's own keyword answer with every chunk field read from the table."""
    table = await store._table(INDEX)
    query = table.query().nearest_to_text(text).select([*lancedb_store.CHUNK_FIELDS, "_score"])
    rows = (await query.limit(top_k).to_arrow()).to_pylist()
    return [(lancedb_store._chunk(r), float(r["_score"])) for r in rows]


def _worded(source: str, words: list[str]) -> list[Chunk]:
    return [
        Chunk(chunk_id(source, "c1", i), source, "c1", i, text, source, tags=(f"t{i % 2}",))
        for i, text in enumerate(words)
    ]


WORDED = [
    "Barolo from Piedmont, a red wine of Nebbiolo",
    "Riesling from the Mosel: dry, off-dry and sweet",
    "Delivery in Bergen takes two working days",
    "Barolo and Barbaresco, the two great Nebbiolo wines of Piedmont",
    "Opening hours: Saturday 10 to 16, Sunday closed",
    "Gift wrapping is free for every bottle",
]


async def test_keyword_search_on_a_small_table_finds_what_lancedb_finds(tmp_path: Path) -> None:
    """Ranked by LanceDB, chunks from memory: the same chunks, fields and scores."""
    store = LanceDBStore(tmp_path / "lancedb")
    await store.create(INDEX, DIM)
    await store.upsert(INDEX, _worded("a.md", WORDED), _unit(len(WORDED), 8))
    try:
        for text in ("Barolo Nebbiolo", "delivery Bergen", "Saturday opening", "Riesling"):
            hits = await store.search_keyword(INDEX, text, 4, {})
            want = await _lancedb_keyword(store, text, 4)
            assert [(h.chunk, h.score) for h in hits] == want and hits, text
        assert isinstance(store._small[INDEX][1], SmallTable)  # the in-memory chunks were used
        found = await store.search_keyword(INDEX, "Barolo", 5, {"tag": "t1"})
        assert [h.chunk.position for h in found] == [3]
        await store.upsert(INDEX, _worded("new.md", ["Barolo tasting on Friday"]), _unit(1, 9))
        found = await store.search_keyword(INDEX, "tasting", 5, {})
        assert [(h.chunk.source, h.chunk.text) for h in found] == [
            ("new.md", "Barolo tasting on Friday")
        ]
    finally:
        await store.aclose()


async def test_a_chunk_missing_from_memory_is_read_from_the_table(tmp_path: Path) -> None:
    """Written between the version check and the query (by another process): the hits are
    read from the table, whole, rather than dropped."""
    store = LanceDBStore(tmp_path / "lancedb")
    await store.create(INDEX, DIM)
    await store.upsert(INDEX, _worded("a.md", WORDED), _unit(len(WORDED), 10))
    try:
        await store.search_keyword(INDEX, "Barolo", 3, {})
        table, small = store._small[INDEX]
        assert isinstance(small, SmallTable)
        stale = SmallTable(
            small.version, small.chunks[1:], small.vectors[1:], {c.id: c for c in small.chunks[1:]}
        )
        store._small[INDEX] = (table, stale)  # as if chunk 0 had been written meanwhile
        hits = await store.search_keyword(INDEX, "Barolo Piedmont", 3, {})
        assert [(h.chunk, h.score) for h in hits] == await _lancedb_keyword(
            store, "Barolo Piedmont", 3
        )
        assert hits[0].chunk.text == WORDED[0] or hits[1].chunk.text == WORDED[0]
    finally:
        await store.aclose()
