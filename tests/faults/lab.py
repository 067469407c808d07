"""Where the scenarios run: a scratch directory, fresh seeded databases of each kind, a fake LLM,
and `chinwag serve` processes on 127.0.0.1 that are stopped on the way out, whatever happens."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

from chinwag.auth.keys import create_key
from chinwag.bots.service import put_bot
from chinwag.db import migrate
from chinwag.db.uow import Database
from chinwag.testing.fake_llm import FakeLLM
from tests.conftest import POSTGRES_ADMIN_DSN, _admin, _asyncpg_url, plain_demo_bot
from tests.faults.processes import RedisServer, ServerProcess, server_env


@dataclass
class Store:
    """A fresh database with the demo bot (`main` only) and an admin key."""

    kind: str  # sqlite | postgres
    name: str  # the PostgreSQL database's name, or the SQLite file
    url: str
    db: Database  # the harness's own connection, for counting
    key: str


class Lab:
    def __init__(self, directory: Path, template: str) -> None:
        self.directory = directory
        self.template = template

    def scratch(self, label: str) -> Path:
        path = Path(tempfile.mkdtemp(prefix=f"{label}-", dir=self.directory))
        return path

    @asynccontextmanager
    async def store(self, kind: str) -> AsyncIterator[Store]:
        """A database of the scenario's own, dropped afterwards."""
        if kind == "sqlite":
            name = str(self.scratch("sqlite") / "chinwag.db")
            url = f"sqlite+aiosqlite:///{name}"
        else:
            name = f"chinwag_faults_{uuid.uuid4().hex[:12]}"
            await _admin(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
            url = _asyncpg_url(POSTGRES_ADMIN_DSN, name)
        db = Database.from_url(url)
        try:
            if kind == "sqlite":
                await migrate.upgrade(db)
            async with db.write() as conn:
                await put_bot(conn, plain_demo_bot())
                key = (await create_key(conn, kind="admin", name="faults")).key
            yield Store(kind, name, url, db, key)
        finally:
            await db.dispose()
            if kind == "postgres":
                await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    @asynccontextmanager
    async def servers(
        self,
        llm: FakeLLM,
        database_urls: Sequence[str],
        *,
        heartbeat_seconds: float = 2.0,
        redis_url: str | None = None,
    ) -> AsyncIterator[list[ServerProcess]]:
        """One `chinwag serve` per database URL (the same database, or proxies to it), all
        ready; each stopped (SIGTERM, then SIGKILL) on the way out."""
        started: list[ServerProcess] = []
        try:
            for i, url in enumerate(database_urls):
                scratch = self.scratch(f"server{i}")
                env = server_env(
                    url,
                    llm.base_url,
                    scratch / "data",
                    heartbeat_seconds=heartbeat_seconds,
                    redis_url=redis_url,
                )
                server = ServerProcess(env, scratch / "server.log")
                server.start()
                started.append(server)
            for server in started:
                await server.wait_ready()
            yield started
        finally:
            for server in started:
                server.stop()

    @contextmanager
    def redis(self) -> Iterator[RedisServer]:
        server = RedisServer(self.scratch("redis"))
        server.start()
        try:
            yield server
        finally:
            server.stop()


@contextmanager
def fake_llm(tokens: int, token_delay: float) -> Iterator[FakeLLM]:
    with FakeLLM() as fake:
        fake.behaviour.tokens = tokens
        fake.behaviour.token_delay = token_delay
        yield fake


def full_text(llm: FakeLLM) -> str:
    return "".join(llm.behaviour.token(i) for i in range(llm.behaviour.tokens))


@asynccontextmanager
async def open_lab(template: str | None = None) -> AsyncIterator[Lab]:
    """A scratch directory and a migrated PostgreSQL template (given, e.g. the tests' session
    template, or made here and dropped afterwards)."""
    directory = Path(tempfile.mkdtemp(prefix="chinwag-faults-"))
    own = template is None
    name = template or f"chinwag_faults_template_{os.getpid()}"
    try:
        if own:
            await _admin(f'DROP DATABASE IF EXISTS "{name}"')
            await _admin(f'CREATE DATABASE "{name}"')
            db = Database.from_url(_asyncpg_url(POSTGRES_ADMIN_DSN, name))
            try:
                await migrate.upgrade(db)
            finally:
                await db.dispose()
        yield Lab(directory, name)
    finally:
        if own:
            await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(directory, ignore_errors=True)
