"""`chinwag schema`, `chinwag validate` and `chinwag bots …`: configuration from the terminal."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
import yaml

from chinwag.bots.validation import Problem, Report
from chinwag.cli.common import database, settings

if TYPE_CHECKING:
    pass

bots_app = typer.Typer(no_args_is_help=True, help="Bots: import, export, versions, rollback.")

FilesArgument = Annotated[list[Path], typer.Argument(help="Bot YAML files.", exists=False)]
SkipEnvOption = Annotated[
    bool,
    typer.Option("--skip-env", help="Do not check that referenced env vars are set here."),
]


def schema(
    markdown: Annotated[
        bool, typer.Option("--markdown", help="The field reference of docs/configuration.md.")
    ] = False,
) -> None:
    """Print the JSON Schema of a bot configuration (or its markdown reference)."""
    from chinwag.bots.reference import reference_markdown
    from chinwag.config.bot import BotConfig

    if markdown:
        typer.echo(reference_markdown(), nl=False)
    else:
        typer.echo(json.dumps(BotConfig.model_json_schema(), indent=2))


def validate(
    files: FilesArgument,
    as_json: Annotated[bool, typer.Option("--json", help="Print the problems as JSON.")] = False,
    skip_env: SkipEnvOption = False,
) -> None:
    """Validate bot YAML files: every problem at once; exit code 1 if any has errors."""
    reports = asyncio.run(_check_files(files, check_env=not skip_env, activating=False))
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {"file": name, "ok": r.ok, "problems": [p.as_dict() for p in r.problems]}
                    for name, r in reports.items()
                ],
                indent=2,
            )
        )
    else:
        for name, report in reports.items():
            _print_report(name, report)
    if not all(r.ok for r in reports.values()):
        raise typer.Exit(1)


async def _check_files(
    files: list[Path], *, check_env: bool, activating: bool = True
) -> dict[str, Report]:
    """Each file's report, its knowledge index checked against this server's stores."""
    from chinwag.bots.activation import check_file
    from chinwag.bots.index_check import with_index_check
    from chinwag.bots.mcp_check import with_mcp_check
    from chinwag.knowledge.runtime import standalone_knowledge
    from chinwag.secrets import server_secrets

    commands = settings().mcp_command_set
    async with standalone_knowledge(settings()) as knowledge:
        return {
            str(f): await with_mcp_check(
                await with_index_check(
                    check_file(f, check_env=check_env, activating=activating),
                    knowledge,
                    named=str(f),
                ),
                env=server_secrets(),
                commands=commands,
            )
            for f in files
        }


def _print_report(name: str, report: Report) -> None:
    if report.ok and not report.problems:
        typer.secho(f"{name}: ok", fg=typer.colors.GREEN)
        return
    summary = f"{len(report.errors)} error(s), {len(report.warnings)} warning(s)"
    typer.secho(f"{name}: {summary}", fg=typer.colors.GREEN if report.ok else typer.colors.RED)
    for problem in report.problems:
        _print_problem(problem)


def _print_problem(p: Problem) -> None:
    color = typer.colors.RED if p.severity == "error" else typer.colors.YELLOW
    where = p.path or "(document)"
    typer.echo(f"  {typer.style(p.severity, fg=color)} {where} [{p.code}]: {p.message}")
    typer.echo(f"      hint: {p.hint}")


@bots_app.command("import")
def import_bots(files: FilesArgument) -> None:
    """Validate bot YAML files and save each as a new active version (errors: nothing saved)."""
    from chinwag.bots.activation import activate
    from chinwag.bots.files import yaml_source

    reports = asyncio.run(_check_files(files, check_env=True))
    failed = False
    for name, report in reports.items():
        if report.problems:
            _print_report(name, report)
        failed = failed or not report.ok
    if failed:
        typer.secho("nothing was imported: fix the errors above", fg=typer.colors.RED, err=True)
        raise typer.Exit(1)

    async def save() -> None:
        async with database() as db:
            for name, report in reports.items():
                saved = await activate(
                    db,
                    report,
                    note=f"imported from {Path(name).name}",
                    source=yaml_source(Path(name)),  # the owner's text, for the console
                    mcp_commands=settings().mcp_command_set,
                )
                state = "saved as" if saved.created else "unchanged at"
                typer.echo(f"{saved.id}: {state} version {saved.version}")

    asyncio.run(save())


@bots_app.command("export")
def export_bot(
    bot: Annotated[str, typer.Argument(help="The bot id.")],
    version: Annotated[int | None, typer.Option(help="A saved version (default: active).")] = None,
) -> None:
    """Print a bot's configuration as YAML (file references inlined)."""
    from chinwag.bots.service import config_json, get_bot, get_version

    async def load() -> dict[str, object]:
        async with database() as db, db.read() as conn:
            if version is None:
                return config_json((await get_bot(conn, bot)).config)
            return config_json(await get_version(conn, bot, version))

    typer.echo(yaml.safe_dump(asyncio.run(load()), sort_keys=False, allow_unicode=True), nl=False)


@bots_app.command("list")
def list_all() -> None:
    """Every bot with its active version."""
    from chinwag.bots.service import list_bots

    async def load() -> None:
        async with database() as db, db.read() as conn:
            for b in await list_bots(conn):
                typer.echo(f"{b.id}\tversion {b.version}\t{b.config.name}")

    asyncio.run(load())


@bots_app.command("versions")
def versions(bot: Annotated[str, typer.Argument(help="The bot id.")]) -> None:
    """A bot's saved versions; * marks the active one."""
    from chinwag.bots.service import list_versions

    async def load() -> None:
        async with database() as db, db.read() as conn:
            for v in await list_versions(conn, bot):
                mark = "*" if v.active else " "
                typer.echo(f"{mark} {v.version}\t{v.created_at:%Y-%m-%d %H:%M}\t{v.note or ''}")

    asyncio.run(load())


@bots_app.command("rollback")
def rollback(
    bot: Annotated[str, typer.Argument(help="The bot id.")],
    version: Annotated[int, typer.Argument(help="The version to serve again.")],
) -> None:
    """Serve an earlier version's configuration again (saved as a new version)."""
    from chinwag.bots.service import rollback as rollback_to

    async def run() -> None:
        async with database() as db, db.write() as conn:
            saved = await rollback_to(conn, bot, version)
        typer.echo(f"{saved.id}: version {version} is active again as version {saved.version}")

    asyncio.run(run())
