"""`chinwag operators …`: people who answer handed-over conversations in the console."""

from __future__ import annotations

import asyncio
import sys
from typing import Annotated

import typer
from sqlalchemy import select

from chinwag.auth.models import Operator
from chinwag.auth.operator_admin import list_operators, remove_operator
from chinwag.auth.operators import OperatorInfo, OperatorRole, add_operator, normal_email
from chinwag.auth.schemas import OperatorOut
from chinwag.cli.common import database, fail, report
from chinwag.db.base import utcnow
from chinwag.errors import ChinwagError, OperatorNotFound
from chinwag.handoff.requeue import requeue_claimed_by

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


@operators_app.command("list")
def list_() -> None:
    """The operators (not removed): name, email, role and bots."""
    found = asyncio.run(_list())
    if not found:
        typer.echo("No operators yet: chinwag operators add --email … --name … --bot …")
    for o in found:
        where = "every bot" if o.bots is None else ", ".join(o.bots) or "no bot"
        typer.echo(f"{o.name} <{o.email}> {o.role}: {where} ({o.id})")


@operators_app.command("remove")
def remove(email: Annotated[str, typer.Argument(help="The operator's email.")]) -> None:
    """Remove an operator: signed out at once everywhere; their conversations go back to
    waiting; their messages keep their name."""
    try:
        gone, requeued = asyncio.run(_remove(email))
    except ChinwagError as exc:
        report(exc)
    typer.echo(f"Removed '{gone.name}' <{gone.email}>: signed out everywhere.")
    if requeued:
        typer.echo(f"{requeued} conversation(s) they had went back to waiting.")


async def _list() -> list[OperatorOut]:
    async with database() as db, db.read() as conn:
        return await list_operators(conn)


async def _remove(email: str) -> tuple[OperatorInfo, int]:
    async with database() as db, db.write() as conn:
        found = await conn.execute(
            select(Operator.id).where(
                Operator.email == normal_email(email), Operator.removed_at.is_(None)
            )
        )
        operator_id = found.scalar()
        if operator_id is None:
            raise OperatorNotFound(f"no operator has the email '{normal_email(email)}'")
        now = utcnow()
        gone = await remove_operator(conn, operator_id, now)
        moved = await requeue_claimed_by(conn, operator_id=operator_id, now=now)
    return gone, len(moved)
