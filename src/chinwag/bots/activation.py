"""Validate, then save and activate: the one path every bot change takes (API, CLI, demo)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chinwag.bots.files import inline_files, load_bot_file
from chinwag.bots.mcp_check import with_mcp_check
from chinwag.bots.service import BotVersion, put_bot
from chinwag.bots.validation import Problem, Report, validate_document
from chinwag.config.bot import BotConfig
from chinwag.db.uow import Database
from chinwag.errors import BotConfigInvalid
from chinwag.secrets import server_secrets


def check_document(document: Any, *, check_env: bool = True) -> Report:
    """Validate a configuration sent as JSON (file references are not allowed there)."""
    earlier = inline_files(document, base_dir=None) if isinstance(document, dict) else []
    return validate_document(document, env=server_secrets() if check_env else None, earlier=earlier)


def check_file(path: Path, *, check_env: bool = True, activating: bool = True) -> Report:
    """Validate a bot YAML file, with its `{file: …}` references read; not `activating`
    (`chinwag validate`), a tool's secret that is not set is a warning."""
    document, problems = load_bot_file(path)
    env = server_secrets() if check_env else None
    return validate_document(document, env=env, earlier=problems, activating=activating)


async def activate(
    db: Database,
    report: Report,
    *,
    note: str | None = None,
    source: str | None = None,
    text_counts: bool = False,
    mcp_commands: frozenset[str] = frozenset(),
) -> BotVersion:
    """Save the validated configuration (and the YAML `source` it was read from, if any) as
    the bot's new active version (`text_counts`: see put_bot). Its MCP servers are listed
    first and their tools' schemas kept with it (`mcp_commands`: CHINWAG_MCP_COMMANDS).

    A report with errors is refused (BotConfigInvalid): the active version keeps serving.
    """
    report = await with_mcp_check(report, env=server_secrets(), commands=mcp_commands)
    config = valid_config(report)
    async with db.write() as conn:
        return await put_bot(conn, config, note=note, source=source, text_counts=text_counts)


def valid_config(report: Report) -> BotConfig:
    """The report's configuration, or BotConfigInvalid with every problem when it has errors."""
    if report.config is None:
        raise BotConfigInvalid(
            f"the bot configuration has {len(report.errors)} error(s); nothing was saved",
            problems=problem_dicts(report.problems),
        )
    return report.config


def problem_dicts(problems: list[Problem]) -> list[dict[str, str]]:
    return [p.as_dict() for p in problems]
