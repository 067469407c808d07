"""A store that refuses or does not answer: a retryable error with a stable code, not a 500."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chinwag.errors import ChinwagError
from chinwag.providers.vectorstores.pinecone_store import PineconeStore
from chinwag.providers.vectorstores.qdrant_store import QdrantStore
from chinwag.testing.fake_llm import free_port
from chinwag.testing.fake_pinecone import FakePinecone


@pytest.fixture(scope="module")
def fake_pinecone() -> Iterator[FakePinecone]:
    with FakePinecone() as fake:
        yield fake


async def test_pinecone_with_a_wrong_key(fake_pinecone: FakePinecone) -> None:
    store = PineconeStore(api_key="wrong-key", host=fake_pinecone.base_url)
    with pytest.raises(ChinwagError) as caught:
        await store.info("wines")
    assert caught.value.code == "knowledge_store_unavailable" and caught.value.retryable
    assert "'wines'" in caught.value.message and "pinecone" in caught.value.message
    await store.aclose()


async def test_qdrant_server_that_does_not_answer() -> None:
    store = QdrantStore(url=f"http://127.0.0.1:{free_port()}", api_key=None)
    with pytest.raises(ChinwagError) as caught:
        await store.info("wines")
    assert caught.value.code == "knowledge_store_unavailable"
    assert "'wines'" in caught.value.message and "qdrant" in caught.value.message
    await store.aclose()
