"""A tool's arguments: found in the message or taken from the end user, checked against the
tool's JSON Schema before any call, and redacted where the schema marks a field secret."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import orjson

from chinwag.config.tools import Tool, ToolArgument
from chinwag.tools.errors import ToolArgumentsInvalid

if TYPE_CHECKING:
    import jsonschema_rs

REDACTED = "[redacted]"
ANONYMOUS_PREFIX = "anon-"  # end users a publishable key's token made up (auth routes)


@dataclass(frozen=True, slots=True)
class Found:
    """The arguments a flow found for its tool, and the required ones it could not find."""

    values: dict[str, Any]
    missing: list[str] = field(default_factory=list)
    missing_user: bool = False  # the end user is anonymous: only signing in fills it


def find_arguments(
    tool: Tool,
    sources: dict[str, ToolArgument],
    *,
    message: str,
    user_id: str | None,
    remembered: Mapping[str, Any] | None = None,
) -> Found:
    """Each argument from its source; one from the message that it lacks comes from
    `remembered` (an earlier turn's value); a required one that none fills is `missing`."""
    values: dict[str, Any] = {}
    missing_user = False
    properties = _properties(tool)
    for name, source in sources.items():
        if source.source == "user":
            if user_id and not user_id.startswith(ANONYMOUS_PREFIX):
                values[name] = user_id
            else:
                missing_user = True
            continue
        if source.pattern is None:
            continue
        match = _compiled(source.pattern).search(message)
        if match is None:
            if remembered is not None and name in remembered:
                values[name] = remembered[name]
            continue
        text = match.group(1) if match.groups() and match.group(1) is not None else match.group(0)
        values[name] = _typed(text, properties.get(name, {}))
    required = tool.argument_schema.get("required", [])
    missing = [n for n in required if isinstance(n, str) and n not in values]
    return Found(values, missing, missing_user and bool(missing))


def _typed(text: str, schema: Any) -> Any:
    """The text as the schema's type (a number for `integer` / `number`), else as it is."""
    kind = schema.get("type") if isinstance(schema, dict) else None
    try:
        if kind == "integer":
            return int(text)
        if kind == "number":
            return float(text.replace(",", "."))
    except ValueError:
        return text  # the schema check says what is wrong with it
    return text


def check_arguments(tool_name: str, tool: Tool, values: dict[str, Any]) -> None:
    """ToolArgumentsInvalid listing every problem (secret values never shown)."""
    errors = list(validator_for(_schema_key(tool)).iter_errors(values))
    if errors:
        secret = {str(values[k]) for k in secret_fields(tool) if k in values}
        said = "; ".join(_described(e, secret) for e in errors[:5])
        raise ToolArgumentsInvalid(f"tool '{tool_name}': arguments do not match its schema: {said}")


def _described(error: Any, secret: set[str]) -> str:
    """One schema error, any secret value in it (wherever the error quotes it) redacted."""
    path = "/".join(str(p) for p in error.instance_path) or "(arguments)"
    message = str(error.message)
    for value in secret:
        message = message.replace(value, REDACTED)
    return f"{path}: {message}"


def redacted(tool: Tool, values: dict[str, Any]) -> dict[str, Any]:
    """The arguments as events and records show them: secret fields replaced."""
    secret = secret_fields(tool)
    return {k: (REDACTED if k in secret else v) for k, v in values.items()}


def secret_fields(tool: Tool) -> set[str]:
    """Properties marked `x-secret: true` or `writeOnly: true` in the tool's schema."""
    return {
        name
        for name, schema in _properties(tool).items()
        if isinstance(schema, dict) and (schema.get("x-secret") or schema.get("writeOnly"))
    }


def _properties(tool: Tool) -> dict[str, Any]:
    properties = tool.argument_schema.get("properties", {})
    return properties if isinstance(properties, dict) else {}


def schema_problem(schema: Any) -> str | None:
    """Why `schema` is not a valid JSON Schema for arguments, or None."""
    import jsonschema_rs

    if not isinstance(schema, dict) or schema.get("type", "object") != "object":
        return "the arguments schema must be an object schema (`type: object`)"
    try:
        jsonschema_rs.meta.validate(schema)
    except jsonschema_rs.ValidationError as exc:
        return exc.message
    except Exception as exc:  # e.g. a $schema draft it does not know
        return str(exc)
    return None


def _schema_key(tool: Tool) -> str:
    return orjson.dumps(tool.argument_schema, option=orjson.OPT_SORT_KEYS).decode()


@lru_cache(maxsize=256)
def validator_for(schema_json: str) -> jsonschema_rs.Validator:
    """One compiled validator per distinct schema (tools are checked on every call)."""
    import jsonschema_rs  # on first use: bots without tools never load it

    return jsonschema_rs.validator_for(orjson.loads(schema_json))


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)
