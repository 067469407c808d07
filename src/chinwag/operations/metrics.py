"""Prometheus metrics of one server: requests, errors, open streams, TTFT, tokens, flows."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from chinwag.streams.fanout import FanoutMetrics
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
        self.tool = Histogram(
            "chinwag_tool_call_seconds",
            "Tool call time (tool.completed events); `code` is empty for a completed call.",
            ["bot", "tool", "status", "code"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.curated = Counter(
            "chinwag_curated_answers",
            "Answers given from a curated answer (mode answer) or with one as context (prefer).",
            ["bot", "mode"],
            registry=r,
        )
        self.log_commits = Counter(
            "chinwag_event_log_commits",
            "Event log transactions committed (each carries every answer's events queued since "
            "the one before).",
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
        self.redis_failures = Counter(
            "chinwag_redis_failures",
            "Redis calls that failed: live fan-out (publish, read; followers poll the database "
            "meanwhile) and rate limits (rate_limit; counted per worker meanwhile).",
            ["operation"],
            registry=r,
        )

    def for_event_log(self) -> LogMetrics:
        """The event log's counters, as the callbacks it reports to."""
        return LogMetrics(
            committed=self.log_commits.inc,
            commit_failed=self.log_commit_failures.inc,
            retried=self.log_retries.inc,
            stream_ended_elsewhere=lambda reason: self.streams_ended_elsewhere.labels(reason).inc(),
        )

    def for_fanout(self) -> FanoutMetrics:
        return FanoutMetrics(redis_failed=lambda op: self.redis_failures.labels(op).inc())

    def watch_open_streams(self, count: Callable[[], int]) -> None:
        self.open_streams.set_function(lambda: float(count()))

    def render(self) -> bytes:
        return generate_latest(self.registry)
