"""Every Embedder passes one contract: unit-length float32 rows, in order, stable, with its
dimension; failures are EmbeddingError subclasses with a code and a hint."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

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


# torch loads for ~10 s in each test process: `make test`, not `make check`.
@pytest.fixture(params=["onnx", pytest.param("torch", marks=pytest.mark.slow), "openai"])
async def embedder(request: pytest.FixtureRequest, fake: FakeLLM) -> AsyncIterator[Embedder]:
    made: Embedder
    if request.param == "openai":
        made = OpenAIEmbedder(
            base_url=fake.base_url, api_key=None, model="fake-embed", timeout_seconds=10
        )
    else:
        made = LocalEmbedder(runtime=request.param)
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


async def test_the_onnx_runtime_names_what_a_model_directory_lacks(tmp_path: Path) -> None:
    embedder = LocalEmbedder(str(tmp_path), runtime="onnx")
    with pytest.raises(EmbeddingModelUnavailable) as caught:
        await embedder.embed(["hello"])
    assert caught.value.code == "embedding_model_unavailable"
    assert "model.onnx" in caught.value.message
    assert "CHINWAG_EMBEDDING_RUNTIME=torch" in caught.value.hint
    await embedder.aclose()


@pytest.mark.slow
async def test_both_runtimes_compute_the_same_model(tmp_path: Path) -> None:
    """int8 weights on ONNX Runtime (kept int8, as a server runs them) against fp32 on torch:
    the same directions, to ~0.1%."""
    texts = ["When are you open on Saturday?", "a red wine for lamb", "Kan jeg betale med Vipps?"]
    onnx = LocalEmbedder(runtime="onnx", cache_dir=tmp_path)
    torch = LocalEmbedder(runtime="torch")
    try:
        cosines = np.sum(await onnx.embed(texts) * await torch.embed(texts), axis=1)
        assert cosines.min() > 0.99
    finally:
        await onnx.aclose()
        await torch.aclose()
