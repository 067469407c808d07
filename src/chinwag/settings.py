"""The one place configuration is read from: environment (prefix CHINWAG_) and `.env`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from chinwag.config.strict import RateLimitText

LocalModelName = Literal["smollm2-135m", "gemma3-270m"]
EmbeddingRuntime = Literal["onnx", "torch"]
EmbeddingWeights = Literal["int8", "fp32"]


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
    llm_timeout_seconds: float = Field(
        60.0,
        gt=0,
        description="Longest wait for the LLM: for its response to start, and for each silence "
        "while it streams (then `llm_timeout`).",
    )
    local_model: LocalModelName = Field(
        "smollm2-135m", description="Embedded model used when no LLM server is configured."
    )
    local_model_threads: int = Field(2, ge=1, description="CPU threads for the embedded model.")
    embedding_threads: int = Field(
        1, ge=1, description="CPU threads for the embedded embedding model."
    )
    embedding_runtime: EmbeddingRuntime = Field(
        "onnx",
        description="What runs the embedded embedding model: `onnx` (int8 weights on ONNX "
        "Runtime, no torch in the worker) or `torch` (sentence-transformers, fp32 weights; "
        "the extra `chinwag[torch]`).",
    )
    embedding_weights: EmbeddingWeights = Field(
        "fp32",
        description="How the `onnx` runtime holds the embedded model's int8 weights: `fp32` "
        "(unpacked by ONNX Runtime; the faster choice on every CPU measured) or `int8` (kept "
        "int8, ~25-30 MB less per worker, computed by ONNX Runtime's int8 kernel: about as fast "
        "for a message alone on some CPUs, twice as slow on others, and ~40% or more CPU per "
        "message when messages are embedded together).",
    )
    embedding_batch_wait_ms: float = Field(
        2.0,
        ge=0,
        le=50,
        description="Longest wait of an idle embedding model for other messages to embed "
        "in the same call, while messages come close together (within ten times this); the "
        "first after a quiet spell is embedded at once; 0: none.",
    )
    malloc_mmap_threshold_kb: int = Field(
        128,
        ge=0,
        le=32 * 1024,
        description="A served worker's allocations of this many KiB or more get memory pages of "
        "their own, returned to the system when freed (glibc); 0: glibc's own threshold, which "
        "rises after large frees and leaves freed buffers resident.",
    )

    mcp_commands: str = Field(
        "",
        description="Programs a bot's stdio MCP server may run, comma-separated (e.g. "
        "`python,/opt/tools/shop-mcp`); empty: none (streamable HTTP servers need no entry).",
    )

    secrets_file: Path | None = Field(
        None,
        description="A file of `NAME=value` lines that `${NAME}` in a bot's tools, MCP servers "
        "and webhooks may read when the environment has no such variable; read again when it "
        "changes. Keep it `chmod 600`.",
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
    event_log_max_backlog: int = Field(
        20_000,
        ge=1,
        description="Stream events a server keeps in memory while the database cannot be "
        "reached; past it, its running answers end `interrupted` (written when it is back).",
    )
    event_log_commit_interval_ms: float = Field(
        250.0,
        ge=0,
        le=1000,
        description="Longest time a stream event waits for the event log's next commit (group "
        "commit); an answer's first token and its end are committed at once. 0: commit as soon "
        "as the previous commit is done (one commit per token at low load).",
    )
    history_turns: int = Field(
        20, ge=0, description="Earlier messages of the session given to the LLM as history."
    )

    secret_key: SecretStr | None = Field(
        None,
        description="Signs end-user tokens and derives identity-verification secrets; unset: "
        "a random secret kept in CHINWAG_DATA_DIR/secret_key. Every server of one deployment "
        "needs the same value.",
    )
    user_token_ttl_seconds: int = Field(
        7 * 24 * 3600, ge=60, description="How long an end-user token is valid."
    )
    smtp_url: str | None = Field(
        None,
        description="The SMTP server that sends handoff emails (a bot's `handoff.email`): "
        "`smtp://user:password@host:587` (STARTTLS when the server offers it), "
        "`smtps://…:465` (TLS from the start), or `smtp://host:25` without a login; unset: "
        "handoff emails fail with `smtp_not_configured`.",
    )
    smtp_from: str = Field("chinwag@localhost", description="The From address of handoff emails.")
    webhook_retry_seconds: float = Field(
        10.0,
        gt=0,
        description="The pause before a failed handoff webhook is sent again; it doubles "
        "after each attempt (6 attempts in all).",
    )
    console_session_seconds: int = Field(
        8 * 3600, ge=60, description="How long an admin console sign-in lasts."
    )
    console_node_modules: Path | None = Field(
        None,
        description="Where the admin console's front-end libraries are installed (`npm ci`); "
        "unset: the node_modules next to chinwag's source.",
    )
    key_cache_seconds: float = Field(
        5.0,
        ge=0,
        description="How long a server remembers a key lookup; a key revoked on another "
        "server stops working here within this time.",
    )

    redis_url: str | None = Field(
        None,
        description="Redis shared by every server, e.g. redis://127.0.0.1:6379/0: rate-limit "
        "counters, and live fan-out of answers to followers on other workers (Redis Streams); "
        "unset: counters in this process's memory, other workers poll the database.",
    )
    rate_limit_key: RateLimitText = Field(
        "600/minute", description="Requests per bot secret or publishable key or user token."
    )
    rate_limit_user: RateLimitText = Field("30/minute", description="Messages per end user.")
    rate_limit_ip: RateLimitText = Field("300/minute", description="Requests per client IP.")
    open_streams_per_user: int = Field(
        3, ge=1, description="Answers being written at once for one end user (per server)."
    )
    max_body_bytes: int = Field(
        256_000, ge=1024, description="Largest request body; larger ones answer 413."
    )
    max_upload_bytes: int = Field(
        64 * 1024 * 1024,
        ge=1024,
        description="Largest knowledge upload, all its files together (each file at most "
        "CHINWAG_MAX_UPLOAD_FILE_BYTES); larger ones answer 413 body_too_large.",
    )
    max_upload_file_bytes: int = Field(
        20 * 1024 * 1024,
        ge=1024,
        description="Largest file in a knowledge upload; larger ones answer 413 upload_too_large.",
    )

    retention_events_seconds: int = Field(
        3600, ge=0, description="Stream events are purged this long after their stream finished."
    )
    retention_streams_seconds: int = Field(
        86400, ge=0, description="Finished streams are deleted this long after they finished."
    )
    gc_interval_seconds: float = Field(
        300.0, gt=0, description="How often the server runs a retention pass."
    )
    gc_batch_size: int = Field(
        50, ge=1, le=10_000, description="Rows (streams or messages) per retention transaction."
    )

    @field_validator("llm_base_url")
    @classmethod
    def _strip_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value

    @property
    def mcp_command_set(self) -> frozenset[str]:
        """CHINWAG_MCP_COMMANDS as a set of programs."""
        return frozenset(c.strip() for c in self.mcp_commands.split(",") if c.strip())
