"""The knowledge index a bot names must exist and match its embedding model: checked at
`chinwag validate`, at activation and by /readyz, reported as problems with a fix."""

from __future__ import annotations

from chinwag.bots.validation import Problem, Report
from chinwag.config.bot import BotConfig
from chinwag.errors import ChinwagError, KnowledgeIndexNotFound
from chinwag.knowledge.checks import index_is_empty
from chinwag.knowledge.runtime import KnowledgeStores


async def index_problems(
    bot: BotConfig, knowledge: KnowledgeStores, *, named: str | None = None
) -> list[Problem]:
    """An error when the index is missing or does not fit; a warning when it is empty.

    `named` is how the user names the bot in commands (its YAML file before it is imported).
    """
    if bot.knowledge is None:
        return []
    where = "knowledge.index"
    name = named or bot.id
    try:
        info = await knowledge.check(bot, named=name)
    except KnowledgeIndexNotFound as exc:
        # Through the API the bot may not exist yet: name the call that creates its index.
        hint = (
            exc.hint
            if named
            else (
                'Create it with POST /v1/knowledge/indexes {"knowledge": …, "embedding": …} '
                "(the bot's sections), or `chinwag knowledge create BOT.yaml` on the server."
            )
        )
        return [Problem(where, exc.code, exc.message, hint)]
    except ChinwagError as exc:
        return [Problem(where, exc.code, exc.message, exc.hint)]
    if info is not None and index_is_empty(info):
        return [
            Problem(
                where,
                "knowledge_index_empty",
                f"index '{bot.knowledge.index}' in {bot.knowledge.store} holds no documents yet: "
                "flows with retrieval will find nothing",
                f"Add documents with `chinwag ingest {name} PATH…` or "
                f"POST /v1/bots/{bot.id}/knowledge/documents.",
                severity="warning",
            )
        ]
    return []


async def with_index_check(
    report: Report, knowledge: KnowledgeStores, *, named: str | None = None
) -> Report:
    """The report with the index's problems added (only for a configuration without errors)."""
    if report.config is None:
        return report
    problems = await index_problems(report.config, knowledge, named=named)
    if not problems:
        return report
    merged = report.problems + problems
    has_errors = any(p.severity == "error" for p in merged)
    return Report(None if has_errors else report.config, merged)
