"""A bot's own limits (rates, tool calls) and how long it keeps its conversations."""

from __future__ import annotations

from pydantic import Field

from chinwag.config.strict import (
    RateLimitText,
    Strict,
)


class LimitsConfig(Strict):
    """Rate limits for this bot's keys, end users and client IPs (unset: the server defaults)."""

    per_key: RateLimitText | None = Field(
        None, description="Requests per key, e.g. `600/minute` (default CHINWAG_RATE_LIMIT_KEY)."
    )
    per_user: RateLimitText | None = Field(
        None, description="Messages per end user (default CHINWAG_RATE_LIMIT_USER)."
    )
    per_ip: RateLimitText | None = Field(
        None, description="Requests per client IP (default CHINWAG_RATE_LIMIT_IP)."
    )
    open_streams_per_user: int | None = Field(
        None,
        ge=1,
        le=100,
        description="Answers being written at once per end user (default "
        "CHINWAG_OPEN_STREAMS_PER_USER).",
    )
    tool_calls_per_message: int | None = Field(
        None,
        ge=1,
        le=50,
        description="Tool calls one answer may make; a call beyond fails with "
        "`tool_limit_reached` (default 5).",
    )
    tool_calls_concurrent: int | None = Field(
        None,
        ge=1,
        le=100,
        description="Tool calls of this bot in progress at once in one server process; more "
        "wait for a slot, within the flow's timeout (default 10).",
    )
    tool_calls_per_user: RateLimitText | None = Field(
        None,
        description="Tool calls per end user, e.g. `30/minute` (the default): a call beyond "
        "fails with `tool_rate_limited`, and a confirmation sent then is refused with 429.",
    )


class RetentionConfig(Strict):
    """How long this bot's conversations are kept (unset: until deleted through the API)."""

    message_days: int | None = Field(
        None, ge=1, le=36500, description="Delete messages older than this many days."
    )
