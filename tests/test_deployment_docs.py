"""The deployment guide and deploy/ name only settings and commands that exist, and the nginx
configuration streams every SSE route unbuffered."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from typer.main import get_command

from chinwag.cli.main import app
from chinwag.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
NGINX_CONF = ROOT / "deploy/nginx/chinwag.conf"
FILES = [
    ROOT / "docs/deployment.md",
    NGINX_CONF,
    ROOT / "deploy/systemd/chinwag.service",
    ROOT / "deploy/systemd/chinwag.env.example",
    ROOT / "Dockerfile",
    ROOT / ".dockerignore",
]
# `chinwag WORD [WORD]`, also as a JSON array (`"chinwag", "serve"`), after a space, a slash
# (`/opt/chinwag/venv/bin/chinwag`), a backtick, a quote or the start of a line.
_GAP = r"""(?:[ \t]+|",\s*")"""
COMMAND = re.compile(
    r"""(?:^|(?<=[\s/`"'\[]))chinwag""" + _GAP + r"([a-z][a-z-]*)(?:" + _GAP + r"([a-z][a-z-]*))?",
    re.MULTILINE,
)


def _subcommands(command: Any) -> dict[str, Any]:
    """A group's commands by name; {} for a command (typer's groups are click groups)."""
    commands: dict[str, Any] = getattr(command, "commands", {})
    return commands


def _cli() -> Any:
    return get_command(app)


def _known_variables() -> set[str]:
    """Settings fields, and the CHINWAG_* variables CLI options read (CHINWAG_WORKERS, …)."""
    names = {f"CHINWAG_{name.upper()}" for name in Settings.model_fields}

    def walk(command: Any) -> None:
        for param in command.params:
            envvar = getattr(param, "envvar", None)
            names.update([envvar] if isinstance(envvar, str) else envvar or [])
        for sub in _subcommands(command).values():
            walk(sub)

    walk(_cli())
    return names


def _code(path: Path) -> str:
    """What a reader would type or a program would read: for Markdown its inline code and
    fenced blocks, for the other files all but their comments' prose (`quoted` code stays)."""
    text = path.read_text()
    if path.suffix != ".md":
        comments = re.findall(r"#.*", text)
        code = re.sub(r"#.*", "", text)
        return "\n".join([code, *(q for c in comments for q in re.findall(r"`([^`]+)`", c))])
    blocks = re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)
    prose = re.sub(r"^```[^\n]*\n.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)
    return "\n".join([*blocks, *re.findall(r"`([^`\n]+)`", prose)])


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_only_settings_that_exist(path: Path) -> None:
    known = _known_variables()
    named = set(re.findall(r"\bCHINWAG_[A-Z0-9_]+\b\*?", path.read_text()))
    unknown = [
        n
        for n in named
        if not (any(k.startswith(n[:-1]) for k in known) if n.endswith("*") else n in known)
    ]
    assert sorted(unknown) == []


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_only_commands_that_exist(path: Path) -> None:
    commands = _subcommands(_cli())
    unknown = []
    for name, sub in COMMAND.findall(_code(path)):
        command = commands.get(name)
        if command is None:
            unknown.append(f"chinwag {name}")
        elif _subcommands(command) and sub not in _subcommands(command):
            unknown.append(f"chinwag {name} {sub}")
    assert unknown == []


def test_the_guide_names_commands_at_all() -> None:
    """The pattern above finds the commands the guide cannot do without."""
    found = {" ".join(filter(None, m)) for m in COMMAND.findall(_code(FILES[0]))}
    assert {"serve", "db upgrade", "doctor"} <= found


def _blocks(text: str) -> list[tuple[str, str, str]]:
    """(kind, argument, body) of each `name arg { … }` block, nested blocks included."""
    found = []
    for match in re.finditer(r"^\s*(location|server|upstream)\b([^{;]*)\{", text, re.MULTILINE):
        depth, i = 1, match.end()
        while depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        found.append((match.group(1), match.group(2).strip(), text[match.end() : i - 1]))
    return found


def _directives(body: str) -> dict[str, list[str]]:
    """The directives at the top level of a block (not those of its nested blocks), by name."""
    flat = re.sub(r"\{[^{}]*\}", ";", re.sub(r"#.*", "", body))
    found: dict[str, list[str]] = {}
    for directive in (d.strip() for d in flat.split(";")):
        if directive:
            name, _, value = directive.partition(" ")
            found.setdefault(name, []).append(value.strip())
    return found


def _location_for(server_body: str, path: str) -> dict[str, list[str]]:
    """The directives nginx applies to `path`: an exact location, else the first matching
    regex, else the longest prefix; the server's own directives where the location sets none."""
    locations = [(arg, body) for kind, arg, body in _blocks(server_body) if kind == "location"]
    exact = [b for a, b in locations if a.startswith("=") and a[1:].strip() == path]
    regex = [b for a, b in locations if a.startswith("~") and re.search(a.split()[-1], path)]
    prefix = sorted(
        ((a, b) for a, b in locations if a[0] not in "=~" and path.startswith(a)),
        key=lambda ab: len(ab[0]),
    )
    chosen = (exact or regex or [b for _, b in prefix[-1:]])[0]
    return _directives(server_body) | _directives(chosen)


def _sse_paths() -> list[str]:
    """Every route of the app that answers text/event-stream, with its ids filled in."""
    from chinwag.app import create_app

    paths = []
    for path, operations in create_app().openapi()["paths"].items():
        for operation in operations.values():
            kinds = {k for r in operation["responses"].values() for k in r.get("content", {})}
            if "text/event-stream" in kinds:
                paths.append(re.sub(r"\{[^}]+\}", "x1", path))
    return paths


def _seconds(value: str) -> float:
    number, unit = re.fullmatch(r"(\d+)(ms|s|m|h)?", value).groups()  # type: ignore[union-attr]
    return int(number) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}[unit]


def test_nginx_streams_every_sse_route_unbuffered() -> None:
    servers = [body for kind, _, body in _blocks(NGINX_CONF.read_text()) if kind == "server"]
    assert len(servers) == 1
    paths = _sse_paths()
    assert len(paths) >= 3, paths  # messages, stream events, chat/completions
    heartbeat = Settings.model_fields["sse_heartbeat_seconds"].default
    for path in paths:
        settings = _location_for(servers[0], path)
        assert settings.get("proxy_pass") == ["http://chinwag"], path
        assert settings.get("proxy_buffering") == ["off"], path
        assert settings.get("proxy_http_version") == ["1.1"], path
        assert 'Connection ""' in settings.get("proxy_set_header", []), path
        assert settings.get("gzip") == ["off"], path
        assert _seconds(settings["proxy_read_timeout"][0]) > heartbeat, path


def test_nginx_keeps_connections_to_the_servers_open() -> None:
    text = NGINX_CONF.read_text()
    upstream = next(body for kind, arg, body in _blocks(text) if kind == "upstream")
    assert "keepalive" in _directives(upstream)
    assert re.search(r'^\s*proxy_set_header Connection "";', text, re.MULTILINE)


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed")
def test_nginx_accepts_the_configuration(tmp_path: Path) -> None:
    main = tmp_path / "nginx.conf"
    main.write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{ include {NGINX_CONF}; }}\n"
    )
    result = subprocess.run(
        ["nginx", "-t", "-e", str(tmp_path / "error.log"), "-p", str(tmp_path), "-c", str(main)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr


def test_the_image_checks_health_and_runs_as_a_user_of_its_own() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^HEALTHCHECK .*\n?.*/healthz", text, re.MULTILINE)
    users = re.findall(r"^USER (\S+)", text, re.MULTILINE)
    assert users and users[-1] not in {"root", "0"}
    assert "npm ci" in text and "CHINWAG_CONSOLE_NODE_MODULES=" in text


def test_the_unit_stops_with_sigterm_and_waits_longer_than_the_grace() -> None:
    unit = dict(
        line.split("=", 1)
        for line in (ROOT / "deploy/systemd/chinwag.service").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    assert unit["KillSignal"] == "SIGTERM"
    serve = (ROOT / "src/chinwag/cli/main.py").read_text()
    drain = int(re.search(r'"timeout_graceful_shutdown": (\d+)', serve).group(1))  # type: ignore[union-attr]
    grace = Settings.model_fields["shutdown_grace_seconds"].default
    assert float(unit["TimeoutStopSec"]) > drain + grace + 15
