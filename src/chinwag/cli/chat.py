"""The terminal chat client behind `chinwag chat`: reads lines, streams answers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from typing import TextIO

import httpx


async def chat_loop(
    *,
    base_url: str,
    bot: str,
    user_id: str,
    session_id: str,
    lines: Iterable[str],
    out: TextIO,
    api_key: str | None = None,
) -> None:
    out.write(f"chatting with '{bot}' at {base_url} (session {session_id}); Ctrl-D ends\n")
    headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
    timeout = httpx.Timeout(10, read=120)
    async with httpx.AsyncClient(base_url=base_url, timeout=timeout, headers=headers) as client:
        iterator = iter(lines)
        while True:
            out.write("you> ")
            out.flush()
            line = await asyncio.to_thread(next, iterator, None)
            if line is None:
                out.write("\n")
                return
            if not line.strip():
                continue
            await _ask(
                client,
                bot,
                {"message": line.strip(), "user_id": user_id, "session_id": session_id},
                out,
            )


async def _ask(client: httpx.AsyncClient, bot: str, body: dict[str, str], out: TextIO) -> None:
    out.write(f"{bot}> ")
    try:
        async with client.stream("POST", f"/v1/bots/{bot}/messages", json=body) as response:
            if response.status_code != 200:
                problem = json.loads(await response.aread())
                out.write(
                    f"[{problem.get('code')}] {problem.get('detail')}\n"
                    f"hint: {problem.get('hint')}\n"
                )
                return
            event = ""
            async for line in response.aiter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    data = json.loads(line[6:])
                    if event == "message.delta":
                        out.write(data["text"])
                        out.flush()
                    elif event == "error":
                        out.write(f"\n[{data['code']}] {data['message']}\nhint: {data['hint']}")
    except httpx.ConnectError:
        out.write(f"\ncannot reach chinwag at {client.base_url}: is `chinwag serve` running?\n")
        return
    out.write("\n")
