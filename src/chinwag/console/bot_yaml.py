"""Bot configurations as YAML for the console's editor: dump, check with problems at their
lines, and a diff between two versions."""

from __future__ import annotations

import contextlib
import difflib
import re
from typing import Any

import yaml

from chinwag.bots.activation import check_document, problem_dicts
from chinwag.bots.files import parse_yaml
from chinwag.bots.validation import Report
from chinwag.config.bot import BotConfig

LINE_IN_MESSAGE = re.compile(r"line (\d+)")


class _BlockDumper(yaml.SafeDumper):
    """Multi-line strings (templates, prompts) as `|` blocks, so they read as written."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _str)


def to_yaml(config: dict[str, Any]) -> str:
    """A configuration (its JSON form) as YAML, keys in their saved order."""
    return yaml.dump(config, Dumper=_BlockDumper, sort_keys=False, allow_unicode=True, width=100)


def compact_yaml(config: BotConfig) -> str:
    """A configuration as YAML with only what differs from the defaults (what an owner would
    have written): for versions saved as JSON, which have no text of their own."""
    return to_yaml(config.model_dump(mode="json", exclude_none=True, exclude_defaults=True))


def version_text(config: BotConfig, source: str | None) -> str:
    """What the editor shows for a version: the owner's YAML as saved, else the compact form."""
    return source if source is not None else compact_yaml(config)


def diff_texts(
    before: tuple[BotConfig, str | None], after: tuple[BotConfig, str | None]
) -> tuple[str, str]:
    """The two texts to diff: both owners' texts when both versions have one (a one-word edit
    is a one-line diff); else both compact forms (a version saved as JSON has no layout of its
    own, and mixing the two forms would show layout rather than change)."""
    if before[1] is not None and after[1] is not None:
        return before[1], after[1]
    return compact_yaml(before[0]), compact_yaml(after[0])


def _lines(node: yaml.Node | None, path: str, found: dict[str, int]) -> None:
    """The 1-based line of every key path (`flows.main.template`) in a composed document."""
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            where = f"{path}.{key_node.value}" if path else str(key_node.value)
            found.setdefault(where, key_node.start_mark.line + 1)
            _lines(value_node, where, found)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            where = f"{path}.{i}"
            found.setdefault(where, item.start_mark.line + 1)
            _lines(item, where, found)


def line_of(path: str, lines: dict[str, int]) -> int | None:
    """The line of `path`, or of its nearest ancestor that is written in the document."""
    parts = path.split(".") if path else []
    while parts:
        line = lines.get(".".join(parts))
        if line is not None:
            return line
        parts.pop()
    return None


def check_yaml(text: str) -> tuple[Report | None, list[dict[str, Any]]]:
    """Parse and validate YAML text: the report (None if it is not YAML) and every problem
    with the line it is at (null when it concerns the whole document)."""
    document, parse_problems = parse_yaml(text, source="the editor")
    if document is None:
        found = [dict(p, line=_message_line(p["message"])) for p in problem_dicts(parse_problems)]
        return None, found
    report = check_document(document)
    lines: dict[str, int] = {}
    with contextlib.suppress(yaml.YAMLError):  # parse_yaml accepted it: cannot fail here
        _lines(yaml.compose(text, Loader=yaml.SafeLoader), "", lines)
    problems = problem_dicts(parse_problems + report.problems)
    return report, [
        dict(p, line=_message_line(p["message"]) or line_of(p.get("path", ""), lines))
        for p in problems
    ]


def _message_line(message: str) -> int | None:
    match = LINE_IN_MESSAGE.search(message)
    return int(match.group(1)) if match else None


def diff(old: str, new: str, *, old_name: str, new_name: str) -> str:
    """A unified diff of two YAML texts."""
    return "".join(
        difflib.unified_diff(
            old.splitlines(keepends=True),
            new.splitlines(keepends=True),
            fromfile=old_name,
            tofile=new_name,
        )
    )
