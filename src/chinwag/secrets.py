"""The values `${NAME}` stands for in a bot's tools, MCP servers and webhooks: the server's
environment, then the secrets file (CHINWAG_SECRETS_FILE), if one is set.

The file holds `NAME=value` lines (`#` comments and blank lines allowed; no quoting, no
expansion: everything after the first `=` is the value). It is read when the server starts and
again when it has changed, at most every RECHECK_SECONDS, off the event loop. A value is only
ever looked up by name: it is never listed, logged or returned."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import stat
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

from chinwag.errors import ChinwagError

RECHECK_SECONDS = 2.0
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
log = logging.getLogger(__name__)


class SecretsFileInvalid(ChinwagError):
    code = "secrets_file_invalid"
    status = 500
    default_hint = (
        "Each line of CHINWAG_SECRETS_FILE is NAME=value (a letter or _ first), a # comment "
        "or blank; fix the line named, or unset CHINWAG_SECRETS_FILE."
    )


class Secrets(Mapping[str, str]):
    """The environment, then the file's values; looked up by name, never listed."""

    def __init__(self, path: Path | None = None, environ: Mapping[str, str] | None = None) -> None:
        self.path = path
        self._environ = environ if environ is not None else os.environ
        self._values: dict[str, str] = {}
        self._seen: tuple[float, int] | None = None  # the file's mtime and size when read
        self._checked = 0.0
        if path is not None:
            self._read()

    def __getitem__(self, name: str) -> str:
        found = self._environ.get(name)
        if found:
            return found
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        raise TypeError("secrets are looked up by name, never listed")

    def __len__(self) -> int:
        return len(self._values)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (bool(self._environ.get(name)) or name in self._values)

    async def refresh(self) -> None:
        """Read the file again if it changed (checked at most every RECHECK_SECONDS)."""
        now = time.monotonic()
        if self.path is None or now - self._checked < RECHECK_SECONDS:
            return
        self._checked = now
        await asyncio.to_thread(self._read_if_changed)

    def _read_if_changed(self) -> None:
        try:
            seen = self._signature()
        except OSError as exc:
            log.error("secrets file %s cannot be read: %s; keeping its last values", self.path, exc)
            return
        if seen != self._seen:
            try:
                self._read()
            except (OSError, SecretsFileInvalid) as exc:
                log.error(
                    "secrets file %s not read again: %s; keeping its last values", self.path, exc
                )

    def _signature(self) -> tuple[float, int]:
        assert self.path is not None
        found = self.path.stat()
        return found.st_mtime, found.st_size

    def _read(self) -> None:
        assert self.path is not None
        found = self.path.stat()
        mode = found.st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            log.warning(
                "secrets file %s can be read by others than its owner (mode %o): chmod 600 it",
                self.path,
                stat.S_IMODE(mode),
            )
        self._values = parse_secrets(self.path.read_text(encoding="utf-8"), str(self.path))
        self._seen = found.st_mtime, found.st_size


def parse_secrets(text: str, where: str) -> dict[str, str]:
    """`NAME=value` lines as a dict; SecretsFileInvalid names the first bad line (not its text:
    it may hold a secret)."""
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        name, equals, value = stripped.partition("=")
        name = name.strip()
        if not equals or not NAME.match(name):
            raise SecretsFileInvalid(f"{where}, line {number}: not NAME=value")
        values[name] = value.strip()
    return values


async def fresh_secrets() -> None:
    """A route dependency: the secrets file read again if it changed, before a bot's
    configuration is checked against it."""
    await server_secrets().refresh()


_server: Secrets | None = None


def configure(path: Path | None) -> Secrets:
    """Make the process's secrets read `path` (CHINWAG_SECRETS_FILE) after the environment."""
    global _server
    _server = Secrets(path)
    return _server


def server_secrets() -> Secrets:
    """The process's secrets (the environment alone until `configure` names a file)."""
    global _server
    if _server is None:
        _server = Secrets(None)
    return _server
