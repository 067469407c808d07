"""Times one generation for the server's metrics: TTFT, flow and tool times, its end, tokens."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from chinwag.providers.protocols import Usage

if TYPE_CHECKING:
    from chinwag.operations.metrics import Metrics


class GenerationTimer:
    """Watches one generation's events: TTFT at the first delta, flow times, then the end."""

    def __init__(self, metrics: Metrics, bot_id: str) -> None:
        self._metrics = metrics
        self._bot = bot_id
        self._start = time.monotonic()
        self._first: float | None = None

    def saw(self, event: Any) -> None:
        kind = event.type
        if kind == "message.delta" and self._first is None:
            self._first = time.monotonic()
            self._metrics.ttft.labels(self._bot).observe(self._first - self._start)
        elif kind in ("flow.completed", "flow.failed"):
            status = "completed" if kind == "flow.completed" else "failed"
            self._metrics.flow.labels(self._bot, event.flow, status).observe(event.ms / 1000)
        elif kind == "tool.completed":
            labels = (self._bot, event.tool, event.status, event.code or "")
            self._metrics.tool.labels(*labels).observe(event.ms / 1000)

    @property
    def ttft_ms(self) -> float | None:
        """Milliseconds from the start to the first token (None until one came)."""
        return None if self._first is None else (self._first - self._start) * 1000

    def finished(self, status: str, usage: Usage | None, error_code: str | None) -> None:
        self._metrics.generation.labels(self._bot, status).observe(time.monotonic() - self._start)
        if usage is not None:
            for kind, tokens in (
                ("prompt", usage.prompt_tokens),
                ("completion", usage.completion_tokens),
            ):
                if tokens:
                    self._metrics.tokens.labels(self._bot, kind).inc(tokens)
        if error_code:
            self._metrics.errors.labels(error_code).inc()

    def curated(self, mode: str) -> None:
        self._metrics.curated.labels(self._bot, mode).inc()
