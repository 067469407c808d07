"""A bot's LLM settings (the bot's own, a flow's override, the router's): unset fields
inherit."""

from __future__ import annotations

from pydantic import Field

from chinwag.config.strict import (
    URL_PATTERN,
    LLMProvider,
    Strict,
)


class LLMConfig(Strict):
    """An LLM: the bot's own, a flow's override, or the router's. Unset fields inherit."""

    provider: LLMProvider | None = Field(
        None, description="`openai` (any OpenAI-compatible server) or `local` (embedded model)."
    )
    base_url: str | None = Field(
        None, pattern=URL_PATTERN, description="OpenAI-compatible base URL, e.g. …/v1."
    )
    api_key_env: str | None = Field(
        None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="NAME of the environment variable holding the API key (never the key).",
    )
    model: str | None = Field(None, description="Model name sent to the server.")
    temperature: float | None = Field(None, ge=0, le=2, description="Sampling temperature.")
    max_tokens: int | None = Field(None, ge=1, description="Longest answer, in tokens.")

    def over(self, base: LLMConfig | None) -> LLMConfig:
        """These settings with unset fields taken from `base`."""
        if base is None:
            return self
        mine = self.model_dump(exclude_none=True)
        return LLMConfig.model_validate({**base.model_dump(exclude_none=True), **mine})


def effective_llm(own: LLMConfig | None, base: LLMConfig | None) -> LLMConfig | None:
    """A flow's (or the router's) LLM settings: its own over `base`, else `base`."""
    return own.over(base) if own is not None else base
