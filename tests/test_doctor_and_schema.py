"""`chinwag doctor` finds what is broken; `serve` refuses an outdated PostgreSQL schema."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

from sqlalchemy import insert, text, update

from chinwag.db.base import utcnow
from chinwag.db.migrate import ensure_schema
from chinwag.db.uow import Database
from chinwag.errors import SchemaOutdated
from chinwag.operations.doctor import run_checks
from chinwag.settings import Settings
from chinwag.streams.models import LoggedEvent, Stream, Worker
from tests.conftest import POSTGRES_ADMIN_DSN, RunningServer, _admin, _asyncpg_url, run_server
from tests.helpers import accept, wait_finished
from tests.test_import_graph import LAZY


async def test_doctor_reports_broken_logs_and_orphans(make_settings: Settings) -> None:
    # A slow heartbeat, so the server's own recovery does not mend the orphan before we look.
    async with run_server(make_settings.model_copy(update={"heartbeat_seconds": 60})) as server:
        await _break_and_diagnose(server)


async def _break_and_diagnose(server: RunningServer) -> None:
    out = (await accept(server.client, {"message": "hello"})).json()
    await wait_finished(server.client, out["assistant_message_id"])
    assert [c.name for c in await run_checks(server.db, heartbeat_seconds=0.5) if not c.ok] == []

    async with server.db.write() as conn:
        # A gap in a finished stream's log …
        await conn.execute(
            text("DELETE FROM stream_events WHERE stream_id = :s AND seq = 2"),
            {"s": out["stream_id"]},
        )
    second = (await accept(server.client, {"message": "again"})).json()
    await wait_finished(server.client, second["assistant_message_id"])
    async with server.db.write() as conn:
        # … and a stream left 'streaming' by a worker that died long ago.
        await conn.execute(
            insert(Worker).values(
                id="dead-worker",
                hostname="elsewhere",
                pid=1,
                started_at=utcnow(),
                heartbeat_at=utcnow().replace(year=2000),
            )
        )
        await conn.execute(
            update(Stream)
            .where(Stream.id == second["stream_id"])
            .values(status="streaming", worker_id="dead-worker")
        )
        await conn.execute(
            text("UPDATE messages SET status = 'streaming' WHERE id = :m"),
            {"m": second["assistant_message_id"]},
        )
        await conn.execute(
            text(
                "DELETE FROM stream_events WHERE stream_id = :s AND type IN "
                "('message.completed', 'stream.completed')"
            ),
            {"s": second["stream_id"]},
        )
    failing = {c.name for c in await run_checks(server.db, heartbeat_seconds=0.5) if not c.ok}
    assert failing == {
        "finished streams with missing or duplicate seq",
        "streaming rows with no live generation",
    }


async def test_outdated_postgres_schema_is_refused_with_the_command_to_run(
    tmp_path: Path,
) -> None:
    name = f"chinwag_empty_{uuid.uuid4().hex[:10]}"
    await _admin(f'CREATE DATABASE "{name}"')
    url = _asyncpg_url(POSTGRES_ADMIN_DSN, name)
    db = Database.from_url(url)
    try:
        try:
            await ensure_schema(db)
            raise AssertionError("an empty database must be refused")
        except SchemaOutdated as exc:
            assert exc.code == "schema_outdated"
            assert "chinwag db upgrade" in exc.message
        env = {**os.environ, "CHINWAG_DATABASE_URL": url, "CHINWAG_PORT": "1"}
        result = await _cli("serve", env=env, cwd=tmp_path)
        assert result.returncode == 1
        assert "chinwag db upgrade" in result.stderr
        upgraded = await _cli("db", "upgrade", env=env, cwd=tmp_path)
        assert upgraded.returncode == 0, upgraded.stderr
        await ensure_schema(db)  # now current
        doctor = await _cli("doctor", "--json", env=env, cwd=tmp_path)
        assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    finally:
        await db.dispose()
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "chinwag", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_event_rows_are_unique_per_stream_and_seq(server: RunningServer) -> None:
    out = (await accept(server.client, {"message": "hello"})).json()
    await wait_finished(server.client, out["assistant_message_id"])
    async with server.db.write() as conn:
        try:
            await conn.execute(
                insert(LoggedEvent).values(
                    stream_id=out["stream_id"],
                    seq=1,
                    type="message.delta",
                    data="{}",
                    created_at=utcnow(),
                )
            )
            raise AssertionError("a duplicate seq must be rejected by the database")
        except Exception as exc:  # IntegrityError from either driver
            assert "unique" in str(exc).lower() or "duplicate" in str(exc).lower()
            await conn.rollback()


async def test_migrations_create_exactly_the_models_tables(database_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from chinwag.db import migrate
    from chinwag.db.base import Base, import_all_models
    from chinwag.db.uow import Database

    import_all_models()
    db = Database.from_url(database_url)
    try:
        await migrate.upgrade(db)
        async with db.connect() as conn:
            diff = await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
            )
    finally:
        await db.dispose()
    assert diff == []


def test_the_head_revision_read_from_the_files_is_alembics() -> None:
    from alembic.script import ScriptDirectory

    from chinwag.db import migrate

    alembic_head = ScriptDirectory.from_config(migrate.alembic_config()).get_current_head()
    assert migrate.head_revision() == alembic_head is not None


# A worker started on a current schema, without CHINWAG_REDIS_URL: which optional libraries did
# it load? Run in a fresh process (this one has imported everything).
_WORKER_START = """
import asyncio, sys
from chinwag.app import create_app
from chinwag.settings import Settings

app = create_app(Settings(database_url=sys.argv[1], data_dir=sys.argv[2], _env_file=None))

async def start_and_stop():
    async with app.router.lifespan_context(app):
        pass

asyncio.run(start_and_stop())
print(sorted(m for m in sys.argv[3:] if m in sys.modules))
"""


async def test_a_worker_on_a_current_schema_loads_neither_alembic_nor_redis_nor_httpx(
    database_url: str, tmp_path: Path
) -> None:
    """Each is ~5-11 MB resident a worker does not use: Alembic only upgrades, redis-py only
    serves CHINWAG_REDIS_URL, and /readyz probes LLM servers with the LLM client's aiohttp.
    Nor any other library some bots or requests use (test_import_graph.LAZY)."""
    db = Database.from_url(database_url)
    try:
        await ensure_schema(db)  # SQLite upgrades itself here, PostgreSQL is current already
        async with db.connect() as conn:
            found = await conn.execute(text("SELECT version_num FROM alembic_version"))
            revision = found.scalar()
    finally:
        await db.dispose()
    from chinwag.db.migrate import head_revision

    assert revision == head_revision()
    started = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-c",
            _WORKER_START,
            database_url,
            str(tmp_path / "data"),
            *sorted({"mako", *LAZY}),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert started.returncode == 0, started.stderr
    assert started.stdout.strip().splitlines()[-1] == "[]", started.stdout + started.stderr
