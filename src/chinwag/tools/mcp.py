"""Tools of MCP servers, through the official `mcp` SDK: list a server's tools, call one.

A streamable HTTP server obeys the HTTP tools' rules: its host must be allowed, every address
of it is checked, and the connection goes to a checked address (the name kept in Host and TLS
SNI), with no proxy from the environment. A stdio server is a local program the bot's owner
named; it is started for the listing or the call and ends with it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson

from chinwag.config.mcp import McpServer, McpTool
from chinwag.tools.errors import (
    ToolError,
    ToolMcpCommandNotAllowed,
    ToolMcpError,
    ToolMcpToolMissing,
    ToolResponseTooLarge,
    ToolTimeout,
    ToolUnreachable,
)
from chinwag.tools.request import SECRET
from chinwag.tools.safety import check_host, resolve_checked

if TYPE_CHECKING:
    import httpx2
    from mcp import Client

TEXT_SHOWN = 300  # of a server's error text


@dataclass(frozen=True, slots=True)
class ListedTool:
    """One tool as its server lists it."""

    name: str
    description: str | None
    input_schema: dict[str, Any]
    read_only: bool | None


async def list_tools(
    name: str,
    server: McpServer,
    allowed_hosts: list[str],
    env: Mapping[str, str],
    *,
    commands: frozenset[str],
) -> dict[str, ListedTool]:
    """The server's tools by name; a ToolError (unreachable, timeout, refused host) if not."""
    async with _connected(name, server, allowed_hosts, env, commands) as client:
        listed: dict[str, ListedTool] = {}
        cursor: str | None = None
        for _ in range(20):  # pages
            page = await client.list_tools(cursor=cursor)
            for tool in page.tools:
                hints = tool.annotations
                listed[tool.name] = ListedTool(
                    tool.name,
                    tool.description,
                    dict(tool.input_schema),
                    hints.read_only_hint if hints is not None else None,
                )
            cursor = page.next_cursor
            if not cursor:
                break
        return listed


async def call_tool(
    key: str,
    tool: McpTool,
    server_name: str,
    server: McpServer,
    values: dict[str, Any],
    *,
    allowed_hosts: list[str],
    env: Mapping[str, str],
    commands: frozenset[str],
) -> tuple[Any, int]:
    """The tool's result (its structured content, else its text as JSON if it is JSON, else
    the text) and its size in bytes; a ToolError when the call gives none."""
    remote = tool.remote_name(key)
    async with _connected(server_name, server, allowed_hosts, env, commands) as client:
        result = await client.call_tool(remote, values)
    texts = [
        str(getattr(c, "text", "")) for c in result.content if getattr(c, "type", "") == "text"
    ]
    text = "\n".join(texts)
    if result.is_error:
        if text.startswith("Unknown tool"):
            raise ToolMcpToolMissing(
                f"MCP server '{server_name}' has no tool '{remote}' (any more)"
            )
        raise ToolMcpError(f"tool '{key}' (MCP) failed: {text[:TEXT_SHOWN]}")
    if result.structured_content is not None:
        body = orjson.dumps(result.structured_content)
        value: Any = result.structured_content
    else:
        body = text.encode()
        try:
            value = orjson.loads(body)
        except orjson.JSONDecodeError:
            value = text
    if len(body) > tool.max_response_bytes:
        raise ToolResponseTooLarge(
            f"the result is {len(body)} bytes; the cap is {tool.max_response_bytes}"
        )
    return value, len(body)


@asynccontextmanager
async def _connected(
    name: str,
    server: McpServer,
    allowed_hosts: list[str],
    env: Mapping[str, str],
    commands: frozenset[str],
) -> AsyncIterator[Client]:
    """A connected SDK client, within the server's timeout; failures as ToolErrors."""
    from mcp import Client

    where = server.url or " ".join(server.command or [])
    try:
        async with asyncio.timeout(server.timeout_seconds):
            transport = await _transport(name, server, allowed_hosts, env, commands)
            async with Client(transport, mode="legacy", cache=None) as client:
                yield client
    except TimeoutError as exc:
        raise ToolTimeout(
            f"MCP server '{name}' ({where}) did not answer within {server.timeout_seconds:g} s"
        ) from exc
    except ToolError:
        raise
    except Exception as exc:
        cause = _first_cause(exc)
        if isinstance(cause, ToolError):
            raise cause from exc
        raise ToolUnreachable(
            f"cannot use MCP server '{name}' ({where}): {type(cause).__name__}: "
            f"{str(cause)[:TEXT_SHOWN]}"
        ) from exc


async def _transport(
    name: str,
    server: McpServer,
    allowed_hosts: list[str],
    env: Mapping[str, str],
    commands: frozenset[str],
) -> Any:
    if server.command is not None:
        from mcp.client.stdio import StdioServerParameters, stdio_client

        program, *args = server.command
        if program not in commands:
            raise ToolMcpCommandNotAllowed(
                f"MCP server '{name}' would run '{program}', which this server does not allow"
            )
        extra = {k: _secrets(v, env, name) for k, v in server.env.items()}
        return stdio_client(StdioServerParameters(command=program, args=args, env=extra or None))
    assert server.url is not None
    from mcp.client.streamable_http import streamable_http_client

    parts = urlsplit(server.url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    check_host(f"mcp:{name}", host, allowed_hosts)
    addresses = await resolve_checked(f"mcp:{name}", host, port, allow_private=server.allow_private)
    headers = {k: _secrets(v, env, name) for k, v in server.headers.items()}
    return streamable_http_client(server.url, http_client=_pinned_client(host, addresses, headers))


def _pinned_client(host: str, addresses: list[str], headers: dict[str, str]) -> httpx2.AsyncClient:
    """An HTTP client that sends every request for `host` to its first checked address, and
    no request to any other host."""
    import httpx2

    class Pinned(httpx2.AsyncHTTPTransport):
        async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
            if request.url.host != host:
                raise ToolUnreachable(f"the MCP server sent a request to {request.url.host}")
            address = addresses[0]
            request.url = request.url.copy_with(host=address)
            if request.url.scheme == "https":
                request.extensions = {**request.extensions, "sni_hostname": host}
            return await super().handle_async_request(request)

    return httpx2.AsyncClient(
        transport=Pinned(trust_env=False),
        trust_env=False,
        follow_redirects=False,
        headers=headers,
        timeout=httpx2.Timeout(30.0, read=300.0),
    )


def _secrets(text: str, env: Mapping[str, str], server: str) -> str:
    from chinwag.tools.errors import ToolSecretNotSet

    def value(match: Any) -> str:
        found = env.get(match.group(1))
        if not found:
            raise ToolSecretNotSet(
                f"MCP server '{server}' reads ${{{match.group(1)}}}, which is not set"
            )
        return found

    return SECRET.sub(value, text)


def _first_cause(exc: BaseException) -> BaseException:
    """The first error inside (nested) exception groups, as the SDK's task groups wrap it."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc
