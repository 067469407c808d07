"""The second origin the widget tests embed it on, a relay they can cut, and page helpers."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from playwright.async_api import BrowserContext, Page, expect
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from chinwag.conversations.models import Message
from chinwag.testing.fake_llm import FakeLLM
from chinwag.testing.server import ThreadedServer, free_port
from chinwag.web.routes import asset
from tests.conftest import RunningServer
from tests.helpers import finished_job

# Records what a page's own script may observe: CSP violations, the widget's DOM events.
PAGE_JS = """
window.__csp = []; window.__messages = []; window.__feedback = [];
document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(e.violatedDirective));
window.addEventListener("chinwag:message", (e) => window.__messages.push(e.detail));
window.addEventListener("chinwag:feedback", (e) => window.__feedback.push(e.detail));
"""
HOSTILE_CSS = """
* { all: unset !important; font-size: 48px !important; line-height: 3 !important; }
html { font-size: 40px; } div, button, p, ol, li { display: inline !important; color: red; }
chinwag-widget { display: none; position: static; }
"""


class HostSite(ThreadedServer):
    """A shop's web server on its own port: pages with the widget tag, under a strict CSP."""

    def __init__(self) -> None:
        super().__init__(free_port())
        self.pages: dict[str, str] = {}
        self.csp = ""

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def app(self) -> Starlette:
        async def page(request: Request) -> Response:
            name = request.path_params["name"]
            if name == "page.js":
                return Response(PAGE_JS, media_type="text/javascript")
            if name == "hostile.css":
                return Response(HOSTILE_CSS, media_type="text/css")
            if name not in self.pages:
                return Response(status_code=404)
            headers = {"Content-Security-Policy": self.csp, "Cache-Control": "no-store"}
            return Response(self.pages[name], media_type="text/html", headers=headers)

        async def shop_css(_: Request) -> Response:
            return Response(asset("demo", "shop.css").body, media_type="text/css")

        return Starlette(routes=[Route("/demo/shop.css", shop_css), Route("/{name}", page)])

    def add(
        self,
        name: str,
        *,
        widget: str,
        key: str,
        attrs: str = "data-lang='en'",
        head: str = "",
        page_lang: str = "en",
    ) -> str:
        self.csp = (
            f"default-src 'none'; script-src 'self' {widget}; connect-src {widget}; "
            "style-src 'self'; img-src 'self' data:"
        )
        self.pages[name] = (
            f"<!DOCTYPE html><html lang='{page_lang}'><head><meta charset='utf-8'>"
            f"<title>Shop</title><script src='/page.js'></script>{head}"
            f"<script src='{widget}/widget.js' data-key='{key}' {attrs} defer>"
            "</script></head><body><h1>A shop</h1><a href='#top'>Top</a></body></html>"
        )
        return f"{self.origin}/{name}"


class Proxy:
    """A TCP relay between the browser and chinwag whose connections a test can cut. Given
    more ports, it is a load balancer that fails over: each new connection goes to the first
    of them that accepts."""

    def __init__(self, target_port: int, *fallback_ports: int) -> None:
        self.target_ports = [target_port, *fallback_ports]
        self.port = free_port()
        self.writers: set[asyncio.StreamWriter] = set()
        self.replies_lost = False  # True: what chinwag sends back never reaches the browser

    async def __aenter__(self) -> Proxy:
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)
        return self

    async def __aexit__(self, *_: object) -> None:
        self.cut()
        self.server.close()

    def cut(self) -> None:
        for writer in list(self.writers):
            writer.transport.abort()
        self.writers.clear()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for port in self.target_ports:
            try:
                up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
                break
            except OSError:  # refused: that worker is down
                continue
        else:
            writer.transport.abort()
            return
        self.writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    if dst is writer and self.replies_lost:
                        continue
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


async def open_page(context: BrowserContext, url: str) -> Page:
    page = await context.new_page()
    await page.goto(url)
    await expect(page.locator(".launcher")).to_be_visible()
    return page


async def ask(page: Page, text: str) -> None:
    launcher = page.locator(".launcher")
    if await launcher.get_attribute("aria-expanded") == "false":
        await launcher.click()
    await page.locator("textarea").fill(text)
    await page.locator("textarea").press("Enter")


async def finished_answers(page: Page, count: int) -> list[str]:
    """The texts of the first `count` completed answers, once there are that many."""
    done = page.locator(".msg.bot:not(.streaming):has(.rate) .bubble")
    await expect(done).to_have_count(count, timeout=20_000)
    return [" ".join(t.split()) for t in await done.all_inner_texts()]


async def stored_answers(server: RunningServer) -> list[Any]:
    async with server.db.read() as conn:
        rows = await conn.execute(
            select(Message.id, Message.content, Message.status, Message.citations)
            .where(Message.role == "assistant")
            .order_by(Message.created_at)
        )
        return list(rows.all())


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float = 10) -> None:
    for _ in range(int(seconds * 20)):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the condition did not come true in time")


async def with_knowledge(
    server: RunningServer,
    fake_llm: FakeLLM,
    tmp_path: Path,
    *,
    files: list[tuple[str, bytes]] | None = None,
    top_k: int = 2,
) -> None:
    """Give the bot an index (fake embeddings) of documents that carry URLs: by default two,
    opening hours and delivery."""
    embedding = {"provider": "openai", "base_url": fake_llm.base_url, "model": "fake"}
    knowledge = {"store": "lancedb", "index": "widget-docs", "top_k": top_k}
    made = await server.client.post(
        "/v1/knowledge/indexes", json={"knowledge": knowledge, "embedding": embedding}
    )
    assert made.status_code == 201, made.text
    config = (await server.client.get("/v1/bots/vinhuset")).json()["config"]
    main = {
        "system": "Notes:{% for s in sources %} {{ s.text }}{% endfor %}",
        "template": "{{ message }}",
    }
    saved = await server.client.put(
        "/v1/bots/vinhuset",
        json={**config, "knowledge": knowledge, "embedding": embedding, "flows": {"main": main}},
    )
    assert saved.status_code == 200, saved.text
    await upload(server, files or DOCUMENTS)


DOCUMENTS = [
    (
        "hours.md",
        b"---\nurl: https://shop.example/hours\n---\n# Opening hours\n"
        b"Saturday 10 to 16, Sunday closed.",
    ),
    (
        "delivery.txt",
        b"---\nurl: https://shop.example/delivery\n---\nDELIVERY IN BERGEN\n\n"
        b"Delivery takes two days in Bergen on Saturday too.",
    ),
]


async def upload(server: RunningServer, files: list[tuple[str, bytes]]) -> None:
    """Add documents to the bot's index and wait until they are searchable."""
    form = [("files", file) for file in files]
    accepted = await server.client.post("/v1/bots/vinhuset/knowledge/documents", files=form)
    assert accepted.status_code == 202, accepted.text
    job = await finished_job(server.client, accepted.json()["status_url"])
    assert job["status"] == "completed" and len(job["summary"]["added"]) == len(files), job


def differing_pixels(a: bytes, b: bytes) -> float:
    """The share of pixels that differ visibly between two screenshots of the same size."""
    from PIL import Image, ImageChops

    first, second = (
        Image.open(io.BytesIO(a)).convert("RGB"),
        Image.open(io.BytesIO(b)).convert("RGB"),
    )
    assert first.size == second.size, (first.size, second.size)
    diff = ImageChops.difference(first, second).convert("L").point(lambda v: 255 if v > 24 else 0)
    return sum(diff.histogram()[255:]) / (first.size[0] * first.size[1])
