"""Concurrent messages are embedded in one model call, with the vectors a lone call gives."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from numpy.typing import NDArray

from chinwag.providers.embeddings.batching import Batcher
from chinwag.providers.embeddings.local import LocalEmbedder
from chinwag.providers.embeddings.pieces import Piece, piece_text
from chinwag.settings import EmbeddingRuntime

MESSAGES = [
    "When are you open on Saturday?",
    "Do you have a Barolo under 400 kroner?",
    "hi",
    "Which wine goes with grilled salmon and a lemon butter sauce?",
    "Kan jeg returnere en flaske som var dårlig?",
    "How many bottles of Riesling did we sell last month, and to whom?",
    "gift card",
    "I want to talk to a person",
]


class CountingModel:
    """The real embedding model, with a record of the batches it was given (their texts)."""

    def __init__(self, embedder: LocalEmbedder) -> None:
        self.embedder = embedder
        self.batches: list[list[str]] = []
        self.pieces: list[list[Piece]] = []

    async def encode(self, pieces: list[Piece]) -> NDArray[np.float32]:
        self.batches.append([piece_text(p) for p in pieces])
        self.pieces.append(pieces)
        return await self.embedder._encode_batch(pieces)


Lone = tuple[EmbeddingRuntime, dict[str, NDArray[np.float32]]]


# torch loads for ~10 s in each test process: `make test`, not `make check`.
@pytest.fixture(scope="module", params=["onnx", pytest.param("torch", marks=pytest.mark.slow)])
def lone(request: pytest.FixtureRequest) -> Lone:
    """Each message embedded alone, one call after the other, by a runtime."""
    runtime: EmbeddingRuntime = request.param

    async def embed_each() -> dict[str, NDArray[np.float32]]:
        embedder = LocalEmbedder(runtime=runtime)
        try:
            return {m: (await embedder.embed([m]))[0] for m in MESSAGES}
        finally:
            await embedder.aclose()

    return runtime, asyncio.run(embed_each())


async def test_concurrent_messages_get_the_vectors_of_lone_calls(lone: Lone) -> None:
    runtime, alone = lone
    embedder = LocalEmbedder(runtime=runtime)
    model = CountingModel(embedder)
    embedder._batcher = Batcher(model.encode, max_batch=32, max_wait=0.002)
    try:
        together = await asyncio.gather(*(embedder.embed([m]) for m in MESSAGES))
    finally:
        await embedder.aclose()
    assert model.batches == [MESSAGES]  # one model call for all of them
    for message, vectors in zip(MESSAGES, together, strict=True):
        assert vectors.shape == (1, 384)
        assert np.allclose(vectors[0], alone[message], atol=1e-5)


async def test_a_batch_is_bounded_and_the_rest_follows_at_once() -> None:
    embedder = LocalEmbedder()
    model = CountingModel(embedder)
    embedder._batcher = Batcher(model.encode, max_batch=3, max_wait=0.002)
    try:
        together = await asyncio.gather(*(embedder.embed([m]) for m in MESSAGES))
    finally:
        await embedder.aclose()
    assert [len(b) for b in model.batches] == [3, 3, 2]
    assert [t for b in model.batches for t in b] == MESSAGES
    assert all(v.shape == (1, 384) for v in together)


async def test_a_text_asked_for_twice_at_once_is_encoded_once() -> None:
    embedder = LocalEmbedder()
    model = CountingModel(embedder)
    embedder._batcher = Batcher(model.encode, max_batch=32, max_wait=0)
    try:
        first, second = await asyncio.gather(
            embedder.embed([MESSAGES[0]]), embedder.embed([MESSAGES[0], MESSAGES[1]])
        )
    finally:
        await embedder.aclose()
    assert model.batches == [[MESSAGES[0], MESSAGES[1]]]
    assert np.array_equal(first[0], second[0])


async def test_a_failed_batch_fails_each_caller_and_the_next_batch_runs() -> None:
    calls: list[list[str]] = []

    async def encode(texts: list[str]) -> NDArray[np.float32]:
        calls.append(texts)
        if len(calls) == 1:
            raise RuntimeError("model failed")
        return np.ones((len(texts), 2), dtype=np.float32)

    batcher = Batcher(encode, max_batch=32, max_wait=0.001)
    results = await asyncio.gather(
        batcher.embed(["a"]), batcher.embed(["b"]), return_exceptions=True
    )
    assert [str(r) for r in results] == ["model failed", "model failed"]
    assert [v.tolist() for v in await batcher.embed(["c"])] == [[1.0, 1.0]]


async def test_a_caller_that_gives_up_does_not_cancel_the_others() -> None:
    release = asyncio.Event()

    async def encode(texts: list[str]) -> NDArray[np.float32]:
        await release.wait()
        return np.zeros((len(texts), 2), dtype=np.float32)

    batcher = Batcher(encode, max_batch=32, max_wait=0)
    impatient = asyncio.create_task(batcher.embed(["shared"]))
    patient = asyncio.create_task(batcher.embed(["shared"]))
    await asyncio.sleep(0)
    impatient.cancel()
    release.set()
    assert [v.tolist() for v in await patient] == [[0.0, 0.0]]
    assert impatient.cancelled()


def test_a_batch_cut_off_with_its_event_loop_does_not_stall_the_next_loop() -> None:
    release = asyncio.Event()

    async def encode(texts: list[str]) -> NDArray[np.float32]:
        if not release.is_set():
            await release.wait()  # never set on the first loop: it ends mid-batch
        return np.ones((len(texts), 2), dtype=np.float32)

    batcher = Batcher(encode, max_batch=32, max_wait=0)

    async def give_up() -> None:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(batcher.embed(["a"]), 0.05)

    async def ask_again() -> list[list[float]]:
        release.set()
        return [v.tolist() for v in await batcher.embed(["a"])]

    asyncio.run(give_up())
    assert asyncio.run(ask_again()) == [[1.0, 1.0]]


def test_a_wait_cut_off_with_its_event_loop_does_not_stall_the_next_loop() -> None:
    async def encode(texts: list[str]) -> NDArray[np.float32]:
        return np.ones((len(texts), 2), dtype=np.float32)

    batcher = Batcher(encode, max_batch=32, max_wait=10)  # the first loop ends while it waits

    async def give_up() -> None:
        await batcher.embed(["first"])  # after it, "a" comes close behind: it waits for company
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(batcher.embed(["a"]), 0.05)

    async def ask_again() -> list[list[float]]:
        batcher._max_wait = 0
        return [v.tolist() for v in await batcher.embed(["a"])]

    asyncio.run(give_up())
    assert asyncio.run(ask_again()) == [[1.0, 1.0]]


class Recorded:
    """An encoder that answers at once and records its batches."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    async def __call__(self, texts: list[str]) -> NDArray[np.float32]:
        self.batches.append(list(texts))
        return np.ones((len(texts), 2), dtype=np.float32)


async def test_a_text_after_a_quiet_spell_is_encoded_at_once() -> None:
    encode = Recorded()
    batcher = Batcher(encode, max_batch=32, max_wait=10)  # a wait would outlast the timeout
    await asyncio.wait_for(batcher.embed(["the first message in a while"]), 1.0)
    assert encode.batches == [["the first message in a while"]]


async def test_texts_close_together_wait_for_company() -> None:
    encode = Recorded()
    batcher = Batcher(encode, max_batch=32, max_wait=0.5)
    await batcher.embed(["a"])  # after quiet: at once
    second = asyncio.create_task(batcher.embed(["b"]))  # close behind "a": waits for company
    await asyncio.sleep(0.05)
    third = asyncio.create_task(batcher.embed(["c"]))
    await asyncio.gather(second, third)
    assert encode.batches == [["a"], ["b", "c"]]
