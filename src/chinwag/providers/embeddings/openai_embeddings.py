"""Embeddings from any OpenAI-compatible `/v1/embeddings`, through the official SDK."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import openai
from numpy.typing import NDArray

from chinwag.errors import EmbeddingError

BATCH_SIZE = 128


class OpenAIEmbedder:
    def __init__(
        self, *, base_url: str | None, api_key: str | None, model: str, timeout_seconds: float
    ) -> None:
        self.name = f"openai:{model}@{base_url or 'https://api.openai.com/v1'}"
        self._model = model
        self._dimension: int | None = None
        self._client = openai.AsyncOpenAI(
            base_url=base_url,
            api_key=api_key or "chinwag-no-key",
            timeout=timeout_seconds,
            max_retries=2,
        )

    async def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        if not texts:
            return np.zeros((0, await self.dimension()), dtype=np.float32)
        rows: list[list[float]] = []
        for start in range(0, len(texts), BATCH_SIZE):
            batch = list(texts[start : start + BATCH_SIZE])
            try:
                response = await self._client.embeddings.create(model=self._model, input=batch)
            except openai.APIStatusError as exc:
                raise EmbeddingError(
                    f"the embedding server answered {exc.status_code} for model "
                    f"'{self._model}': {exc.message}"
                ) from exc
            except openai.APIError as exc:
                raise EmbeddingError(f"the embedding server failed: {exc}") from exc
            rows += [item.embedding for item in sorted(response.data, key=lambda d: d.index)]
        vectors = np.asarray(rows, dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        vectors = (vectors / np.where(norms == 0, 1, norms)).astype(np.float32)
        self._dimension = int(vectors.shape[1])
        return vectors

    async def dimension(self) -> int:
        if self._dimension is None:
            await self.embed(["dimension probe"])
        assert self._dimension is not None
        return self._dimension

    async def aclose(self) -> None:
        await self._client.close()
