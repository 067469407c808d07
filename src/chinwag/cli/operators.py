"""`chinwag operators …`: people who answer handed-over conversations in the console."""

from __future__ import annotations

import asyncio
import sys
from typing import Annotated

import typer

from chinwag.auth.operators import OperatorInfo, OperatorRole, add_operator
from chinwag.cli.common import database, fail, report
from chinwag.errors import ChinwagError

operators_app = typer.Typer(
    no_args_is_help=True, help="Operators: people who take over conversations (docs/handoff.md)."
)


@operators_app.command("add")
def add(
    email: Annotated[str, typer.Option(help="Signs in with this email.")],
    name: Annotated[str, typer.Option(help="The name visitors see.")],
    bot: Annotated[
        list[str] | None, typer.Option(help="A bot they answer for (repeat for several).")
    ] = None,
    role: Annotated[str, typer.Option(help="operator (their bots) or admin (every bot).")] = (
        "operator"
    ),
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Create an operator; the password is asked for (twice), or read from stdin."""
    if role not in ("admin", "operator"):
        fail("--role is admin or operator", "An operator answers their --bot bots; admin: all.")
    if role == "operator" and not bot:
        fail("an operator needs at least one --bot", "Give --bot BOT, or --role admin.")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        made = asyncio.run(_add(email, name, password, role, bot or []))  # type: ignore[arg-type]
    except ChinwagError as exc:
        report(exc)
    where = "every bot" if made.role == "admin" else ", ".join(sorted(made.bots))
    typer.echo(f"{made.role} '{made.name}' <{made.email}> ({made.id}) answers for {where}.")
    typer.echo("They sign in to the console at /admin with this email and password.")


async def _add(
    email: str, name: str, password: str, role: OperatorRole, bots: list[str]
) -> OperatorInfo:
    async with database() as db, db.write() as conn:
        return await add_operator(
            conn, name=name, email=email, password=password, role=role, bots=bots
        )
