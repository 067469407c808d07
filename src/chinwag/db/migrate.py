"""Schema versions: upgrade with Alembic, and tell whether a database is current.

Telling needs no Alembic: the head is read from the migration files and the database's
revision from its `alembic_version` row, so a worker whose schema is current never loads
Alembic and Mako (~11 MB resident)."""

from __future__ import annotations

import re
from importlib import resources
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from chinwag.db.uow import Database
from chinwag.errors import SchemaOutdated

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = resources.files("chinwag.db").joinpath("migrations")
_REVISION = re.compile(r'^revision(?:: str)? = "([^"]+)"', re.MULTILINE)
_DOWN_REVISION = re.compile(r'^down_revision(?:: str \| None)? = "([^"]+)"', re.MULTILINE)


def alembic_config(url: str | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url:
        config.set_main_option("sqlalchemy.url", url)
    return config


def head_revision() -> str | None:
    """The newest revision: the one no other migration revises (the chain is linear)."""
    revised: set[str] = set()
    revisions: set[str] = set()
    for file in MIGRATIONS.joinpath("versions").iterdir():
        if file.name.endswith(".py"):
            source = file.read_text()
            revisions.update(_REVISION.findall(source))
            revised.update(_DOWN_REVISION.findall(source))
    heads = revisions - revised
    return heads.pop() if len(heads) == 1 else None


async def current_revision(db: Database) -> str | None:
    """The database's revision; None for a database Alembic never upgraded."""
    async with db.connect() as conn:
        try:
            found = await conn.execute(text("SELECT version_num FROM alembic_version"))
        except DBAPIError:  # no such table
            return None
        return found.scalar()


def _upgrade(connection: Connection, revision: str) -> None:
    from alembic import command

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
    current, head = await current_revision(db), head_revision()
    if db.is_sqlite and current != head:
        await upgrade(db)
        return
    if current != head:
        raise SchemaOutdated(
            f"the database schema is at revision {current or 'none'}, this chinwag needs {head}; "
            "run `chinwag db upgrade`"
        )
