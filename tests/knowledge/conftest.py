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
    """The real model. One torch thread: on a busy 2-core machine two threads spin against each
    other and a single query takes ~40x longer (measured 455 ms vs 11 ms)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    model = LocalEmbedder()
    yield model
    asyncio.run(model.aclose())
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def chunker() -> Chunker:
    return Chunker()


@pytest.fixture
async def lance(tmp_path: Path) -> AsyncIterator[LanceDBStore]:
    store = LanceDBStore(tmp_path / "lancedb")
    yield store
    await store.aclose()
