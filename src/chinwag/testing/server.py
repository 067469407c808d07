"""Serve a Starlette app with uvicorn on 127.0.0.1 in a background thread (for the fakes)."""

from __future__ import annotations

import socket
import threading
import time
from typing import Self

import uvicorn
from starlette.applications import Starlette


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class ThreadedServer:
    """Runs `app()` in a thread with its own event loop; a context manager."""

    lifespan = "off"  # "on" for an app that starts its own tasks (an MCP server's)
    graceful_seconds: int | None = None  # how long stop() lets open connections finish (s)

    def __init__(self, port: int = 0) -> None:
        self._port = port or free_port()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def app(self) -> Starlette:
        raise NotImplementedError

    def start(self) -> Self:
        config = uvicorn.Config(
            self.app(),
            host="127.0.0.1",
            port=self._port,
            log_level="warning",
            lifespan=self.lifespan,  # type: ignore[arg-type]
            timeout_graceful_shutdown=self.graceful_seconds,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{type(self).__name__} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
