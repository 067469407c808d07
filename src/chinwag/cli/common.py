"""What every command shares: the invocation's settings (built once), its database, and how
an error is shown (the message, then a hint, on stderr; exit status 1)."""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

import click
import typer

from chinwag.errors import ChinwagError
from chinwag.secrets import configure as configure_secrets
from chinwag.settings import Settings

if TYPE_CHECKING:
    from chinwag.db.uow import Database


def settings(**overrides: object) -> Settings:
    """The settings of this invocation, built once (from the environment and .env), with the
    options the command line gave (`--host`, `--port`) over them."""
    given = {k: v for k, v in overrides.items() if v is not None}
    context = click.get_current_context(silent=True)
    if context is None:  # called outside a command
        return Settings(**given)  # type: ignore[arg-type]
    root = context.find_root()
    if not isinstance(root.obj, Settings):
        root.obj = Settings(**given)  # type: ignore[arg-type]
        configure_secrets(root.obj.secrets_file)
    elif given:
        root.obj = root.obj.model_copy(update=given)
    return root.obj


def fail(message: str, hint: str | None = None) -> NoReturn:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    if hint:
        typer.echo(f"hint: {hint}", err=True)
    raise typer.Exit(1)


def report(error: ChinwagError) -> NoReturn:
    """A chinwag error, as every command shows one."""
    fail(error.message, error.hint)


class database:
    """The configured database for one command (`async with database() as db`); its schema is
    checked first (SQLite upgrades itself) unless `check_schema=False` (`db upgrade`, `doctor`).
    `configured`: the settings to use instead of the invocation's."""

    db: Database

    def __init__(self, configured: Settings | None = None, *, check_schema: bool = True) -> None:
        self._settings = configured
        self._check_schema = check_schema

    async def __aenter__(self) -> Database:
        from chinwag.db.migrate import ensure_schema
        from chinwag.db.uow import Database

        self.db = Database.from_url((self._settings or settings()).database_url)
        if self._check_schema:
            try:
                await ensure_schema(self.db)
            except BaseException:
                await self.db.dispose()
                raise
        return self.db

    async def __aexit__(self, *_: object) -> None:
        await self.db.dispose()
