"""Every Embedder passes one contract: unit-length float32 rows, in order, stable, with its
dimension; failures are EmbeddingError subclasses with a code and a hint."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import numpy as np
import pytest

from chinwag.errors import EmbeddingError, EmbeddingModelUnavailable
from chinwag.providers.embeddings.local import LocalEmbedder
from chinwag.providers.embeddings.openai_embeddings import OpenAIEmbedder
from chinwag.providers.protocols import Embedder
from chinwag.testing.fake_llm import FakeLLM


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeLLM]:
    with FakeLLM() as server:
        yield server


@pytest.fixture(params=["sentence-transformers", "openai"])
async def embedder(request: pytest.FixtureRequest, fake: FakeLLM) -> AsyncIterator[Embedder]:
    made: Embedder
    if request.param == "openai":
        made = OpenAIEmbedder(
            base_url=fake.base_url, api_key=None, model="fake-embed", timeout_seconds=10
        )
    else:
        made = LocalEmbedder()
    yield made
    await made.aclose()


async def test_rows_are_unit_length_in_order_and_stable(embedder: Embedder) -> None:
    texts = [f"text number {i}: a Riesling from the Mosel" for i in range(150)]
    vectors = await embedder.embed(texts)
    assert vectors.dtype == np.float32 and vectors.shape == (150, await embedder.dimension())
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    again = await embedder.embed([texts[7], texts[0]])
    assert np.allclose(again, vectors[[7, 0]], atol=1e-5)
    assert not np.allclose(vectors[0], vectors[1])


async def test_nothing_to_embed(embedder: Embedder) -> None:
    assert (await embedder.embed([])).shape[0] == 0


async def test_an_embedding_server_error_has_a_code(fake: FakeLLM) -> None:
    fake.behaviour.fail_status = 500
    embedder = OpenAIEmbedder(
        base_url=fake.base_url, api_key=None, model="fake-embed", timeout_seconds=10
    )
    try:
        with pytest.raises(EmbeddingError) as caught:
            await embedder.embed(["hello"])
        assert caught.value.code == "embedding_failed" and "500" in caught.value.message
    finally:
        fake.behaviour.fail_status = None
        await embedder.aclose()


async def test_an_unknown_local_model_is_never_downloaded() -> None:
    embedder = LocalEmbedder("some-org/not-packaged")
    with pytest.raises(EmbeddingModelUnavailable) as caught:
        await embedder.embed(["hello"])
    assert "never downloads" in caught.value.message
    await embedder.aclose()
