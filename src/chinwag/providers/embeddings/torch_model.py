"""A sentence-transformers model on torch (`CHINWAG_EMBEDDING_RUNTIME=torch`, the extra
`chinwag[torch]`): fp32 weights, any sentence-transformers directory; torch alone holds ~600 MB
of a worker's memory. mypy checks this module with or without the extra installed."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

BATCH_SIZE = 64
DIRECT_BATCH = 32  # up to this many texts (concurrent messages): one forward pass


def quiet_transformers() -> None:
    """No third-party progress bars ("Loading weights") or notices on stderr: chinwag's
    commands print their own progress, and `--json` output must stay JSON."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call,unused-ignore]
    transformers_logging.set_verbosity_error()  # type: ignore[no-untyped-call,unused-ignore]


class TorchModel:
    """Loaded on construction; called from one thread at a time."""

    def __init__(self, directory: Path, *, threads: int) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a packaged model needs no network
        import torch
        from sentence_transformers import SentenceTransformer

        quiet_transformers()
        # torch's intra-op pool is per process; one thread keeps a query at ~12 ms on a busy
        # machine where two (the default here) took up to 450 ms (bench/README.md).
        torch.set_num_threads(threads)
        self._model: SentenceTransformer = SentenceTransformer(str(directory), device="cpu")

    def dimension(self) -> int:
        get_size = getattr(self._model, "get_embedding_dimension", None)  # s-t ≥ 6
        size = get_size() if get_size else self._model.get_sentence_embedding_dimension()
        assert size is not None
        return int(size)

    def encode(self, texts: list[str]) -> NDArray[np.float32]:
        if len(texts) > DIRECT_BATCH:
            vectors = self._model.encode(
                texts, batch_size=BATCH_SIZE, normalize_embeddings=True, show_progress_bar=False
            )
            return np.asarray(vectors, dtype=np.float32)
        # Messages to route (concurrent ones batched): the model's forward pass without
        # encode()'s batching machinery, ~1 ms less per call (bench/routing_bench.py).
        import torch

        with torch.inference_mode():
            features = self._model.preprocess(texts)
            pooled = self._model.forward(features)["sentence_embedding"]
            return torch.nn.functional.normalize(pooled, dim=1).numpy().astype(np.float32)
