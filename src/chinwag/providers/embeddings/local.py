"""The embedded default: all-MiniLM-L6-v2 from PyPI packages, on one worker thread, with the
embeddings of concurrent messages computed in one model call."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from chinwag.malloc import release_free_memory
from chinwag.providers.embeddings.batching import Batcher
from chinwag.providers.embeddings.model_files import (
    onnx_files,
    pooling_dimension,
    torch_directory,
)
from chinwag.providers.embeddings.pieces import Piece, piece_text, whole_piece
from chinwag.settings import EmbeddingRuntime, EmbeddingWeights

MESSAGE_TEXTS = 4  # a call with more texts (ingestion, example sets) skips reuse and batching
MAX_BATCH = 32  # concurrent messages encoded in one model call
RECENT_TEXTS = 512  # embeddings of recent messages kept for reuse (~0.8 MB at 384 floats)


class _Model(Protocol):
    def dimension(self) -> int: ...

    def encode(self, texts: list[str]) -> NDArray[np.float32]: ...


@runtime_checkable
class _PiecesModel(Protocol):
    """A model that pools parts of a text from the text's token vectors (onnx_model.py)."""

    def encode_pieces(self, pieces: list[Piece]) -> NDArray[np.float32]: ...


class LocalEmbedder:
    """Computes embeddings on its own thread; the model loads on first use, once."""

    def __init__(
        self,
        model: str = "all-MiniLM-L6-v2",
        *,
        threads: int = 1,
        runtime: EmbeddingRuntime = "onnx",
        batch_wait_ms: float = 2.0,
        cache_dir: Path | None = None,
        weights: EmbeddingWeights = "fp32",
    ) -> None:
        """`cache_dir`: where the ONNX runtime keeps the model rewritten to hold its int8
        tables, and with `weights` "int8" its weight matrices too, as int8 (onnx_int8.py); None
        loads the export as shipped."""
        self.name = f"sentence-transformers:{model}" if runtime == "torch" else f"onnx:{model}"
        self._model_name = model
        self._threads = threads
        self._runtime = runtime
        self._cache_dir = cache_dir
        self._int8_weights = weights == "int8"
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="chinwag-embed")
        self._model: _Model | None = None
        self._recent: OrderedDict[Piece, NDArray[np.float32]] = OrderedDict()
        self._batcher: Batcher[Piece] = Batcher(
            self._encode_batch, max_batch=MAX_BATCH, max_wait=batch_wait_ms / 1000
        )

    async def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        if not texts:
            return np.zeros((0, await self.dimension()), dtype=np.float32)
        if len(texts) > MESSAGE_TEXTS:  # ingestion and example sets: nothing to reuse
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._executor, self._encode, list(texts))
        return await self._embed_pieces([whole_piece(t) for t in texts])

    async def embed_parts(self, text: str, parts: Sequence[tuple[int, int]]) -> NDArray[np.float32]:
        """The text's vector, then one per part (characters [start, end) of it): the parts
        pooled from the text's own token vectors, in the same model call as the text."""
        return await self._embed_pieces([whole_piece(text), *((text, s, e) for s, e in parts)])

    async def _embed_pieces(self, pieces: list[Piece]) -> NDArray[np.float32]:
        # A message is embedded by the router, the curated-answer matcher, retrieval and table
        # lookup in turn: the model runs once per distinct text, and once for the texts of
        # concurrent messages.
        found = {p: self._recent[p] for p in pieces if p in self._recent}
        missing = [p for p in dict.fromkeys(pieces) if p not in found]
        if missing:  # held in `found`: concurrent calls may evict while this one waits
            found.update(zip(missing, await self._batcher.embed(missing), strict=True))
        for piece in pieces:
            self._recent[piece] = found[piece]
            self._recent.move_to_end(piece)
        while len(self._recent) > RECENT_TEXTS:
            self._recent.popitem(last=False)
        return np.stack([found[p] for p in pieces])

    async def dimension(self) -> int:
        """The vector size; read from the model's files when it is not loaded (no slow load)."""
        loop = asyncio.get_running_loop()
        if self._model is None:
            size = await loop.run_in_executor(self._executor, self._dimension_from_files)
            if size is not None:
                return size
        model = await loop.run_in_executor(self._executor, self._load)
        return model.dimension()

    async def aclose(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def _encode_batch(self, pieces: list[Piece]) -> NDArray[np.float32]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._encode_pieces, pieces)

    def _encode_pieces(self, pieces: list[Piece]) -> NDArray[np.float32]:
        model = self._load()
        if isinstance(model, _PiecesModel):
            return model.encode_pieces(pieces)
        return model.encode([piece_text(p) for p in pieces])  # torch: each part embedded alone

    def _encode(self, texts: list[str]) -> NDArray[np.float32]:
        vectors = self._load().encode(texts)
        if len(texts) > MAX_BATCH:  # ingestion: its buffers go back to the system
            release_free_memory()
        return vectors

    def _dimension_from_files(self) -> int | None:
        if self._runtime == "torch":
            return pooling_dimension(torch_directory(self._model_name))
        return onnx_files(self._model_name).dimension

    def _load(self) -> _Model:
        if self._model is None:
            if self._runtime == "torch":
                from chinwag.providers.embeddings.torch_model import TorchModel

                directory = torch_directory(self._model_name)
                self._model = TorchModel(directory, threads=self._threads)
            else:
                from chinwag.providers.embeddings.onnx_int8 import with_int8_kept
                from chinwag.providers.embeddings.onnx_model import OnnxModel

                files = onnx_files(self._model_name)
                if self._cache_dir is not None:
                    files = files.with_model(
                        with_int8_kept(files.model, self._cache_dir, weights=self._int8_weights)
                    )
                self._model = OnnxModel(files, threads=self._threads)
            release_free_memory()
        return self._model
