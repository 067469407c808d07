"""Validate a bot configuration and report every problem at once: path, severity, code, hint.

Structure comes from the pydantic models (unknown keys get a "did you mean"); the checks that
span fields (templates, routes, data tables, environment) run on the raw document so that one
broken section never hides the problems of another.
"""

from __future__ import annotations

import csv
import difflib
import io
import types
import typing
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from chinwag.bots.handoff_check import handoff_problems
from chinwag.bots.lookup_check import lookup_problems
from chinwag.bots.material_check import (
    check_problems,
    grounded_problems,
    prompt_problems,
    top_k_of,
)
from chinwag.bots.routing_check import routing_problems
from chinwag.bots.template_check import check_template
from chinwag.bots.tool_check import tool_problems
from chinwag.config.bot import BotConfig

Severity = Literal["error", "warning"]
KEY_ENV_FIELDS = ("llm", "embedding", "knowledge", "router.llm")


@dataclass(frozen=True, slots=True)
class Problem:
    path: str  # e.g. flows.statistics.template; "" for the whole document
    code: str
    message: str
    hint: str
    severity: Severity = "error"

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Report:
    """The outcome of validating one document: the config (when it has no errors) and problems."""

    config: BotConfig | None
    problems: list[Problem]

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors


def validate_document(
    document: Any,
    *,
    env: Mapping[str, str] | None = None,
    earlier: list[Problem] | None = None,
    activating: bool = True,
) -> Report:
    """Every problem of a bot document. With `env`, referenced env vars must be set in it (a
    tool's secret that is not set is only a warning when not `activating`)."""
    problems = list(earlier or [])
    if not isinstance(document, dict):
        if document is not None or not problems:
            problems.append(
                Problem(
                    "", "not_a_mapping", "a bot is a mapping of keys (id, name, flows, …)", _SEE
                )
            )
        return Report(None, problems)
    config: BotConfig | None = None
    found: list[Problem] = []
    try:
        config = BotConfig.model_validate(document)
    except ValidationError as exc:
        found += [_structural_problem(error) for error in exc.errors()]
    found += _flow_problems(document)
    found += grounded_problems(document)
    found += check_problems(document)
    found += handoff_problems(document)
    found += tool_problems(document, env=env, activating=activating)
    if env is not None:
        found += _env_problems(document, env)
    # A place that already has a problem (an unreadable file, say) is not reported twice.
    reported = {p.path for p in problems}
    problems = _unique(problems + [p for p in found if p.path not in reported])
    if any(p.severity == "error" for p in problems):
        config = None
    return Report(config, problems)


_SEE = "See docs/configuration.md for every field, or run `chinwag schema`."


def _unique(problems: list[Problem]) -> list[Problem]:
    seen: set[tuple[str, str]] = set()
    kept = []
    for p in problems:
        if (p.path, p.code) not in seen:
            seen.add((p.path, p.code))
            kept.append(p)
    return kept


# --- structure (pydantic) ---------------------------------------------------------------------

LITERAL_CODES = {
    "provider": "unknown_provider",
    "strategy": "unknown_router_strategy",
    "store": "unknown_vector_store",
    "mode": "unknown_search_mode",
}


def _structural_problem(error: Any) -> Problem:
    loc = [str(part) for part in error["loc"]]
    path = ".".join(p for p in loc if p != "[key]")
    kind = error["type"]
    if kind == "extra_forbidden":
        known = _fields_at(loc[:-1])
        guess = difflib.get_close_matches(loc[-1], known, n=1, cutoff=0.6)
        hint = f"Did you mean '{guess[0]}'? " if guess else ""
        return Problem(
            path,
            "unknown_key",
            f"{path}: unknown key '{loc[-1]}'",
            hint + (f"Known keys here: {', '.join(known)}." if known else _SEE),
        )
    if kind == "missing":
        return Problem(path, "missing_key", f"{path}: required", _SEE)
    if loc and loc[-1] == "[key]":
        return Problem(
            path,
            "invalid_flow_name",
            f"{path}: flow name '{loc[-2]}' is not valid",
            "Flow names are lowercase letters, digits and _, starting with a letter.",
        )
    if kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        return Problem(
            path,
            LITERAL_CODES.get(loc[-1], "invalid_value"),
            f"{path}: unknown value {error.get('input')!r}",
            f"Use one of: {expected}.",
        )
    return Problem(path, "invalid_value", f"{path}: {error['msg']}", _SEE)


def _fields_at(loc: list[str]) -> list[str]:
    """The field names of the model found at `loc` (dict keys are stepped over)."""
    model = model_at(loc)
    return sorted(model.model_fields) if model else []


def model_at(loc: list[str]) -> type[BaseModel] | None:
    """The configuration model that validates the mapping at `loc`, if one does."""
    current: Any = BotConfig
    parts = list(loc)
    while parts:
        model = _model_of(current)
        if model is None:
            return None
        field = model.model_fields.get(parts.pop(0))
        if field is None:
            return None
        current = field.annotation
        args = typing.get_args(_strip_optional(current))
        if typing.get_origin(_strip_optional(current)) is dict and parts:
            parts.pop(0)  # the key (a flow name)
            current = args[1]
    return _model_of(current)


def _strip_optional(annotation: Any) -> Any:
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        kept = [a for a in typing.get_args(annotation) if a is not type(None)]
        return kept[0] if len(kept) == 1 else annotation
    return annotation


def _model_of(annotation: Any) -> type[BaseModel] | None:
    annotation = _strip_optional(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


# --- flows, templates, routes -----------------------------------------------------------------


def _flow_problems(document: dict[str, Any]) -> list[Problem]:
    flows = document.get("flows")
    if not isinstance(flows, dict):
        return []
    problems: list[Problem] = []
    if "main" not in flows:
        problems.append(
            Problem(
                "flows.main",
                "missing_main_flow",
                "flows.main is required: it writes the answer",
                "Add a `main` flow with at least a `template`, e.g. template: '{{ message }}'.",
            )
        )
    router = document.get("router") if isinstance(document.get("router"), dict) else {}
    strategy = router.get("strategy", "all") if isinstance(router, dict) else "all"
    names = {str(n) for n in flows}
    top_k = top_k_of(document)
    for name, flow in flows.items():
        if isinstance(flow, dict):
            problems += _one_flow(str(name), flow, names, strategy)
            problems += prompt_problems(f"flows.{name}", flow, top_k)
            if flow.get("retrieval") is True and not document.get("knowledge"):
                problems.append(
                    Problem(
                        f"flows.{name}.retrieval",
                        "retrieval_without_knowledge",
                        f"flows.{name} asks for retrieval, but the bot has no knowledge section",
                        "Add `knowledge: {index: …}` to the bot, or remove `retrieval`.",
                    )
                )
    if strategy == "semantic":
        problems += routing_problems(flows)
    return problems


def _one_flow(name: str, flow: dict[str, Any], names: set[str], strategy: str) -> list[Problem]:
    where = f"flows.{name}"
    problems: list[Problem] = []
    if not flow.get("template"):
        if name == "main":
            problems.append(
                Problem(
                    f"{where}.template",
                    "missing_template",
                    "flows.main has no template: it writes the answer",
                    "Add `template: '{{ message }}'` (or a {file: …} reference).",
                )
            )
        else:
            problems.append(
                Problem(
                    f"{where}.template",
                    "flow_without_template",
                    f"{where} has no template: it is skipped and never runs",
                    "Add a template to use the flow, or remove the flow.",
                    severity="warning",
                )
            )
            return problems
    data = flow.get("data") if isinstance(flow.get("data"), dict) else {}
    assert isinstance(data, dict)
    for table, text in data.items():
        if isinstance(text, str):
            problems += _csv_problems(f"{where}.data.{table}", text)
    for field in ("system", "template"):
        source = flow.get(field)
        if isinstance(source, str):
            problems += check_template(
                source,
                where=f"{where}.{field}",
                flows=names - {name, "main"},
                tables=set(map(str, data)),
            )
    problems += lookup_problems(where, flow)
    if name != "main":
        problems += _route_problems(where, flow, strategy)
    elif flow.get("verbatim_answer"):
        problems.append(
            Problem(
                f"{where}.verbatim_answer",
                "verbatim_answer_on_main",
                "flows.main.verbatim_answer: main writes the answer itself; the setting is for "
                "optional flows whose output main gives word for word",
                "Remove it from main and set `verbatim_answer: true` on the optional flow "
                "whose output should be the answer.",
            )
        )
    return problems


def _route_problems(where: str, flow: dict[str, Any], strategy: str) -> list[Problem]:
    if strategy == "semantic" and not flow.get("examples"):
        return [
            Problem(
                f"{where}.examples",
                "router_examples_missing",
                f"{where}: the semantic router needs example messages for this flow",
                "Add `examples:` with a few messages this flow should answer.",
            )
        ]
    if strategy == "keywords" and not flow.get("keywords"):
        return [
            Problem(
                f"{where}.keywords",
                "flow_unreachable",
                f"{where}: no keywords, so the keywords router can never select it",
                "Add `keywords:`, or change router.strategy.",
                severity="warning",
            )
        ]
    return []


def _csv_problems(where: str, text: str) -> list[Problem]:
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:  # e.g. a lone carriage return inside an unquoted field
        return [Problem(where, "data_invalid", f"{where}: not a readable CSV: {exc}", _SEE)]
    if len(rows) < 2:
        return [Problem(where, "data_invalid", f"{where}: a CSV needs a header and rows", _SEE)]
    width = len(rows[0])
    ragged = [i + 1 for i, row in enumerate(rows) if row and len(row) != width]
    if ragged:
        return [
            Problem(
                where,
                "data_invalid",
                f"{where}: line {ragged[0]} has a different number of columns than the header",
                "Every CSV row needs as many values as the header has columns.",
            )
        ]
    return []


# --- environment --------------------------------------------------------------------------------


def _env_problems(document: dict[str, Any], env: Mapping[str, str]) -> list[Problem]:
    places: list[tuple[str, Any]] = []
    for path in KEY_ENV_FIELDS:
        node: Any = document
        for part in path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        places.append((path, node))
    flows = document.get("flows")
    if isinstance(flows, dict):
        places += [
            (f"flows.{n}.llm", f.get("llm")) for n, f in flows.items() if isinstance(f, dict)
        ]
    problems = []
    for path, section in places:
        name = section.get("api_key_env") if isinstance(section, dict) else None
        if isinstance(name, str) and not env.get(name):
            problems.append(
                Problem(
                    f"{path}.api_key_env",
                    "env_var_not_set",
                    f"{path}.api_key_env names {name}, which is not set on this server",
                    f"Set {name} in the server's environment, then activate the bot again.",
                )
            )
    return problems
