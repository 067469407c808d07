"""One contract for every VectorStore: LanceDB (on disk), Qdrant (local mode), Pinecone (SDK
against a fake Pinecone over HTTP)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from chinwag.errors import ChinwagError
from chinwag.knowledge.checks import check_index, index_is_empty
from chinwag.providers.embeddings.local import LocalEmbedder
from chinwag.providers.vectorstores.base import Chunk, Document, VectorStore, chunk_id
from chinwag.providers.vectorstores.lancedb_store import LanceDBStore
from chinwag.providers.vectorstores.pinecone_store import PineconeStore
from chinwag.providers.vectorstores.qdrant_store import QdrantStore
from chinwag.testing.fake_pinecone import FakePinecone

DIM = 8
INDEX = "wines"
MONDAY = "2026-11-02T09:30:00+00:00"
TUESDAY = "2026-11-03T14:00:00+00:00"


@pytest.fixture(scope="module")
def fake_pinecone() -> Iterator[FakePinecone]:
    with FakePinecone() as fake:
        yield fake


@pytest.fixture(params=["lancedb", "qdrant", "pinecone"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, fake_pinecone: FakePinecone
) -> AsyncIterator[VectorStore]:
    made: VectorStore
    if request.param == "lancedb":
        made = LanceDBStore(tmp_path / "lancedb")
    elif request.param == "qdrant":
        made = QdrantStore(path=tmp_path / "qdrant")
    else:
        fake_pinecone.indexes.clear()
        made = PineconeStore(api_key=fake_pinecone.api_key, host=fake_pinecone.base_url)
    yield made
    await made.aclose()


def _vector(*hot: int) -> np.ndarray:
    v = np.zeros(DIM, dtype=np.float32)
    v[list(hot)] = 1.0
    return v / np.linalg.norm(v)


def _doc(source: str, checksum: str, texts: list[str], **meta: object) -> list[Chunk]:
    return [
        Chunk(chunk_id(source, checksum, i), source, checksum, i, t, source.title(), **meta)  # type: ignore[arg-type]
        for i, t in enumerate(texts)
    ]


async def _seed(store: VectorStore) -> None:
    await store.create(INDEX, DIM)
    riesling = _doc(
        "riesling.md",
        "r1",
        ["Riesling from the Mosel slate", "Kabinett is light"],
        tags=("white",),
        added_at=MONDAY,
    )
    barolo = _doc(
        "barolo.pdf",
        "b1",
        ["Barolo from Piedmont"],
        page=2,
        tags=("red", "italy"),
        url="https://shop.example/barolo",
    )
    csv = _doc(
        "catalogue.csv", "c1", ["sku: VH-001 name: Fjordlys Riesling"], row=1, added_at=TUESDAY
    )
    vectors = np.stack([_vector(0), _vector(0, 1), _vector(2), _vector(0, 3)])
    await store.upsert(INDEX, riesling + barolo + csv, vectors)


def _code(exc: pytest.ExceptionInfo[ChinwagError]) -> str:
    return exc.value.code


async def test_missing_index_is_reported_by_every_call(store: VectorStore) -> None:
    info = await store.info(INDEX)
    assert not info.exists and info.store == store.name
    calls = [
        store.upsert(INDEX, _doc("a", "x", ["t"]), np.stack([_vector(0)])),
        store.documents(INDEX),
        store.delete_document(INDEX, "a"),
        store.search_vector(INDEX, _vector(0), 3, {}),
        store.drop(INDEX),
    ]
    for call in calls:
        with pytest.raises(ChinwagError) as caught:
            await call
        assert _code(caught) == "knowledge_index_not_found"
        assert f"'{INDEX}'" in caught.value.message and store.name in caught.value.message
        assert "chinwag knowledge create" in caught.value.message


async def test_create_info_and_duplicate_create(store: VectorStore) -> None:
    await store.create(INDEX, DIM)
    info = await store.info(INDEX)
    assert (info.exists, info.dimension, info.count) == (True, DIM, 0)
    assert index_is_empty(info)
    with pytest.raises(ChinwagError) as caught:
        await store.create(INDEX, DIM)
    assert _code(caught) == "knowledge_index_exists"


async def test_wrong_dimension_is_refused(store: VectorStore) -> None:
    await store.create(INDEX, DIM)
    wrong = np.ones((1, DIM + 1), dtype=np.float32)
    with pytest.raises(ChinwagError) as caught:
        await store.upsert(INDEX, _doc("a", "x", ["t"]), wrong)
    assert _code(caught) == "knowledge_dimension_mismatch"
    with pytest.raises(ChinwagError) as caught:
        await store.search_vector(INDEX, wrong[0], 3, {})
    assert _code(caught) == "knowledge_dimension_mismatch"


async def test_check_index_names_index_store_and_command(
    store: VectorStore, embedder: LocalEmbedder
) -> None:
    with pytest.raises(ChinwagError) as caught:
        await check_index(store, INDEX, embedder, bot="vinhuset")
    assert _code(caught) == "knowledge_index_not_found"
    assert "`chinwag knowledge create vinhuset`" in caught.value.message
    await store.create(INDEX, DIM)  # the embedding model makes 384 dimensions
    with pytest.raises(ChinwagError) as caught:
        await check_index(store, INDEX, embedder, bot="vinhuset")
    assert _code(caught) == "knowledge_dimension_mismatch"
    assert (
        "384" in caught.value.message
        and "chinwag knowledge reindex vinhuset" in caught.value.message
    )


async def test_upsert_documents_and_vector_search_with_filters(store: VectorStore) -> None:
    await _seed(store)
    assert (await store.info(INDEX)).count == 4
    assert await store.documents(INDEX) == {  # barolo.pdf: indexed before times were kept
        "riesling.md": Document("riesling.md", "r1", 2, datetime.fromisoformat(MONDAY)),
        "barolo.pdf": Document("barolo.pdf", "b1", 1, None),
        "catalogue.csv": Document("catalogue.csv", "c1", 1, datetime.fromisoformat(TUESDAY)),
    }
    hits = await store.search_vector(INDEX, _vector(0), 4, {})
    assert hits[0].chunk.text == "Riesling from the Mosel slate"
    assert hits[0].score == pytest.approx(1.0, abs=1e-4)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    barolo = (await store.search_vector(INDEX, _vector(2), 1, {}))[0].chunk
    assert (barolo.source, barolo.page, barolo.row, barolo.tags) == (
        "barolo.pdf",
        2,
        None,
        ("red", "italy"),
    )
    assert barolo.title == "Barolo.Pdf"
    assert barolo.url == "https://shop.example/barolo"
    assert hits[0].chunk.url is None  # a document without a URL
    for filters, sources in [
        ({"source": "catalogue.csv"}, {"catalogue.csv"}),
        ({"page": 2}, {"barolo.pdf"}),
        ({"row": 1}, {"catalogue.csv"}),
        ({"tag": "italy"}, {"barolo.pdf"}),
        ({"tag": "white", "source": "riesling.md"}, {"riesling.md"}),
        ({"title": "Riesling.Md"}, {"riesling.md"}),
        ({"tag": "none"}, set()),
    ]:
        found = await store.search_vector(INDEX, _vector(0), 10, filters)
        assert {h.chunk.source for h in found} == sources, filters
    with pytest.raises(ChinwagError) as caught:
        await store.search_vector(INDEX, _vector(0), 3, {"colour": "red"})
    assert _code(caught) == "knowledge_filter_invalid"


async def test_same_ids_replace_and_old_versions_are_deleted(store: VectorStore) -> None:
    await _seed(store)
    again = _doc("riesling.md", "r1", ["Riesling from the Mosel slate", "Kabinett is light"])
    await store.upsert(INDEX, again, np.stack([_vector(0), _vector(0, 1)]))
    assert (await store.info(INDEX)).count == 4  # same ids: replaced, not duplicated
    new = _doc("riesling.md", "r2", ["Riesling, rewritten"], added_at=TUESDAY)
    await store.upsert(INDEX, new, np.stack([_vector(4)]))
    # Both versions are in the index until the old one is deleted: the newer is the document.
    rewritten = Document("riesling.md", "r2", 1, datetime.fromisoformat(TUESDAY))
    assert (await store.documents(INDEX))["riesling.md"] == rewritten
    await store.delete_document(INDEX, "riesling.md", keep="r2")
    assert (await store.documents(INDEX))["riesling.md"] == rewritten
    assert (await store.info(INDEX)).count == 3
    found = await store.search_vector(INDEX, _vector(0), 10, {"source": "riesling.md"})
    assert [h.chunk.text for h in found] == ["Riesling, rewritten"]
    await store.delete_document(INDEX, "barolo.pdf")
    assert set(await store.documents(INDEX)) == {"riesling.md", "catalogue.csv"}
    await store.drop(INDEX)
    assert not (await store.info(INDEX)).exists


async def test_keyword_search_or_a_clear_refusal(store: VectorStore) -> None:
    await _seed(store)
    if not store.keyword_search:
        with pytest.raises(ChinwagError) as caught:
            await store.search_keyword(INDEX, "Piedmont", 3, {})
        assert _code(caught) == "knowledge_mode_unsupported"
        assert "knowledge.mode" in caught.value.message
        return
    hits = await store.search_keyword(INDEX, "Piedmont", 3, {})
    assert [h.chunk.source for h in hits] == ["barolo.pdf"]
    riesling = await store.search_keyword(INDEX, "Riesling", 5, {})
    assert {h.chunk.source for h in riesling} == {"riesling.md", "catalogue.csv"}
    only_csv = await store.search_keyword(INDEX, "Riesling", 5, {"source": "catalogue.csv"})
    assert [h.chunk.source for h in only_csv] == ["catalogue.csv"]
