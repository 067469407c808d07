"""Which workers are dead: on this host (same process-id namespace) a missing pid says so at
once; a worker in another namespace (another container with the same host name) is judged by
its heartbeat only."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest
from sqlalchemy import insert, update

from chinwag.db.base import utcnow
from chinwag.generations.workers import dead_worker_ids, this_host
from chinwag.settings import Settings
from chinwag.streams.models import Stream, Worker
from tests.conftest import RunningServer, run_server
from tests.helpers import accept, wait_finished


def _a_pid_that_is_gone() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(done.stdout)


@pytest.mark.parametrize(
    ("host", "dead"),
    [(this_host(), True), (f"{socket.gethostname()} pid:[1]", False)],
    ids=["same-namespace", "same-hostname-other-namespace"],
)
async def test_a_missing_pid_counts_only_in_this_pid_namespace(
    make_settings: Settings, host: str, dead: bool
) -> None:
    # A slow heartbeat, so the server's own recovery does not act before we look.
    async with run_server(make_settings.model_copy(update={"heartbeat_seconds": 60})) as server:
        await _judge(server, host, dead)


async def _judge(server: RunningServer, host: str, dead: bool) -> None:
    out = (await accept(server.client, {"message": "hello"})).json()
    await wait_finished(server.client, out["assistant_message_id"])
    async with server.db.write() as conn:
        await conn.execute(
            insert(Worker).values(
                id="other-worker",
                hostname=host,
                pid=_a_pid_that_is_gone(),
                started_at=utcnow(),
                heartbeat_at=utcnow(),  # beating: alive unless its pid says otherwise
            )
        )
        await conn.execute(
            update(Stream)
            .where(Stream.id == out["stream_id"])
            .values(status="streaming", worker_id="other-worker")
        )
    async with server.db.read() as conn:
        found = await dead_worker_ids(conn, me=None, heartbeat_seconds=60)
    assert found == (["other-worker"] if dead else [])
