"""A tool's HTTP request, built from its template and checked arguments.

An argument fills one URL path segment (percent-encoded: `/`, `?`, `#`, `..` and `@` are
text, never structure), a query value or a body value; it never reaches the host, the method
or a header. Secrets (`${NAME}`) come from the environment at call time, never stored."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from chinwag.config.tools import HttpTool
from chinwag.tools.errors import ToolSecretNotSet

PLACEHOLDER = re.compile(r"(?<!\$)\{([A-Za-z_][A-Za-z0-9_]*)\}")
SECRET = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
WHOLE_PLACEHOLDER = re.compile(r"^\{([A-Za-z_][A-Za-z0-9_]*)\}$")
# One pass over a template, so a visitor's text that looks like `${NAME}` stays text.
EITHER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True, slots=True)
class ToolRequest:
    """What will be sent: the URL's parts apart, so the connection can be pinned."""

    method: str
    scheme: str
    host: str
    port: int
    path: str  # percent-encoded
    query: dict[str, str]
    headers: dict[str, str]
    body: Any  # JSON-able, or None


def url_arguments(url: str) -> list[str]:
    """The arguments a URL template names (`{order}`)."""
    return PLACEHOLDER.findall(url)


def secret_names(tool: HttpTool) -> list[str]:
    """The environment variables a tool reads (`${SHOP_API_TOKEN}`), in order, once each."""
    texts = [tool.url, *tool.query.values(), *tool.headers.values()]
    texts += _strings(tool.body)
    return list(dict.fromkeys(name for text in texts for name in SECRET.findall(text)))


def build_request(
    tool_name: str, tool: HttpTool, values: dict[str, Any], env: Mapping[str, str]
) -> ToolRequest:
    """The request for checked `values`; ToolSecretNotSet when a secret is not set."""
    parts = urlsplit(tool.url)
    assert parts.hostname is not None, "the config's URL pattern requires a host"
    path = _fill(parts.path or "/", values, env, tool_name, _segment)
    query = {k: _text(v, values, env, tool_name) for k, v in tool.query.items()}
    query = {k: v for k, v in query.items() if v != ""}
    headers = {k: _secrets(v, env, tool_name) for k, v in tool.headers.items()}
    body = _body(tool.body, values, env, tool_name) if tool.body is not None else None
    default_port = 443 if parts.scheme == "https" else 80
    return ToolRequest(
        method=tool.method,
        scheme=parts.scheme,
        host=parts.hostname,
        port=parts.port or default_port,
        path=path,
        query=query,
        headers=headers,
        body=body,
    )


def _segment(value: Any) -> str:
    """One path segment: everything but unreserved characters percent-encoded."""
    text = "" if value is None else str(value)
    if text in {".", ".."}:
        return quote(text, safe="").replace(".", "%2E")
    return quote(text, safe="")


def _text(template: str, values: dict[str, Any], env: Mapping[str, str], tool: str) -> str:
    return _fill(template, values, env, tool, _plain)


def _plain(value: Any) -> str:
    return "" if value is None else str(value)


def _fill(
    template: str,
    values: dict[str, Any],
    env: Mapping[str, str],
    tool: str,
    argument: Callable[[Any], str],
) -> str:
    """`${NAME}` from the environment and `{name}` from the arguments, in one pass."""

    def value(match: re.Match[str]) -> str:
        secret, name = match.groups()
        if name is not None:
            return argument(values.get(name))
        found = env.get(secret)
        if not found:
            raise ToolSecretNotSet(f"tool '{tool}' needs the environment variable {secret}")
        return found

    return EITHER.sub(value, template)


def _secrets(text: str, env: Mapping[str, str], tool: str) -> str:
    return _fill(text, {}, env, tool, lambda _: "")


def _body(node: Any, values: dict[str, Any], env: Mapping[str, str], tool: str) -> Any:
    if isinstance(node, dict):
        return {k: _body(v, values, env, tool) for k, v in node.items()}
    if isinstance(node, list):
        return [_body(v, values, env, tool) for v in node]
    if isinstance(node, str):
        whole = WHOLE_PLACEHOLDER.match(node)
        if whole is not None:
            return values.get(whole.group(1))
        return _text(node, values, env, tool)
    return node


def _strings(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [s for v in node.values() for s in _strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return [node] if isinstance(node, str) else []
