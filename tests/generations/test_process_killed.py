"""A server killed with SIGKILL mid-stream: the next start marks the answer interrupted."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from chinwag.auth.keys import create_key
from chinwag.bots.service import put_bot
from chinwag.conversations.models import Message
from chinwag.db.uow import Database
from chinwag.operations.doctor import run_checks
from chinwag.settings import Settings
from chinwag.streams.models import LoggedEvent
from chinwag.testing.fake_llm import FakeLLM
from tests.conftest import free_port, plain_demo_bot, run_server
from tests.faults.processes import ServerProcess
from tests.helpers import accept
from tests.sse_client import iter_events, read_all


@pytest.fixture
def process_env(database_url: str, fake_llm: FakeLLM, tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHINWAG_")}
    env.update(
        CHINWAG_DATABASE_URL=database_url,
        CHINWAG_LLM_BASE_URL=fake_llm.base_url,
        CHINWAG_LLM_MODEL="fake-model",
        CHINWAG_PORT=str(free_port()),
        CHINWAG_HEARTBEAT_SECONDS="0.5",
        CHINWAG_DATA_DIR=str(tmp_path / "data"),
    )
    yield env


@pytest.mark.slow
async def test_sigkill_mid_stream_leaves_an_interrupted_message_with_its_text(
    process_env: dict[str, str], database_url: str, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    fake_llm.behaviour.tokens = 200
    fake_llm.behaviour.token_delay = 0.05
    base_url = f"http://127.0.0.1:{process_env['CHINWAG_PORT']}"
    server = ServerProcess(process_env, tmp_path / "server.log")
    db = Database.from_url(database_url)
    try:
        server.start()
        await server.wait_ready(base_url)
        async with db.write() as conn:
            await put_bot(conn, plain_demo_bot())
            admin = await create_key(conn, kind="admin", name="tests")

        bearer = {"authorization": f"Bearer {admin.key}"}
        async with httpx.AsyncClient(base_url=base_url, timeout=30, headers=bearer) as client:
            seen = []
            async with client.stream(
                "POST", "/v1/bots/vinhuset/messages", json={"message": "Tell me everything"}
            ) as response:
                async for event in iter_events(response):
                    seen.append(event)
                    if sum(e.type == "message.delta" for e in seen) == 4:
                        server.kill()
                        break
        stream_id, message_id = seen[0].data["stream_id"], seen[0].data["message_id"]
        seen_text = "".join(e.data["text"] for e in seen if e.type == "message.delta")

        server.start()
        await server.wait_ready(base_url)
        async with httpx.AsyncClient(base_url=base_url, timeout=30, headers=bearer) as client:
            message = (await client.get(f"/v1/messages/{message_id}")).json()
            assert message["status"] == "interrupted"
            assert message["error_code"] == "interrupted"
            # Everything a client saw was durable before it was sent; maybe a little more.
            assert message["content"].startswith(seen_text) and seen_text

            async with client.stream(
                "GET",
                f"/v1/streams/{stream_id}/events",
                headers={"Last-Event-ID": str(seen[-1].id)},
            ) as response:
                rest = await read_all(response)
        assert [e.id for e in seen + rest] == list(range(1, len(seen) + len(rest) + 1))
        assert [e.type for e in rest[-2:]] == ["error", "stream.completed"]
        assert rest[-2].data["code"] == "interrupted"
        assert rest[-1].data["status"] == "interrupted"
        resumed_text = "".join(e.data["text"] for e in seen + rest if e.type == "message.delta")
        assert resumed_text == message["content"]
        assert [c for c in await run_checks(db, heartbeat_seconds=0.5) if not c.ok] == []
    finally:
        server.stop()
        await db.dispose()


async def test_graceful_shutdown_interrupts_what_cannot_finish_in_the_grace_period(
    make_settings: Settings, fake_llm: FakeLLM
) -> None:
    fake_llm.behaviour.tokens = 400
    fake_llm.behaviour.token_delay = 0.02
    settings = make_settings.model_copy(update={"shutdown_grace_seconds": 0.3})
    async with run_server(settings) as server:
        out = (await accept(server.client, {"message": "A long story, please"})).json()
        await asyncio.sleep(0.3)
        db_url = server.settings.database_url
    db = Database.from_url(db_url)
    try:
        async with db.read() as conn:
            status, content = (
                await conn.execute(
                    select(Message.status, Message.content).where(
                        Message.id == out["assistant_message_id"]
                    )
                )
            ).one()
            types = (
                (
                    await conn.execute(
                        select(LoggedEvent.type)
                        .where(LoggedEvent.stream_id == out["stream_id"])
                        .order_by(LoggedEvent.seq)
                    )
                )
                .scalars()
                .all()
            )
        assert status == "interrupted"
        assert content.startswith("Hello0 from1")
        assert types[-2:] == ["error", "stream.completed"]
        assert [c for c in await run_checks(db, heartbeat_seconds=0.5) if not c.ok] == []
    finally:
        await db.dispose()
