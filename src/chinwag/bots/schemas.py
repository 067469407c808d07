"""API models for bots (the configuration itself is `chinwag.config.bot.BotConfig`)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from chinwag.providers.protocols import Usage
from chinwag.timestamps import UtcDatetime

BOT_CONFIG_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/BotConfig"}}},
    }
}


class ProblemOut(BaseModel):
    path: str = Field(description="Where, e.g. flows.statistics.template ('' = the document).")
    code: str = Field(description="Stable code, e.g. unknown_key, template_syntax_error.")
    message: str
    hint: str
    severity: Literal["error", "warning"]


class ValidationOut(BaseModel):
    ok: bool = Field(description="No errors (warnings allowed): the bot can be activated.")
    problems: list[ProblemOut]


class BotSaved(BaseModel):
    id: str
    version: int = Field(description="The active version after this request.")
    changed: bool = Field(description="A new version was saved (false: identical config).")
    warnings: list[ProblemOut]


class BotSummary(BaseModel):
    id: str
    name: str
    version: int


class BotOut(BaseModel):
    id: str
    version: int
    config: dict[str, Any] = Field(description="The configuration (BotConfig).")


class VersionOut(BaseModel):
    version: int
    created_at: UtcDatetime
    note: str | None
    active: bool


class RollbackIn(BaseModel):
    version: int = Field(
        ge=1, le=2**31 - 1, description="The version whose configuration serves again."
    )


class FlowRunOut(BaseModel):
    message_id: str
    flow: str
    status: Literal["completed", "failed"]
    score: float | None = Field(description="The router's score for this flow (None: main).")
    ms: float
    usage: Usage | None
    error_code: str | None
    tool: dict[str, Any] | None = Field(
        None,
        description="Its tool call: tool, status, code, http_status, ms, bytes, attempts and "
        "arguments (secret fields redacted); None: it called no tool.",
    )
    tool_calls: list[dict[str, Any]] | None = Field(
        None,
        description="`main`'s function calls, in the order they ended: each as `tool`, with "
        "its `step` and `call_id`; None: none.",
    )
    created_at: UtcDatetime


class FlowStats(BaseModel):
    flow: str
    runs: int
    failed: int
    mean_ms: float
    max_ms: float
