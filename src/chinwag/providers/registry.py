"""Which ChatModel answers for a bot: its own LLM settings, else the server's, else local."""

from __future__ import annotations

import os
from pathlib import Path

from chinwag.bots.config import LLMConfig
from chinwag.errors import LLMNotConfigured
from chinwag.providers.protocols import ChatModel
from chinwag.settings import Settings


class ModelRegistry:
    """Builds each distinct model client once and reuses it (connection pools, loaded weights)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._models: dict[tuple[object, ...], ChatModel] = {}

    def for_bot(self, llm: LLMConfig | None) -> ChatModel:
        s = self._settings
        if llm is None:
            if s.llm_base_url:
                key = s.llm_api_key.get_secret_value() if s.llm_api_key else None
                return self._openai(s.llm_base_url, key, s.llm_model or "default")
            return self._local()
        if llm.provider == "local":
            return self._local()
        api_key = None
        if llm.api_key_env:
            api_key = os.environ.get(llm.api_key_env)
            if not api_key:
                raise LLMNotConfigured(
                    f"environment variable {llm.api_key_env} (llm.api_key_env) is not set"
                )
        base_url = llm.base_url or s.llm_base_url
        return self._openai(base_url, api_key, llm.model or s.llm_model or "default")

    def _openai(self, base_url: str | None, api_key: str | None, model: str) -> ChatModel:
        from chinwag.providers.llm.openai_compat import OpenAIChatModel
        from chinwag.providers.llm.openai_stream import StreamingChatModel

        client = self._settings.llm_client
        cache_key = (client, base_url, api_key, model)
        if cache_key not in self._models:
            kind = StreamingChatModel if client == "lean" else OpenAIChatModel
            self._models[cache_key] = kind(
                base_url=base_url,
                api_key=api_key,
                model=model,
                timeout_seconds=self._settings.llm_timeout_seconds,
            )
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
        self._models.clear()
