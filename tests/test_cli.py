"""The CLI as a user runs it: `chinwag demo` serves the demo bot, `chinwag chat` streams answers."""

from __future__ import annotations

import asyncio
import io
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from chinwag.bots.models import Bot
from chinwag.cli.chat import chat_loop
from chinwag.db.uow import Database
from chinwag.testing.fake_llm import FakeLLM
from tests.conftest import RunningServer, free_port
from tests.helpers import ask


async def test_chat_streams_the_answer_and_keeps_the_session(
    server: RunningServer, fake_llm: FakeLLM
) -> None:
    fake_llm.behaviour.tokens = 3
    out = io.StringIO()
    await chat_loop(
        base_url=server.base_url,
        bot="vinhuset",
        user_id="cli-user",
        session_id="cli-session",
        lines=["Hei\n", "\n", "Takk\n"],
        out=out,
        api_key=server.admin_key,
    )
    answer = "".join(fake_llm.behaviour.token(i) for i in range(3))
    assert out.getvalue().count(f"vinhuset> {answer}\n") == 2
    # The second question carried the first exchange as history.
    second_prompt = fake_llm.requests[-1]["messages"]
    assert [m["content"] for m in second_prompt[1:]] == ["Hei", answer, "Takk"]


async def test_chat_explains_an_unknown_bot(server: RunningServer) -> None:
    out = io.StringIO()
    await chat_loop(
        base_url=server.base_url,
        bot="nope",
        user_id="u",
        session_id="s",
        lines=["hello\n"],
        out=out,
        api_key=server.admin_key,
    )
    assert "[bot_not_found]" in out.getvalue() and "hint:" in out.getvalue()


@pytest.mark.slow
async def test_demo_seeds_the_bot_idempotently_and_serves_it(
    database_url: str, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    fake_llm.behaviour.tokens = 2
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHINWAG_")}
    env.update(
        CHINWAG_DATABASE_URL=database_url,
        CHINWAG_LLM_BASE_URL=fake_llm.base_url,
        CHINWAG_LLM_MODEL="fake-model",
        CHINWAG_DATA_DIR=str(tmp_path / "data"),
    )
    db = Database.from_url(database_url)
    try:
        for _ in range(2):  # the second run finds the bot and leaves it alone
            log = tmp_path / "demo.log"
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "chinwag",
                "demo",
                "--port",
                str(port),
                env=env,
                stdout=log.open("wb"),
                stderr=subprocess.STDOUT,
                cwd=tmp_path,
            )
            try:
                async with httpx.AsyncClient(
                    base_url=f"http://127.0.0.1:{port}", timeout=60
                ) as client:
                    # The demo ingests its documents and learns its routing examples and
                    # scope first: up to a minute on 2 busy cores, more under a full suite.
                    deadline = time.monotonic() + 240
                    while time.monotonic() < deadline:
                        try:
                            if (await client.get("/healthz")).status_code == 200:
                                break
                        except httpx.TransportError:
                            await asyncio.sleep(0.05)
                    secret = re.search(r"secret key:\s+(cw_sk_\S+)", log.read_text())
                    assert secret is not None, log.read_text()
                    bearer = {"authorization": f"Bearer {secret.group(1)}"}
                    events = await ask(client, "Hei", headers=bearer)
                    asked = await ask(client, "Which wine goes with lamb?", headers=bearer)
                assert events[-1].data["status"] == "completed"
                # The sources link to this demo's own page, on its port (not always :8000).
                urls = [
                    s["url"]
                    for e in asked
                    if e.type == "retrieval.completed"
                    for s in e.data["sources"]
                ]
                assert urls, [e.type for e in asked]
                assert all(u.startswith(f"http://127.0.0.1:{port}/#") for u in urls), urls
            finally:
                proc.terminate()
                await asyncio.wait_for(proc.wait(), 30)
            printed = log.read_text()
            assert f"http://127.0.0.1:{port}" in printed and "curl -N" in printed
        async with db.read() as conn:
            versions = (await conn.execute(select(Bot.id, Bot.version))).all()
        assert [tuple(v) for v in versions] == [("vinhuset", 1)]
    finally:
        await db.dispose()
