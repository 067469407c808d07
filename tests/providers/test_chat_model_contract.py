"""One contract for every OpenAI-compatible ChatModel, exercised over real HTTP (FakeLLM)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import orjson
import pytest
from tests.conftest import free_port

from chinwag.errors import LLMError
from chinwag.providers.llm.openai_compat import OpenAIChatModel
from chinwag.providers.llm.openai_stream import StreamingChatModel
from chinwag.providers.protocols import (
    ChatMessage,
    ChatModel,
    GenerationOptions,
    ToolCall,
    ToolCallingModel,
    Usage,
)
from chinwag.testing.fake_llm import FakeLLM, ScriptedCall

Factory = Callable[..., ChatModel]
CLIENTS: dict[str, Factory] = {"lean": StreamingChatModel, "sdk": OpenAIChatModel}
PROMPT = [ChatMessage("system", "You sell wine."), ChatMessage("user", "Barolo?")]


@pytest.fixture(params=sorted(CLIENTS))
async def make_model(request: pytest.FixtureRequest) -> AsyncIterator[Factory]:
    made: list[ChatModel] = []

    def make(**kwargs: object) -> ChatModel:
        model = CLIENTS[request.param](**{"api_key": "k", "model": "fake-model", **kwargs})
        made.append(model)
        return model

    yield make
    for model in made:
        await model.aclose()


async def _collect(model: ChatModel, options: GenerationOptions | None = None) -> list[object]:
    return [item async for item in model.stream(PROMPT, options or GenerationOptions())]


async def test_streams_deltas_then_usage(make_model: Factory, fake_llm: FakeLLM) -> None:
    fake_llm.behaviour.tokens = 5
    model = make_model(base_url=fake_llm.base_url)
    items = await _collect(model, GenerationOptions(temperature=0.3, max_tokens=50))
    assert items[:-1] == [fake_llm.behaviour.token(i) for i in range(5)]
    assert items[-1] == Usage.of(prompt_tokens=5, completion_tokens=5)
    sent = fake_llm.requests[-1]
    assert sent["model"] == "fake-model" and sent["stream"] is True
    assert sent["temperature"] == 0.3 and sent["max_tokens"] == 50
    assert sent["messages"] == [
        {"role": "system", "content": "You sell wine."},
        {"role": "user", "content": "Barolo?"},
    ]
    # A second answer on the same client works (connections are reused, not broken).
    assert len(await _collect(model)) == 6


async def test_a_whole_answer_is_the_same_text_then_usage(
    make_model: Factory, fake_llm: FakeLLM
) -> None:
    """`whole` (an optional flow's call): the same text and usage; the lean client asks for one
    JSON answer instead of a stream, the SDK client may still stream."""
    fake_llm.behaviour.tokens = 7
    model = make_model(base_url=fake_llm.base_url)
    items = await _collect(model, GenerationOptions(max_tokens=50, whole=True))
    assert "".join(i for i in items if isinstance(i, str)) == "".join(
        fake_llm.behaviour.token(i) for i in range(7)
    )
    assert items[-1] == Usage.of(prompt_tokens=5, completion_tokens=7)
    sent = fake_llm.requests[-1]
    assert sent["max_tokens"] == 50
    if isinstance(model, StreamingChatModel):
        assert sent["stream"] is False and "stream_options" not in sent
        assert len(await _collect(model, GenerationOptions(whole=True))) == 2  # reused client


@pytest.mark.parametrize(
    ("setup", "code"),
    [
        (lambda b: setattr(b, "api_key", "other"), "llm_auth_failed"),
        (lambda b: setattr(b, "known_models", {"x"}), "llm_model_not_found"),
        (lambda b: setattr(b, "fail_status", 429), "llm_rate_limited"),
        (lambda b: setattr(b, "fail_status", 400), "llm_bad_request"),
        (lambda b: setattr(b, "fail_status", 500), "llm_error"),
    ],
    ids=["401", "unknown-model", "429", "400", "500"],
)
async def test_http_errors_have_stable_codes(
    make_model: Factory, fake_llm: FakeLLM, setup: Callable[[object], None], code: str
) -> None:
    setup(fake_llm.behaviour)
    model = make_model(base_url=fake_llm.base_url, max_retries=0)
    with pytest.raises(LLMError) as info:
        await _collect(model)
    assert info.value.code == code
    assert fake_llm.base_url in info.value.message and info.value.hint


async def test_server_errors_are_retried_like_the_sdk(
    make_model: Factory, fake_llm: FakeLLM
) -> None:
    fake_llm.behaviour.fail_status = 503
    model = make_model(base_url=fake_llm.base_url, max_retries=1)
    with pytest.raises(LLMError):
        await _collect(model)
    assert len(fake_llm.requests) == 2


async def test_stream_broken_halfway(make_model: Factory, fake_llm: FakeLLM) -> None:
    fake_llm.behaviour.tokens = 10
    fake_llm.behaviour.break_after = 3
    model = make_model(base_url=fake_llm.base_url)
    got: list[object] = []
    with pytest.raises(LLMError) as info:
        async for item in model.stream(PROMPT, GenerationOptions()):
            got.append(item)
    assert info.value.code == "llm_stream_broken"
    assert got == [fake_llm.behaviour.token(i) for i in range(3)]


async def test_an_llm_silent_mid_answer_is_a_timeout_after_the_text_so_far(
    make_model: Factory, fake_llm: FakeLLM
) -> None:
    """Headers and two tokens arrive, then nothing: `llm_timeout` once the silence lasts the
    timeout (not at once, not never), with the tokens that came first already given."""
    fake_llm.behaviour.tokens, fake_llm.behaviour.token_delay = 4, 0.0
    fake_llm.behaviour.break_after = None
    model = make_model(base_url=fake_llm.base_url, timeout_seconds=0.4, max_retries=0)
    assert len(await _collect(model)) == 5  # a quick answer is not cut by the watch
    fake_llm.behaviour.token_delay = 5.0
    got: list[object] = []
    started = asyncio.get_running_loop().time()
    with pytest.raises(LLMError) as info:
        async for item in model.stream(PROMPT, GenerationOptions()):
            got.append(item)
    waited = asyncio.get_running_loop().time() - started
    assert got == [fake_llm.behaviour.token(0)]
    assert info.value.code == "llm_timeout" and info.value.retryable and info.value.hint
    assert 0.35 <= waited < 3.0, waited


async def test_an_llm_that_never_answers_is_a_timeout(
    make_model: Factory, fake_llm: FakeLLM
) -> None:
    """No response at all (a whole answer waits before its headers): `llm_timeout`."""
    fake_llm.behaviour.first_token_delay = 5.0
    model = make_model(base_url=fake_llm.base_url, timeout_seconds=0.3, max_retries=0)
    with pytest.raises(LLMError) as info:
        await _collect(model, GenerationOptions(whole=True))
    assert info.value.code == "llm_timeout" and info.value.retryable


async def test_unreachable(make_model: Factory) -> None:
    model = make_model(base_url=f"http://127.0.0.1:{free_port()}/v1", max_retries=0)
    with pytest.raises(LLMError) as info:
        await _collect(model)
    assert info.value.code == "llm_unreachable"
    assert info.value.retryable


async def test_lines_split_across_network_reads(make_model: Factory) -> None:
    """An SSE body that arrives in pieces cut anywhere (mid-line, mid-JSON, CRLF line ends) gives
    the same deltas as one that arrives whole."""
    chunks = [
        {"choices": [{"delta": {"content": word}}]} for word in ("Barolo ", "costs ", "420 kr")
    ]
    body = "".join(f"data: {orjson.dumps(c).decode()}\r\n\r\n" for c in chunks).encode()
    body += b'data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":3}}\n\n'
    body += b"data: [DONE]\n\n"
    pieces = [body[i : i + 7] for i in range(0, len(body), 7)]

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n"
        writer.write(head)
        for piece in pieces:
            writer.write(piece)
            await writer.drain()
            await asyncio.sleep(0.002)  # each piece its own read
        writer.close()

    port = free_port()
    server = await asyncio.start_server(answer, "127.0.0.1", port)
    try:
        async with server:
            model = make_model(base_url=f"http://127.0.0.1:{port}/v1")
            items = await _collect(model)
    finally:
        server.close()
    assert items == ["Barolo ", "costs ", "420 kr", Usage.of(prompt_tokens=3, completion_tokens=3)]


def test_a_whole_answer_that_is_not_a_chat_completion_is_refused() -> None:
    from chinwag.errors import LLMStreamBroken
    from chinwag.providers.llm.wire import parse_completion

    with pytest.raises(LLMStreamBroken, match="not a chat completion"):
        parse_completion(b'{"object": "list", "data": []}')


async def test_streamed_tool_calls_are_joined_and_answered(
    make_model: Factory, fake_llm: FakeLLM
) -> None:
    """Function calling: two calls in one turn, each call's arguments split across chunks as
    OpenAI streams them, come out whole; the next turn sends the calls and their results."""
    fake_llm.behaviour.tool_turns = [
        [
            ScriptedCall("order_status", {"order": "10023"}, id="call_a"),
            ScriptedCall("stock", {"wine": "Barolo 2019", "shop": "Oslo"}, id="call_b"),
        ]
    ]
    model = make_model(base_url=fake_llm.base_url)
    assert isinstance(model, ToolCallingModel)
    spec = [{"type": "function", "function": {"name": "stock", "parameters": {}}}]
    items = [item async for item in model.stream_tools(PROMPT, GenerationOptions(), spec)]
    assert items == [
        ToolCall("call_a", "order_status", '{"order":"10023"}'),
        ToolCall("call_b", "stock", '{"wine":"Barolo 2019","shop":"Oslo"}'),
        Usage.of(prompt_tokens=5, completion_tokens=3),
    ]
    sent = fake_llm.requests[-1]
    assert sent["tools"] == spec and sent["tool_choice"] == "auto" and sent["stream"] is True

    calls = tuple(i for i in items if isinstance(i, ToolCall))
    turn = [
        *PROMPT,
        ChatMessage("assistant", "", tool_calls=calls),
        ChatMessage("tool", '{"result": "shipped"}', tool_call_id="call_a"),
        ChatMessage("tool", '{"result": 3}', tool_call_id="call_b"),
    ]
    items = [item async for item in model.stream_tools(turn, GenerationOptions(), spec)]
    text = "".join(i for i in items if isinstance(i, str))
    assert text.strip() == 'The tools said: {"result": "shipped"} | {"result": 3}'
    assert not [i for i in items if isinstance(i, ToolCall)]
    sent = fake_llm.requests[-1]
    assert sent["messages"][2] == {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {
                "id": "call_a",
                "type": "function",
                "function": {"name": "order_status", "arguments": '{"order":"10023"}'},
            },
            {
                "id": "call_b",
                "type": "function",
                "function": {"name": "stock", "arguments": '{"wine":"Barolo 2019","shop":"Oslo"}'},
            },
        ],
    }
    assert sent["messages"][3] == {
        "role": "tool",
        "content": '{"result": "shipped"}',
        "tool_call_id": "call_a",
    }
    # `none`: the model is told to answer, and does.
    items = [
        item async for item in model.stream_tools(PROMPT, GenerationOptions(), spec, choice="none")
    ]
    assert fake_llm.requests[-1]["tool_choice"] == "none"
    assert not [i for i in items if isinstance(i, ToolCall)]


def test_the_embedded_model_is_not_a_tool_calling_model(tmp_path: Path) -> None:
    from chinwag.providers.llm.local import LocalChatModel

    local = LocalChatModel("smollm2-135m", threads=1, data_dir=tmp_path)
    assert not isinstance(local, ToolCallingModel)
