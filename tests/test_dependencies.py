"""The API's dependencies are solved on the event loop: FastAPI runs a plain `def` dependency in
its thread pool, a thread hop per request (for a dictionary lookup, in `get_services`' case)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.dependencies import utils as fastapi_dependencies

from tests.conftest import RunningServer
from tests.helpers import accept, wait_finished


async def test_requests_solve_their_dependencies_without_the_thread_pool(
    server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    in_threads: list[str] = []
    original = fastapi_dependencies.run_in_threadpool

    async def counted(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        in_threads.append(getattr(func, "__qualname__", repr(func)))
        return await original(func, *args, **kwargs)

    monkeypatch.setattr(fastapi_dependencies, "run_in_threadpool", counted)
    accepted = await accept(server.client, {"message": "hello"})
    assert accepted.status_code == 202
    await wait_finished(server.client, accepted.json()["assistant_message_id"])
    listed = await server.client.get("/v1/conversations", params={"q": "hello"})
    assert listed.status_code == 200, listed.text
    assert in_threads == []
