"""A fake OpenAI-compatible chat server over real HTTP, with scripted delays and failures.

with FakeLLM() as fake:               # serves on 127.0.0.1, a free port, in a thread
    fake.behaviour.tokens = 8
    fake.behaviour.fail_status = 401  # every request answers 401
    client = OpenAI(base_url=fake.base_url, api_key="x")

Function calling: a request with `tools` gets the next scripted turn of calls (streamed as
OpenAI streams them: each call's id and name first, its arguments in pieces), one turn per
assistant turn with calls already in the conversation; once the script is used up (or with
`tool_choice: none`), the answer is the tool results it was given, quoted:

    fake.behaviour.tool_turns = [[ScriptedCall("order_status", {"order": "10023"})]]
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from chinwag.testing.server import ThreadedServer, free_port

__all__ = ["Behaviour", "FakeLLM", "ScriptedCall", "free_port"]


@dataclass
class ScriptedCall:
    """One call the fake model asks for; `arguments` as an object, or as raw text (to send
    something that is not JSON)."""

    name: str
    arguments: dict[str, Any] | str = field(default_factory=dict)
    id: str | None = None

    def text(self) -> str:
        if isinstance(self.arguments, str):
            return self.arguments
        return orjson.dumps(self.arguments).decode()


@dataclass
class Behaviour:
    """How the fake answers; change it between requests."""

    tokens: int = 8
    first_token_delay: float = 0.0
    token_delay: float = 0.0
    fail_status: int | None = None  # answer every request with this HTTP status
    break_after: int | None = None  # drop the connection after this many tokens
    known_models: set[str] | None = None  # None: every model exists
    api_key: str | None = None  # when set, other keys get 401
    words: list[str] = field(default_factory=lambda: ["Hello", "from", "the", "fake", "LLM"])
    # Per model name (a flow's own `llm.model`): a first-token delay, a failure status, or a
    # fixed answer (e.g. the JSON a classifier should give).
    model_delays: dict[str, float] = field(default_factory=dict)
    model_failures: dict[str, int] = field(default_factory=dict)
    model_replies: dict[str, str] = field(default_factory=dict)
    embedding_dimension: int = 16
    # Function calling: the calls of each turn, in order (see the module's docstring).
    tool_turns: list[list[ScriptedCall]] = field(default_factory=list)
    ignore_tool_choice: bool = False  # keep calling even when told `tool_choice: none`

    def token(self, i: int) -> str:
        return f"{self.words[i % len(self.words)]}{i} "


class MidStreamFailure(Exception):
    """Raised inside the response body to cut the connection mid-stream."""


class FakeLLM(ThreadedServer):
    """Runs the fake in a background thread with its own event loop."""

    def __init__(self, port: int = 0) -> None:
        self.behaviour = Behaviour()
        self.requests: list[dict[str, Any]] = []
        super().__init__(port)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._port}/v1"

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
                Route("/v1/models", self._models, methods=["GET"]),
                Route("/v1/embeddings", self._embeddings, methods=["POST"]),
            ]
        )

    async def _models(self, _request: Request) -> Response:
        models = sorted(self.behaviour.known_models or {"fake-model"})
        return JSONResponse(
            {"object": "list", "data": [{"id": m, "object": "model"} for m in models]}
        )

    async def _embeddings(self, request: Request) -> Response:
        """Deterministic vectors: a text's bytes hashed into `embedding_dimension` numbers."""
        b = self.behaviour
        body = orjson.loads(await request.body())
        self.requests.append(body)
        if b.fail_status is not None:
            return _error(b.fail_status, "scripted failure", "scripted")
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = [
            {"object": "embedding", "index": i, "embedding": _vector(t, b.embedding_dimension)}
            for i, t in enumerate(texts)
        ]
        data.reverse()  # clients must order by `index`, not by position
        usage = {"prompt_tokens": len(texts), "total_tokens": len(texts)}
        return JSONResponse(
            {"object": "list", "data": data, "model": body.get("model"), "usage": usage}
        )

    async def _chat(self, request: Request) -> Response:
        b = self.behaviour
        body = orjson.loads(await request.body())
        self.requests.append(body)
        if b.api_key is not None and request.headers.get("authorization") != f"Bearer {b.api_key}":
            return _error(401, "Incorrect API key provided.", "invalid_api_key")
        if b.known_models is not None and body.get("model") not in b.known_models:
            return _error(
                404, f"The model `{body.get('model')}` does not exist.", "model_not_found"
            )
        if b.fail_status is not None:
            return _error(b.fail_status, "scripted failure", "scripted")
        if body.get("model") in b.model_failures:
            return _error(b.model_failures[body["model"]], "scripted failure", "scripted")
        if not body.get("stream"):  # one answer after the whole simulated generation
            model = str(body.get("model"))
            await asyncio.sleep(b.first_token_delay + b.model_delays.get(model, 0.0))
            if model in b.model_replies:
                text = b.model_replies[model]
            else:
                await asyncio.sleep(b.token_delay * max(b.tokens - 1, 0))
                text = "".join(b.token(i) for i in range(b.tokens))
            return JSONResponse(
                {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion",
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "finish_reason": "stop",
                            "message": {"role": "assistant", "content": text},
                        }
                    ],
                    "usage": {
                        "prompt_tokens": 5,
                        "completion_tokens": b.tokens,
                        "total_tokens": 5 + b.tokens,
                    },
                }
            )
        if body.get("tools"):
            return StreamingResponse(self._tool_turn(body, b), media_type="text/event-stream")
        return StreamingResponse(self._chunks(body, b), media_type="text/event-stream")

    async def _tool_turn(self, body: dict[str, Any], b: Behaviour) -> AsyncIterator[bytes]:
        """The next scripted turn of calls, or the tool results as the answer."""
        base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "model": body["model"]}
        messages = body.get("messages") or []
        turn = sum(1 for m in messages if m.get("role") == "assistant" and m.get("tool_calls"))
        allowed = body.get("tool_choice") != "none" or b.ignore_tool_choice
        yield _sse({**base, "choices": [{"index": 0, "delta": {"role": "assistant"}}]})
        await asyncio.sleep(b.first_token_delay)
        if allowed and turn < len(b.tool_turns):
            for index, call in enumerate(b.tool_turns[turn]):
                first = {
                    "index": index,
                    "id": call.id or f"call_{turn}_{index}",
                    "type": "function",
                    "function": {"name": call.name, "arguments": ""},
                }
                yield _sse({**base, "choices": [{"index": 0, "delta": {"tool_calls": [first]}}]})
                text = call.text()
                cut = [0, len(text) // 3, 2 * len(text) // 3, len(text)]
                for start, end in itertools.pairwise(cut):
                    piece = {"index": index, "function": {"arguments": text[start:end]}}
                    delta = {"tool_calls": [piece]}
                    yield _sse({**base, "choices": [{"index": 0, "delta": delta}]})
            finish = "tool_calls"
        else:
            said = [str(m.get("content")) for m in messages if m.get("role") == "tool"]
            reply = "The tools said: " + " | ".join(said) if said else "No tools were called."
            for word in reply.split(" "):
                yield _sse({**base, "choices": [{"index": 0, "delta": {"content": word + " "}}]})
            finish = "stop"
        yield _sse({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
        usage = {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}
        yield _sse({**base, "choices": [], "usage": usage})
        yield b"data: [DONE]\n\n"

    async def _chunks(self, body: dict[str, Any], b: Behaviour) -> AsyncIterator[bytes]:
        model = str(body.get("model"))
        base = {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": model,
        }
        yield _sse({**base, "choices": [{"index": 0, "delta": {"role": "assistant"}}]})
        await asyncio.sleep(b.first_token_delay + b.model_delays.get(model, 0.0))
        if model in b.model_replies:
            reply = b.model_replies[model]
            yield _sse({**base, "choices": [{"index": 0, "delta": {"content": reply}}]})
            yield _sse({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
            yield b"data: [DONE]\n\n"
            return
        tokens = _limited(b.tokens, body)
        for i in range(tokens):
            if i and b.token_delay:
                await asyncio.sleep(b.token_delay)
            if b.break_after is not None and i >= b.break_after:
                raise MidStreamFailure("scripted mid-stream failure")
            yield _sse({**base, "choices": [{"index": 0, "delta": {"content": b.token(i)}}]})
        finish = "length" if tokens < b.tokens else "stop"
        yield _sse({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
        if (body.get("stream_options") or {}).get("include_usage"):
            yield _sse(
                {
                    **base,
                    "choices": [],
                    "usage": {
                        "prompt_tokens": 5,
                        "completion_tokens": tokens,
                        "total_tokens": 5 + tokens,
                    },
                }
            )
        yield b"data: [DONE]\n\n"


def _vector(text: str, dimension: int) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    return [(digest[i % len(digest)] - 127.5) / 127.5 for i in range(dimension)]


def _limited(tokens: int, body: dict[str, Any]) -> int:
    """The answer's length in tokens: the scripted one, cut at the request's `max_tokens`."""
    longest = body.get("max_tokens")
    return min(tokens, longest) if isinstance(longest, int) else tokens


def _sse(obj: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


def _error(status: int, message: str, code: str) -> JSONResponse:
    return JSONResponse(
        {"error": {"message": message, "type": "invalid_request_error", "code": code}},
        status_code=status,
    )
