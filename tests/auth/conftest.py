"""Keys of every kind on a running server: vinhuset's secret and publishable keys, another bot's."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest

from chinwag.auth.keys import create_key
from chinwag.bots.service import put_bot
from tests.conftest import RunningServer, plain_demo_bot

SITE = "https://shop.example"


@dataclass
class Keys:
    secret: str
    publishable: str
    publishable_id: str
    other_secret: str  # the bot `other`
    other_publishable: str

    @staticmethod
    def bearer(key: str, origin: str | None = None) -> dict[str, str]:
        headers = {"authorization": f"Bearer {key}"}
        if origin:
            headers["origin"] = origin
        return headers


@pytest.fixture
async def keys(server: RunningServer) -> Keys:
    async with server.db.write() as conn:
        await put_bot(conn, plain_demo_bot().model_copy(update={"id": "other"}))
        secret = await create_key(conn, kind="secret", name="s", bot_id="vinhuset")
        publishable = await create_key(
            conn, kind="publishable", name="p", bot_id="vinhuset", allowed_origins=[SITE]
        )
        other_secret = await create_key(conn, kind="secret", name="o", bot_id="other")
        other_publishable = await create_key(
            conn, kind="publishable", name="op", bot_id="other", allowed_origins=[SITE]
        )
    return Keys(
        secret.key, publishable.key, publishable.info.id, other_secret.key, other_publishable.key
    )


async def user_token(
    client: httpx.AsyncClient, publishable: str, bot: str = "vinhuset", **body: str
) -> str:
    response = await client.post(
        f"/v1/bots/{bot}/tokens", json=body, headers=Keys.bearer(publishable, SITE)
    )
    assert response.status_code == 201, response.text
    token: str = response.json()["token"]
    return token
