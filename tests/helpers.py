"""Small helpers shared by the HTTP tests."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

JSON = {"accept": "application/json"}


async def accept(client: httpx.AsyncClient, body: dict[str, Any], **headers: str) -> httpx.Response:
    """POST a message asking for the ids (JSON) instead of the stream."""
    return await client.post("/v1/bots/vinhuset/messages", json=body, headers={**JSON, **headers})


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
