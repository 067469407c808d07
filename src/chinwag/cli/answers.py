"""`chinwag answers …`: a bot's curated answers from the terminal (add, list, import, export)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import typer

answers_app = typer.Typer(
    no_args_is_help=True, help="Curated answers: approved answers served when a message matches."
)
BotArgument = Annotated[str, typer.Argument(help="The bot id.")]


@answers_app.command("add")
def add(
    bot: BotArgument,
    question: Annotated[str, typer.Option("--question", "-q", help="The question it answers.")],
    answer: Annotated[str, typer.Option("--answer", "-a", help="The approved answer.")],
    source: Annotated[
        list[str] | None,
        typer.Option(help="A source shown with the answer: 'Title' or 'Title|https://…'."),
    ] = None,
    disabled: Annotated[bool, typer.Option(help="Save it without serving it yet.")] = False,
) -> None:
    """Add one curated answer to a bot."""
    from chinwag.answers.schemas import CuratedAnswerIn
    from chinwag.answers.service import create_answer
    from chinwag.cli.common import database

    sources = [_source(s) for s in source or []]
    body = CuratedAnswerIn.model_validate(
        {"question": question, "answer": answer, "sources": sources, "enabled": not disabled}
    )

    async def run() -> str:
        async with database() as db, db.write() as conn:
            return (await create_answer(conn, bot, body)).id

    typer.echo(f"{bot}: added curated answer {asyncio.run(run())}")


@answers_app.command("list")
def list_answers(
    bot: BotArgument,
    search: Annotated[str | None, typer.Option("--search", help="Text to look for.")] = None,
) -> None:
    """A bot's curated answers: id, enabled, question."""
    from chinwag.answers.service import list_answers as load
    from chinwag.cli.common import database

    async def run() -> None:
        async with database() as db, db.read() as conn:
            for a in await load(conn, bot, q=search):
                state = "enabled " if a.enabled else "disabled"
                typer.echo(f"{a.id}\t{state}\t{a.question}")

    asyncio.run(run())


@answers_app.command("import")
def import_csv(
    bot: BotArgument,
    file: Annotated[Path, typer.Argument(help="CSV: question,answer[,enabled][,sources].")],
    replace: Annotated[
        bool, typer.Option(help="Delete the bot's other curated answers first.")
    ] = False,
) -> None:
    """Add the curated answers of a CSV file (all or none: a bad row imports nothing)."""
    from chinwag.answers.csvfile import from_csv
    from chinwag.answers.service import import_answers
    from chinwag.cli.common import database

    answers = from_csv(file.read_text(encoding="utf-8-sig"))

    async def run() -> int:
        async with database() as db, db.write() as conn:
            return await import_answers(conn, bot, answers, replace=replace)

    count = asyncio.run(run())
    typer.echo(f"{bot}: imported {count} curated answer(s){' (replaced all)' if replace else ''}")


@answers_app.command("export")
def export_csv(bot: BotArgument) -> None:
    """Print a bot's curated answers as CSV (what `chinwag answers import` reads)."""
    from chinwag.answers.csvfile import to_csv
    from chinwag.answers.service import list_answers as load
    from chinwag.cli.common import database

    async def run() -> str:
        async with database() as db, db.read() as conn:
            return to_csv(await load(conn, bot))

    sys.stdout.write(asyncio.run(run()))


def _source(text: str) -> dict[str, str | None]:
    title, _, url = text.partition("|")
    return {"title": title.strip(), "url": url.strip() or None}
