"""A bot's configuration: the models that YAML and the API share, validated strictly."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

BOT_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LLMConfig(_Strict):
    """The bot's own LLM; without it the server default (CHINWAG_LLM_*) answers."""

    provider: Literal["openai", "local"] = "openai"
    base_url: str | None = Field(None, description="OpenAI-compatible base URL, e.g. …/v1")
    api_key_env: str | None = Field(
        None, description="Name of the environment variable holding the API key (never the key)."
    )
    model: str | None = None
    temperature: float | None = Field(None, ge=0, le=2)
    max_tokens: int | None = Field(None, ge=1)


class FlowConfig(_Strict):
    """One flow: a system prompt and a prompt template (Jinja2, sandboxed, strict)."""

    system: str | None = Field(None, description="Template for the system prompt.")
    template: str = Field(description="Template for the final user turn, e.g. '{{ message }}'.")


class BotConfig(_Strict):
    id: str = Field(pattern=BOT_ID_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    llm: LLMConfig | None = None
    history_turns: int | None = Field(None, ge=0, le=200)
    flows: dict[str, FlowConfig]

    @model_validator(mode="after")
    def _main_flow_required(self) -> BotConfig:
        if "main" not in self.flows:
            raise ValueError("flows.main is required: it writes the answer")
        return self
