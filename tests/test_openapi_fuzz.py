"""schemathesis against the app's own OpenAPI document: no 5xx, every response as documented."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from chinwag.settings import Settings
from chinwag.testing.fake_llm import FakeLLM
from tests.conftest import RunningServer, run_server

EXAMPLES_PER_OPERATION = 30


class ServerThread:
    """chinwag in its own thread and event loop, so that a synchronous client can call it."""

    def __init__(self, settings: Settings) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.context = run_server(settings)

    def __enter__(self) -> RunningServer:
        self.thread.start()
        started: Future[RunningServer] = asyncio.run_coroutine_threadsafe(
            self.context.__aenter__(), self.loop
        )
        return started.result(60)

    def __exit__(self, *_: object) -> None:
        asyncio.run_coroutine_threadsafe(
            self.context.__aexit__(None, None, None), self.loop
        ).result(60)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def fuzz_server(tmp_path: Path) -> Iterator[RunningServer]:
    with FakeLLM() as fake:
        fake.behaviour.tokens = 2
        settings = Settings(
            database_url=f"sqlite+aiosqlite:///{tmp_path}/chinwag.db",
            data_dir=tmp_path / "data",
            llm_base_url=fake.base_url,
            llm_model="fake-model",
            secret_key="fuzz",
            _env_file=None,  # type: ignore[call-arg]
        )
        with ServerThread(settings) as server:
            yield server


# A bot or index configuration names servers (llm.base_url, knowledge.url…) that validation
# and index checks contact: fuzzing them would send traffic to whatever host the fuzzer makes
# up. tests/bots and tests/knowledge cover these operations with configurations of their own.
NOT_FUZZED = {
    "POST /v1/bots",
    "PUT /v1/bots/{bot_id}",
    "POST /v1/bots/validate",
    "POST /v1/knowledge/indexes",
}


# A feed that stays open while its reader does (the console inbox's): each example would be read
# until the client's timeout. tests/handoff/test_inbox_api.py follows it and checks its events.
STAYS_OPEN = {"GET /v1/handoffs/events"}


@pytest.mark.slow
def test_every_operation_answers_as_documented(fuzz_server: RunningServer) -> None:
    schema = schemathesis.openapi.from_url(f"{fuzz_server.base_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.label for op in operations} >= NOT_FUZZED | STAYS_OPEN
    failures = [
        failure
        for operation in operations
        if operation.label not in NOT_FUZZED | STAYS_OPEN
        and (failure := _fuzz(operation, fuzz_server.base_url, fuzz_server.admin_headers))
    ]
    assert failures == [], "\n\n".join(f[:1500] for f in failures)


def _fuzz(operation: Any, base_url: str, headers: dict[str, str]) -> str | None:
    """Run one operation's examples; the first failure, described, or None."""

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        response = case.call(base_url=base_url, headers=headers, timeout=30)
        case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])

    try:
        run()
    except Exception as exc:
        return f"{operation.label}: {exc}"
    return None
