"""Tools of MCP servers, through the official `mcp` SDK: list a server's tools, call one.

A streamable HTTP server obeys the HTTP tools' rules: its host must be allowed, every address
of it is checked, and the connection goes to a checked address (the name kept in Host and TLS
SNI), with no proxy from the environment. A stdio server is a local program the bot's owner
named; it is started for the listing or the call and ends with it."""

from __future__ import annotations

import asyncio
import contextlib
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
    ToolMcpNotInstalled,
    ToolMcpToolMissing,
    ToolResponseTooLarge,
    ToolTimeout,
    ToolUnreachable,
)
from chinwag.tools.mcp_sessions import McpSessions
from chinwag.tools.request import SECRET
from chinwag.tools.safety import check_host, resolve_checked

if TYPE_CHECKING:
    import httpx2
    from mcp import Client
    from mcp_types import CallToolResult

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
    """The server's tools by name; a ToolError (unreachable, timeout, refused host) if not.
    A connection of its own, closed after (activation and `chinwag validate` list once)."""
    try:
        async with (
            asyncio.timeout(server.timeout_seconds),
            _connected(name, server, allowed_hosts, env, commands) as client,
        ):
            return await _listed(client)
    except Exception as exc:
        raise _failure(name, server, exc) from exc


async def _listed(client: Client) -> dict[str, ListedTool]:
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
    owner: str,
    sessions: McpSessions,
    allowed_hosts: list[str],
    env: Mapping[str, str],
    commands: frozenset[str],
) -> tuple[Any, int, int]:
    """The tool's result (its structured content, else its text as JSON if it is JSON, else
    the text), its size in bytes and the attempts made; a ToolError when the call gives none.
    The call goes over the session `owner` (the bot) keeps open to the server, opened when
    there is none."""
    remote = tool.remote_name(key)
    session = McpSessions.key(
        owner,
        server_name,
        server.model_dump_json(),
        *_secret_values(server, env, server_name),
        *allowed_hosts,
        *sorted(commands),
    )

    # A read-only tool is asked once more on a fresh session when the kept one broke (the
    # server restarted, say); one that changes something is not: it may have run.
    async def once() -> CallToolResult:
        async with (
            asyncio.timeout(server.timeout_seconds),
            sessions.client(
                session, lambda: _connected(server_name, server, allowed_hosts, env, commands)
            ) as client,
        ):
            return await client.call_tool(remote, values)

    attempt = 1
    while True:
        try:
            result = await once()
            break
        except ToolError:
            raise
        except Exception as exc:
            failure = _failure(server_name, server, exc)
            again = attempt == 1 and not tool.changes_something
            if not again or not isinstance(failure, ToolUnreachable):
                raise failure from exc
            attempt += 1
    value, size = _result(key, remote, server_name, tool, result)
    return value, size, attempt


def _result(
    key: str, remote: str, server_name: str, tool: McpTool, result: CallToolResult
) -> tuple[Any, int]:
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
    """A connected SDK client: the connection and handshake within the server's timeout, the
    client then open until the block ends. Failures are the SDK's; `_failure` names them."""
    client_class = _sdk_client()
    async with contextlib.AsyncExitStack() as stack:
        async with asyncio.timeout(server.timeout_seconds):
            transport = await _transport(name, server, allowed_hosts, env, commands)
            client = await stack.enter_async_context(
                client_class(transport, mode="legacy", cache=None)
            )
        yield client


def _failure(name: str, server: McpServer, exc: BaseException) -> ToolError:
    """What a failure to connect to, list or call an MCP server means, as a ToolError."""
    where = server.url or " ".join(server.command or [])
    cause = _first_cause(exc)
    if isinstance(cause, ToolError):
        return cause
    if isinstance(cause, TimeoutError):
        return ToolTimeout(
            f"MCP server '{name}' ({where}) did not answer within {server.timeout_seconds:g} s"
        )
    return ToolUnreachable(
        f"cannot use MCP server '{name}' ({where}): {type(cause).__name__}: "
        f"{str(cause)[:TEXT_SHOWN]}"
    )


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


def _secret_values(server: McpServer, env: Mapping[str, str], name: str) -> list[str]:
    """The values of the server's secrets now (a changed secret makes a new session)."""
    texts = [*server.headers.values(), *server.env.values()]
    return [_secrets(text, env, name) for text in texts]


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


def _sdk_client() -> type[Client]:
    """The SDK's client class; ToolMcpNotInstalled when the optional `mcp` extra is not."""
    try:
        from mcp import Client
    except ImportError as exc:
        raise ToolMcpNotInstalled(
            "this server cannot reach MCP servers: the MCP SDK (package `mcp`) is not installed"
        ) from exc
    return Client


def _first_cause(exc: BaseException) -> BaseException:
    """The first error inside (nested) exception groups, as the SDK's task groups wrap it."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc
