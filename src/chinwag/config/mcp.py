"""MCP servers a bot names, and the tools of each that it uses (docs/tools.md).

Structure only: that a server answers and has the tool is checked by `chinwag validate` and at
activation (bots/mcp_check.py), which keeps each tool's schema with the bot's version."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, StringConstraints, model_validator

from chinwag.config.strict import Strict

SERVER_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"
ServerName = Annotated[str, StringConstraints(pattern=SERVER_NAME_PATTERN)]
ToolName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]


class McpTool(Strict):
    """A tool of the server that the bot uses; its schema is the server's, kept at activation."""

    name: str | None = Field(
        None, max_length=128, description="The server's name for the tool; unset: this key."
    )
    description: str | None = Field(
        None, description="What the tool does; unset: the server's description."
    )
    arguments: dict[str, Any] | None = Field(
        None,
        description="JSON Schema of its arguments, over the server's; unset: the server's "
        "`inputSchema`.",
    )
    read_only: bool | None = Field(
        None,
        description="Whether a call changes nothing; unset: the server's `readOnlyHint`. A "
        "tool that is not read-only needs the visitor's confirmation, so `main` cannot call "
        "it by function calling yet.",
    )
    listed: dict[str, Any] | None = Field(
        None,
        description="Written by chinwag at activation: the server's `description`, "
        "`arguments` (its inputSchema) and `read_only` (its readOnlyHint), kept with the "
        "version; listed again at every activation, so do not write it.",
    )
    max_response_bytes: int = Field(
        65536, ge=1, le=10_000_000, description="A larger result is refused, not cut."
    )

    def remote_name(self, key: str) -> str:
        return self.name or key

    def _listed(self, key: str) -> Any:
        return (self.listed or {}).get(key)

    @property
    def about(self) -> str | None:
        """What it does: its own description, else the server's."""
        return self.description or self._listed("description")

    @property
    def changes_something(self) -> bool:
        """Unless the tool is known to be read-only (here, else by the server), it may."""
        read_only = self.read_only if self.read_only is not None else self._listed("read_only")
        return read_only is not True

    @property
    def argument_schema(self) -> dict[str, Any]:
        """Its arguments schema: its own, else the server's (an empty object schema before
        it was listed)."""
        schema = self.arguments or self._listed("arguments")
        return schema if isinstance(schema, dict) else {"type": "object", "properties": {}}


class McpServer(Strict):
    """An MCP server: streamable HTTP at `url`, or a local one started as `command` (stdio)."""

    url: str | None = Field(
        None,
        pattern=r"^https?://[^\s/?#@{}$]+(/[^\s#{}]*)?$",
        description="Streamable HTTP endpoint, e.g. `https://tools.shop.example/mcp`; its host "
        "must be in `allowed_hosts`, and private addresses are refused unless `allow_private`.",
    )
    command: list[Annotated[str, StringConstraints(min_length=1)]] | None = Field(
        None,
        min_length=1,
        description="A local server started per call and spoken to over stdio: the program "
        "and its arguments, e.g. `[python, -m, shop_tools]`.",
    )
    env: dict[str, str] = Field(
        default_factory=dict,
        description="`command`: environment variables for it; values take `${SECRET}`.",
    )
    headers: dict[str, str] = Field(
        default_factory=dict,
        description="`url`: request headers; values take `${SECRET}` (e.g. `Authorization: "
        "Bearer ${TOOLS_TOKEN}`).",
    )
    allow_private: bool = Field(
        False, description="`url`: allow private, loopback and link-local addresses."
    )
    timeout_seconds: float = Field(
        10.0, gt=0, le=120, description="Longest time to connect and list or call, each time."
    )
    tools: dict[ToolName, McpTool] = Field(
        default_factory=dict,
        description="The server's tools this bot uses, by the name its flows call them (`{}` "
        "for the defaults); each must be one the server lists.",
    )

    @model_validator(mode="after")
    def _one_transport(self) -> McpServer:
        if (self.url is None) == (self.command is None):
            raise ValueError("an MCP server has either `url` (streamable HTTP) or `command`")
        return self
