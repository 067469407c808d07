"""Prompt templates: Jinja2 in a sandbox, with undefined variables as errors."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from chinwag.errors import TemplateError

TEMPLATE_VARIABLES = (
    "message",
    "norwegian",
    "history",
    "sources",
    "flows",
    "user",
    "bot",
    "now",
    "data",
    "tool",
)


@lru_cache(maxsize=1)
def environment() -> ImmutableSandboxedEnvironment:
    return ImmutableSandboxedEnvironment(
        undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=False
    )


@lru_cache(maxsize=512)
def compile_template(source: str) -> jinja2.Template:
    """Compile once per distinct source; raises TemplateError with the line on syntax errors."""
    try:
        return environment().from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"template syntax error on line {exc.lineno}: {exc.message}") from exc


def render(source: str, variables: dict[str, Any], *, where: str) -> str:
    """Render a template; any undefined variable or sandbox violation is a TemplateError."""
    try:
        return compile_template(source).render(variables).strip()
    except TemplateError:
        raise
    except (jinja2.UndefinedError, jinja2.exceptions.SecurityError) as exc:
        raise TemplateError(
            f"{where}: {exc}",
            hint=f"Templates may use only: {', '.join(TEMPLATE_VARIABLES)}.",
        ) from exc
