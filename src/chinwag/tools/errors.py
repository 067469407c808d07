"""Why a tool call did not give a result: one class per stable code, each with a hint.

A flow that calls a tool never raises these to the answer: they become `tool.completed`
{status: error, code} and the flow's stated failure text (engine/tool_flow.py).
"""

from __future__ import annotations

from typing import ClassVar

from chinwag.errors import ChinwagError


class ToolError(ChinwagError):
    code = "tool_failed"
    status = 502
    # Whether another attempt may succeed (only ever made for idempotent methods).
    transient: ClassVar[bool] = False


class ToolLimitReached(ToolError):
    code = "tool_limit_reached"
    status = 429
    default_hint = (
        "The answer made as many tool calls as the bot's limits.tool_calls_per_message allow; "
        "no further call was made. Raise the limit, or have fewer flows call tools at once."
    )


class ToolArgumentsInvalid(ToolError):
    code = "tool_arguments_invalid"
    status = 422
    default_hint = "The values found do not match the tool's `arguments` schema; no call was made."


class ToolSecretNotSet(ToolError):
    code = "tool_secret_not_set"
    default_hint = "Set the environment variable on the server, then activate the bot again."


class ToolHostNotAllowed(ToolError):
    code = "tool_host_not_allowed"
    status = 403
    default_hint = "Add the host to the bot's `allowed_hosts`, or fix the tool's URL."


class ToolAddressRefused(ToolError):
    code = "tool_address_refused"
    status = 403
    default_hint = (
        "The host resolves to a private, loopback, link-local or metadata address; set "
        "`allow_private: true` on the tool only if it really lives on your own network."
    )


class ToolUnreachable(ToolError):
    code = "tool_unreachable"
    transient = True
    default_hint = "Check that the tool's host resolves and accepts connections from this server."


class ToolTimeout(ToolError):
    code = "tool_timeout"
    status = 504
    transient = True
    default_hint = "The tool answered too slowly; raise its `timeout_seconds` or fix the remote."


class ToolHttpError(ToolError):
    code = "tool_http_error"
    default_hint = "The remote answered with an error status; its own logs say why."


class ToolServerError(ToolHttpError):
    code = "tool_server_error"
    transient = True


class ToolRedirectRefused(ToolError):
    code = "tool_redirect_refused"
    default_hint = "Redirects are not followed: put the final URL in the tool's `url`."


class ToolResponseTooLarge(ToolError):
    code = "tool_response_too_large"
    default_hint = "Raise the tool's `max_response_bytes`, or ask the remote for less."


class ToolBadJson(ToolError):
    code = "tool_bad_json"
    default_hint = "The remote must answer with JSON (application/json)."


class ToolResponseMismatch(ToolError):
    code = "tool_response_mismatch"
    default_hint = "A path of the tool's `response` mapping is not in the response; fix the path."


class ToolCancelled(ToolError):
    code = "tool_cancelled"
    status = 504
    default_hint = (
        "The flow's own `timeout_seconds` ran out during the call: keep the tool's "
        "timeout_seconds x (1 + retries) below it."
    )


class ToolMcpError(ToolError):
    code = "tool_mcp_error"
    default_hint = "The MCP server's tool reported an error; the server's own logs say why."


class ToolMcpNotInstalled(ToolError):
    code = "mcp_not_installed"
    status = 501
    default_hint = (
        "MCP servers need the official MCP SDK, an optional part of chinwag: "
        "pip install 'chinwag[mcp]' on the server, then restart it."
    )


class ToolMcpToolMissing(ToolError):
    code = "mcp_tool_missing"
    status = 404
    default_hint = (
        "The MCP server does not have this tool: fix the tool's `name` (or key), or the "
        "server; `chinwag validate` lists what the server has."
    )


class ToolMcpCommandNotAllowed(ToolError):
    code = "mcp_command_not_allowed"
    status = 403
    default_hint = (
        "A stdio MCP server runs a program on this server: list the program (as the bot "
        "names it, e.g. `python` or `/opt/tools/shop-mcp`) in CHINWAG_MCP_COMMANDS."
    )


# --- function calling: `main`'s model asked for a call that is not made -----------------------


class ToolNotOffered(ToolError):
    code = "tool_not_offered"
    status = 422
    default_hint = "Only the tools listed in flows.main.tools can be called; no call was made."


class ToolNeedsConfirmation(ToolError):
    code = "tool_needs_confirmation"
    status = 403
    default_hint = (
        "The visitor confirms one action at a time: another call of the same turn that "
        "changes something waits for its confirmation. Ask for this one again once that one "
        "is answered (docs/tools.md#confirmations)."
    )


class ToolCallsExhausted(ToolError):
    code = "tool_calls_exhausted"
    status = 429
    default_hint = (
        "The answer made function_calling.max_calls calls already; answer with what you have."
    )


class ToolBudgetExhausted(ToolError):
    code = "tool_budget_exhausted"
    status = 504
    default_hint = (
        "The calls of this answer used up function_calling.budget_seconds; answer with what "
        "you have. Raise the budget if the tools are slow by nature."
    )


class ToolStepsExhausted(ToolError):
    code = "tool_steps_exhausted"
    status = 502
    default_hint = (
        "The model still asked for calls after function_calling.max_steps turns (and once "
        "more when told to answer); no call was made. Raise max_steps, or check the model."
    )
