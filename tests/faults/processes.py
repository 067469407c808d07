"""Processes a fault test starts and may kill: `chinwag serve` and a Redis of its own."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from redis import Redis

from chinwag.testing.fake_llm import free_port

UNLIMITED = "1000000/minute"


def server_env(
    database_url: str,
    llm_base_url: str,
    data_dir: Path,
    *,
    port: int | None = None,
    heartbeat_seconds: float = 2.0,
    redis_url: str | None = None,
) -> dict[str, str]:
    """The environment of one `chinwag serve` on 127.0.0.1: this database and fake LLM, and no
    other CHINWAG_ setting of ours; rate limits out of the way (the faults are the subject)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHINWAG_")}
    env.update(
        CHINWAG_DATABASE_URL=database_url,
        CHINWAG_LLM_BASE_URL=llm_base_url,
        CHINWAG_LLM_MODEL="fake-model",
        CHINWAG_HOST="127.0.0.1",
        CHINWAG_PORT=str(port or free_port()),
        CHINWAG_HEARTBEAT_SECONDS=str(heartbeat_seconds),
        CHINWAG_SHUTDOWN_GRACE_SECONDS="1",
        CHINWAG_SECRET_KEY="test-secret",
        CHINWAG_DATA_DIR=str(data_dir),
        CHINWAG_RATE_LIMIT_KEY=UNLIMITED,
        CHINWAG_RATE_LIMIT_IP=UNLIMITED,
        CHINWAG_RATE_LIMIT_USER=UNLIMITED,
        CHINWAG_OPEN_STREAMS_PER_USER="100000",
    )
    if redis_url is not None:
        env["CHINWAG_REDIS_URL"] = redis_url
    if "CHINWAG_CONSOLE_NODE_MODULES" in os.environ:  # where this machine keeps them
        env["CHINWAG_CONSOLE_NODE_MODULES"] = os.environ["CHINWAG_CONSOLE_NODE_MODULES"]
    return env


class ServerProcess:
    """`chinwag serve` in its own process, so it can really be killed."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log = env, log
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.env['CHINWAG_PORT']}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "chinwag", "serve"],
            env=self.env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )

    async def wait_ready(self, base_url: str | None = None) -> None:
        async with httpx.AsyncClient(base_url=base_url or self.base_url) as client:
            for _ in range(600):
                assert self.proc is not None and self.proc.poll() is None, self.log.read_text()
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
        raise AssertionError(f"server did not start:\n{self.log.read_text()}")

    def kill(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


class RedisServer:
    """A Redis of the test's own, on a free port, that the test may stop and start again."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = Redis(port=self.port)
        try:
            for _ in range(200):
                try:
                    client.ping()
                    return
                except Exception:
                    time.sleep(0.05)
        finally:
            client.close()
        raise AssertionError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
