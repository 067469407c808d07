"""With no LLM server configured, a bot answers over the embedded local model end to end."""

from __future__ import annotations

import pytest

from chinwag.settings import Settings
from tests.conftest import run_server
from tests.helpers import ask, wait_finished


@pytest.mark.slow
async def test_demo_bot_answers_with_the_embedded_model(make_settings: Settings) -> None:
    settings = make_settings.model_copy(update={"llm_base_url": None, "llm_model": None})
    async with run_server(settings) as server:
        events = await ask(server.client, "Hello! Who are you?")
        types = [e.type for e in events]
        assert types[-1] == "stream.completed" and events[-1].data["status"] == "completed"
        assert "message.delta" in types
        completed = events[-2].data
        assert completed["text"].strip()
        assert completed["usage"]["completion_tokens"] > 0
        message = await wait_finished(server.client, completed["message_id"])
        assert message["content"] == completed["text"]
