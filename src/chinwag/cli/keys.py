"""`chinwag keys …`: create, list and revoke API keys against the configured database."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from chinwag.auth.keys import KeyKind, NewKey, create_key, list_keys, revoke_key
from chinwag.auth.tokens import identity_secret, server_secret
from chinwag.cli.common import database, report, settings
from chinwag.errors import ChinwagError

keys_app = typer.Typer(no_args_is_help=True, help="API keys: admin, bot secret, bot publishable.")


@keys_app.command("create")
def create(
    kind: Annotated[str, typer.Option(help="admin, secret or publishable.")],
    name: Annotated[str, typer.Option(help="What the key is for.")],
    bot: Annotated[str | None, typer.Option(help="The bot (secret, publishable).")] = None,
    origin: Annotated[
        list[str] | None,
        typer.Option(help="A site allowed to use a publishable key (repeat for several)."),
    ] = None,
) -> None:
    """Create a key and print it: it is shown this once, only its hash is stored."""
    if kind not in ("admin", "secret", "publishable"):
        typer.secho("error: --kind is admin, secret or publishable", fg=typer.colors.RED, err=True)
        raise typer.Exit(2)
    try:
        new = asyncio.run(
            _create(kind=kind, name=name, bot_id=bot, origins=origin or [])  # type: ignore[arg-type]
        )
    except ChinwagError as exc:
        report(exc)
    typer.echo(f"{new.info.kind} key '{new.info.name}' ({new.info.id}):")
    typer.echo(f"  key: {new.key}")
    if new.info.kind == "publishable":
        secret = server_secret(settings())
        typer.echo(f"  identity secret: {identity_secret(secret, new.info.id)}")
    typer.echo("Store it now: chinwag keeps only a hash and cannot show it again.")


async def _create(*, kind: KeyKind, name: str, bot_id: str | None, origins: list[str]) -> NewKey:
    async with database() as db, db.write() as conn:
        return await create_key(conn, kind=kind, name=name, bot_id=bot_id, allowed_origins=origins)


@keys_app.command("list")
def list_(
    bot: Annotated[str | None, typer.Option(help="Only this bot's keys.")] = None,
    revoked: Annotated[bool, typer.Option("--all", help="Include revoked keys.")] = False,
) -> None:
    """List keys (id, kind, bot, name, prefix, origins); never the keys themselves."""

    async def run() -> None:
        async with database() as db, db.read() as conn:
            found = await list_keys(conn, bot_id=bot, include_revoked=revoked)
        for k in found:
            state = f"revoked {k.revoked_at:%Y-%m-%d}" if k.revoked_at else "active"
            origins = ",".join(k.allowed_origins) or "-"
            typer.echo(
                f"{k.id}  {k.kind:<11} {k.bot_id or '*':<16} {k.prefix}…  {state:<18} "
                f"{origins}  {k.name}"
            )

    asyncio.run(run())


@keys_app.command("revoke")
def revoke(key_id: Annotated[str, typer.Argument(help="The key's id (from `keys list`).")]) -> None:
    """Revoke a key; servers stop accepting it within CHINWAG_KEY_CACHE_SECONDS."""

    async def run() -> None:
        async with database() as db, db.write() as conn:
            info = await revoke_key(conn, key_id)
        typer.echo(f"revoked {info.kind} key '{info.name}' ({info.id})")

    try:
        asyncio.run(run())
    except ChinwagError as exc:
        report(exc)
