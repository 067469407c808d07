"""`chinwag knowledge create|info|drop|reindex BOT` and `chinwag ingest BOT PATH…`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from chinwag.cli.common import settings

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from chinwag.config.bot import BotConfig, KnowledgeConfig
    from chinwag.knowledge.ingest import IngestSummary
    from chinwag.providers.protocols import Embedder
    from chinwag.providers.vectorstores.base import VectorStore

T = TypeVar("T")
knowledge_app = typer.Typer(no_args_is_help=True, help="A bot's knowledge index.")

BotArgument = Annotated[
    str, typer.Argument(help="The bot id, or its YAML file (to prepare an index before import).")
]
PathsArgument = Annotated[
    list[str], typer.Argument(help="Files, directories or glob patterns to ingest.")
]
TagOption = Annotated[
    list[str] | None, typer.Option("--tag", help="Tag every ingested document (repeatable).")
]
PruneOption = Annotated[
    bool, typer.Option("--prune", help="Remove indexed documents that are not among PATHS.")
]


@dataclass
class _Knowledge:
    bot: str
    config: KnowledgeConfig
    store: VectorStore
    embedder: Embedder


@asynccontextmanager
async def _open(bot: str) -> AsyncIterator[_Knowledge]:
    """The bot's store and embedder, from its YAML file or its active configuration."""
    from chinwag.errors import KnowledgeNotConfigured
    from chinwag.knowledge.runtime import standalone_knowledge

    config = await _bot_config(bot)
    if config.knowledge is None:
        raise KnowledgeNotConfigured(f"bot '{bot}' has no knowledge section")
    async with standalone_knowledge(settings()) as knowledge:
        service = knowledge.service(config.knowledge, config.embedding)
        yield _Knowledge(bot, config.knowledge, service.store, service.embedder)


async def _bot_config(bot: str) -> BotConfig:
    """A bot's configuration: from a YAML file (before it is imported), else the database."""
    from chinwag.bots.service import get_bot
    from chinwag.cli.common import database

    from_file = await asyncio.to_thread(_config_from_file, bot)
    if from_file is not None:
        return from_file
    async with database() as db, db.read() as conn:
        return (await get_bot(conn, bot)).config


def _config_from_file(bot: str) -> BotConfig | None:
    from chinwag.bots.activation import check_file
    from chinwag.errors import BotConfigInvalid

    path = Path(bot)
    if path.suffix not in (".yaml", ".yml") or not path.is_file():
        return None
    report = check_file(path, check_env=True)
    if report.config is None:
        raise BotConfigInvalid(
            f"{path} has {len(report.errors)} error(s): {report.errors[0].message}",
            hint=f"Run `chinwag validate {path}` to see them all.",
        )
    return report.config


def _run(bot: str, work: Callable[[_Knowledge], Awaitable[T]]) -> T:
    async def run() -> T:
        async with _open(bot) as k:
            return await work(k)

    return asyncio.run(run())


@knowledge_app.command("create")
def create(bot: BotArgument) -> None:
    """Create the bot's index with its embedding model's dimension."""

    async def work(k: _Knowledge) -> None:
        dimension = await k.embedder.dimension()
        await k.store.create(k.config.index, dimension)
        typer.echo(f"created index '{k.config.index}' in {k.store.name} ({dimension} dimensions)")

    _run(bot, work)


@knowledge_app.command("info")
def info(bot: BotArgument) -> None:
    """Where the bot's index is, its size, and whether the bot can use it."""
    from chinwag.knowledge.checks import check_index, index_is_empty

    async def work(k: _Knowledge) -> None:
        found = await check_index(k.store, k.config.index, k.embedder, bot=bot, mode=k.config.mode)
        typer.echo(f"index:     {found.index} ({found.store})")
        typer.echo(f"dimension: {found.dimension} (embedding {k.embedder.name})")
        typer.echo(f"chunks:    {found.count}")
        typer.echo(f"documents: {len(await k.store.documents(k.config.index))}")
        typer.echo(f"search:    {k.config.mode}, top {k.config.top_k}")
        if index_is_empty(found):
            typer.secho(
                f"warning: the index is empty; run `chinwag ingest {bot} PATH…`", fg="yellow"
            )

    _run(bot, work)


@knowledge_app.command("search")
def search(
    bot: BotArgument,
    query: Annotated[str, typer.Argument(help="What to look for.")],
    mode: Annotated[
        str | None, typer.Option(help="vector, keyword or hybrid (default: the bot's).")
    ] = None,
    top_k: Annotated[
        int | None, typer.Option("--top-k", min=1, max=50, help="How many results (1-50).")
    ] = None,
    where: Annotated[
        list[str] | None,
        typer.Option("--filter", help="FIELD=VALUE on source, title, page, row, tag."),
    ] = None,
) -> None:
    """Search the bot's index as its flows do; prints score, document and snippet."""
    from chinwag.config.bot import KnowledgeConfig
    from chinwag.knowledge.search import KnowledgeService

    filters: dict[str, str | int] = {}
    for item in where or []:
        key, _, value = item.partition("=")
        filters[key] = int(value) if key in ("page", "row") and value.isdigit() else value
    checked = KnowledgeConfig.model_validate({"index": "x", "mode": mode or "hybrid"}).mode

    async def work(k: _Knowledge) -> None:
        service = KnowledgeService(k.store, k.embedder, k.config)
        results = await service.search(
            query, mode=checked if mode else None, top_k=top_k, filters=filters
        )
        for r in results:
            where_in = "".join(
                f" {key}={r.metadata[key]}" for key in ("page", "row") if key in r.metadata
            )
            typer.echo(f"{r.score:.4f}  {r.document}{where_in}  ({r.title})")
            typer.echo(f"        {r.snippet}")
        if not results:
            typer.echo("no results")

    _run(bot, work)


@knowledge_app.command("drop")
def drop(
    bot: BotArgument,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete the bot's index and every chunk in it."""

    async def work(k: _Knowledge) -> None:
        if not yes:
            typer.confirm(f"drop index '{k.config.index}' in {k.store.name}?", abort=True)
        await k.store.drop(k.config.index)
        typer.echo(f"dropped index '{k.config.index}' in {k.store.name}")

    _run(bot, work)


@knowledge_app.command("reindex")
def reindex(bot: BotArgument, paths: PathsArgument, tag: TagOption = None) -> None:
    """Rebuild the index from PATHS: drop it, create it for the current model, ingest."""

    async def work(k: _Knowledge) -> IngestSummary:
        if (await k.store.info(k.config.index)).exists:
            await k.store.drop(k.config.index)
        await k.store.create(k.config.index, await k.embedder.dimension())
        return await _ingest_with_progress(k, paths, tag or [], prune=False)

    _finish(_run(bot, work))


def ingest(
    bot: BotArgument, paths: PathsArgument, tag: TagOption = None, prune: PruneOption = False
) -> None:
    """Add or update documents in the bot's index; unchanged files are skipped."""
    from chinwag.knowledge.checks import check_index

    async def work(k: _Knowledge) -> IngestSummary:
        await check_index(k.store, k.config.index, k.embedder, bot=bot)
        return await _ingest_with_progress(k, paths, tag or [], prune=prune)

    _finish(_run(bot, work))


async def _ingest_with_progress(
    k: _Knowledge, paths: list[str], tags: list[str], *, prune: bool
) -> IngestSummary:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from chinwag.knowledge.ingest import ingest as run_ingest

    columns = (TextColumn("{task.description:<10}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, transient=False) as bars:
        report = _Bars(bars)
        return await run_ingest(
            k.store, k.embedder, k.config.index, paths, tags=tags, prune=prune, progress=report
        )


class _Bars:
    """Three bars: files read, chunks made, chunks embedded."""

    def __init__(self, bars: Progress) -> None:
        self.bars = bars
        self.files: TaskID = bars.add_task("files", total=None)
        self.chunks: TaskID = bars.add_task("chunks", total=None)
        self.embedded: TaskID = bars.add_task("embedded", total=None)
        self._made = 0

    def files_found(self, total: int) -> None:
        self.bars.update(self.files, total=total)

    def file_done(self, source: str) -> None:
        self.bars.advance(self.files)

    def chunks_made(self, count: int) -> None:
        self._made += count
        self.bars.update(self.chunks, total=self._made, completed=self._made)
        self.bars.update(self.embedded, total=self._made)

    def chunks_embedded(self, count: int) -> None:
        self.bars.advance(self.embedded, count)


def _finish(summary: IngestSummary) -> None:
    for title, sources in [
        ("added", summary.added),
        ("replaced", summary.replaced),
        ("removed", summary.removed),
    ]:
        for source in sources:
            typer.echo(f"  {title:<9} {source}")
    for source, reason in summary.failed:
        typer.secho(f"  failed    {source}: {reason}", fg="red", err=True)
    typer.echo(summary.line())
    if summary.failed:
        raise typer.Exit(1)
