"""The `chinwag` command line. Commands call services directly; only `chat` speaks HTTP."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from chinwag.cli import answers as answers_cli
from chinwag.cli import bots as bots_cli
from chinwag.cli import common
from chinwag.cli import evaluation as eval_cli
from chinwag.cli import keys as keys_cli
from chinwag.cli import knowledge as knowledge_cli
from chinwag.cli import operators as operators_cli
from chinwag.cli.common import database, fail, report
from chinwag.settings import Settings

if TYPE_CHECKING:
    from chinwag.config.bot import BotConfig
    from chinwag.knowledge.ingest import IngestSummary

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="chinwag: a self-hosted backend for retrieval-augmented chatbots.",
)
db_app = typer.Typer(no_args_is_help=True, help="Database schema commands.")
app.add_typer(db_app, name="db")
app.add_typer(bots_cli.bots_app, name="bots")
app.add_typer(knowledge_cli.knowledge_app, name="knowledge")
app.add_typer(keys_cli.keys_app, name="keys")
app.add_typer(operators_cli.operators_app, name="operators")
app.add_typer(answers_cli.answers_app, name="answers")
app.command()(bots_cli.schema)
app.command()(bots_cli.validate)
app.command()(knowledge_cli.ingest)
app.command("eval")(eval_cli.evaluate)

HostOption = Annotated[str | None, typer.Option(help="Interface to bind (CHINWAG_HOST).")]
PortOption = Annotated[int | None, typer.Option(help="Port to bind (CHINWAG_PORT).")]


async def _prepare(settings: Settings, *, seed_demo: bool, seed_history: bool = False) -> list[str]:
    """Check (or, on SQLite, upgrade) the schema; optionally put the demo bot and keys in place.

    Returns the demo's new keys (a secret and a publishable key; earlier demo keys are revoked).
    """
    from chinwag.answers.csvfile import from_csv
    from chinwag.answers.service import add_missing
    from chinwag.auth.demo import demo_keys
    from chinwag.bots.demo import (
        demo_answers_path,
        demo_bot_config,
        demo_bot_path,
        demo_bot_source,
        demo_shop_origin,
    )
    from chinwag.bots.files import yaml_source
    from chinwag.bots.service import put_bot
    from chinwag.console.demo_history import seed_history as demo_history
    from chinwag.errors import ChinwagError

    try:
        async with database(settings) as db:
            if not seed_demo:
                return []
            origin = demo_origin(settings)
            # The bot's tools call the shop API this server serves (chinwag.web.demo_shop).
            shop = demo_shop_origin(settings.host, settings.port)
            source = demo_bot_source(yaml_source(demo_bot_path()), shop)
            async with db.write() as conn:
                bot = await put_bot(conn, demo_bot_config(shop), source=source)
                keys = await demo_keys(conn, bot.id, origin=origin)
                added = await add_missing(conn, bot.id, from_csv(demo_answers_path().read_text()))
                seeded = (
                    await demo_history(conn, bot_id=bot.id, bot_version=bot.version)
                    if seed_history
                    else 0
                )
            typer.echo(f"demo bot '{bot.id}' is at version {bot.version}")
            if added:
                typer.echo(f"demo curated answers: added {added}")
            if seeded:
                typer.echo(f"demo history: {seeded} conversations over the last 30 days")
            summary = await ingest_demo_knowledge(settings, bot.config)
            typer.echo(f"demo knowledge: {summary.line()}")
            return keys
    except ChinwagError as exc:
        report(exc)


def demo_origin(settings: Settings) -> str:
    """Where `chinwag demo` serves its shop page: the origin of its key and its documents."""
    return f"http://{settings.host}:{settings.port}"


async def ingest_demo_knowledge(settings: Settings, bot: BotConfig) -> IngestSummary:
    """Create the demo bot's index if needed and bring it up to date with the shipped documents,
    their URLs on the demo's own origin (another port changes them: those documents again)."""
    import tempfile

    from chinwag.bots.demo import demo_knowledge_on
    from chinwag.knowledge.ingest import ingest
    from chinwag.knowledge.runtime import standalone_knowledge

    assert bot.knowledge is not None
    async with standalone_knowledge(settings) as knowledge:
        service = knowledge.service(bot.knowledge, bot.embedding)
        index = bot.knowledge.index
        if not (await service.store.info(index)).exists:
            await service.store.create(index, await service.embedder.dimension())
        with tempfile.TemporaryDirectory(prefix="chinwag-demo-") as tmp:
            documents = await asyncio.to_thread(demo_knowledge_on, demo_origin(settings), Path(tmp))
            return await ingest(service.store, service.embedder, index, [documents])


def _serve(
    settings: Settings, *, demo_publishable_key: str | None = None, workers: int = 1
) -> None:
    import uvicorn

    from chinwag.app import create_app

    common_options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "access_log": False,
        "log_level": "info",
        "timeout_graceful_shutdown": 30,
        "ws": "none",  # no WebSocket routes: uvicorn need not import `websockets` (~1 MB)
    }
    if workers > 1:
        # Each worker process builds its app from the environment (CHINWAG_*), registers as
        # a worker of its own and heartbeats; they share the database.
        uvicorn.run(
            "chinwag.app:create_worker_app", factory=True, workers=workers, **common_options
        )
        return
    app = create_app(settings, demo_publishable_key=demo_publishable_key, settle_heap=True)
    uvicorn.run(app, **common_options)


@app.command()
def serve(
    host: HostOption = None,
    port: PortOption = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            envvar="CHINWAG_WORKERS",
            help="Worker processes on this host (CHINWAG_WORKERS); each takes connections on "
            "the same port and writes its own answers to the shared database.",
        ),
    ] = 1,
) -> None:
    """Serve the bots in the configured database."""
    from chinwag.errors import WorkersNeedPostgres

    options = common.settings(host=host, port=port)
    if workers > 1 and options.database_url.startswith("sqlite"):
        report(WorkersNeedPostgres(f"--workers {workers} needs PostgreSQL, not SQLite"))
    asyncio.run(_prepare(options, seed_demo=False))
    _serve(options, workers=workers)


@app.command()
def demo(
    host: HostOption = None,
    port: PortOption = None,
    seed_history: Annotated[
        bool,
        typer.Option(
            "--seed-history",
            help="Also write a month of example conversations (English and Norwegian, with "
            "ratings and declines) for the console, once.",
        ),
    ] = False,
) -> None:
    """Put the demo bot 'vinhuset' in the database and serve it."""
    settings = common.settings(host=host, port=port)
    secret, publishable = asyncio.run(_prepare(settings, seed_demo=True, seed_history=seed_history))
    base = demo_origin(settings)
    llm = settings.llm_base_url or f"the embedded local model ({settings.local_model})"
    typer.echo(f"\nchinwag demo: bot 'vinhuset' answering with {llm}")
    typer.echo(f"  secret key:      {secret}   (server-side: chat as any user, read the logs)")
    typer.echo(f"  publishable key: {publishable}   (the widget, from {base} only)")
    typer.echo(f"  shop page: {base}/   (the demo shop with the chat widget; open it in a browser)")
    typer.echo(f"  API docs:  {base}/docs")
    typer.echo(
        "  try:      curl -N " + base + "/v1/bots/vinhuset/messages "
        f"-H 'authorization: Bearer {secret}' -H 'content-type: application/json' "
        '-d \'{"message": "When are you open on Saturday?"}\''
    )
    typer.echo(f"  or:       chinwag chat vinhuset --url {base} --key {secret}\n")
    sys.stdout.flush()
    _serve(settings, demo_publishable_key=publishable)


@app.command()
def init(
    directory: Annotated[
        Path, typer.Argument(help="Where to write the bot (created if missing).")
    ] = Path("."),
    bot_id: Annotated[str, typer.Option("--id", help="The bot id (lowercase, - and _).")] = "mybot",
    name: Annotated[str, typer.Option(help="The bot's name, shown to people.")] = "My bot",
    force: Annotated[bool, typer.Option(help="Overwrite files that exist.")] = False,
    index: Annotated[
        bool, typer.Option(help="Create the bot's (empty) knowledge index too.")
    ] = True,
) -> None:
    """Write a starter bot (bot.yaml, a prompt, a document) that validates, and its index."""
    import re

    from chinwag.bots.starter import write_starter
    from chinwag.config.strict import BOT_ID_PATTERN

    if not re.match(BOT_ID_PATTERN, bot_id):
        fail(f"'{bot_id}' is not a bot id", "Use lowercase letters, digits, - and _.")
    try:
        written = write_starter(directory, bot_id, name, force=force)
    except FileExistsError as exc:
        fail(f"these files exist: {exc}", "Use another directory, or --force to overwrite.")
    for path in written:
        typer.echo(f"wrote {path}")
    if index:
        settings = common.settings()
        if not settings.data_dir.is_absolute():
            # The next steps run from `directory` (the hint below says cd there), so the index
            # goes where they will look for it: a relative data dir is taken from there.
            settings = settings.model_copy(update={"data_dir": directory / settings.data_dir})
        asyncio.run(_create_starter_index(written[0], settings))
    where = "" if directory == Path(".") else f"cd {directory} && "
    typer.echo(
        f"\nnext: {where}chinwag validate bot.yaml\n"
        "      chinwag ingest bot.yaml knowledge/\n"
        "      chinwag bots import bot.yaml && chinwag serve"
    )


async def _create_starter_index(bot_file: Path, settings: Settings) -> None:
    from chinwag.bots.activation import check_file
    from chinwag.errors import ChinwagError
    from chinwag.knowledge.runtime import standalone_knowledge

    config = check_file(bot_file).config
    assert config is not None and config.knowledge is not None, "the starter bot validates"
    try:
        async with standalone_knowledge(settings) as knowledge:
            service = knowledge.service(config.knowledge, config.embedding)
            if not (await service.store.info(config.knowledge.index)).exists:
                dimension = await service.embedder.dimension()
                await service.store.create(config.knowledge.index, dimension)
                typer.echo(f"created the empty knowledge index '{config.knowledge.index}'")
    except ChinwagError as exc:
        report(exc)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Upgrade the configured database to the newest schema."""
    from chinwag.db import migrate

    async def run() -> tuple[str | None, str | None]:
        async with database(check_schema=False) as db:
            return await migrate.upgrade(db)

    before, after = asyncio.run(run())
    typer.echo(f"schema: {before or 'empty'} -> {after}")


@app.command()
def doctor(
    as_json: Annotated[bool, typer.Option("--json", help="Print the checks as JSON.")] = False,
) -> None:
    """Check the database: reachable, schema current, and the log whole (all counts 0)."""
    from chinwag.operations.doctor import run_checks

    async def run() -> list[tuple[str, bool, str]]:
        async with database(check_schema=False) as db:
            checks = await run_checks(db, heartbeat_seconds=common.settings().heartbeat_seconds)
            return [(c.name, c.ok, c.detail) for c in checks]

    results = asyncio.run(run())
    if as_json:
        typer.echo(json.dumps([{"check": n, "ok": ok, "detail": d} for n, ok, d in results]))
    else:
        for name, ok, detail in results:
            mark = (
                typer.style("ok  ", fg=typer.colors.GREEN)
                if ok
                else typer.style("FAIL", fg=typer.colors.RED)
            )
            typer.echo(f"{mark} {name}: {detail}")
    if not all(ok for _, ok, _ in results):
        raise typer.Exit(1)


@app.command()
def gc() -> None:
    """Run one retention pass now: stream events, finished streams, bots' old messages."""
    from chinwag.operations.retention import Purged, purge

    async def run() -> Purged:
        async with database(check_schema=False) as db:
            return await purge(db, common.settings())

    typer.echo(f"purged {asyncio.run(run()).summary()}")


@app.command()
def chat(
    bot: Annotated[str, typer.Argument(help="The bot id, e.g. vinhuset.")],
    url: Annotated[str, typer.Option(help="The chinwag server.")] = "http://127.0.0.1:8000",
    user: Annotated[str | None, typer.Option(help="End-user id (default: a new one).")] = None,
    session: Annotated[str | None, typer.Option(help="Session to continue.")] = None,
    key: Annotated[
        str | None,
        typer.Option(envvar="CHINWAG_API_KEY", help="An admin or the bot's secret key."),
    ] = None,
) -> None:
    """Chat with a bot in the terminal over the HTTP API; answers stream as they arrive."""
    from chinwag.cli.chat import chat_loop

    try:
        asyncio.run(
            chat_loop(
                base_url=url.rstrip("/"),
                bot=bot,
                user_id=user or f"cli-{uuid.uuid4().hex[:8]}",
                session_id=session or f"cli-{uuid.uuid4().hex[:12]}",
                lines=sys.stdin,
                out=sys.stdout,
                api_key=key,
            )
        )
    except KeyboardInterrupt:
        typer.echo("")


def main() -> None:
    from chinwag.errors import ChinwagError

    try:
        app()
    except ChinwagError as exc:
        common.report(exc)
