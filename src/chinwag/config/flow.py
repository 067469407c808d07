"""A bot's flows: each a prompt, an LLM call, and optionally a table lookup or a tool call."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from chinwag.config.llm import LLMConfig
from chinwag.config.strict import (
    Strict,
)
from chinwag.config.tools import (
    FunctionCalling,
    ToolArgument,
    ToolLanguage,
    ToolName,
    ToolText,
)


class TableLookup(Strict):
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


class FlowConfig(Strict):
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
        "a built-in question naming the tool. On `main`: for its function calls of such tools "
        "that no routed flow words.",
    )
    confirm_cancelled: dict[ToolLanguage, ToolText] = Field(
        default_factory=dict,
        description="`tool` that needs confirmation: the answer when the visitor cancels, by "
        "language; unset: a built-in sentence. On `main`: as `confirm_question`.",
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
