"""Prometheus metrics of one server: requests, errors, open streams, TTFT, tokens, flows."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chinwag.streams.writer import LogMetrics

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64, 128)


class Metrics:
    """One registry per app (no process globals), rendered at /metrics."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "chinwag_http_requests", "HTTP requests.", ["route", "method", "status"], registry=r
        )
        self.errors = Counter(
            "chinwag_errors", "Errors reported to clients, by code.", ["code"], registry=r
        )
        self.open_streams = Gauge(
            "chinwag_open_streams", "Answers being written on this server.", registry=r
        )
        self.ttft = Histogram(
            "chinwag_time_to_first_token_seconds",
            "From accepting a message to its first answer token.",
            ["bot"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.generation = Histogram(
            "chinwag_generation_seconds",
            "From accepting a message to the end of its answer.",
            ["bot", "status"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.tokens = Counter(
            "chinwag_tokens", "LLM tokens of answers.", ["bot", "kind"], registry=r
        )
        self.flow = Histogram(
            "chinwag_flow_seconds",
            "Flow run time (flow.completed / flow.failed events).",
            ["bot", "flow", "status"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )

        self.curated = Counter(
            "chinwag_curated_answers",
            "Answers given from a curated answer (mode answer) or with one as context (prefer).",
            ["bot", "mode"],
            registry=r,
        )
        self.log_commit_failures = Counter(
            "chinwag_event_log_commit_failures",
            "Event log transactions that failed (database unreachable or refusing a batch).",
            registry=r,
        )
        self.log_retries = Counter(
            "chinwag_event_log_retries",
            "Event log batches kept in memory and tried again after a failed commit.",
            registry=r,
        )
        self.streams_ended_elsewhere = Counter(
            "chinwag_streams_ended_elsewhere",
            "Live streams this server stopped writing: ended by another server (recovery), "
            "deleted, or refused by the database.",
            ["reason"],
            registry=r,
        )

    def for_event_log(self) -> LogMetrics:
        """The event log's counters, as the callbacks it reports to."""
        return LogMetrics(
            commit_failed=self.log_commit_failures.inc,
            retried=self.log_retries.inc,
            stream_ended_elsewhere=lambda reason: self.streams_ended_elsewhere.labels(reason).inc(),
        )

    def watch_open_streams(self, count: Callable[[], int]) -> None:
        self.open_streams.set_function(lambda: float(count()))

    def render(self) -> bytes:
        return generate_latest(self.registry)


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

    @property
    def ttft_ms(self) -> float | None:
        """Milliseconds from the start to the first token (None until one came)."""
        return None if self._first is None else (self._first - self._start) * 1000

    def finished(self, status: str, usage: dict[str, int] | None, error_code: str | None) -> None:
        self._metrics.generation.labels(self._bot, status).observe(time.monotonic() - self._start)
        for kind in ("prompt_tokens", "completion_tokens"):
            if usage and usage.get(kind):
                self._metrics.tokens.labels(self._bot, kind.split("_")[0]).inc(usage[kind])
        if error_code:
            self._metrics.errors.labels(error_code).inc()

    def curated(self, mode: str) -> None:
        self._metrics.curated.labels(self._bot, mode).inc()


class RequestMetrics:
    """Counts every response by route template (not the raw path), method and status."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._templates: list[tuple[re.Pattern[str], str]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            services = getattr(scope["app"].state, "services", None)
            if services is not None:
                route = self._route(scope)
                services.metrics.requests.labels(route, scope["method"], str(status)).inc()

    def _route(self, scope: Scope) -> str:
        """The path template (from the OpenAPI document), so ids never become label values."""
        if self._templates is None:
            paths = sorted(scope["app"].openapi()["paths"], key=lambda p: (p.count("{"), p))
            self._templates = [
                (re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(p)) + "$"), p)
                for p in paths
            ]
        path = scope["path"]
        return next((t for pattern, t in self._templates if pattern.match(path)), "unmatched")
