"""CPU per streamed answer of three ways to read an OpenAI-compatible stream.

    .venv/bin/python bench/openai_client_cpu.py [--answers 300] [--tokens 64]

Starts bench/harness/fakellm.py on 127.0.0.1 (no delays, 64 tokens) in its own process, then
streams the same answers through, in this process:
  sdk-typed   the openai SDK as documented: create(stream=True), a ChatCompletionChunk per chunk
  chinwag-sdk   chinwag's OpenAIChatModel: the SDK (aiohttp transport) sends the request,
                lines are parsed with orjson
  chinwag-lean  chinwag's StreamingChatModel (the default): aiohttp alone, orjson per line
  raw-httpx   httpx2 + orjson with no SDK at all (a floor)
and prints CPU ms per answer (this process only) and the ratio to sdk-typed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx2
import openai
import orjson
from result_files import copy_stdout_to, result_path

from chinwag.providers.llm.openai_compat import OpenAIChatModel
from chinwag.providers.llm.openai_stream import StreamingChatModel
from chinwag.providers.protocols import ChatMessage, GenerationOptions

FAKE = Path(__file__).resolve().parent / "harness" / "fakellm.py"
PROMPT = [{"role": "user", "content": "Which wine goes with salmon?"}]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def sdk_typed(client: openai.AsyncOpenAI) -> int:
    stream = await client.chat.completions.create(
        model="fake",
        messages=PROMPT,
        stream=True,  # type: ignore[arg-type]
    )
    n = 0
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            n += 1
    return n


async def chinwag_client(model: OpenAIChatModel | StreamingChatModel) -> int:
    n = 0
    async for item in model.stream(
        [ChatMessage("user", "Which wine goes with salmon?")], GenerationOptions()
    ):
        if isinstance(item, str):
            n += 1
    return n


async def raw_httpx(client: httpx2.AsyncClient) -> int:
    n = 0
    body = {"model": "fake", "messages": PROMPT, "stream": True}
    async with client.stream("POST", "/chat/completions", json=body) as response:
        async for line in response.aiter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                chunk = orjson.loads(line[6:])
                if chunk["choices"] and chunk["choices"][0]["delta"].get("content"):
                    n += 1
    return n


async def measure(name: str, run: Callable[[], Awaitable[int]], answers: int, tokens: int) -> float:
    for _ in range(20):  # warm-up: connections, imports, caches
        await run()
    start = time.process_time()
    for _ in range(answers):
        got = await run()
        assert got == tokens, f"{name}: {got} tokens, expected {tokens}"
    return (time.process_time() - start) * 1000 / answers


async def measure_all(base_url: str, answers: int, tokens: int) -> dict[str, float]:
    sdk = openai.AsyncOpenAI(base_url=base_url, api_key="x")
    ours = OpenAIChatModel(base_url=base_url, api_key="x", model="fake")
    lean = StreamingChatModel(base_url=base_url, api_key="x", model="fake")
    raw = httpx2.AsyncClient(base_url=base_url)
    try:
        return {
            "sdk-typed": await measure("sdk-typed", lambda: sdk_typed(sdk), answers, tokens),
            "chinwag-sdk": await measure("sdk", lambda: chinwag_client(ours), answers, tokens),
            "chinwag-lean": await measure("lean", lambda: chinwag_client(lean), answers, tokens),
            "raw-httpx": await measure("raw-httpx", lambda: raw_httpx(raw), answers, tokens),
        }
    finally:
        await sdk.close()
        await ours.aclose()
        await lean.aclose()
        await raw.aclose()


def main(answers: int, tokens: int) -> None:
    port = _free_port()
    fake = subprocess.Popen(
        [
            sys.executable,
            str(FAKE),
            "--port",
            str(port),
            "--tokens",
            str(tokens),
            "--token-delay-ms",
            "0",
            "--ttft-ms",
            "0",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        results = asyncio.run(measure_all(f"http://127.0.0.1:{port}/v1", answers, tokens))
    finally:
        fake.terminate()
        fake.wait(timeout=10)
    print(
        f"\n{answers} answers of {tokens} tokens each, sequential, CPU of this process "
        f"(python {sys.version.split()[0]}, openai {openai.__version__}, pid {os.getpid()})\n"
    )
    print("| client | CPU ms / answer | vs sdk-typed |")
    print("|---|---:|---:|")
    base = results["sdk-typed"]
    for name, ms in results.items():
        print(f"| {name} | {ms:.2f} | {ms / base:.2f}x |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--answers", type=int, default=300)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument(
        "--out",
        type=Path,
        default=result_path("openai-client-cpu", "md"),
        help="also write what is printed here; default bench/results/openai-client-cpu-<stamp>.md",
    )
    args = parser.parse_args()
    copy_stdout_to(args.out)
    main(args.answers, args.tokens)
