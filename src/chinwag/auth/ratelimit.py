"""Rate limits per key, per end user and per client IP (the `limits` library; memory or Redis)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from limits import RateLimitItem, parse
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter, SlidingWindowCounterRateLimiter
from limits.errors import StorageError
from limits.storage import storage_from_string
from limits.util import WindowStats
from sqlalchemy import select

from chinwag.auth.moving_window import MemoryMovingWindow
from chinwag.bots.models import Bot
from chinwag.config.limits import LimitsConfig
from chinwag.config.tools import DEFAULT_TOOL_CALLS_PER_USER
from chinwag.db.redis import RedisOutage, redis_client, redis_errors
from chinwag.db.uow import Database
from chinwag.errors import RateLimited, ToolRateLimited
from chinwag.settings import Settings

BOT_LIMITS_TTL = 5.0
TOOL_CALLS = "tool calls of an end user"  # the scope of limits.tool_calls_per_user


@dataclass(frozen=True, slots=True)
class Limits:
    per_key: str
    per_user: str
    per_ip: str
    open_streams_per_user: int
    tool_calls_per_user: str = DEFAULT_TOOL_CALLS_PER_USER


class Window(Protocol):
    """What a rate limit counts in: a `limits` strategy, or MemoryMovingWindow."""

    async def hit(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool: ...

    async def test(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool: ...

    async def get_window_stats(self, item: RateLimitItem, *identifiers: str) -> WindowStats: ...


@lru_cache(maxsize=256)
def _item(text: str) -> RateLimitItem:
    return parse(text)


class RateLimiter:
    """Counts hits in sliding windows (two weighted fixed-window counters, per `limits`), and
    an end user's tool calls exactly, in a moving window.

    A bot's `limits:` override the server's defaults. With Redis the counters are shared by
    every worker; while Redis does not answer, each worker counts in its own memory (logged
    once, counted in `chinwag_redis_failures_total{operation="rate_limit"}`) and goes back to
    Redis a second later. Requests are not counted in a moving window (every hit's time kept:
    more memory and work per request than two counters). Tool calls are: the weighted counters
    round down, so `1/minute` let a second call through right after a minute's boundary (a
    shop's "cancel order" twice); in memory by auth.moving_window, in Redis by `limits`.
    """

    def __init__(
        self,
        settings: Settings,
        db: Database,
        *,
        redis_failed: Callable[[str], None] = lambda operation: None,
    ) -> None:
        memory = storage_from_string("async+memory://")
        assert isinstance(memory, Storage)
        self._memory: dict[bool, Window] = {
            False: SlidingWindowCounterRateLimiter(memory),
            True: MemoryMovingWindow(),
        }
        self._shared: dict[bool, Window] | None = None
        self._errors: tuple[type[Exception], ...] = (StorageError, OSError)
        if settings.redis_url:
            self._errors = (StorageError, *redis_errors())
            pool = redis_client(settings.redis_url).connection_pool
            shared = storage_from_string(
                f"async+{settings.redis_url}",
                implementation="redispy",
                connection_pool=pool,  # type: ignore[arg-type]  # documented; not in its annotation
            )
            assert isinstance(shared, Storage)
            self._shared = {
                False: SlidingWindowCounterRateLimiter(shared),
                True: MovingWindowRateLimiter(shared),
            }
        self._outage = RedisOutage(
            fallback="rate limits count in this process",
            back="rate limits count in it",
            count=redis_failed,
        )
        self._db = db
        self._defaults = Limits(
            per_key=settings.rate_limit_key,
            per_user=settings.rate_limit_user,
            per_ip=settings.rate_limit_ip,
            open_streams_per_user=settings.open_streams_per_user,
        )
        self._bots: dict[str, tuple[float, Limits]] = {}

    async def for_bot(self, bot_id: str | None) -> Limits:
        """The bot's limits (its configuration's `limits:` over the defaults), cached 5 s."""
        if bot_id is None:
            return self._defaults
        now = time.monotonic()
        hit = self._bots.get(bot_id)
        if hit is not None and now - hit[0] < BOT_LIMITS_TTL:
            return hit[1]
        async with self._db.read() as conn:
            config = (await conn.execute(select(Bot.config).where(Bot.id == bot_id))).scalar()
        own = LimitsConfig.model_validate((config or {}).get("limits") or {})
        limits = Limits(
            per_key=own.per_key or self._defaults.per_key,
            per_user=own.per_user or self._defaults.per_user,
            per_ip=own.per_ip or self._defaults.per_ip,
            open_streams_per_user=own.open_streams_per_user or self._defaults.open_streams_per_user,
            tool_calls_per_user=own.tool_calls_per_user or DEFAULT_TOOL_CALLS_PER_USER,
        )
        self._bots[bot_id] = (now, limits)
        return limits

    async def hit_tool_call(self, bot_id: str, user_id: str) -> None:
        """Count one tool call of an end user; ToolRateLimited beyond the bot's limit."""
        limits = await self.for_bot(bot_id)
        await self.hit(limits.tool_calls_per_user, TOOL_CALLS, bot_id, user_id)

    async def check_tool_call(self, bot_id: str, user_id: str) -> None:
        """ToolRateLimited when the end user may make no tool call now (nothing counted)."""
        limits = await self.for_bot(bot_id)
        item = _item(limits.tool_calls_per_user)
        window = self._window(TOOL_CALLS)[1]
        try:
            if await window.test(item, TOOL_CALLS, bot_id, user_id):
                return
            stats = await window.get_window_stats(item, TOOL_CALLS, bot_id, user_id)
        except self._errors:
            return  # the call itself counts (in memory while the store is down)
        raise _limited(limits.tool_calls_per_user, TOOL_CALLS, stats.reset_time)

    async def hit(self, rate: str, scope: str, *identity: str) -> None:
        """Count one request; RateLimited (429, Retry-After) when the window is full."""
        item = _item(rate)
        shared, window = self._window(scope)
        try:
            allowed = await window.hit(item, scope, *identity)
            stats = None if allowed else await window.get_window_stats(item, scope, *identity)
        except self._errors as exc:
            if shared is None:
                raise
            self._outage.failed("rate_limit", exc)
            return await self.hit(rate, scope, *identity)
        if shared is not None:
            self._outage.recovered()
        if stats is None:
            return
        raise _limited(rate, scope, stats.reset_time)

    def _window(self, scope: str) -> tuple[Window | None, Window]:
        """The scope's shared counter (None while Redis is out or unset), and the one to use."""
        exact = scope == TOOL_CALLS
        shared = self._shared[exact] if self._shared and self._outage.available else None
        return shared, shared or self._memory[exact]


def _limited(rate: str, scope: str, reset_time: float) -> RateLimited:
    retry_after = max(1, math.ceil(reset_time - time.time()))
    kind = ToolRateLimited if scope == TOOL_CALLS else RateLimited
    return kind(
        f"rate limit {rate} per {scope} exceeded; retry in {retry_after} s",
        retry_after=retry_after,
        limit=rate,
        scope=scope,
    )
