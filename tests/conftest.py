"""Fixtures: every database test runs on SQLite and on PostgreSQL, against a real HTTP server."""

from __future__ import annotations

import asyncio
import functools
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn

from chinwag.app import create_app
from chinwag.auth.keys import create_key
from chinwag.bots.demo import demo_bot_config
from chinwag.bots.service import put_bot
from chinwag.config.bot import BotConfig, RouterConfig
from chinwag.db import migrate
from chinwag.db.uow import Database
from chinwag.settings import Settings
from chinwag.testing.fake_llm import FakeLLM, free_port
from tests.faults.processes import RedisServer

POSTGRES_ADMIN_DSN = os.environ.get(
    "CHINWAG_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"
)
TEMPLATE_DB = f"chinwag_template_{os.getpid()}"


def _asyncpg_url(dsn: str, database: str) -> str:
    base = dsn.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{database}"


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(POSTGRES_ADMIN_DSN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """One migrated database that each PostgreSQL test copies (CREATE DATABASE … TEMPLATE)."""

    async def create() -> None:
        await _admin(f'DROP DATABASE IF EXISTS "{TEMPLATE_DB}"')
        await _admin(f'CREATE DATABASE "{TEMPLATE_DB}"')
        db = Database.from_url(_asyncpg_url(POSTGRES_ADMIN_DSN, TEMPLATE_DB))
        await migrate.upgrade(db)
        await db.dispose()

    _run_in_thread(create())
    yield TEMPLATE_DB
    _run_in_thread(_admin(f'DROP DATABASE IF EXISTS "{TEMPLATE_DB}" WITH (FORCE)'))


def _run_in_thread(coro: Coroutine[Any, Any, None]) -> None:
    """Run a coroutine to completion in its own loop (this fixture may be set up inside one)."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, coro).result()


@pytest.fixture(params=["sqlite", "postgres"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, migrated database of each kind."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/chinwag.db"
        return
    template = request.getfixturevalue("postgres_template")
    name = f"chinwag_t_{uuid.uuid4().hex[:12]}"
    await _admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield _asyncpg_url(POSTGRES_ADMIN_DSN, name)
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis of the test's own on a free port, which the test may stop and start again
    (never the shared one)."""
    if shutil.which("redis-server") is None:
        pytest.skip("needs redis-server (.ci/run installs it)")
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fake_llm() -> Iterator[FakeLLM]:
    with FakeLLM() as fake:
        yield fake


@dataclass
class RunningServer:
    base_url: str
    settings: Settings
    db: Database  # the test's own connection to the same database, for assertions
    client: httpx.AsyncClient  # sends the admin key
    admin_key: str = ""

    @property
    def admin_headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.admin_key}"}


@pytest.fixture
async def make_settings(
    database_url: str, fake_llm: FakeLLM, tmp_path: Path
) -> AsyncIterator[Settings]:
    yield Settings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        llm_base_url=fake_llm.base_url,
        llm_model="fake-model",
        llm_api_key=None,
        heartbeat_seconds=0.5,
        secret_key="test-secret",
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture
async def server(make_settings: Settings) -> AsyncIterator[RunningServer]:
    """chinwag on 127.0.0.1 (real HTTP, in this event loop) with the demo bot."""
    async with run_server(make_settings) as running:
        yield running


@functools.cache
def _parsed_demo_bot() -> BotConfig:
    """The demo bot's YAML, parsed and validated once per test process (~0.1 s each time)."""
    return demo_bot_config()


def plain_demo_bot() -> BotConfig:
    """The demo bot with `main` only, no knowledge and the `open` answer policy: tests of the
    conversation log need neither a routing model nor an index, and every message answered by
    the LLM (tests/engine/test_answer_policy.py covers `grounded`)."""
    demo = _parsed_demo_bot().model_copy(deep=True)
    return demo.model_copy(
        update={
            "flows": {"main": demo.flows["main"]},
            "router": RouterConfig(),
            "knowledge": None,
            "policy": None,
        }
    )


class run_server:
    """Start chinwag with uvicorn in the current loop; stop it (gracefully) on exit."""

    def __init__(
        self,
        settings: Settings,
        *,
        seed_demo: bool = True,
        bot: BotConfig | None = None,
        demo_shop: bool = False,
    ) -> None:
        """`demo_shop`: also serve the demo shop's API (/demo/shop-api), and seed the demo bot
        whole (its tools calling that API on this server) unless `bot` says otherwise."""
        self.settings = settings
        self.seed_demo = seed_demo
        self.port = free_port()
        self.demo_shop = demo_shop
        if bot is None and demo_shop:
            bot = demo_bot_config(f"http://127.0.0.1:{self.port}")
        self.bot = bot

    async def __aenter__(self) -> RunningServer:
        self.app = create_app(self.settings, demo_shop=self.demo_shop)
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
            timeout_keep_alive=60,
        )
        self.uvicorn = uvicorn.Server(config)
        self.task = asyncio.create_task(self.uvicorn.serve())
        while not self.uvicorn.started:
            if self.task.done():
                self.task.result()
            await asyncio.sleep(0.01)
        self.db = Database.from_url(self.settings.database_url)
        async with self.db.write() as conn:
            if self.seed_demo or self.bot is not None:
                await put_bot(conn, self.bot or plain_demo_bot())
            admin = await create_key(conn, kind="admin", name="tests")
        base_url = f"http://127.0.0.1:{self.port}"
        self.client = httpx.AsyncClient(
            base_url=base_url, timeout=30, headers={"authorization": f"Bearer {admin.key}"}
        )
        return RunningServer(base_url, self.settings, self.db, self.client, admin.key)

    async def __aexit__(self, *_: object) -> None:
        await self.client.aclose()
        # As on SIGTERM (http/draining.py): drain first, which ends the open readers (a page's
        # live inbox), so that the HTTP server does not wait for them to hang up.
        self.app.state.services.drain.start()
        self.uvicorn.should_exit = True
        await self.task
        await self.db.dispose()
