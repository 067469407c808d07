"""Schema versions: upgrade with Alembic, and tell whether a database is current."""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from chinwag.db.uow import Database
from chinwag.errors import SchemaOutdated


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option(
        "script_location", str(resources.files("chinwag.db").joinpath("migrations"))
    )
    if url:
        config.set_main_option("sqlalchemy.url", url)
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def current_revision(db: Database) -> str | None:
    async with db.connect() as conn:
        return await conn.run_sync(_current)


def _upgrade(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def upgrade(db: Database, revision: str = "head") -> tuple[str | None, str | None]:
    """Upgrade to the newest schema (or to `revision`); returns (revision before, after)."""
    before = await current_revision(db)
    async with db.connect() as conn, conn.begin():
        await conn.run_sync(_upgrade, revision)
    return before, await current_revision(db)


async def ensure_schema(db: Database) -> None:
    """SQLite upgrades itself; any other database must already be at the newest revision."""
    if db.is_sqlite:
        await upgrade(db)
        return
    current, head = await current_revision(db), head_revision()
    if current != head:
        raise SchemaOutdated(
            f"the database schema is at revision {current or 'none'}, this chinwag needs {head}; "
            "run `chinwag db upgrade`"
        )
