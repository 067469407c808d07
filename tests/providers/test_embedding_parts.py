"""A message and its clauses in one model pass: the router's clause vectors are pooled from the
message's own token vectors (ONNX), or embedded alone where a runtime cannot (torch)."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from tests.providers.test_embedding_batching import CountingModel

from chinwag.engine.flow_classifier import clause_spans, clauses
from chinwag.providers.embeddings.batching import Batcher
from chinwag.providers.embeddings.local import LocalEmbedder

MESSAGE = "Hi there! What does the Barolo cost, and do you deliver to Voss?"


def test_clause_spans_point_at_the_clauses_in_the_message() -> None:
    spans = clause_spans(MESSAGE)
    assert [MESSAGE[s:e] for s, e in spans] == clauses(MESSAGE)[1:]
    assert clauses(MESSAGE)[1:] == [
        "Hi there!",
        "What does the Barolo cost",
        "do you deliver to Voss?",
    ]
    assert clause_spans("When are you open?") == []  # one clause: the message alone
    norwegian = "Hei! Hva koster Barolo, og leverer dere til Voss?"
    assert clauses(norwegian)[0].startswith(norwegian)  # glosses follow the message
    assert [norwegian[s:e] for s, e in clause_spans(norwegian)] == [
        "Hei!",
        "Hva koster Barolo",
        "leverer dere til Voss?",
    ]


async def test_a_message_and_its_clauses_take_one_model_call() -> None:
    embedder = LocalEmbedder()
    model = CountingModel(embedder)
    embedder._batcher = Batcher(model.encode, max_batch=32, max_wait=0.002)
    spans = clause_spans(MESSAGE)
    try:
        # retrieval asks for the message while the router asks for it with its clauses
        alone, parts = await asyncio.gather(
            embedder.embed([MESSAGE]), embedder.embed_parts(MESSAGE, spans)
        )
        clause_alone = await embedder.embed(clauses(MESSAGE)[1:])
    finally:
        await embedder.aclose()
    assert model.pieces[0] == [(MESSAGE, 0, len(MESSAGE)), *((MESSAGE, s, e) for s, e in spans)]
    assert parts.shape == (4, 384) and np.allclose(np.linalg.norm(parts, axis=1), 1, atol=1e-5)
    assert np.array_equal(parts[0], alone[0])  # the message as a lone call gives it
    similar = parts[1:] @ clause_alone.T  # each part against each clause embedded alone
    # A clause that says something is closest to itself embedded alone; a bare "Hi there!"
    # takes on the rest of the message (measured on the labelled sets: routing the same).
    assert similar[1].argmax() == 1 and similar[2].argmax() == 2, similar
    assert min(similar[1, 1], similar[2, 2]) > 0.75, similar


@pytest.mark.slow
async def test_a_runtime_without_token_vectors_embeds_each_clause_alone() -> None:
    embedder = LocalEmbedder(runtime="torch")
    try:
        parts = await embedder.embed_parts(MESSAGE, clause_spans(MESSAGE))
        alone = await embedder.embed([MESSAGE, *clauses(MESSAGE)[1:]])
    finally:
        await embedder.aclose()
    assert np.allclose(parts, alone, atol=1e-5)
