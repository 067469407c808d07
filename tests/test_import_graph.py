"""The shape of the code: the bot configuration model at the bottom, and no import cycles
between the top-level packages and root modules of `chinwag`.

Every import counts, lazy ones inside functions too; only `if TYPE_CHECKING:` imports and
`db/` loading the domain `models` modules (to register their tables) are exempt.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import chinwag

ROOT = Path(chinwag.__file__).parent


def _units() -> set[str]:
    return {p.stem for p in ROOT.glob("*.py")} | {
        p.name for p in ROOT.iterdir() if p.is_dir() and (p / "__init__.py").exists()
    }


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[ast.AST, list[str]]]:
    """Each import statement of a file (outside `if TYPE_CHECKING:`) with the modules it names."""
    tree = ast.parse(path.read_text())
    type_checking = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for node in ast.walk(block)
    }
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found: list[tuple[ast.AST, list[str]]] = []
    for node in ast.walk(tree):
        if id(node) in type_checking:
            continue
        if isinstance(node, ast.Import):
            found.append((node, [alias.name for alias in node.names]))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            found.append((node, [base, *(f"{base}.{a.name}" for a in node.names)]))
    return found


def _graph() -> dict[str, dict[str, set[str]]]:
    """unit -> unit it imports -> the files that do."""
    units = _units()
    graph: dict[str, dict[str, set[str]]] = {}
    for path in ROOT.rglob("*.py"):
        name = _module_name(path).split(".")
        if len(name) < 2:
            continue
        source = name[1]
        for node, targets in _imports(path):
            registers_tables = (
                source == "db"
                and isinstance(node, ast.ImportFrom)
                and all(alias.name == "models" for alias in node.names)
            )
            if registers_tables:
                continue
            for target in targets:
                parts = target.split(".")
                if parts[0] != "chinwag" or len(parts) < 2 or parts[1] not in units:
                    continue
                if parts[1] != source:
                    files = graph.setdefault(source, {}).setdefault(parts[1], set())
                    files.add(str(path.relative_to(ROOT)))
    return graph


def _cycles(graph: dict[str, dict[str, set[str]]]) -> list[list[str]]:
    """The strongly connected components with more than one unit (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(unit: str) -> None:
        index[unit] = low[unit] = len(index)
        stack.append(unit)
        on_stack.add(unit)
        for nxt in graph.get(unit, {}):
            if nxt not in index:
                visit(nxt)
                low[unit] = min(low[unit], low[nxt])
            elif nxt in on_stack:
                low[unit] = min(low[unit], index[nxt])
        if low[unit] == index[unit]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == unit:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for unit in sorted(graph):
        if unit not in index:
            visit(unit)
    return components


def test_no_import_cycles_between_top_level_units() -> None:
    graph = _graph()
    cycles = _cycles(graph)
    detail = [
        f"{a} -> {b} ({', '.join(sorted(graph[a][b]))})"
        for cycle in cycles
        for a in cycle
        for b in sorted(graph.get(a, {}))
        if b in cycle
    ]
    assert cycles == [], "import cycles:\n" + "\n".join(detail)


def test_the_graph_sees_lazy_imports() -> None:
    """The checker itself: an import inside a function is an edge (cli imports app lazily)."""
    graph = _graph()
    assert "app" in graph["cli"]
    assert graph["settings"] == {"config": {"settings.py"}}


def test_bot_configuration_imports_only_pydantic() -> None:
    """And its own modules."""
    for path in (ROOT / "config").rglob("*.py"):
        for _, targets in _imports(path):
            first = targets[0]
            if first.startswith("chinwag.config"):
                continue  # its own modules (config/tools.py)
            tops = {t.split(".")[0] for t in targets[:1]}
            assert tops <= {"__future__", "typing", "pydantic", "re", "collections"}, (
                f"{path.name} imports {targets[0]}"
            )


def test_lower_layers_do_not_import_the_http_layer() -> None:
    graph = _graph()
    http_facing = {"http", "app", "console", "openai_api", "web", "cli"}
    for unit in ("config", "settings", "db", "providers", "knowledge", "engine", "streams"):
        assert not set(graph.get(unit, {})) & http_facing, f"{unit} imports {graph[unit]}"


# Libraries only some bots, requests or commands use, each imported where it is first needed:
# a worker serving bots without them never holds them. `import chinwag.app` and the CLI that
# starts a server must not load any (tests/test_doctor_and_schema.py checks a started worker).
LAZY = {
    "argon2": "operators' passwords: the first sign-in or `operators add`",
    "smtplib": "handoff emails: the first one sent (CHINWAG_SMTP_URL)",
    "mcp": "MCP tools: the first bot with an MCP server (and its cryptography, httpx2)",
    "cryptography": "through the MCP SDK only",
    "jsonschema_rs": "tool arguments: the first bot with tools",
    "aiosmtplib": "not used by chinwag at run time",
    "schemathesis": "the OpenAPI fuzz tests only",
    "httpx": "not used by a worker (/readyz probes with aiohttp)",
    "openai": "CHINWAG_LLM_CLIENT=openai, or OpenAI embeddings",
    "lancedb": "a bot's knowledge index, opened at start beside the event loop",
    "onnxruntime": "the embedding model, loaded when a bot first needs it",
    "llama_cpp": "the local LLM",
    "redis": "CHINWAG_REDIS_URL",
    "alembic": "`chinwag db upgrade`, or a schema older than the code",
    "websockets": "uvicorn runs with ws='none': chinwag has no WebSocket route",
}

_IMPORTS = """
import sys
import chinwag.app, chinwag.cli.main
from chinwag.app import create_app
from chinwag.settings import Settings

create_app(Settings(_env_file=None))
print(" ".join(sorted(m for m in sys.argv[1:] if m in sys.modules)))
"""


def test_the_app_and_the_cli_leave_lazy_libraries_unloaded() -> None:
    """In a fresh process: this one has imported them all."""
    done = subprocess.run(
        [sys.executable, "-c", _IMPORTS, *LAZY],
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if not k.startswith("CHINWAG_")},
    )
    assert done.returncode == 0, done.stderr
    loaded = done.stdout.split()
    assert loaded == [], "\n".join(f"{m} is loaded: it is for {LAZY[m]}" for m in loaded)
