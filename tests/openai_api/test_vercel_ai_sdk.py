"""The Vercel AI SDK (Node) as a client: its default provider call, which uses the Responses
API, and `.chat` (Chat Completions), with generateText and streamText. Its packages are pinned
in tests/clients/vercel/package-lock.json; `make install-dev` installs them."""

from __future__ import annotations

import asyncio
import json
import os
import re
from pathlib import Path

from chinwag.auth.keys import create_key
from chinwag.testing.fake_llm import FakeLLM
from tests.conftest import RunningServer

CLIENTS = Path(__file__).resolve().parents[1] / "clients" / "vercel"
API = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def _installed() -> bool:
    return (CLIENTS / "node_modules" / "ai").is_dir()


def _docs_snippet() -> str:
    text = API.read_text()
    section = text[text.index("## OpenAI Responses API") : text.index("## Conversations")]
    (snippet,) = re.findall(r"```js\n(.*?)```", section, re.S)
    return str(snippet)


async def test_generate_and_stream_text_through_both_apis(
    server: RunningServer, fake_llm: FakeLLM
) -> None:
    assert _installed(), (
        "the Vercel AI SDK is not installed: run `make install-dev` "
        "(npm ci --prefix tests/clients/vercel)"
    )
    fake_llm.behaviour.tokens = 3
    async with server.db.write() as conn:
        key = await create_key(conn, kind="secret", name="vercel", bot_id="vinhuset")
    env = {**os.environ, "CHINWAG_BASE_URL": f"{server.base_url}/v1", "CHINWAG_KEY": key.key}
    node = await asyncio.create_subprocess_exec(
        "node",
        "clients.mjs",
        cwd=CLIENTS,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(node.communicate(), timeout=120)
    assert node.returncode == 0, err.decode()
    calls = [json.loads(line) for line in out.decode().splitlines()]
    assert [(c["api"], c["call"]) for c in calls] == [
        ("responses", "generateText"),
        ("responses", "streamText"),
        ("chat", "generateText"),
        ("chat", "streamText"),
    ]
    answer = "".join(fake_llm.behaviour.token(i) for i in range(3))
    for call in calls:
        assert call["text"] == answer, call
        assert (call["usage"]["inputTokens"], call["usage"]["outputTokens"]) == (5, 3), call


async def test_the_docs_snippet_runs(server: RunningServer, fake_llm: FakeLLM) -> None:
    snippet = _docs_snippet()
    async with server.db.write() as conn:
        key = await create_key(conn, kind="secret", name="vercel", bot_id="vinhuset")
    snippet = snippet.replace("cw_sk_…", key.key).replace("http://127.0.0.1:8000", server.base_url)
    script = CLIENTS / f"docs-snippet-{os.getpid()}.mjs"  # beside node_modules, to import it
    await asyncio.to_thread(script.write_text, snippet + 'console.log("\\n" + text);\n')
    try:
        node = await asyncio.create_subprocess_exec(
            "node", script.name, cwd=CLIENTS, stdout=asyncio.subprocess.PIPE
        )
        out, _ = await asyncio.wait_for(node.communicate(), timeout=120)
    finally:
        await asyncio.to_thread(script.unlink)
    answer = "".join(fake_llm.behaviour.token(i) for i in range(fake_llm.behaviour.tokens))
    assert node.returncode == 0 and out.decode().split("\n") == [answer, answer, ""]
