"""`chinwag serve --workers N`: N processes answer on one port, each a worker of its own in the
shared PostgreSQL database, and all of them stop cleanly on SIGTERM; on SQLite (one writer) the
command refuses with a clear error."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from chinwag.auth.keys import create_key
from chinwag.bots.service import put_bot
from chinwag.db.uow import Database
from chinwag.streams.models import Stream, Worker
from chinwag.testing.fake_llm import FakeLLM
from tests.conftest import free_port, plain_demo_bot
from tests.faults.streams import follow, start_streams

WORKERS = 2
MESSAGES = 12


def _env(database_url: str, fake_llm: FakeLLM, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHINWAG_")}
    env.update(
        CHINWAG_DATABASE_URL=database_url,
        CHINWAG_LLM_BASE_URL=fake_llm.base_url,
        CHINWAG_LLM_MODEL="fake-model",
        CHINWAG_SECRET_KEY="test-secret",
        CHINWAG_SHUTDOWN_GRACE_SECONDS="1",
        CHINWAG_DATA_DIR=str(tmp_path / "data"),
    )
    return env


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_several_workers_on_sqlite_are_refused_with_a_hint(
    database_url: str, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "chinwag", "serve", "--port", str(free_port()), "--workers", "2"],
        env=_env(database_url, fake_llm, tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "error: --workers 2 needs PostgreSQL, not SQLite" in done.stderr
    assert "hint: SQLite has one writer" in done.stderr


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_serve_with_two_workers_answers_and_stops_cleanly(
    database_url: str, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    fake_llm.behaviour.tokens = 5
    fake_llm.behaviour.token_delay = 0.05
    db = Database.from_url(database_url)
    port = free_port()
    env = _env(database_url, fake_llm, tmp_path)
    log = tmp_path / "serve.log"
    proc = _start(["serve", "--port", str(port), "--workers", str(WORKERS)], env, log)
    base_url = f"http://127.0.0.1:{port}"
    try:
        await _wait_for_workers(db, proc, log, base_url)
        async with db.write() as conn:
            await put_bot(conn, plain_demo_bot())
            key = (await create_key(conn, kind="admin", name="tests")).key
        async with db.read() as conn:
            rows = await conn.execute(
                select(Worker.id, Worker.pid).where(Worker.stopped_at.is_(None))
            )
            live = {row.id: row.pid for row in rows}
        # WORKERS processes of their own, not the supervisor that started them
        assert len(set(live.values())) == WORKERS and proc.pid not in live.values()
        served = await _until_every_worker_served(db, base_url, key)
        assert served == set(live), _read(log)  # each worker accepted messages and wrote them

        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, 60) == 0, _read(log)
        async with db.read() as conn:
            stopped = (await conn.execute(select(Worker.stopped_at))).scalars().all()
        assert len(stopped) == WORKERS and all(at is not None for at in stopped), _read(log)
    finally:
        if proc.poll() is None:  # a failure: the supervisor and its workers go together
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        await db.dispose()


async def _until_every_worker_served(db: Database, base_url: str, key: str) -> set[str]:
    """Send MESSAGES at once, each on a connection of its own, and follow them to their end,
    until every worker has accepted some (at most ten rounds: the kernel gives a connection to
    whichever worker accepts first, and the first round often goes to one worker whole). The
    workers that served: the owners of the streams (a stream is owned by the worker that
    accepted its message)."""
    served: set[str] = set()
    for _ in range(10):
        started = await start_streams(base_url, key, MESSAGES)
        endings = await asyncio.gather(*(follow(base_url, key, s.stream_id) for s in started))
        assert [events[-1].data["status"] for events in endings] == ["completed"] * MESSAGES
        async with db.read() as conn:
            served = set((await conn.execute(select(Stream.worker_id).distinct())).scalars())
        if len(served) == WORKERS:
            break
    return served


async def _wait_for_workers(
    db: Database, proc: subprocess.Popen[bytes], log: Path, base_url: str
) -> None:
    """Until every worker process has registered (each does in its own start-up) and the port
    answers."""
    async with httpx.AsyncClient(base_url=base_url) as client:
        for _ in range(1200):
            assert proc.poll() is None, _read(log)
            try:
                async with db.read() as conn:
                    registered = (await conn.execute(select(Worker.id))).scalars().all()
                ready = len(registered) == WORKERS and (
                    (await client.get("/healthz")).status_code == 200
                )
            except Exception:  # not up yet (SQLite: `serve` is creating the schema)
                ready = False
            if ready:
                return
            await asyncio.sleep(0.1)
    raise AssertionError(f"{WORKERS} workers did not start:\n{_read(log)}")


def _read(log: Path) -> str:
    return log.read_text()


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`chinwag <args>` (the uvicorn supervisor) as the leader of its own process group, which
    its worker processes join."""
    return subprocess.Popen(
        [sys.executable, "-m", "chinwag", *args],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
