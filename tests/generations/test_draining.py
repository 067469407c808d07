"""SIGTERM drains a worker: new messages get 503 `server_draining` with Retry-After, `/readyz`
says so, running answers finish within the grace period (the rest end `interrupted`), readers of
streams written by another worker are sent there with a `retry:` hint, and the process exits."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from chinwag.auth.keys import create_key
from chinwag.bots.service import put_bot
from chinwag.conversations.models import Message
from chinwag.db.uow import Database
from chinwag.operations.doctor import run_checks
from chinwag.testing.fake_llm import FakeLLM
from tests.conftest import free_port, plain_demo_bot
from tests.faults.processes import ServerProcess, server_env
from tests.faults.streams import follow
from tests.helpers import accept, assert_problem
from tests.sse_client import SSEEvent, iter_events


class Worker:
    def __init__(self, process: ServerProcess, url: str) -> None:
        self.process, self.url = process, url

    def sigterm(self) -> None:
        assert self.process.proc is not None
        os.kill(self.process.proc.pid, signal.SIGTERM)

    def stopped_cleanly(self, within: float = 30) -> bool:
        """Exited after its shutdown ran (uvicorn re-raises the SIGTERM it caught, at the end)."""
        assert self.process.proc is not None
        code = self.process.proc.wait(timeout=within)
        return code in (0, -signal.SIGTERM) and "Application shutdown complete." in (
            self.process.log.read_text()
        )


@asynccontextmanager
async def workers(
    count: int, database_url: str, fake_llm: FakeLLM, tmp_path: Path, *, grace: float
) -> AsyncIterator[tuple[list[Worker], str]]:
    """`count` `chinwag serve` processes on one database, and an admin key."""
    db = Database.from_url(database_url)
    started: list[Worker] = []
    try:
        for i in range(count):
            port = free_port()
            env = server_env(
                database_url,
                fake_llm.base_url,
                tmp_path / f"data-{i}",
                port=port,
                heartbeat_seconds=0.5,
            )
            env["CHINWAG_SHUTDOWN_GRACE_SECONDS"] = str(grace)
            worker = Worker(
                ServerProcess(env, tmp_path / f"server-{i}.log"), f"http://127.0.0.1:{port}"
            )
            worker.process.start()
            await worker.process.wait_ready(worker.url)
            started.append(worker)
        async with db.write() as conn:
            await put_bot(conn, plain_demo_bot())
            admin = await create_key(conn, kind="admin", name="tests")
        yield started, admin.key
        assert [c for c in await run_checks(db, heartbeat_seconds=0.5) if not c.ok] == []
    finally:
        for worker in started:
            worker.process.stop()
        await db.dispose()


def _client(worker: Worker, key: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=worker.url, timeout=30, headers={"authorization": f"Bearer {key}"}
    )


async def _first_delta(client: httpx.AsyncClient, stream_id: str) -> None:
    async with client.stream("GET", f"/v1/streams/{stream_id}/events") as response:
        async for event in iter_events(response):
            if event.type == "message.delta":
                return


def _text(events: list[SSEEvent]) -> str:
    return "".join(e.data["text"] for e in events if e.type == "message.delta")


async def test_sigterm_refuses_new_messages_and_lets_running_answers_finish(
    database_url: str, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    fake_llm.behaviour.tokens = 40
    fake_llm.behaviour.token_delay = 0.05  # 2 s per answer, well inside the grace period
    async with workers(1, database_url, fake_llm, tmp_path, grace=20) as ([worker], key):
        async with _client(worker, key) as client:
            ids = [(await accept(client, {"message": f"question {i}"})).json() for i in range(3)]
            await _first_delta(client, ids[0]["stream_id"])
            readers = [
                asyncio.create_task(follow(worker.url, key, i["stream_id"], within=30)) for i in ids
            ]
            await asyncio.sleep(0.2)
            worker.sigterm()
            await asyncio.sleep(0.3)

            refused = await accept(client, {"message": "one more"})
            problem = assert_problem(refused, 503, "server_draining")
            assert refused.headers["retry-after"] == "2"  # CHINWAG_SSE_RETRY_MS, 2000 by default
            assert problem["retry_after"] == 2
            ready = await client.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"]["generations"]["draining"] is True

            followed = await asyncio.gather(*readers)
        for events in followed:
            assert [e.id for e in events] == list(range(1, len(events) + 1))
            assert events[-1].type == "stream.completed"
            assert events[-1].data["status"] == "completed"
            full = "".join(fake_llm.behaviour.token(i) for i in range(40))
            assert _text(events) == full
        assert await asyncio.to_thread(worker.stopped_cleanly)
    assert "shutting down: no new messages; 3 answer(s) get 20 s to finish" in (
        (tmp_path / "server-0.log").read_text()
    )


async def test_sigterm_ends_what_outlasts_the_grace_period_as_interrupted(
    database_url: str, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    fake_llm.behaviour.tokens = 400
    fake_llm.behaviour.token_delay = 0.05  # 20 s: longer than the grace period
    async with workers(1, database_url, fake_llm, tmp_path, grace=1) as ([worker], key):
        async with _client(worker, key) as client:
            ids = (await accept(client, {"message": "a long story"})).json()
            await _first_delta(client, ids["stream_id"])
            reader = asyncio.create_task(follow(worker.url, key, ids["stream_id"], within=30))
            await asyncio.sleep(0.2)
            worker.sigterm()
            events = await reader
        assert [e.type for e in events[-2:]] == ["error", "stream.completed"]
        assert events[-2].data["code"] == "interrupted"
        assert events[-1].data["status"] == "interrupted"
        assert await asyncio.to_thread(worker.stopped_cleanly)
        db = Database.from_url(database_url)
        try:
            async with db.read() as conn:
                status, content = (
                    await conn.execute(
                        select(Message.status, Message.content).where(
                            Message.id == ids["assistant_message_id"]
                        )
                    )
                ).one()
        finally:
            await db.dispose()
        assert status == "interrupted"
        assert content == _text(events) and content


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_readers_of_another_workers_stream_are_sent_there_with_a_retry_hint(
    database_url: str, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    fake_llm.behaviour.tokens = 80
    fake_llm.behaviour.token_delay = 0.05  # 4 s per answer
    async with workers(2, database_url, fake_llm, tmp_path, grace=20) as ((a, b), key):
        async with _client(a, key) as on_a, _client(b, key) as on_b:
            elsewhere = (await accept(on_b, {"message": "written by b"})).json()
            here = (await accept(on_a, {"message": "written by a"})).json()
            lines: list[str] = []
            async with on_a.stream(
                "GET", f"/v1/streams/{elsewhere['stream_id']}/events"
            ) as response:
                assert response.status_code == 200
                async for line in response.aiter_lines():
                    lines.append(line)
                    if line == "event: message.delta" and lines.count(line) == 1:
                        a.sigterm()
            seen = [int(line[4:]) for line in lines if line.startswith("id: ")]
            assert seen == list(range(1, len(seen) + 1))
            assert "event: stream.completed" not in lines, "the reader was not cut short"
            assert lines[0] == "retry: 2000" and lines[1] == "id: 1"  # one frame, no phantom

            # While A drains (its own answer still runs), it sends readers of B's stream away…
            again = await on_a.get(
                f"/v1/streams/{elsewhere['stream_id']}/events",
                headers={"Last-Event-ID": str(seen[-1])},
            )
            assert_problem(again, 503, "server_draining")
            assert again.headers["retry-after"] == "2"
            # … and B serves the rest from where the reader was, without gap or repeat.
            async with on_b.stream(
                "GET",
                f"/v1/streams/{elsewhere['stream_id']}/events",
                headers={"Last-Event-ID": str(seen[-1])},
            ) as response:
                rest = [e async for e in iter_events(response)]
            assert [e.id for e in rest] == list(range(len(seen) + 1, len(seen) + len(rest) + 1))
            assert rest[-1].data["status"] == "completed"

            # A's own answer finished before A stopped.
            own = await follow(b.url, key, here["stream_id"], within=30)
            assert own[-1].data["status"] == "completed"
        assert await asyncio.to_thread(a.stopped_cleanly)
        async with _client(b, key) as on_b:
            assert (await accept(on_b, {"message": "B still takes messages"})).status_code == 202
