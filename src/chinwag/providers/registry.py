"""Which models serve a bot: its own LLM settings, else the server's, else the local model;
and which embedder computes its embeddings."""

from __future__ import annotations

import os
from pathlib import Path

from chinwag.config.bot import EmbeddingConfig
from chinwag.config.llm import LLMConfig
from chinwag.errors import LLMNotConfigured
from chinwag.providers.protocols import ChatModel, Embedder
from chinwag.settings import Settings

OPENAI_URL = "https://api.openai.com/v1"


class ModelRegistry:
    """Builds each distinct model client once and reuses it (connection pools, loaded weights)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._models: dict[tuple[object, ...], ChatModel] = {}
        self._embedders: dict[tuple[object, ...], Embedder] = {}

    def for_bot(self, llm: LLMConfig | None) -> ChatModel:
        """The model for these (effective) settings; no provider means the server's default."""
        s = self._settings
        url = llm_server_url(s, llm)
        if url is None:
            return self._local()
        if llm is not None and llm.api_key_env:
            key = _key_from_env(llm.api_key_env)
        elif _uses_server_default(llm):
            key = s.llm_api_key.get_secret_value() if s.llm_api_key else None
        else:
            key = None
        return self._openai(url, key, (llm.model if llm else None) or s.llm_model or "default")

    def embedder(self, config: EmbeddingConfig) -> Embedder:
        """The embedder for a bot's embedding settings, built once and shared."""
        key = (config.provider, config.model, config.base_url, config.api_key_env)
        if key not in self._embedders:
            if config.provider == "openai":
                from chinwag.providers.embeddings.openai_embeddings import OpenAIEmbedder

                self._embedders[key] = OpenAIEmbedder(
                    base_url=config.base_url or self._settings.llm_base_url,
                    api_key=_key_from_env(config.api_key_env),
                    model=config.model,
                    timeout_seconds=self._settings.llm_timeout_seconds,
                )
            else:
                from chinwag.providers.embeddings.local import LocalEmbedder

                self._embedders[key] = LocalEmbedder(
                    config.model,
                    threads=self._settings.embedding_threads,
                    runtime=self._settings.embedding_runtime,
                    batch_wait_ms=self._settings.embedding_batch_wait_ms,
                    cache_dir=self._settings.data_dir / "models",
                    weights=self._settings.embedding_weights,
                )
        return self._embedders[key]

    def _openai(self, base_url: str | None, api_key: str | None, model: str) -> ChatModel:
        client = self._settings.llm_client
        cache_key = (client, base_url, api_key, model)
        if cache_key not in self._models:
            # Only the client in use is imported: the openai SDK adds ~12 MB to a worker.
            timeout = self._settings.llm_timeout_seconds
            made: ChatModel
            if client == "lean":
                from chinwag.providers.llm.openai_stream import StreamingChatModel

                made = StreamingChatModel(
                    base_url=base_url, api_key=api_key, model=model, timeout_seconds=timeout
                )
            else:
                from chinwag.providers.llm.openai_compat import OpenAIChatModel

                made = OpenAIChatModel(
                    base_url=base_url, api_key=api_key, model=model, timeout_seconds=timeout
                )
            self._models[cache_key] = made
        return self._models[cache_key]

    def _local(self) -> ChatModel:
        from chinwag.providers.llm.local import LocalChatModel

        s = self._settings
        cache_key = ("local", s.local_model)
        if cache_key not in self._models:
            self._models[cache_key] = LocalChatModel(
                s.local_model, threads=s.local_model_threads, data_dir=Path(s.data_dir)
            )
        return self._models[cache_key]

    async def aclose(self) -> None:
        for model in self._models.values():
            await model.aclose()
        for embedder in self._embedders.values():
            await embedder.aclose()
        self._models.clear()
        self._embedders.clear()


def llm_server_url(settings: Settings, llm: LLMConfig | None) -> str | None:
    """The OpenAI-compatible server these (effective) settings talk to; None: the embedded
    model. No provider and no base URL mean the server's default (CHINWAG_LLM_*)."""
    if _uses_server_default(llm):
        return settings.llm_base_url
    assert llm is not None
    if llm.provider == "local":
        return None
    return llm.base_url or settings.llm_base_url or OPENAI_URL


def _uses_server_default(llm: LLMConfig | None) -> bool:
    return llm is None or (llm.provider is None and llm.base_url is None)


def _key_from_env(name: str | None) -> str | None:
    """The API key held by environment variable `name`; LLMNotConfigured when it is unset."""
    if name is None:
        return None
    value = os.environ.get(name)
    if not value:
        raise LLMNotConfigured(f"environment variable {name} (api_key_env) is not set")
    return value
