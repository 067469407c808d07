"""A running server whose demo bot hands conversations to people, its keys and a visitor."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from chinwag.auth.keys import create_key
from chinwag.config.bot import BotConfig, RouterConfig
from chinwag.config.handoff import HandoffConfig
from chinwag.settings import Settings
from tests.auth.conftest import SITE, Keys, user_token
from tests.conftest import RunningServer, plain_demo_bot, run_server
from tests.sse_client import SSEEvent, iter_events

BOT = "vinhuset"
DOCS = Path(__file__).resolve().parents[2] / "docs/handoff.md"


def docs_example() -> dict[str, Any]:
    """The YAML of docs/handoff.md's section on the visitors' own words."""
    section = DOCS.read_text().split("### In your visitors' own words", 1)[1]
    example: dict[str, Any] = yaml.safe_load(section.split("```yaml\n", 1)[1].split("```", 1)[0])
    return example


def learning_bot(**handoff: Any) -> BotConfig:
    """The plain demo bot (main and its examples) with the docs' router and handoff: its
    router learns `handoff.examples`."""
    example = docs_example()
    bot = handoff_bot(**{**example["handoff"], **handoff})
    return bot.model_copy(update={"router": RouterConfig(**example["router"])})


def handoff_bot(**handoff: Any) -> BotConfig:
    """The plain demo bot with `handoff:` set (enabled unless said otherwise)."""
    config = HandoffConfig.model_validate({"enabled": True, **handoff})
    return plain_demo_bot().model_copy(update={"handoff": config})


@dataclass
class Shop:
    server: RunningServer
    operator: dict[str, str]  # a bot secret key's headers (the console signs in with one)
    other_operator: dict[str, str]
    alice: dict[str, str]  # an end-user token's headers, as the widget sends them
    bob: dict[str, str]
    publishable: dict[str, str]

    @property
    def client(self) -> httpx.AsyncClient:
        return self.server.client


async def open_shop(server: RunningServer) -> Shop:
    async with server.db.write() as conn:
        kari = await create_key(conn, kind="secret", name="Kari", bot_id=BOT)
        ola = await create_key(conn, kind="secret", name="Ola", bot_id=BOT)
        publishable = await create_key(
            conn, kind="publishable", name="p", bot_id=BOT, allowed_origins=[SITE]
        )
    alice = await user_token(server.client, publishable.key)
    bob = await user_token(server.client, publishable.key)
    return Shop(
        server=server,
        operator=Keys.bearer(kari.key),
        other_operator=Keys.bearer(ola.key),
        alice=Keys.bearer(alice, SITE),
        bob=Keys.bearer(bob, SITE),
        publishable=Keys.bearer(publishable.key, SITE),
    )


@pytest.fixture
async def shop(make_settings: Settings) -> AsyncIterator[Shop]:
    async with run_server(make_settings, bot=handoff_bot()) as server:
        yield await open_shop(server)


async def session_events(
    client: httpx.AsyncClient,
    url: str,
    count: int,
    headers: dict[str, str],
    *,
    after: int | None = None,
    last_event_id: int | None = None,
) -> list[SSEEvent]:
    """Follow a session's events until `count` have come (the stream stays open)."""
    params = {} if after is None else {"after": str(after)}
    if last_event_id is not None:
        headers = {**headers, "last-event-id": str(last_event_id)}
    found: list[SSEEvent] = []
    async with client.stream("GET", url, params=params, headers=headers) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        async for event in iter_events(response):
            found.append(event)
            if len(found) == count:
                break
    return found


@pytest.fixture
async def server_without_handoff(make_settings: Settings) -> AsyncIterator[Shop]:
    async with run_server(make_settings) as server:
        yield await open_shop(server)
