"""Check a template without rendering it: syntax (with line), variables, flows and data tables."""

from __future__ import annotations

from typing import TYPE_CHECKING

import jinja2
from jinja2 import meta, nodes

from chinwag.engine.templates import TEMPLATE_VARIABLES, environment

if TYPE_CHECKING:
    from chinwag.bots.validation import Problem


def check_template(source: str, *, where: str, flows: set[str], tables: set[str]) -> list[Problem]:
    """Problems of one template; `flows` are the other flows it may read, `tables` its data."""
    from chinwag.bots.validation import Problem

    try:
        tree = environment().parse(source)
    except jinja2.TemplateSyntaxError as exc:
        return [
            Problem(
                where,
                "template_syntax_error",
                f"{where}: syntax error on line {exc.lineno}: {exc.message}",
                "Fix the Jinja2 syntax: {{ variable }}, {% if … %}…{% endif %}.",
            )
        ]
    problems = [
        Problem(
            where,
            "template_unknown_variable",
            f"{where}: unknown variable '{name}'",
            f"Templates may use only: {', '.join(TEMPLATE_VARIABLES)}.",
        )
        for name in sorted(meta.find_undeclared_variables(tree) - set(TEMPLATE_VARIABLES))
    ]
    for name in sorted(_attributes_of(tree, "flows") - flows):
        problems.append(
            Problem(
                where,
                "template_unknown_flow",
                f"{where}: reads flows.{name}, but no other flow is called '{name}'",
                f"Flows it can read: {', '.join(sorted(flows)) or 'none'}.",
            )
        )
    for name in sorted(_attributes_of(tree, "data") - tables):
        problems.append(
            Problem(
                where,
                "template_unknown_data",
                f"{where}: reads data.{name}, but the flow has no data table '{name}'",
                "Add it under the flow's `data:` (a CSV file or text), or fix the name.",
            )
        )
    return problems


def _attributes_of(tree: nodes.Template, variable: str) -> set[str]:
    """Names read as `variable.name` or `variable['name']` in the template."""
    found: set[str] = set()
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        target = getattr(node, "node", None)
        if not (isinstance(target, nodes.Name) and target.name == variable):
            continue
        if isinstance(node, nodes.Getattr):
            found.add(node.attr)
        elif isinstance(node, nodes.Getitem):
            key = node.arg
            if isinstance(key, nodes.Const) and isinstance(key.value, str):
                found.add(key.value)
    return found
