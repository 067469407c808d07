"""Knowledge fixtures: the real embedded embedding model (loaded once) and a LanceDB store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from chinwag.knowledge.chunking import Chunker
from chinwag.providers.embeddings.local import LocalEmbedder
from chinwag.providers.vectorstores.lancedb_store import LanceDBStore

DATA = Path(__file__).resolve().parent.parent / "data"
INGEST = DATA / "ingest"
DEMO_CORPUS = Path(__file__).resolve().parents[2] / "src/chinwag/bots/demo/knowledge"


@pytest.fixture(scope="session")
def embedder() -> Iterator[LocalEmbedder]:
    """The real model (the default runtime, ONNX), on one thread as in the server."""
    model = LocalEmbedder(threads=1)
    yield model
    asyncio.run(model.aclose())


@pytest.fixture(scope="session")
def chunker() -> Chunker:
    return Chunker()


@pytest.fixture
async def lance(tmp_path: Path) -> AsyncIterator[LanceDBStore]:
    store = LanceDBStore(tmp_path / "lancedb")
    yield store
    await store.aclose()
