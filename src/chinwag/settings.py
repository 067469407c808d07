"""The one place configuration is read from: environment (prefix CHINWAG_) and `.env`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LocalModelName = Literal["smollm2-135m", "gemma3-270m"]


class Settings(BaseSettings):
    """Server settings; every field can be set as CHINWAG_<NAME> in the environment or `.env`."""

    model_config = SettingsConfigDict(
        env_prefix="CHINWAG_", env_file=".env", extra="ignore", frozen=True
    )

    data_dir: Path = Field(Path(".chinwag"), description="Where the embedded defaults keep files.")
    database_url: str = Field(
        "sqlite+aiosqlite:///./.chinwag/chinwag.db",
        description="SQLAlchemy async URL: sqlite+aiosqlite:///… or postgresql+asyncpg://…",
    )
    database_pool_size: int = Field(10, ge=1, description="PostgreSQL connection pool size.")

    llm_base_url: str | None = Field(
        None, description="OpenAI-compatible server for bots without LLM settings of their own."
    )
    llm_api_key: SecretStr | None = Field(None, description="API key for CHINWAG_LLM_BASE_URL.")
    llm_model: str | None = Field(None, description="Model name sent to CHINWAG_LLM_BASE_URL.")
    llm_client: Literal["lean", "sdk"] = Field(
        "lean",
        description="OpenAI-compatible client: `lean` (aiohttp, for the hot path) or `sdk` "
        "(the official openai SDK); same requests, retries and error codes.",
    )
    llm_timeout_seconds: float = Field(60.0, gt=0, description="Per-request LLM timeout.")
    local_model: LocalModelName = Field(
        "smollm2-135m", description="Embedded model used when no LLM server is configured."
    )
    local_model_threads: int = Field(2, ge=1, description="CPU threads for the embedded model.")
    embedding_threads: int = Field(
        1, ge=1, description="CPU threads (torch) for the embedded embedding model."
    )

    host: str = Field("127.0.0.1", description="Interface `serve` and `demo` bind to.")
    port: int = Field(8000, ge=1, le=65535, description="Port `serve` and `demo` bind to.")

    heartbeat_seconds: float = Field(
        2.0, gt=0, description="How often a server marks its live generations as alive."
    )
    sse_heartbeat_seconds: float = Field(
        15.0, gt=0, description="Longest silence on an SSE connection before a comment is sent."
    )
    sse_retry_ms: int = Field(2000, ge=0, description="`retry:` hint sent to SSE clients.")
    shutdown_grace_seconds: float = Field(
        10.0, ge=0, description="How long shutdown waits for running generations to finish."
    )
    history_turns: int = Field(
        20, ge=0, description="Earlier messages of the session given to the LLM as history."
    )

    @field_validator("llm_base_url")
    @classmethod
    def _strip_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value
