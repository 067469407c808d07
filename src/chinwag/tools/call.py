"""Call one HTTP tool: check its arguments, build its request, check its host and every
address of it, connect to a checked address (Host header and TLS name kept), read at most
`max_response_bytes`, map the JSON. Failures come back as an outcome with a stable code."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlencode

import orjson

from chinwag.config.bot import BotConfig
from chinwag.config.mcp import McpTool
from chinwag.config.tools import DEFAULT_TOOL_CALLS_CONCURRENT, IDEMPOTENT_METHODS, HttpTool
from chinwag.errors import ChinwagError
from chinwag.secrets import Secrets
from chinwag.tools.arguments import check_arguments, redacted
from chinwag.tools.connections import ToolConnections
from chinwag.tools.errors import (
    ToolBadJson,
    ToolError,
    ToolHttpError,
    ToolRedirectRefused,
    ToolResponseMismatch,
    ToolResponseTooLarge,
    ToolServerError,
    ToolTimeout,
    ToolUnreachable,
)
from chinwag.tools.mcp_sessions import McpSessions
from chinwag.tools.request import ToolRequest, build_request
from chinwag.tools.safety import check_host, resolve_checked

if TYPE_CHECKING:
    import aiohttp

RETRY_PAUSE_SECONDS = 0.2
# What no header may hold: a line break would end it and start another (header injection); no
# other control character is valid in one either (RFC 9110 allows a tab).
UNSENDABLE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
log = logging.getLogger(__name__)


@dataclass(slots=True)
class ToolOutcome:
    """One tool call as events and the flow run record show it (arguments redacted)."""

    tool: str
    arguments: dict[str, Any]
    status: Literal["completed", "error"] = "completed"
    result: Any = None
    http_status: int | None = None
    ms: float = 0.0
    bytes: int = 0
    attempts: int = 0
    error: ChinwagError | None = field(default=None, repr=False)  # a ToolError, or a limit

    @property
    def code(self) -> str | None:
        return self.error.code if self.error is not None else None

    def record(self) -> dict[str, Any]:
        """What the flow run keeps: never the result, never a secret."""
        return {
            "tool": self.tool,
            "status": self.status,
            "code": self.code,
            "http_status": self.http_status,
            "ms": self.ms,
            "bytes": self.bytes,
            "attempts": self.attempts,
            "arguments": self.arguments,
        }


class ToolCaller:
    """Makes tool calls for every bot of a server; secrets are read from `env` per call."""

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        tls: ssl.SSLContext | None = None,
        mcp_commands: frozenset[str] = frozenset(),
    ) -> None:
        """`tls`: the certificates trusted (default: the system's store, loaded on first use);
        `mcp_commands`: the programs a stdio MCP server may run (CHINWAG_MCP_COMMANDS)."""
        self._env = env if env is not None else os.environ
        self._tls = tls
        self._mcp_commands = mcp_commands
        self._slots: dict[tuple[str, int], asyncio.Semaphore] = {}
        self.connections = ToolConnections()
        self.mcp_sessions = McpSessions()

    async def aclose(self) -> None:
        """Close the connections kept open to the bots' remotes."""
        await self.connections.aclose()
        await self.mcp_sessions.aclose()

    def _slot(self, bot: BotConfig) -> asyncio.Semaphore:
        """The bot's calls in progress at once (limits.tool_calls_concurrent), in this process."""
        own = bot.limits.tool_calls_concurrent if bot.limits is not None else None
        key = (bot.id, own or DEFAULT_TOOL_CALLS_CONCURRENT)
        slot = self._slots.get(key)
        if slot is None:
            slot = self._slots[key] = asyncio.Semaphore(key[1])
        return slot

    async def call(self, bot: BotConfig, name: str, values: dict[str, Any]) -> ToolOutcome:
        """Call `bot`'s tool `name` once a slot of the bot's is free; never raises a ToolError
        (the outcome holds it)."""
        if isinstance(self._env, Secrets):
            await self._env.refresh()  # the secrets file, if it changed
        async with self._slot(bot):
            return await self._call(bot, name, values)

    async def _call(self, bot: BotConfig, name: str, values: dict[str, Any]) -> ToolOutcome:
        tool = bot.all_tools[name]
        outcome = ToolOutcome(tool=name, arguments=redacted(tool, values))
        started = time.perf_counter()
        try:
            check_arguments(name, tool, values)
            if isinstance(tool, McpTool):
                await self._mcp(bot, name, tool, values, outcome)
                return outcome
            request = build_request(name, tool, values, self._env)
            check_host(name, request.host, bot.allowed_hosts)
            addresses = await resolve_checked(
                name, request.host, request.port, allow_private=tool.allow_private
            )
            await self._attempts(name, tool, request, addresses, outcome)
        except ToolError as exc:
            outcome.status, outcome.error = "error", exc
        except Exception as exc:
            # Unexpected (a header value the HTTP library refuses, say): named by its kind
            # only, as its text may quote a header, that is, a secret.
            log.warning("bot %s: tool %s failed: %s", bot.id, name, type(exc).__name__)
            failed = ToolError(f"tool '{name}' failed unexpectedly ({type(exc).__name__})")
            outcome.status, outcome.error = "error", failed
        finally:
            outcome.ms = round((time.perf_counter() - started) * 1000, 2)
        return outcome

    async def _mcp(
        self, bot: BotConfig, name: str, tool: McpTool, values: dict[str, Any], outcome: ToolOutcome
    ) -> None:
        """A tool of an MCP server, through the SDK (tools/mcp.py)."""
        from chinwag.tools.mcp import call_tool

        outcome.attempts = 1  # the call failed at its first attempt if it raises
        server_name, server = bot.mcp_server_of(name)
        outcome.result, outcome.bytes, outcome.attempts = await call_tool(
            name,
            tool,
            server_name,
            server,
            values,
            owner=bot.id,
            sessions=self.mcp_sessions,
            allowed_hosts=bot.allowed_hosts,
            env=self._env,
            commands=self._mcp_commands,
        )

    async def _attempts(
        self,
        name: str,
        tool: HttpTool,
        request: ToolRequest,
        addresses: list[str],
        outcome: ToolOutcome,
    ) -> None:
        tries = 1 + (tool.retries if tool.method in IDEMPOTENT_METHODS else 0)
        for attempt in range(tries):
            outcome.attempts = attempt + 1
            try:
                outcome.result = await self._once(name, tool, request, addresses, outcome)
                return
            except ToolError as exc:
                if not exc.transient or attempt == tries - 1:
                    raise
            await asyncio.sleep(RETRY_PAUSE_SECONDS * 2**attempt)

    async def _once(
        self,
        name: str,
        tool: HttpTool,
        request: ToolRequest,
        addresses: list[str],
        outcome: ToolOutcome,
    ) -> Any:
        tls = await self._tls_context() if request.scheme == "https" else None
        try:
            async with asyncio.timeout(tool.timeout_seconds):
                body = await self._send(tool, request, addresses, tls, outcome)
        except TimeoutError as exc:
            raise ToolTimeout(
                f"tool '{name}' did not answer within {tool.timeout_seconds} s"
            ) from exc
        status = outcome.http_status or 0
        if 300 <= status < 400:
            raise ToolRedirectRefused(f"tool '{name}' answered with a redirect ({status})")
        if status >= 500:
            raise ToolServerError(f"tool '{name}' answered {status}")
        if status >= 400:
            raise ToolHttpError(f"tool '{name}' answered {status}")
        if request.method == "HEAD":
            return None
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise ToolBadJson(f"tool '{name}' answered with something that is not JSON") from exc
        return mapped(name, tool.response, document)

    async def _send(
        self,
        tool: HttpTool,
        request: ToolRequest,
        addresses: list[str],
        tls: ssl.SSLContext | None,
        outcome: ToolOutcome,
    ) -> bytes:
        """Send to the first checked address that accepts the connection; read the body."""
        import aiohttp  # on first call: a worker whose bots call no tool never loads it
        from yarl import URL

        default = 443 if request.scheme == "https" else 80
        name = f"[{request.host}]" if ":" in request.host else request.host  # IPv6 literal
        host_header = name if request.port == default else f"{name}:{request.port}"
        query = urlencode(request.query)
        headers = {"accept": "application/json", "accept-encoding": "identity"}
        headers |= {k.lower(): v for k, v in request.headers.items()}
        headers["host"] = host_header  # the checked name, whatever the configuration says
        if any(UNSENDABLE.search(f"{k}{v}") for k, v in headers.items()):
            # Never quoted: a header's value may be a secret.
            raise ToolError(
                f"the request to {request.host} could not be written (a header holds a line "
                "break or a control character): check the tool's headers and the values of its "
                "secrets"
            )
        content = orjson.dumps(request.body) if request.body is not None else None
        if content is not None:
            headers["content-type"] = "application/json"
        pinned: dict[str, Any] = {"ssl": tls or False}
        if tls is not None:
            pinned["server_hostname"] = request.host  # SNI and the certificate's name
        last: Exception | None = None
        async with self.connections.lease(
            request.scheme, request.host, request.port, tls
        ) as client:
            for address in addresses:
                url = URL.build(
                    scheme=request.scheme,
                    host=f"[{address}]" if ":" in address else address,  # IPv6
                    port=request.port,
                    path=request.path,
                    query_string=query,
                    encoded=True,
                )
                try:
                    async with client.request(
                        request.method,
                        url,
                        headers=headers,
                        data=content,
                        allow_redirects=False,
                        **pinned,
                    ) as response:
                        outcome.http_status = response.status
                        return await _capped(response, tool.max_response_bytes, outcome)
                except aiohttp.ClientConnectorError as exc:
                    last = exc
                except aiohttp.ClientError as exc:
                    raise ToolUnreachable(
                        f"the connection to {request.host} broke: {type(exc).__name__}"
                    ) from exc
        raise ToolUnreachable(f"cannot connect to {request.host}:{request.port}: {_why(last)}")

    async def _tls_context(self) -> ssl.SSLContext:
        """The certificate store, loaded once, off the event loop."""
        if self._tls is None:
            self._tls = await asyncio.to_thread(ssl.create_default_context)
        return self._tls


def _why(exc: Exception | None) -> str:
    """What the connection error says (a refused port, a certificate that did not verify)."""
    text = str(exc) if exc is not None else ""
    return text[:200] or type(exc).__name__


async def _capped(response: aiohttp.ClientResponse, cap: int, outcome: ToolOutcome) -> bytes:
    declared = response.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > cap:
        outcome.bytes = int(declared)
        raise ToolResponseTooLarge(f"the response is {declared} bytes; the cap is {cap}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_any():
        size += len(chunk)
        outcome.bytes = size
        if size > cap:
            raise ToolResponseTooLarge(f"the response is over {cap} bytes, the cap")
        chunks.append(chunk)
    return b"".join(chunks)


def mapped(name: str, mapping: dict[str, str], document: Any) -> Any:
    """The fields the tool's `response` mapping picks, or the whole document without one."""
    if not mapping:
        return document
    picked: dict[str, Any] = {}
    for key, path in mapping.items():
        node = document
        for part in path.split("."):
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                raise ToolResponseMismatch(
                    f"tool '{name}': the response has no '{path}' (for `{key}`)"
                )
        picked[key] = node
    return picked
