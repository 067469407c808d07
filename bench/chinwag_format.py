"""loadgen format for chinwag's SSE answer stream (`POST /v1/bots/{bot}/messages`).

Use with the harness's load generator (bench/harness/loadgen.py):

    --format bench/chinwag_format.py:ChinwagFormat

Same interface as `OpenAIFormat` in bench/harness/loadgen.py:

* `build_body(args)`: `{"message": $CHINWAG_BENCH_MESSAGE or args.prompt}` (run_streaming.sh
  asks the demo bot a wine question: "foxes" it declines in one word). No `user_id` /
  `session_id`: every request gets a new anonymous user and a new session, so no history is
  loaded into the prompt and no two requests contend for one session row.
* `on_event(event, data) -> (n_tokens, done, error)`:
  a token is a `message.delta` event whose `text` is non-empty; the stream is done at
  `stream.completed`; it is an error when an `error` event arrives or when
  `stream.completed` carries a status other than `completed`.

`retry:` lines and `: keep-alive` comments never reach `on_event` (the harness's SSE parser drops
them). The other event types (`stream.started`, `flow.*`, `message.completed`) are counted as
neither tokens nor errors.

Each request's message gets a tag of letters ("Say something about foxes. (ref bcq)") unless
CHINWAG_BENCH_SAME_MESSAGE=1: with the same text every time, chinwag's embedder would reuse one
vector for every message and the demo bot's figures would leave out the embedding a real message
costs. Letters, not numbers: the demo bot's table lookup matched "(10)", "(37)" and "(50)" to
"Tawny 10 Anos", "37.5 cl" and "50 cl" bottles and answered with those wines word for word, no
LLM, which the load generator counted as errors (a short answer). The load generator builds one
body per run, so this format wraps its request function (`one_request` of the running
`loadgen.py`) to tag each body.
"""

from __future__ import annotations

import itertools
import json
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any

try:
    import orjson

    _loads = orjson.loads
except ImportError:  # pragma: no cover - the harness venv has orjson
    _loads = json.loads

_PREFIX_DELTA = b'{"type":"message.delta","text":'
_EMPTY_DELTA = b'{"type":"message.delta","text":""}'


class ChinwagFormat:
    """chinwag `message.delta` ... `stream.completed` stream."""

    name = "chinwag"

    def __init__(self) -> None:
        if os.environ.get("CHINWAG_BENCH_SAME_MESSAGE") != "1":
            _number_each_message()

    def build_body(self, args: Any) -> dict[str, Any]:
        return {"message": os.environ.get("CHINWAG_BENCH_MESSAGE") or args.prompt}

    def on_event(self, event: str, data: bytes) -> tuple[int, bool, str | None]:
        if event == "message.delta":
            # Fast path for the exact shape chinwag emits; parse anything else.
            if data.startswith(_PREFIX_DELTA):
                return (0 if data == _EMPTY_DELTA else 1), False, None
            try:
                obj = _loads(data)
            except Exception:
                return 0, False, "bad_json"
            text = obj.get("text") if isinstance(obj, dict) else None
            return (1 if text else 0), False, None
        if event == "stream.completed":
            try:
                obj = _loads(data)
            except Exception:
                return 0, True, "bad_json"
            status = obj.get("status") if isinstance(obj, dict) else None
            if status != "completed":
                return 0, True, f"stream_{status}"
            return 0, True, None
        if event == "error":
            try:
                obj = _loads(data)
                code = obj.get("code", "?") if isinstance(obj, dict) else "?"
            except Exception:
                code = data[:60].decode("utf-8", "replace")
            return 0, False, f"stream_error:{code}"[:80]
        return 0, False, None


def _letters(number: int) -> str:
    """The number in base 26, written with the letters a-z."""
    tag = ""
    while number:
        number, digit = divmod(number, 26)
        tag = "abcdefghijklmnopqrstuvwxyz"[digit] + tag
    return tag


def _number_each_message() -> None:
    """Wrap the running load generator's `one_request` so each body's message gets a tag."""
    loadgen = sys.modules.get("__main__")
    send: Callable[..., Awaitable[Any]] | None = getattr(loadgen, "one_request", None)
    if send is None or getattr(send, "numbers_messages", False):
        return
    numbers = itertools.count(26 * 27)  # the first tag has three letters, as the rest

    async def one_request(
        session: Any, url: str, body: bytes, headers: Any, fmt: Any, expect_tokens: int
    ) -> Any:
        request = _loads(body)
        request["message"] = f"{request['message']} (ref {_letters(next(numbers))})"
        return await send(session, url, json.dumps(request).encode(), headers, fmt, expect_tokens)

    one_request.numbers_messages = True  # type: ignore[attr-defined]
    loadgen.one_request = one_request  # type: ignore[union-attr]
