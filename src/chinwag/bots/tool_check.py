"""Validation of a bot's tools and the flows that call them, on the raw document (every
problem at once, one broken tool never hiding another's)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import jinja2
from jinja2 import meta

from chinwag.bots.function_calling_check import function_calling_problems
from chinwag.config.tools import IDEMPOTENT_METHODS, RESERVED_HEADERS
from chinwag.engine.templates import environment
from chinwag.tools.arguments import schema_problem
from chinwag.tools.request import PLACEHOLDER, SECRET
from chinwag.tools.safety import host_allowed, why_refused

if TYPE_CHECKING:
    from chinwag.bots.validation import Problem

_DOCS = "See docs/tools.md."


def tool_problems(
    document: dict[str, Any], *, env: Mapping[str, str] | None, activating: bool
) -> list[Problem]:
    """Problems of `tools:` and of every flow's `tool`; with `env`, secrets that are not set
    (a warning when only validating, an error when activating)."""
    tools = document.get("tools") if isinstance(document.get("tools"), dict) else {}
    assert isinstance(tools, dict)
    allowed = document.get("allowed_hosts")
    hosts = [str(h) for h in allowed] if isinstance(allowed, list) else []
    servers = document.get("mcp_servers") if isinstance(document.get("mcp_servers"), dict) else {}
    assert isinstance(servers, dict)
    problems: list[Problem] = []
    for name, tool in tools.items():
        if isinstance(tool, dict):
            problems += _one_tool(f"tools.{name}", tool, hosts)
            if env is not None:
                problems += _secret_problems(f"tools.{name}", tool, env, activating)
    for name, server in servers.items():
        if isinstance(server, dict):
            problems += _mcp_server(f"mcp_servers.{name}", server, hosts, env, activating)
            problems += _taken(f"mcp_servers.{name}.tools", server.get("tools"), tools)
            tools = {**tools, **_mcp_tools(server.get("tools"))}
    flows = document.get("flows")
    if isinstance(flows, dict):
        for name, flow in flows.items():
            if isinstance(flow, dict):
                problems += _flow_tool(f"flows.{name}", str(name), flow, tools)
                problems += function_calling_problems(document, str(name), flow, tools)
    return problems


def _one_tool(where: str, tool: dict[str, Any], hosts: list[str]) -> list[Problem]:
    from chinwag.bots.validation import Problem

    problems: list[Problem] = []
    schema = tool.get("arguments", {"type": "object"})
    why = schema_problem(schema)
    if why is not None:
        problems.append(
            Problem(
                f"{where}.arguments",
                "tool_schema_invalid",
                f"{where}.arguments is not a valid JSON Schema: {why}",
                "Write an object schema: {type: object, properties: {…}, required: […]}.",
            )
        )
    known = set(_properties(schema))
    url = tool.get("url") if isinstance(tool.get("url"), str) else ""
    assert isinstance(url, str)
    texts = [url, *_strings(tool.get("query")), *_strings(tool.get("body"))]
    for argument in sorted({a for t in texts for a in PLACEHOLDER.findall(t)} - known):
        problems.append(
            Problem(
                f"{where}.url",
                "tool_unknown_argument",
                f"{where} places {{{argument}}}, but its arguments schema has no '{argument}'",
                f"Add '{argument}' to {where}.arguments.properties, or fix the placeholder. "
                f"Arguments: {', '.join(sorted(known)) or 'none'}.",
            )
        )
    for header, value in (tool.get("headers") or {}).items():
        if str(header).lower() in RESERVED_HEADERS:
            problems.append(
                Problem(
                    f"{where}.headers.{header}",
                    "tool_header_reserved",
                    f"{where}.headers.{header}: chinwag sets this header itself",
                    "Remove it: Host is the URL's host, and the body's length is measured.",
                )
            )
        if isinstance(value, str) and PLACEHOLDER.search(value):
            problems.append(
                Problem(
                    f"{where}.headers.{header}",
                    "tool_argument_in_header",
                    f"{where}.headers.{header} places an argument: a visitor's text never "
                    "reaches a header",
                    "Headers take only secrets (`${NAME}`) and fixed text; put the argument "
                    "in the URL, the query or the body.",
                )
            )
    host = urlsplit(url).hostname if url else None
    if host:
        problems += _host_problems(where, host, hosts, bool(tool.get("allow_private")))
    method = str(tool.get("method", "GET")).upper()
    if tool.get("retries") and method not in IDEMPOTENT_METHODS:
        problems.append(
            Problem(
                f"{where}.retries",
                "tool_retries_not_idempotent",
                f"{where}: a {method} call changes something and is never retried",
                "Remove `retries`, or use an idempotent method (GET, HEAD, PUT, DELETE).",
            )
        )
    return problems


def _mcp_server(
    where: str,
    server: dict[str, Any],
    hosts: list[str],
    env: Mapping[str, str] | None,
    activating: bool,
) -> list[Problem]:
    """A streamable HTTP server's host obeys the tools' host rules; its secrets must be set."""
    url = server.get("url")
    host = urlsplit(url).hostname if isinstance(url, str) else None
    private = bool(server.get("allow_private"))
    problems = _host_problems(where, host, hosts, private) if host else []
    if env is not None:
        problems += _secret_problems(where, server, env, activating)
    return problems


def _mcp_tools(tools: Any) -> dict[str, Any]:
    """An MCP server's tools as the flows' checks see them (marked `mcp`)."""
    if not isinstance(tools, dict):
        return {}
    return {k: {"mcp": True, **(v if isinstance(v, dict) else {})} for k, v in tools.items()}


def _taken(where: str, tools: Any, taken: dict[str, Any]) -> list[Problem]:
    """An MCP tool named like a tool the bot already has."""
    from chinwag.bots.validation import Problem

    if not isinstance(tools, dict):
        return []
    return [
        Problem(
            f"{where}.{name}",
            "tool_name_taken",
            f"{where}.{name}: the bot already has a tool '{name}'",
            "Give it another key and set `name:` to the server's name for it.",
        )
        for name in tools
        if name in taken
    ]


def _host_problems(where: str, host: str, hosts: list[str], private: bool) -> list[Problem]:
    from chinwag.bots.validation import Problem

    problems: list[Problem] = []
    if not host_allowed(host, hosts):
        problems.append(
            Problem(
                f"{where}.url",
                "tool_host_not_allowed",
                f"{where}.url calls {host}, which is not in the bot's allowed_hosts",
                f"Add '{host}' to the bot's `allowed_hosts` (allowed now: "
                f"{', '.join(hosts) or 'none'}).",
            )
        )
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return problems
    why = why_refused(literal)
    if why is not None and not private:
        problems.append(
            Problem(
                f"{where}.url",
                "tool_address_refused",
                f"{where}.url calls {host}, a {why} address, which tools may not reach",
                "Set `allow_private: true` on the tool if it really lives on your own network.",
            )
        )
    return problems


def _secret_problems(
    where: str, tool: dict[str, Any], env: Mapping[str, str], activating: bool
) -> list[Problem]:
    from chinwag.bots.validation import Problem

    places = [("url", tool.get("url"))]
    places += [(f"headers.{k}", v) for k, v in (tool.get("headers") or {}).items()]
    places += [(f"query.{k}", v) for k, v in (tool.get("query") or {}).items()]
    places += [(f"env.{k}", v) for k, v in (tool.get("env") or {}).items()]  # an MCP command's
    problems = []
    for path, text in places:
        for name in SECRET.findall(text) if isinstance(text, str) else []:
            if not env.get(name):
                problems.append(
                    Problem(
                        f"{where}.{path}",
                        "env_var_not_set",
                        f"{where}.{path} reads the secret {name}, which is not set on this server",
                        f"Set {name} in the server's environment; a bot whose secret is not "
                        "set is not activated.",
                        severity="error" if activating else "warning",
                    )
                )
    return problems


def _flow_tool(where: str, name: str, flow: dict[str, Any], tools: dict[str, Any]) -> list[Problem]:
    from chinwag.bots.validation import Problem

    tool_name = flow.get("tool")
    reads_tool = any(_reads_tool(flow.get(f)) for f in ("system", "template"))
    if tool_name is None:
        if reads_tool:
            return [
                Problem(
                    f"{where}.template",
                    "template_tool_without_tool",
                    f"{where}'s template reads `tool`, but the flow calls no tool",
                    "Add `tool: <name>` to the flow, or remove `tool` from its template.",
                )
            ]
        return []
    if name == "main":
        return [
            Problem(
                f"{where}.tool",
                "tool_on_main",
                "flows.main.tool: main does not call one tool on every message; an optional "
                "flow does, or main's LLM calls the tools listed in flows.main.tools",
                "Move `tool` (and `arguments`) to an optional flow, or list the tool in "
                "flows.main.tools (function calling). " + _DOCS,
            )
        ]
    tool = tools.get(tool_name)
    if not isinstance(tool, dict):
        return [
            Problem(
                f"{where}.tool",
                "tool_unknown",
                f"{where}.tool names '{tool_name}', which is not one of the bot's tools",
                "Declare it under `tools:`, or use one of: "
                f"{', '.join(map(str, tools)) or 'none'}.",
            )
        ]
    if "mcp" in tool and "arguments" not in tool:
        return []  # its schema is the server's, checked when it is listed
    return _argument_problems(where, str(tool_name), flow, tool) + _budget_problems(
        where, str(tool_name), flow, tool
    )


def _budget_problems(
    where: str, tool_name: str, flow: dict[str, Any], tool: dict[str, Any]
) -> list[Problem]:
    """A warning when the tool's attempts may outlast the flow: the flow would fail with
    `flow_timeout` instead of saying the tool's own error."""
    from chinwag.bots.validation import Problem

    try:
        attempts = 1 + int(tool.get("retries", 0) or 0)
        budget = float(tool.get("timeout_seconds", 5.0)) * attempts
        limit = float(flow.get("timeout_seconds", 30.0))
    except (TypeError, ValueError):
        return []  # the structural check reports the bad number
    if budget < limit:
        return []
    return [
        Problem(
            f"{where}.timeout_seconds",
            "tool_slower_than_flow",
            f"{where}: tool '{tool_name}' may take {budget:g} s ({attempts} attempt(s)), "
            f"the flow only {limit:g} s",
            "Raise the flow's timeout_seconds above the tool's timeout_seconds x (1 + "
            "retries), or lower those: a flow that times out cannot say the tool's error.",
            severity="warning",
        )
    ]


def _argument_problems(
    where: str, tool_name: str, flow: dict[str, Any], tool: dict[str, Any]
) -> list[Problem]:
    from chinwag.bots.validation import Problem

    schema = tool.get("arguments", {})
    known = _properties(schema)
    sources = flow.get("arguments") if isinstance(flow.get("arguments"), dict) else {}
    assert isinstance(sources, dict)
    problems: list[Problem] = []
    for argument, source in sources.items():
        path = f"{where}.arguments.{argument}"
        if argument not in known:
            problems.append(
                Problem(
                    path,
                    "tool_unknown_argument",
                    f"{path}: tool '{tool_name}' has no argument '{argument}'",
                    f"Its arguments: {', '.join(sorted(known)) or 'none'}.",
                )
            )
        if not isinstance(source, dict) or source.get("source", "message") != "message":
            continue
        pattern = source.get("pattern")
        if not isinstance(pattern, str):
            problems.append(
                Problem(
                    path,
                    "tool_argument_without_pattern",
                    f"{path}: an argument from the message needs a `pattern`",
                    "Add `pattern:`, a regular expression whose first group is the value.",
                )
            )
            continue
        try:
            re.compile(pattern)
        except re.error as exc:
            problems.append(
                Problem(
                    f"{path}.pattern",
                    "tool_pattern_invalid",
                    f"{path}.pattern is not a valid regular expression: {exc}",
                    "Fix the expression (Python `re` syntax); quote it in YAML.",
                )
            )
    required = schema.get("required", []) if isinstance(schema, dict) else []
    for argument in required if isinstance(required, list) else []:
        if argument not in sources:
            problems.append(
                Problem(
                    f"{where}.arguments",
                    "tool_argument_unfilled",
                    f"{where}: tool '{tool_name}' requires '{argument}', but the flow says "
                    "nowhere where it comes from",
                    f"Add `{argument}: {{pattern: …}}` (from the message) or "
                    f"`{argument}: {{source: user}}` under {where}.arguments.",
                )
            )
    return problems


def _reads_tool(source: Any) -> bool:
    """Whether a template reads the variable `tool` (a syntax error is reported elsewhere)."""
    if not isinstance(source, str) or "tool" not in source:
        return False
    try:
        return "tool" in meta.find_undeclared_variables(environment().parse(source))
    except jinja2.TemplateSyntaxError:
        return False


def _properties(schema: Any) -> dict[str, Any]:
    properties = schema.get("properties") if isinstance(schema, dict) else None
    return properties if isinstance(properties, dict) else {}


def _strings(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [s for v in node.values() for s in _strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return [node] if isinstance(node, str) else []
