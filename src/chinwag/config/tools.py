"""A bot's tools (HTTP calls to live systems) and how a flow fills a tool's arguments.

Structure only; cross-field checks (unknown tools, URL placeholders, schemas, hosts, secrets)
are `chinwag.bots.tool_check`'s, and docs/tools.md explains them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from chinwag.config.mcp import McpTool
from chinwag.config.strict import Strict

TOOL_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"
ToolName = Annotated[str, StringConstraints(pattern=TOOL_NAME_PATTERN)]
HttpMethod = Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE"})
SAFE_METHODS = frozenset({"GET", "HEAD"})  # change nothing: no confirmation by default
# A bot's tool limits when its `limits:` leaves them unset (docs/tools.md#limits).
DEFAULT_TOOL_CALLS_PER_MESSAGE = 5
DEFAULT_TOOL_CALLS_CONCURRENT = 10
DEFAULT_TOOL_CALLS_PER_USER = "30/minute"
# Headers chinwag sets itself: the checked host, and the body's framing.
RESERVED_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})
ToolLanguage = Literal["en", "nb"]
ToolText = Annotated[str, StringConstraints(min_length=1, max_length=500)]
HostName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9.:\[\]*-]{1,255}$")]


class HttpTool(Strict):
    """One HTTP endpoint a bot may call; `{name}` places an argument, `${NAME}` a secret."""

    description: str | None = Field(None, description="What the tool does, for its owners.")
    method: HttpMethod = Field("GET", description="HTTP method.")
    url: str = Field(
        pattern=r"^https?://[^\s/?#@{}$]+(/[^\s?#]*)?$",
        description="URL template: `{argument}` in the path is one percent-encoded path "
        "segment, e.g. `https://shop.example/api/orders/{order}`; the host is fixed (no "
        "placeholder, no user:password@); no query (use `query`).",
    )
    query: dict[str, str] = Field(
        default_factory=dict,
        description="Query parameters: text with `{argument}` and `${SECRET_ENV}` placeholders.",
    )
    headers: dict[str, str] = Field(
        default_factory=dict,
        description="Request headers: text with `${SECRET_ENV}` placeholders (e.g. "
        "`Authorization: Bearer ${SHOP_API_TOKEN}`); never arguments.",
    )
    body: dict[str, Any] | None = Field(
        None,
        description="JSON body: a string that is exactly `{argument}` becomes the argument's "
        "value (its JSON type kept); other strings take placeholders as text.",
    )
    arguments: dict[str, Any] = Field(
        default_factory=lambda: {"type": "object", "properties": {}},
        description="JSON Schema of the arguments (an object: types, enums, patterns, "
        "required); `x-secret: true` or `writeOnly: true` on a property redacts it in events "
        "and records. Checked before every call.",
    )
    response: dict[str, str] = Field(
        default_factory=dict,
        description="Result field -> dotted path in the JSON response (`status: order.status`, "
        "`first: items.0.name`); empty: the whole response. A missing path is an error.",
    )
    max_response_bytes: int = Field(
        65536, ge=1, le=10_000_000, description="A larger response is refused, not cut."
    )
    timeout_seconds: float = Field(5.0, gt=0, le=120, description="Longest time per attempt.")
    retries: int = Field(
        0,
        ge=0,
        le=3,
        description="Extra attempts after a timeout, a lost connection or a 5xx; only for "
        "idempotent methods (GET, HEAD, PUT, DELETE).",
    )
    allow_private: bool = Field(
        False,
        description="Allow private, loopback and link-local addresses (a tool on the same "
        "machine or network); refused by default.",
    )
    confirm: bool | None = Field(
        None,
        description="Wait for the visitor's confirmation before each call (the flow's "
        "`confirm_question` is asked, with Confirm and Cancel in the widget); unset: `true` "
        "for POST, PUT, PATCH and DELETE, `false` for GET and HEAD. `main`'s function calls "
        "of it wait the same way.",
    )

    @property
    def about(self) -> str | None:
        """What it does (as an MCP tool's, for code that takes either)."""
        return self.description

    @property
    def argument_schema(self) -> dict[str, Any]:
        """Its arguments schema (as an MCP tool's, for code that takes either)."""
        return self.arguments

    @property
    def changes_something(self) -> bool:
        """Whether a call waits for the visitor: `confirm`, else any method but GET and HEAD."""
        return self.confirm if self.confirm is not None else self.method not in SAFE_METHODS


ArgumentSource = Literal["message", "user"]


class ToolArgument(Strict):
    """Where one argument of a flow's tool comes from."""

    source: ArgumentSource = Field(
        "message",
        description="`message`: the first match of `pattern` in the message; `user`: the "
        "verified end user's id (a token's user id, or the id a secret key sends).",
    )
    pattern: str | None = Field(
        None,
        description="`message`: a regular expression (case-insensitive); its first group "
        "(else the whole match) is the value, e.g. `\\b(\\d{5})\\b` for an order number; "
        "an `integer` or `number` property of the schema gets the text as a number.",
    )
    label: str | None = Field(
        None, max_length=80, description="How the question for it names it (`order number`)."
    )


Tool = HttpTool | McpTool  # a bot's tool: an HTTP endpoint, or a tool of an MCP server


class FunctionCalling(Strict):
    """The limits of `main` calling its `tools` by LLM function calling."""

    max_steps: int = Field(
        3,
        ge=1,
        le=10,
        description="LLM turns that may call tools; then the model must answer with what it "
        "has (one more turn, tools off).",
    )
    max_calls: int = Field(
        8,
        ge=1,
        le=50,
        description="Calls in one answer, all steps together; more are refused "
        "(`tool_calls_exhausted`), never made.",
    )
    call_timeout_seconds: float = Field(
        10.0,
        gt=0,
        le=120,
        description="Longest time for one call, its retries included (`tool_timeout`).",
    )
    budget_seconds: float = Field(
        20.0,
        gt=0,
        le=300,
        description="Longest time for all the calls of one answer; a call still running then "
        "is stopped, and none is started after it (`tool_budget_exhausted`).",
    )
