"""A bot's configuration: the models that YAML and the API share, validated strictly.

Structure only; the checks that need more than one field (templates, routes, environment) live
in `chinwag.bots.validation`, which reports every problem at once.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from chinwag.config.answers import CuratedConfig, PolicyConfig
from chinwag.config.flow import FlowConfig
from chinwag.config.handoff import HandoffConfig
from chinwag.config.limits import LimitsConfig, RetentionConfig
from chinwag.config.llm import LLMConfig
from chinwag.config.mcp import McpServer, ServerName
from chinwag.config.strict import (
    BOT_ID_PATTERN,
    URL_PATTERN,
    EmbeddingProvider,
    FlowName,
    RouterStrategy,
    SearchMode,
    Strict,
    VectorStoreName,
)
from chinwag.config.tools import (
    HostName,
    HttpTool,
    Tool,
    ToolName,
)
from chinwag.config.widget import WidgetConfig


class EmbeddingConfig(Strict):
    """The embedding model used by the semantic router and the knowledge index."""

    provider: EmbeddingProvider = Field(
        "sentence-transformers",
        description="`sentence-transformers` (embedded, offline) or `openai` (/v1/embeddings).",
    )
    model: str = Field(
        "all-MiniLM-L6-v2", description="Model name; the embedded default needs no download."
    )
    base_url: str | None = Field(
        None, pattern=URL_PATTERN, description="For `openai`: the server's base URL."
    )
    api_key_env: str | None = Field(
        None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="For `openai`: NAME of the environment variable holding the API key.",
    )


class KnowledgeConfig(Strict):
    """Where the bot's documents are indexed and how flows with retrieval search them."""

    store: VectorStoreName = Field("lancedb", description="Vector store holding the index.")
    index: str = Field(
        pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$", description="Name of the index in the store."
    )
    url: str | None = Field(
        None, pattern=URL_PATTERN, description="Store server URL (Qdrant); unset: embedded."
    )
    api_key_env: str | None = Field(
        None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="NAME of the environment variable with the store's API key (Pinecone).",
    )
    mode: SearchMode = Field("hybrid", description="`vector`, `keyword` or `hybrid` search.")
    top_k: int = Field(4, ge=1, le=50, description="Sources given to a flow's template.")


class RouterConfig(Strict):
    """How the auxiliary flows of a message are chosen; `main` always runs."""

    strategy: RouterStrategy = Field(
        "all", description="`semantic`, `keywords`, `llm` or `all` (every flow, every time)."
    )
    threshold: float = Field(
        0.4,
        ge=0,
        le=1,
        description="`semantic`: least probability (0-1) the router's classifier must give a "
        "flow to select it; the default suits most bots.",
    )
    llm: LLMConfig | None = Field(
        None, description="`llm`: the classifier model; unset fields come from the bot's llm."
    )
    timeout_seconds: float = Field(5.0, gt=0, description="`llm`: longest classification call.")
    uncertain: Literal["none", "llm"] = Field(
        "none",
        description="`semantic`: `llm` puts a message whose flow scores lie within "
        "`uncertain_margin` of a threshold to the llm router (`router.llm`, within "
        "`timeout_seconds`); when that call fails, the semantic decision stands.",
    )
    uncertain_margin: float = Field(
        0.15, ge=0, le=1, description="`uncertain: llm`: how near a threshold is uncertain."
    )


class BotConfig(Strict):
    """A bot: one YAML document, or the same structure as JSON through the API."""

    id: str = Field(pattern=BOT_ID_PATTERN, description="Used in URLs; lowercase, - and _.")
    name: str = Field(min_length=1, max_length=200, description="Shown to people.")
    description: str | None = Field(None, description="A note for the bot's owners.")
    llm: LLMConfig | None = Field(
        None, description="The bot's LLM; unset: the server default (CHINWAG_LLM_*)."
    )
    embedding: EmbeddingConfig = Field(
        default_factory=EmbeddingConfig, description="The embedding model."
    )
    knowledge: KnowledgeConfig | None = Field(None, description="The bot's knowledge index.")
    router: RouterConfig = Field(default_factory=RouterConfig, description="Flow routing.")
    history_turns: int | None = Field(
        None, ge=0, le=200, description="Earlier messages given to the LLM as history."
    )
    flows: dict[FlowName, FlowConfig] = Field(description="The flows; `main` is required.")
    tools: dict[ToolName, HttpTool] = Field(
        default_factory=dict, description="HTTP tools its flows call (docs/tools.md)."
    )
    mcp_servers: dict[ServerName, McpServer] = Field(
        default_factory=dict,
        description="MCP servers whose tools it uses (`tools:` of each): streamable HTTP "
        "(`url`) or a local `command` (stdio); their tools are called like `tools:`.",
    )
    allowed_hosts: list[HostName] = Field(
        default_factory=list,
        description="The only hosts its tools may call (`shop.example`, `*.shop.example`, "
        "`127.0.0.1`); a tool's URL must name one.",
    )
    retention: RetentionConfig | None = Field(
        None, description="Message retention; unset: messages are kept until deleted."
    )
    limits: LimitsConfig | None = Field(
        None, description="Rate limits; unset: the server's CHINWAG_RATE_LIMIT_* defaults."
    )
    widget: WidgetConfig = Field(
        default_factory=WidgetConfig, description="The website chat widget's look and texts."
    )
    curated: CuratedConfig | None = Field(
        None,
        description="Curated answers: `answer`, `prefer` or `off` (short for `{mode: …}`); "
        "unset: `answer` at the default threshold.",
    )

    handoff: HandoffConfig = Field(
        default_factory=HandoffConfig,
        description="Human handoff: asking for a person, opening hours, texts (docs/handoff.md).",
    )
    policy: PolicyConfig | None = Field(
        None,
        description="Answer policy: `grounded` or `open` (short for `{mode: …}`); unset: "
        "`open`, as bots were before policies (new bots and the demo are `grounded`).",
    )

    @field_validator("policy", mode="before")
    @classmethod
    def _policy_shorthand(cls, value: Any) -> Any:
        """`policy: grounded` is short for `policy: {mode: grounded}`."""
        return {"mode": value} if isinstance(value, str) else value

    @property
    def answer_policy(self) -> PolicyConfig:
        """The answer policy, defaults filled in (`open` when the bot has none)."""
        return self.policy or PolicyConfig(mode="open")

    @field_validator("curated", mode="before")
    @classmethod
    def _curated_shorthand(cls, value: Any) -> Any:
        """`curated: prefer` is short for `curated: {mode: prefer}`."""
        return {"mode": value} if isinstance(value, str) else value

    @property
    def curated_answers(self) -> CuratedConfig:
        """How curated answers are used, defaults filled in."""
        return self.curated or CuratedConfig()

    @property
    def all_tools(self) -> dict[str, Tool]:
        """Every tool its flows may call: its HTTP tools and its MCP servers' tools."""
        found: dict[str, Tool] = dict(self.tools)
        for server in self.mcp_servers.values():
            found.update(server.tools)
        return found

    def mcp_server_of(self, tool: str) -> tuple[str, McpServer]:
        """The MCP server (name, settings) whose tool `tool` is."""
        for name, server in self.mcp_servers.items():
            if tool in server.tools:
                return name, server
        raise KeyError(tool)

    @property
    def optional_flows(self) -> dict[str, FlowConfig]:
        """The flows a router may select: every flow but `main` that has a template."""
        return {
            name: flow
            for name, flow in self.flows.items()
            if name != "main" and flow.template is not None
        }
