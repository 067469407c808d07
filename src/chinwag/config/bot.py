"""A bot's configuration: the models that YAML and the API share, validated strictly.

Structure only; the checks that need more than one field (templates, routes, environment) live
in `chinwag.bots.validation`, which reports every problem at once.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from chinwag.config.handoff import HandoffConfig
from chinwag.config.mcp import McpServer, ServerName
from chinwag.config.tools import (
    FunctionCalling,
    HostName,
    HttpTool,
    Tool,
    ToolArgument,
    ToolLanguage,
    ToolName,
    ToolText,
)

BOT_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
FLOW_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"
URL_PATTERN = r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[^\s]*)?$"

LLMProvider = Literal["openai", "local"]
EmbeddingProvider = Literal["sentence-transformers", "openai"]
RouterStrategy = Literal["semantic", "keywords", "llm", "all"]
VectorStoreName = Literal["lancedb", "qdrant", "pinecone"]
SearchMode = Literal["vector", "keyword", "hybrid"]
FlowName = Annotated[str, StringConstraints(pattern=FLOW_NAME_PATTERN)]
RATE_LIMIT_PATTERN = r"^[0-9]+ ?(/|per) ?([0-9]+ ?)?(second|minute|hour|day)s?$"
RateLimitText = Annotated[str, StringConstraints(pattern=RATE_LIMIT_PATTERN)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LLMConfig(_Strict):
    """An LLM: the bot's own, a flow's override, or the router's. Unset fields inherit."""

    provider: LLMProvider | None = Field(
        None, description="`openai` (any OpenAI-compatible server) or `local` (embedded model)."
    )
    base_url: str | None = Field(
        None, pattern=URL_PATTERN, description="OpenAI-compatible base URL, e.g. …/v1."
    )
    api_key_env: str | None = Field(
        None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="NAME of the environment variable holding the API key (never the key).",
    )
    model: str | None = Field(None, description="Model name sent to the server.")
    temperature: float | None = Field(None, ge=0, le=2, description="Sampling temperature.")
    max_tokens: int | None = Field(None, ge=1, description="Longest answer, in tokens.")

    def over(self, base: LLMConfig | None) -> LLMConfig:
        """These settings with unset fields taken from `base`."""
        if base is None:
            return self
        mine = self.model_dump(exclude_none=True)
        return LLMConfig.model_validate({**base.model_dump(exclude_none=True), **mine})


def effective_llm(own: LLMConfig | None, base: LLMConfig | None) -> LLMConfig | None:
    """A flow's (or the router's) LLM settings: its own over `base`, else `base`."""
    return own.over(base) if own is not None else base


class EmbeddingConfig(_Strict):
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


class KnowledgeConfig(_Strict):
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


class RouterConfig(_Strict):
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


class CuratedConfig(_Strict):
    """How the bot uses its curated answers (`chinwag answers`, /v1/bots/{bot}/answers)."""

    mode: Literal["answer", "prefer", "off"] = Field(
        "answer",
        description="`answer`: a matching curated answer is the answer (no LLM call); "
        "`prefer`: it is given to `main` as context; `off`: never used.",
    )
    threshold: float = Field(
        0.8,
        ge=0,
        le=1,
        description="Least cosine similarity of a message to a curated question to match it.",
    )
    all_words: bool = Field(
        True,
        description="A match also needs every content word of the curated question in the "
        "message (its first five letters), so `Sunday` never gets `Saturday`'s answer.",
    )


DeclineReason = Literal["out_of_scope", "unanswerable"]
PolicyMode = Literal["grounded", "open"]
DeclineLanguage = Literal["en", "nb"]
DeclineText = Annotated[str, StringConstraints(min_length=1, max_length=500)]


class PolicyConfig(_Strict):
    """What the bot does with a message it has nothing to answer from (docs/answers.md)."""

    mode: PolicyMode = Field(
        "grounded",
        description="`grounded`: a message outside the bot's scope, or one that no curated "
        "answer, flow result or passage supports, gets the bot's decline text and no LLM call; "
        "`open`: the LLM answers everything.",
    )
    out_of_scope: list[str] = Field(
        default_factory=list,
        description="Messages this bot declines, besides the built-in ones (poems, homework, "
        "code, medical and legal advice, other businesses, rewriting its instructions).",
    )
    in_scope: list[str] = Field(
        default_factory=list,
        description="Messages that are this bot's business though no flow example says so "
        "(a decline the owner marked as wrong lands here).",
    )
    scope_threshold: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Least probability that a message is out of scope to decline it at once "
        "(a message nothing supports is declined as out of scope from 0.5); unset: 0.7, or 0.9 "
        "with `check: llm` (the model judges the messages in between).",
    )
    support_floor: float = Field(
        0.14,
        ge=0,
        le=2,
        description="Least support (the share of the message's words in the best passage, "
        "plus the best passage's similarity) for `main` to answer a message that no curated "
        "answer or flow output grounds; below it, the message is unanswerable.",
    )
    check: Literal["none", "llm"] = Field(
        "none",
        description="`llm`: before `main` answers a message that no curated answer grounds, "
        "ask a model whether it is the bot's business and whether `main`'s material (passages, "
        "table rows, flow outputs) answers it (one short call); `none`: decide without an LLM.",
    )
    check_llm: LLMConfig | None = Field(
        None, description="`check: llm`: the model asked; unset fields come from the bot's llm."
    )
    check_timeout_seconds: float = Field(
        5.0, gt=0, description="`check: llm`: longest check; a slower one is skipped, recorded."
    )
    declined: dict[DeclineLanguage, DeclineText] = Field(
        default_factory=dict,
        description="Reply to an out-of-scope message, by language (`en`, `nb`); unset: a "
        "built-in sentence naming the bot.",
    )
    unanswerable: dict[DeclineLanguage, DeclineText] = Field(
        default_factory=dict,
        description="Reply when nothing the bot has answers the message, by language; offer "
        "contact details here. Unset: a built-in sentence.",
    )

    @property
    def declines_at_once_from(self) -> float:
        """The out-of-scope probability from which a message is declined before routing."""
        if self.scope_threshold is not None:
            return self.scope_threshold
        return 0.9 if self.check == "llm" else 0.7


class TableLookup(_Strict):
    """A flow's `data` table searched per message: only the rows that match reach the prompt."""

    max_rows: int = Field(8, ge=1, le=100, description="The most rows given to the flow.")
    columns: list[str] = Field(
        default_factory=list,
        description="Columns matched against the message's words and meaning (names, SKUs, "
        "categories); empty: every column that is not numeric.",
    )
    numbers: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Numeric column -> words that name it (`price_nok: [price, kr, cost]`): a "
        "bound the message states (`under 250 kr`, `more than 10`) filters that column.",
    )
    order: dict[str, str] = Field(
        default_factory=dict,
        description="Phrase -> column to sort by when the message says it (`cheapest: "
        "price_nok`, `best seller: -sold_this_year`; `-` sorts high to low).",
    )
    where: dict[str, str] = Field(
        default_factory=dict,
        description="Phrase -> condition applied when the message says it (`sold out: "
        "stock_bottles = 0`); `column op value`, op one of = != < <= > >=.",
    )


class FlowConfig(_Strict):
    """One flow: a prompt (system + template, Jinja2, sandboxed, strict) and an LLM call."""

    description: str | None = Field(
        None, description="What the flow is for; the `llm` router shows it to the classifier."
    )
    examples: list[str] = Field(
        default_factory=list, description="`semantic` router: messages this flow should serve."
    )
    keywords: list[str] = Field(
        default_factory=list, description="`keywords` router: words or phrases that select it."
    )
    threshold: float | None = Field(
        None, ge=0, le=1, description="`semantic`: this flow's own least probability."
    )
    system: str | None = Field(None, description="Template for the system prompt.")
    template: str | None = Field(
        None, description="Template for the final user turn. Required for `main`."
    )
    data: dict[str, str] = Field(
        default_factory=dict,
        description="Named CSV tables (text); the templates see their rows as `data.<name>`.",
    )
    lookup: dict[str, TableLookup] = Field(
        default_factory=dict,
        description="`data` tables searched per message (table lookup): `data.<name>` holds "
        "only the matching rows, at most `max_rows`.",
    )
    retrieval: bool | None = Field(
        None,
        description="Search the knowledge index and pass `sources`; default: `main` only.",
    )
    llm: LLMConfig | None = Field(
        None, description="This flow's own model settings; unset fields come from the bot's."
    )
    generate: bool = Field(
        True,
        description="Optional flows: `false` makes the rendered template the flow's output, "
        "with no LLM call (e.g. the rows a table lookup found, as facts for `main`).",
    )
    verbatim_answer: bool = Field(
        False,
        description="Optional flows: when the router chooses this flow alone and it completes, "
        "`main` answers with its output word for word, with no LLM call (facts a small model "
        "would garble, such as the prices a table lookup found). With a `lookup`, only when "
        "the message itself picked the rows (a row's word, a value, a bound, a phrase); rows "
        "that are only near it in meaning are main's context instead.",
    )
    timeout_seconds: float = Field(
        30.0, gt=0, description="An optional flow slower than this fails; the answer goes on."
    )
    tool: ToolName | None = Field(
        None,
        description="Optional flows: the bot's tool this flow calls, with no LLM (docs/tools.md); "
        "its templates see the call as `tool` (`tool.result`, `tool.status`).",
    )
    arguments: dict[str, ToolArgument] = Field(
        default_factory=dict,
        description="`tool`: where each argument comes from (the message, the end user).",
    )
    ask: dict[ToolLanguage, ToolText] = Field(
        default_factory=dict,
        description="`tool`: the answer when a required argument is missing, by language "
        "(`en`, `nb`); `{argument}` names it. Unset: a built-in question.",
    )
    tool_failed: dict[ToolLanguage, ToolText] = Field(
        default_factory=dict,
        description="`tool`: the flow's output when the call fails (main is told to say it), "
        "by language; unset: a built-in sentence.",
    )
    confirm_question: dict[ToolLanguage, ToolText] = Field(
        default_factory=dict,
        description="`tool` that needs confirmation: what will be done, asked before the call, "
        "by language; `{argument}` places an argument's value (`Cancel order {order}?`). Unset: "
        "a built-in question naming the tool.",
    )
    confirm_cancelled: dict[ToolLanguage, ToolText] = Field(
        default_factory=dict,
        description="`tool` that needs confirmation: the answer when the visitor cancels, by "
        "language; unset: a built-in sentence.",
    )
    follow_up: list[Annotated[str, StringConstraints(min_length=2, max_length=40)]] = Field(
        default_factory=list,
        description="`tool`: words that keep this flow for the next message after it called "
        'its tool, when the router chooses no flow for it (`arrive` keeps `orders` for "and '
        'when will it arrive?"); the arguments it leaves out come from the earlier turn.',
    )
    tool_optional: bool = Field(
        False,
        description="`tool`: the flow works without its tool's answer (live figures beside a "
        "table, say): a required argument that is missing asks nothing and makes no call, and a "
        "failed call leaves `tool.status: error` to the template instead of `tool_failed`.",
    )
    tools: list[ToolName] = Field(
        default_factory=list,
        description="`main` only: the bot's tools its LLM may call by function calling "
        "(an OpenAI-compatible server; not the embedded model), e.g. `[order_status, stock]`.",
    )
    function_calling: FunctionCalling | None = Field(
        None,
        description="`tools`: the loop's limits (steps, calls, the time per call and for all "
        "calls); unset: their defaults.",
    )

    @property
    def tool_loop(self) -> FunctionCalling:
        """The function-calling limits, defaults filled in."""
        return self.function_calling or FunctionCalling()


class LimitsConfig(_Strict):
    """Rate limits for this bot's keys, end users and client IPs (unset: the server defaults)."""

    per_key: RateLimitText | None = Field(
        None, description="Requests per key, e.g. `600/minute` (default CHINWAG_RATE_LIMIT_KEY)."
    )
    per_user: RateLimitText | None = Field(
        None, description="Messages per end user (default CHINWAG_RATE_LIMIT_USER)."
    )
    per_ip: RateLimitText | None = Field(
        None, description="Requests per client IP (default CHINWAG_RATE_LIMIT_IP)."
    )
    open_streams_per_user: int | None = Field(
        None,
        ge=1,
        le=100,
        description="Answers being written at once per end user (default "
        "CHINWAG_OPEN_STREAMS_PER_USER).",
    )
    tool_calls_per_message: int | None = Field(
        None,
        ge=1,
        le=50,
        description="Tool calls one answer may make; a call beyond fails with "
        "`tool_limit_reached` (default 5).",
    )
    tool_calls_concurrent: int | None = Field(
        None,
        ge=1,
        le=100,
        description="Tool calls of this bot in progress at once in one server process; more "
        "wait for a slot, within the flow's timeout (default 10).",
    )
    tool_calls_per_user: RateLimitText | None = Field(
        None,
        description="Tool calls per end user, e.g. `30/minute` (the default): a call beyond "
        "fails with `tool_rate_limited`, and a confirmation sent then is refused with 429.",
    )


class RetentionConfig(_Strict):
    """How long this bot's conversations are kept (unset: until deleted through the API)."""

    message_days: int | None = Field(
        None, ge=1, le=36500, description="Delete messages older than this many days."
    )


WIDGET_STRINGS = (
    "launcher",
    "close",
    "new_chat",
    "send",
    "sources",
    "helpful",
    "not_helpful",
    "comment",
    "thanks",
    "reconnecting",
    "offline",
    "rate_limited",
    "unavailable",
    "unavailable_here",
    "failed",
    "stopped",
    "person",
    "joined",
    "typing",
    "back_to_bot",
    "confirm",
    "cancel",
)
HEX_COLOUR_PATTERN = r"^#[0-9a-fA-F]{6}$"
WidgetLanguage = Literal["en", "nb"]
WidgetPersistence = Literal["local", "session", "none"]


class WidgetConfig(_Strict):
    """What the website chat widget shows; it fetches this at start (no re-paste on change)."""

    title: str | None = Field(None, max_length=80, description="Panel title; unset: the name.")
    greeting: str | None = Field(
        None, max_length=500, description="First bubble of a new chat, from the bot."
    )
    starters: list[Annotated[str, StringConstraints(min_length=1, max_length=120)]] = Field(
        default_factory=list, max_length=6, description="Starter questions shown as buttons."
    )
    accent: str = Field(
        "#7b2340", pattern=HEX_COLOUR_PATTERN, description="Accent colour, `#rrggbb`."
    )
    avatar: str | None = Field(
        None, pattern=URL_PATTERN, description="URL of the bot's avatar image (square)."
    )
    placeholder: str | None = Field(
        None, max_length=120, description="Hint in the empty message box."
    )
    privacy_note: str | None = Field(
        None, max_length=500, description="Small print under the message box."
    )
    language: WidgetLanguage = Field(
        "en", description="`en` or `nb` (Norwegian); a page's `data-lang` wins."
    )
    persistence: WidgetPersistence = Field(
        "local",
        description="Where the chat is remembered: `local` (across visits), `session` (this "
        "tab) or `none`.",
    )
    position: Literal["right", "left"] = Field(
        "right", description="Corner of the launcher; a page's `data-position` wins."
    )
    strings: dict[str, Annotated[str, StringConstraints(min_length=1, max_length=200)]] = Field(
        default_factory=dict,
        description="Overrides of the built-in texts, by name: " + ", ".join(WIDGET_STRINGS) + ".",
    )

    @field_validator("strings")
    @classmethod
    def _known_strings(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(WIDGET_STRINGS))
        if unknown:
            raise ValueError(
                f"unknown widget string {', '.join(unknown)}; known: {', '.join(WIDGET_STRINGS)}"
            )
        return value


class BotConfig(_Strict):
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
