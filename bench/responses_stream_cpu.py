#!/usr/bin/env python3
"""responses_stream_cpu.py - what a Responses API stream costs next to the Chat Completions
stream of the same answer: the CPU of turning one answer's events into each endpoint's SSE
bytes, in process.

Both endpoints read the same stream events from the log and differ only in this step (the
accept, the flows, the LLM client and the event log are shared), so its difference is the
whole difference per answer. The answer is a `main`-only 64-token answer (stream.started,
route.decided, flow.started, 64 message.delta, flow.completed, message.completed,
stream.completed) read from memory: no database, no network.

    PYTHONPATH=src taskset -c 1 .venv/bin/python bench/responses_stream_cpu.py
    (--answers N, --rounds N; the table goes to bench/results/responses-stream-cpu-<stamp>.md)
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from result_files import result_path

from chinwag.conversations.service import Accepted
from chinwag.openai_api.response_events import ResponseFacts
from chinwag.openai_api.responses import _events
from chinwag.openai_api.routes import _chunks
from chinwag.providers.protocols import Sampling, Usage
from chinwag.streams.events import (
    FlowCompleted,
    FlowStarted,
    LogEntry,
    MessageCompleted,
    MessageDelta,
    RouteDecided,
    StreamCompleted,
    StreamStarted,
)

TOKENS = 64


def answer_entries() -> list[LogEntry]:
    words = [f"word{i} " for i in range(TOKENS)]
    usage = Usage.of(120, TOKENS)
    events: list[Any] = [
        StreamStarted(
            stream_id="s", message_id="m", session_id="x", user_id="u", bot_id="b", bot_version=1
        ),
        RouteDecided(flows=["main"]),
        FlowStarted(flow="main"),
        *(MessageDelta(text=w) for w in words),
        FlowCompleted(flow="main", ms=1.0, usage=usage),
        MessageCompleted(message_id="m", text="".join(words), usage=usage),
        StreamCompleted(status="completed"),
    ]
    return [LogEntry.of(i, e.type, e.model_dump_json()) for i, e in enumerate(events, start=1)]


class Source:
    def __init__(self, entries: list[LogEntry]) -> None:
        self._entries = entries

    async def entries(self) -> AsyncIterator[list[LogEntry]]:
        for entry in self._entries:  # one batch per event, as a live reader mostly gets them
            yield [entry]

    def close(self) -> None:
        pass


class Services:
    def __init__(self, entries: list[LogEntry]) -> None:
        self._entries = entries

    async def follow(self, stream_id: str, after: int = 0) -> Source:
        return Source(self._entries)


ACCEPTED = Accepted(
    bot_id="b",
    bot_version=1,
    user_id="u",
    session_id="x",
    session_pk="x",
    user_message_id="q",
    assistant_message_id="m",
    stream_id="s",
    position=1,
    replayed=False,
    started_event="{}",
)
FACTS = ResponseFacts(
    id="resp_m",
    message_id="m",
    created_at=0,
    request={
        "model": "b",
        "instructions": None,
        "max_output_tokens": None,
        "temperature": None,
        "top_p": None,
        "metadata": {},
        "store": True,
        "background": False,
        "previous_response_id": None,
    },
    user="u",
)


async def chat(services: Any) -> int:
    return sum([len(b) async for b in _chunks(services, ACCEPTED, "b", 0, True, Sampling())])


async def responses(services: Any) -> int:
    return sum([len(b) async for b in _events(services, "s", FACTS, after=-1)])


async def measure(kind: str, answers: int) -> tuple[float, int]:
    services = Services(answer_entries())
    run = chat if kind == "chat" else responses
    await run(services)  # warm-up
    started = time.process_time()
    size = 0
    for _ in range(answers):
        size = await run(services)
    return (time.process_time() - started) / answers * 1e6, size


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--answers", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    best: dict[str, tuple[float, int]] = {}
    for _ in range(args.rounds):
        for kind in ("chat", "responses"):
            us, size = asyncio.run(measure(kind, args.answers))
            if kind not in best or us < best[kind][0]:
                best[kind] = (us, size)
    chat_us, chat_bytes = best["chat"]
    resp_us, resp_bytes = best["responses"]
    lines = [
        f"responses_stream_cpu.py, {time.strftime('%Y-%m-%d %H:%M')}, {args.answers} answers "
        f"of {TOKENS} tokens, lowest of {args.rounds} rounds",
        "",
        "| stream | µs CPU per answer (events → SSE bytes) | bytes per answer |",
        "|---|---|---|",
        f"| Chat Completions (`include_usage`) | {chat_us:.0f} | {chat_bytes} |",
        f"| Responses API | {resp_us:.0f} | {resp_bytes} |",
        "",
        f"Responses − Chat Completions: **{resp_us - chat_us:+.0f} µs** per answer.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    path = result_path("responses-stream-cpu", "md")
    path.write_text(text)
    print(f"written: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
