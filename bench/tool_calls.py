#!/usr/bin/env python3
"""tool_calls.py - what a tool call costs chinwag beyond the remote's own latency, and what ten
calls of one function-calling step take next to the slowest of them.

The remote (an HTTP shop API, and an MCP server built with the SDK) runs in a subprocess, so
its CPU is not counted; each answers after a fixed delay. Measured in this process:

* one HTTP tool call (ToolCaller.call: schema check, request, host and address checks, the
  remote's kept-open connection (tools/connections.py), read, JSON, mapping): CPU per call, and
  wall time minus the remote's delay;
* one MCP tool call over streamable HTTP, on the session the bot keeps open
  (tools/mcp_sessions.py);
* ten calls asked for in one step of `main`'s function calling (engine/function_calling.py,
  with a scripted in-process model), the remote answering after 10, 20, … 100 ms: the step's
  wall time minus the slowest call's 100 ms;
* after each such step, the same ten requests written by hand on kept connections (RawTen):
  what the remote and the machine add without chinwag, the floor under the step's figure.

    PYTHONPATH=src .venv/bin/python bench/tool_calls.py   (not under taskset: the remote
    would share its core)
    (--calls N, --delay-ms D, --rounds R; the table goes to bench/results/tool-calls-<stamp>.md)

--pin gives the remote a core of its own (the last) and this process the others, as a shop
API on another machine would be: unpinned on two cores, the scheduler often wakes the remote
on chinwag's core in the middle of a step's ten sends, which delays the tenth by about 1.5 ms
(bench/HISTORY.md, "Tool calls", 2026-12-06).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from result_files import result_path

from chinwag.config.bot import BotConfig
from chinwag.engine.context import FlowContext, MessageInput
from chinwag.engine.function_calling import stream_with_tools
from chinwag.providers.protocols import ChatMessage, GenerationOptions, ToolCall, Usage
from chinwag.tools.call import ToolCaller

REMOTE = '''
import asyncio, logging, sys
import uvicorn
from mcp.server.mcpserver import MCPServer
from mcp_types import ToolAnnotations
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

mcp = MCPServer("shop")

@mcp.tool(annotations=ToolAnnotations(read_only_hint=True))
async def order_status(order: str, delay_ms: int = 0) -> dict:
    """An order's status."""
    await asyncio.sleep(delay_ms / 1000)
    return {"order": order, "status": "shipped", "delivery": "2026-12-09"}

async def order(request):
    await asyncio.sleep(int(request.query_params.get("delay_ms", "0")) / 1000)
    return JSONResponse({"order": {"id": request.path_params["order"], "status": "shipped",
                                   "delivery": {"date": "2026-12-09"}}})

mcp_app = mcp.streamable_http_app()
app = Starlette(routes=[Route("/orders/{order}", order), Mount("/", mcp_app)],
                lifespan=lambda app: mcp_app.router.lifespan_context(app))
logging.disable(logging.INFO)
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
'''


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _bot(port: int) -> BotConfig:
    schema = {
        "type": "object",
        "properties": {
            "order": {"type": "string", "pattern": "^[0-9]{5}$"},
            "delay_ms": {"type": "integer", "minimum": 0, "maximum": 1000},
        },
        "required": ["order"],
    }
    tool = {
        "url": f"http://127.0.0.1:{port}/orders/{{order}}",
        "query": {"delay_ms": "{delay_ms}"},
        "arguments": schema,
        "response": {"status": "order.status", "delivery": "order.delivery.date"},
        "allow_private": True,
    }
    return BotConfig.model_validate(
        {
            "id": "bench",
            "name": "Bench",
            "allowed_hosts": ["127.0.0.1"],
            # Ten calls in one step: above the default of 5 per message, which binds `main`'s
            # function calls as it does flows'.
            "limits": {"tool_calls_per_message": 10, "tool_calls_concurrent": 10},
            "tools": {"order_status": tool},
            "mcp_servers": {
                "shop": {
                    "url": f"http://127.0.0.1:{port}/mcp",
                    "allow_private": True,
                    "tools": {
                        "mcp_order_status": {
                            "name": "order_status",
                            "arguments": schema,
                            "read_only": True,
                        }
                    },
                }
            },
            "flows": {
                "main": {
                    "template": "{{ message }}",
                    "tools": ["order_status"],
                    "function_calling": {"max_calls": 10, "call_timeout_seconds": 5},
                }
            },
        }
    )


async def _calls(
    caller: ToolCaller, bot: BotConfig, tool: str, n: int, delay_ms: int
) -> dict[str, float]:
    """`n` sequential calls: CPU and wall (minus the remote's delay) per call, in ms."""
    await caller.call(bot, tool, {"order": "10023", "delay_ms": delay_ms})  # warm-up
    walls: list[float] = []
    cpu0 = time.process_time()
    for _ in range(n):
        started = time.perf_counter()
        outcome = await caller.call(bot, tool, {"order": "10023", "delay_ms": delay_ms})
        assert outcome.status == "completed", outcome.error
        walls.append((time.perf_counter() - started) * 1000 - delay_ms)
    cpu = (time.process_time() - cpu0) * 1000 / n
    return {"cpu_ms": cpu, "over_p50_ms": statistics.median(walls), "over_max_ms": max(walls)}


class TenCalls:
    """A model that asks for ten calls (delays 10 … 100 ms) in its first turn, then answers."""

    name = "scripted"

    async def stream(
        self, messages: Sequence[ChatMessage], options: GenerationOptions
    ) -> AsyncIterator[str | Usage]:
        yield "unused"

    async def aclose(self) -> None:
        return None

    async def stream_tools(
        self,
        messages: Sequence[ChatMessage],
        options: GenerationOptions,
        tools: Sequence[dict[str, Any]],
        *,
        choice: str = "auto",
    ) -> AsyncIterator[str | ToolCall | Usage]:
        if any(m.role == "tool" for m in messages):
            yield "done"
            return
        for i in range(10):
            arguments = f'{{"order": "100{i:02d}", "delay_ms": {10 * (i + 1)}}}'
            yield ToolCall(f"call_{i}", "order_status", arguments)


class RawTen:
    """The same ten requests (delays 10 … 100 ms) without chinwag: bytes written by hand on ten
    kept connections, the answer read by its Content-Length. What the remote and the machine
    (a loopback send wakes the remote; on a shared machine, a core) add to the slowest call:
    the floor under the ten-call step's figure."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.streams: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def round(self) -> None:
        if not self.streams:
            self.streams = [
                await asyncio.open_connection("127.0.0.1", self.port) for _ in range(10)
            ]
        await asyncio.gather(*(self._one(i) for i in range(10)))

    async def _one(self, i: int) -> None:
        reader, writer = self.streams[i]
        writer.write(
            f"GET /orders/100{i:02d}?delay_ms={10 * (i + 1)} HTTP/1.1\r\n"
            f"host: 127.0.0.1:{self.port}\r\naccept: application/json\r\n\r\n".encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        await reader.readexactly(length)

    def close(self) -> None:
        for _, writer in self.streams:
            writer.close()


async def _step(bot: BotConfig, port: int, rounds: int) -> dict[str, dict[str, float]]:
    """Ten parallel calls of one step: wall minus the slowest call (100 ms), CPU per step; each
    step followed by the same ten requests without chinwag (RawTen), so both see the same
    machine."""
    caller, model, raw = ToolCaller(), TenCalls(), RawTen(port)
    overs: dict[str, list[float]] = {"step": [], "raw": []}
    cpus: dict[str, float] = {"step": 0.0, "raw": 0.0}
    for i in range(rounds + 1):
        events: list[Any] = []
        message = MessageInput(text="ten orders", history=(), user_id="u", bot_version=1)
        ctx = FlowContext(bot, message, events.append, lambda _llm: model, tools=caller)
        cpu0, started = time.process_time(), time.perf_counter()
        await stream_with_tools(
            ctx, model, [ChatMessage("user", "ten orders")], GenerationOptions()
        )
        over = (time.perf_counter() - started) * 1000 - 100
        cpu1 = time.process_time()
        assert [c["status"] for c in ctx.answer.tool_calls] == ["completed"] * 10
        raw_started = time.perf_counter()
        await raw.round()
        raw_over = (time.perf_counter() - raw_started) * 1000 - 100
        if i:  # the first round opens the connections
            overs["step"].append(over)
            overs["raw"].append(raw_over)
            cpus["step"] += cpu1 - cpu0
            cpus["raw"] += time.process_time() - cpu1
    await caller.aclose()
    raw.close()
    return {
        what: {
            "cpu_ms": cpus[what] * 1000 / rounds,
            "over_p50_ms": statistics.median(overs[what]),
            "over_max_ms": max(overs[what]),
        }
        for what in ("step", "raw")
    }


async def _run(port: int, calls: int, delay_ms: int, rounds: int) -> dict[str, dict[str, float]]:
    bot = _bot(port)
    caller = ToolCaller()
    figures = {
        "HTTP tool call": await _calls(caller, bot, "order_status", calls, delay_ms),
        "MCP tool call (streamable HTTP)": await _calls(
            caller, bot, "mcp_order_status", max(calls // 5, 10), delay_ms
        ),
    }
    await caller.aclose()
    step = await _step(bot, port, rounds)
    figures["ten calls in one step (slowest 100 ms)"] = step["step"]
    figures["the same ten requests without chinwag (the floor)"] = step["raw"]
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--delay-ms", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--pin", action="store_true", help="the remote on a core of its own")
    args = parser.parse_args()
    port = _free_port()
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "remote.py"
        script.write_text(REMOTE)
        remote = subprocess.Popen([sys.executable, str(script), str(port)], env=os.environ.copy())
        if args.pin:
            *ours, its = sorted(os.sched_getaffinity(0))
            os.sched_setaffinity(remote.pid, {its})
            os.sched_setaffinity(0, set(ours))
        try:
            for _ in range(200):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                    break
                except OSError:
                    time.sleep(0.05)
            figures = asyncio.run(_run(port, args.calls, args.delay_ms, args.rounds))
        finally:
            remote.terminate()
            remote.wait(10)
    pin = " --pin" if args.pin else ""
    lines = [
        "# Tool calls: chinwag's cost beyond the remote's latency",
        "",
        f"{time.strftime('%Y-%m-%d %H:%M:%S')}; {args.calls} HTTP calls and "
        f"{max(args.calls // 5, 10)} MCP calls in sequence (the remote answers after "
        f"{args.delay_ms} ms), {args.rounds} steps of ten parallel calls; remote in another "
        f"process{', on a core of its own' if args.pin else ''}; load average {load:.2f} at the "
        f"start; `python bench/tool_calls.py --rounds {args.rounds}{pin}`.",
        "",
        "| what | CPU per call or step | wall beyond the remote, p50 | max |",
        "|---|---|---|---|",
    ]
    for what, f in figures.items():
        lines.append(
            f"| {what} | {f['cpu_ms']:.2f} ms | {f['over_p50_ms']:.2f} ms | "
            f"{f['over_max_ms']:.2f} ms |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    path = result_path("tool-calls", "md", variant="pinned" if args.pin else None)
    path.write_text(text)
    print(f"written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
