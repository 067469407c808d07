"""Every Python snippet of docs/api.md's OpenAI-compatible sections runs, in order, against a
live server: the official `openai` SDK, LangChain and httpx-sse as a reader would use them."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import openai

from chinwag.auth.keys import create_key
from chinwag.testing.fake_llm import FakeLLM
from tests.conftest import RunningServer

API = Path(__file__).resolve().parents[2] / "docs" / "api.md"
SNIPPET = re.compile(r"```python\n(.*?)```", re.S)


def snippets() -> list[str]:
    text = API.read_text()
    section = text[text.index("## OpenAI-compatible") : text.index("## Conversations")]
    return SNIPPET.findall(section)


def test_the_sections_show_every_client() -> None:
    shown = "\n".join(snippets())
    for client in ("chat.completions", "responses.create", "ChatOpenAI", "httpx_sse"):
        assert client in shown
    assert "use_responses_api=True" in shown and "starting_after" in shown


async def test_every_snippet_runs(server: RunningServer, fake_llm: FakeLLM) -> None:
    fake_llm.behaviour.tokens = 4
    async with server.db.write() as conn:
        key = await create_key(conn, kind="secret", name="docs", bot_id="vinhuset")
    namespace: dict[str, Any] = {"openai": openai, "print": lambda *_: None}
    for code in snippets():
        code = code.replace("cw_sk_…", key.key).replace("http://127.0.0.1:8000", server.base_url)
        # The SDKs here are synchronous, and the server runs in this event loop.
        await asyncio.to_thread(exec, compile(code, str(API), "exec"), namespace)
