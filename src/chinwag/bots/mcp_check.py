"""A bot's MCP servers must answer and have the tools it names: checked at `chinwag validate`
and at activation, which keeps each tool's listed schema with the bot's version."""

from __future__ import annotations

from collections.abc import Mapping

from chinwag.bots.validation import Problem, Report
from chinwag.config.bot import BotConfig
from chinwag.config.mcp import McpTool
from chinwag.tools.errors import ToolError, ToolMcpNotInstalled

_DOCS = "See docs/tools.md#mcp-servers."


async def with_mcp_check(
    report: Report, *, env: Mapping[str, str], commands: frozenset[str]
) -> Report:
    """The report with its MCP problems added and, when it has none, each MCP tool's `listed`
    (the server's description, schema and read-only hint) written afresh."""
    if report.config is None or not _uses_mcp(report.config):
        return report
    config, problems = await listed_config(report.config, env=env, commands=commands)
    problems = report.problems + problems
    failed = any(p.severity == "error" for p in problems)
    return Report(None if failed else config, problems)


async def listed_config(
    config: BotConfig, *, env: Mapping[str, str], commands: frozenset[str]
) -> tuple[BotConfig, list[Problem]]:
    """Each server with tools listed once; its tools' schemas filled in, or the problems."""
    from chinwag.tools.mcp import list_tools

    problems: list[Problem] = []
    servers = dict(config.mcp_servers)
    for name, server in config.mcp_servers.items():
        if not server.tools:
            continue
        try:
            listed = await list_tools(name, server, config.allowed_hosts, env, commands=commands)
        except ToolMcpNotInstalled as exc:
            problems.append(Problem("mcp_servers", exc.code, exc.message, f"{exc.hint} {_DOCS}"))
            break  # the same for every server
        except ToolError as exc:
            problems.append(
                Problem(
                    f"mcp_servers.{name}",
                    "mcp_server_unreachable",
                    f"MCP server '{name}' could not be listed: {exc.message} ({exc.code})",
                    f"{exc.hint} The bot is not activated while a server it uses does not "
                    "answer. " + _DOCS,
                )
            )
            continue
        filled: dict[str, McpTool] = {}
        for key, tool in server.tools.items():
            remote = tool.remote_name(key)
            found = listed.get(remote)
            if found is None:
                has = ", ".join(sorted(listed)) or "no tools"
                problems.append(
                    Problem(
                        f"mcp_servers.{name}.tools.{key}",
                        "mcp_tool_missing",
                        f"MCP server '{name}' has no tool '{remote}'",
                        f"It has: {has}. Set `name:` to the server's name for the tool. " + _DOCS,
                    )
                )
                continue
            said = {
                "description": found.description,
                "arguments": found.input_schema,
                "read_only": found.read_only,
            }
            filled[key] = tool.model_copy(update={"listed": said})
        servers[name] = server.model_copy(update={"tools": {**server.tools, **filled}})
    return config.model_copy(update={"mcp_servers": servers}), problems


def _uses_mcp(config: BotConfig) -> bool:
    return any(server.tools for server in config.mcp_servers.values())
