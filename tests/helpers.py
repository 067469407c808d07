"""Small helpers shared by the HTTP tests."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import httpx

from tests.sse_client import SSEEvent, read_all

JSON = {"accept": "application/json"}
ROOT = Path(__file__).resolve().parents[1]


async def accept(client: httpx.AsyncClient, body: dict[str, Any], **headers: str) -> httpx.Response:
    """POST a message asking for the ids (JSON) instead of the stream."""
    return await client.post("/v1/bots/vinhuset/messages", json=body, headers={**JSON, **headers})


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The response is the error a client sees: problem+json with this status and stable code,
    a message and a hint; returns the body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json", response.headers
    problem: dict[str, Any] = response.json()
    assert problem["code"] == code, problem
    assert problem["status"] == status and problem["hint"] and problem["detail"], problem
    return problem


async def ask(
    client: httpx.AsyncClient,
    text: str,
    *,
    bot: str = "vinhuset",
    headers: dict[str, str] | None = None,
    **body: Any,
) -> list[SSEEvent]:
    """Send a message as the widget does (answer as SSE) and read the stream to its end."""
    async with client.stream(
        "POST", f"/v1/bots/{bot}/messages", json={"message": text, **body}, headers=headers
    ) as response:
        if response.status_code != 200:
            raise AssertionError(f"{response.status_code}: {(await response.aread()).decode()}")
        assert response.headers["content-type"].startswith("text/event-stream")
        return await read_all(response)


async def finished_job(client: httpx.AsyncClient, status_url: str) -> dict[str, Any]:
    """Poll an ingestion job (the `status_url` an upload answered) until it is not running."""
    for _ in range(600):
        job: dict[str, Any] = (await client.get(status_url)).json()
        if job["status"] != "running":
            return job
        await asyncio.sleep(0.1)
    raise AssertionError("the ingestion job did not finish in 60 s")


async def wait_finished(
    client: httpx.AsyncClient, message_id: str, within_seconds: float = 30
) -> dict[str, Any]:
    """Poll GET /v1/messages/{id} until the message leaves `streaming`."""
    deadline = asyncio.get_running_loop().time() + within_seconds
    while True:
        response = await client.get(f"/v1/messages/{message_id}")
        assert response.status_code == 200, response.text
        message: dict[str, Any] = response.json()
        if message["status"] != "streaming":
            return message
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"message {message_id} still streaming after {within_seconds} s")
        await asyncio.sleep(0.05)


async def chinwag(
    database_url: str,
    *args: str,
    data_dir: Path | None = None,
    cwd: Path = ROOT,
    env: dict[str, str] | None = None,
) -> tuple[int, str, str]:
    """Run the `chinwag` CLI as a user does, on this database and no other CHINWAG_ setting
    of the test's environment: (exit code, stdout, stderr)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHINWAG_")} | (env or {})
    env["CHINWAG_DATABASE_URL"] = database_url
    if data_dir is not None:
        env["CHINWAG_DATA_DIR"] = str(data_dir)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "chinwag",
        *args,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()
