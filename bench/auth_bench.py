#!/usr/bin/env python3
"""auth_bench.py - what authentication and rate limiting add to accepting a message.

One process, one app, one SQLite database, one fake LLM. The same request
(`POST /v1/bots/vinhuset/messages` with `Accept: application/json`, a new end user each time)
is sent N times with auth + rate limits ON and N times OFF, interleaved request by request so
that both see the same machine load. OFF replaces the `authenticate` and `limit_caller`
dependencies (FastAPI dependency overrides) by an admin principal, which the rate limits skip;
ON sends a bot secret key, so every request pays: the bearer parse, the key lookup (a cached
hash), the per-IP and per-key sliding windows, the per-end-user window and the open-stream count.
The requests go through httpx's ASGITransport (no sockets), so the difference is not drowned in
network noise. It also times the two dependencies alone, called directly.

    PYTHONPATH=src .venv/bin/python bench/auth_bench.py [--requests 400]  # -> auth-<stamp>.json

Target (issue 5): <= 1 ms added at p50.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from result_files import result_path

from chinwag.app import create_app
from chinwag.auth.keys import create_key
from chinwag.auth.principal import Principal
from chinwag.bots.demo import demo_bot_config
from chinwag.bots.service import put_bot
from chinwag.http.deps import authenticate, limit_caller
from chinwag.settings import Settings
from chinwag.testing.fake_llm import FakeLLM

ADMIN = Principal("admin", "bench", None)
SWAP = __import__("os").environ.get("SWAP") == "1"


async def _off_principal() -> Principal:
    return ADMIN


async def _no_limits() -> None:
    return None


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(requests: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, FakeLLM() as fake:
        fake.behaviour.tokens = 1
        settings = Settings(
            database_url=f"sqlite+aiosqlite:///{tmp}/bench.db",
            data_dir=Path(tmp) / "data",
            llm_base_url=fake.base_url,
            llm_model="fake",
            secret_key="bench",
            rate_limit_key="1000000/minute",
            rate_limit_ip="1000000/minute",
            rate_limit_user="1000000/minute",
            _env_file=None,  # type: ignore[call-arg]
        )
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            services = app.state.services
            async with services.db.write() as conn:
                bot = demo_bot_config()
                await put_bot(conn, bot.model_copy(update={"flows": {"main": bot.flows["main"]}}))
                secret = (await create_key(conn, kind="secret", name="bench", bot_id=bot.id)).key
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                timings: dict[str, list[float]] = {"on": [], "off": []}
                headers = {"accept": "application/json", "authorization": f"Bearer {secret}"}
                for i in range(requests * 2 + 40):
                    mode = "on" if (i % 2 == 0) != SWAP else "off"
                    if mode == "off":
                        app.dependency_overrides = {
                            authenticate: _off_principal,
                            limit_caller: _no_limits,
                        }
                    else:
                        app.dependency_overrides = {}
                    body = {"message": "Hei", "user_id": f"u{i}"}
                    start = time.perf_counter()
                    response = await client.post(
                        "/v1/bots/vinhuset/messages", json=body, headers=headers
                    )
                    elapsed = time.perf_counter() - start
                    assert response.status_code == 202, response.text
                    if i >= 40:  # warm-up: caches, connections, first generations
                        timings[mode].append(elapsed * 1000)
                    # Each request meets an idle server: a generation still running would
                    # run inside whichever request next yields and blur the comparison.
                    while services.generations.running:  # noqa: ASYNC110
                        await asyncio.sleep(0.002)
                    await asyncio.sleep(0.002)
                app.dependency_overrides = {}
                deps = await _dependencies_alone(app, secret, requests)
            while services.generations.running:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
    on, off = timings["on"], timings["off"]
    return {
        "requests_per_mode": requests,
        "accept_ms": {
            mode: {"p50": round(_pct(v, 0.5), 3), "p95": round(_pct(v, 0.95), 3)}
            for mode, v in timings.items()
        },
        "added_p50_ms": round(_pct(on, 0.5) - _pct(off, 0.5), 3),
        "added_mean_ms": round(statistics.mean(on) - statistics.mean(off), 3),
        "dependencies_alone_us": deps,
    }


async def _dependencies_alone(app: Any, secret: str, n: int) -> dict[str, float]:
    """authenticate + limit_caller called directly with a request built by hand."""
    from fastapi.security import HTTPAuthorizationCredentials
    from starlette.requests import Request

    services = app.state.services
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/bots/vinhuset/messages",
        "headers": [(b"authorization", f"Bearer {secret}".encode())],
        "client": ("127.0.0.1", 1),
        "app": app,
    }
    credentials = HTTPAuthorizationCredentials(scheme="Bearer", credentials=secret)
    samples = []
    for _ in range(n):
        request = Request(scope)
        start = time.perf_counter()
        principal = await authenticate(request, services, credentials)
        await limit_caller(request, principal, services)
        limits = await services.limiter.for_bot("vinhuset")
        await services.limiter.hit(limits.per_user, "end user", "vinhuset", "u")
        samples.append((time.perf_counter() - start) * 1e6)
    return {"p50": round(_pct(samples, 0.5), 1), "p95": round(_pct(samples, 0.95), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=400, help="requests per mode")
    parser.add_argument(
        "--json",
        type=Path,
        default=result_path("auth", "json"),
        help="the results as JSON; default bench/results/auth-<stamp>.json",
    )
    args = parser.parse_args()
    result = asyncio.run(run(args.requests))
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
