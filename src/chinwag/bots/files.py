"""Bot YAML files: parse them (duplicate keys are problems, not silently merged) and inline
the text of `{file: path}` references, resolved relative to the YAML file."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from chinwag.bots.validation import Problem

FILE_FIELDS = ("system", "template")  # per flow; `data.<name>` values may be files too
# libyaml's loader when PyYAML was built with it (its wheels are): ~10x the pure-Python one.
SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_yaml(text: str, *, source: str = "<text>") -> tuple[Any, list[Problem]]:
    """The document, and a problem for each duplicate key or the syntax error."""
    try:
        root = yaml.compose(text, Loader=SAFE_LOADER)
        document = yaml.load(text, Loader=SAFE_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" on line {mark.line + 1}" if mark is not None else ""
        return None, [
            Problem(
                path="",
                code="yaml_syntax_error",
                message=f"{source}: not valid YAML{line}: {getattr(exc, 'problem', exc)}",
                hint="Fix the YAML syntax; a linter such as yamllint shows where.",
            )
        ]
    return document, [
        Problem(
            path=path,
            code="duplicate_flow"
            if path.startswith("flows.") and path.count(".") == 1
            else "duplicate_key",
            message=f"{source}: '{path}' appears twice (line {line}); the last one would win",
            hint="Each key, and each flow name, may appear once: rename or merge them.",
        )
        for path, line in _duplicates(root, "")
    ]


def _duplicates(node: yaml.Node | None, path: str) -> list[tuple[str, int]]:
    """(path, line) of every key that appears twice in one mapping, at any depth."""
    found: list[tuple[str, int]] = []
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            where = f"{path}.{key}" if path else key
            if key in seen:
                found.append((where, key_node.start_mark.line + 1))
            seen.add(key)
            found += _duplicates(value_node, where)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            found += _duplicates(item, f"{path}.{i}")
    return found


def load_bot_file(path: Path) -> tuple[Any, list[Problem]]:
    """Read a bot YAML file and inline its `{file: …}` references."""
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        return None, [
            Problem(
                path="",
                code="file_not_readable",
                message=f"cannot read {path}: {exc.strerror or exc}",
                hint="Check the path.",
            )
        ]
    document, problems = parse_yaml(text, source=str(path))
    if isinstance(document, dict):
        problems += inline_files(document, base_dir=path.parent)
    return document, problems


def inline_files(document: dict[str, Any], *, base_dir: Path | None) -> list[Problem]:
    """Replace each `{file: path}` in flows (system, template, data) with the file's text.

    Without `base_dir` (a configuration sent through the API) file references are problems:
    the server does not read files on a client's behalf.
    """
    problems: list[Problem] = []
    flows = document.get("flows")
    if not isinstance(flows, dict):
        return problems
    for flow_name, flow in flows.items():
        if not isinstance(flow, dict):
            continue
        places: list[tuple[dict[str, Any], str, str]] = [
            (flow, field, f"flows.{flow_name}.{field}") for field in FILE_FIELDS
        ]
        data = flow.get("data")
        if isinstance(data, dict):
            places += [(data, name, f"flows.{flow_name}.data.{name}") for name in data]
        for holder, key, where in places:
            value = holder.get(key)
            if not (isinstance(value, dict) and set(value) == {"file"}):
                continue
            text, problem = _read_reference(str(value["file"]), base_dir, where)
            if problem is not None:
                problems.append(problem)
            else:
                holder[key] = text
    return problems


def _read_reference(name: str, base_dir: Path | None, where: str) -> tuple[str, Problem | None]:
    if base_dir is None:
        return "", Problem(
            path=where,
            code="file_reference_not_allowed",
            message=f"{where}: a file reference ('{name}') can only be used in a YAML file",
            hint="Send the text itself, or import the YAML with `chinwag bots import FILE`.",
        )
    file = (base_dir / name).resolve()
    try:
        return file.read_text("utf-8"), None
    except OSError as exc:
        return "", Problem(
            path=where,
            code="file_not_found",
            message=f"{where}: cannot read '{name}' ({file}): {exc.strerror or exc}",
            hint="File paths are relative to the YAML file's directory.",
        )


FILE_LINE = re.compile(
    r"^(?P<indent> *)(?P<key>[\w.-]+):\s*\{\s*file:\s*(?P<name>[^}]+?)\s*\}\s*(?P<comment>#.*)?$"
)


def yaml_source(path: Path) -> str | None:
    """The bot file's text with each `{file: …}` line replaced by the file's text as a `|`
    block: the owner's comments and layout kept, nothing left to read from disk (the console
    edits it). None when the file cannot be read or the result would not be the same bot."""
    try:
        text = path.read_text("utf-8")
    except OSError:
        return None
    lines = []
    for line in text.splitlines():
        found = FILE_LINE.match(line)
        if found is None:
            lines.append(line)
            continue
        try:
            content = (path.parent / found["name"].strip("'\"")).read_text("utf-8")
        except OSError:
            return None
        lines.append(_block(found["indent"], found["key"], content, found["comment"]))
    source = "\n".join(lines) + ("\n" if text.endswith("\n") else "")
    expected, _ = load_bot_file(path)
    written, problems = parse_yaml(source)
    return source if not problems and written == expected else None


def _block(indent: str, key: str, content: str, comment: str | None) -> str:
    """`key: |` and the content indented under it, chomping so the value is exactly `content`."""
    body = content.rstrip("\n")
    trailing = len(content) - len(body)
    chomp = "-" if trailing == 0 else "" if trailing == 1 else "+"
    inner = indent + "  "
    indicator = "2" if body[:1] in (" ", "\t") else ""
    head = f"{indent}{key}: |{indicator}{chomp}" + (f"  {comment}" if comment else "")
    rows = [inner + row if row.strip() else "" for row in body.split("\n")]
    rows += [""] * (trailing - 1) if trailing > 1 else []
    return "\n".join([head, *rows])
