"""A database that cannot be reached is reported as such, with a code and a hint."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

from chinwag.settings import Settings
from chinwag.testing.fake_llm import FakeLLM
from tests.conftest import POSTGRES_ADMIN_DSN, _admin, _asyncpg_url, free_port, run_server


async def test_serve_refuses_an_unreachable_database_with_a_hint(tmp_path: Path) -> None:
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nothing"
    env = {**os.environ, "CHINWAG_DATABASE_URL": url}
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "chinwag", "serve"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "cannot connect to the database" in result.stderr
    assert "hint: Check CHINWAG_DATABASE_URL" in result.stderr
    assert "Traceback" not in result.stderr


async def test_database_lost_while_serving_is_503_with_a_hint(
    fake_llm: FakeLLM, postgres_template: str, tmp_path: Path
) -> None:
    name = f"chinwag_lost_{uuid.uuid4().hex[:10]}"
    await _admin(f'CREATE DATABASE "{name}" TEMPLATE "{postgres_template}"')
    settings = Settings(
        database_url=_asyncpg_url(POSTGRES_ADMIN_DSN, name),
        data_dir=tmp_path,
        llm_base_url=fake_llm.base_url,
        llm_model="fake-model",
        shutdown_grace_seconds=0.5,
        _env_file=None,  # type: ignore[call-arg]
    )
    try:
        async with run_server(settings) as server:
            ok = await server.client.post(
                "/v1/bots/vinhuset/messages",
                json={"message": "hi"},
                headers={"accept": "application/json"},
            )
            assert ok.status_code == 202
            await server.db.dispose()
            await _admin(f'DROP DATABASE "{name}" WITH (FORCE)')
            lost = await server.client.post(
                "/v1/bots/vinhuset/messages",
                json={"message": "hi again"},
                headers={"accept": "application/json"},
            )
            assert lost.status_code == 503
            assert lost.headers["content-type"] == "application/problem+json"
            problem = lost.json()
            assert problem["code"] == "database_unavailable"
            assert "CHINWAG_DATABASE_URL" in problem["hint"]
            ready = await server.client.get("/readyz")
            assert ready.status_code == 503 and ready.json()["ready"] is False
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
