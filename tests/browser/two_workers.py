"""Two `chinwag serve` processes on two ports, sharing one PostgreSQL database and one Redis (a
Redis of their own), and what the two-worker browser tests do and read on them.

That is the shape of `chinwag serve --workers 2`, whose workers share one port: the kernel gives
each connection to whichever accepts first, so a test could not choose the worker a page talks
to. Here the visitor's widget talks to worker A (`visitor_side`) and the operator's console to
worker B (`operator_side`), or the console reaches both through a relay that fails over like a
load balancer (widget_pages.Proxy with two ports)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from playwright.async_api import Browser, BrowserContext, Locator, Page, expect
from sqlalchemy import select

from chinwag.auth.keys import create_key
from chinwag.auth.operators import add_operator
from chinwag.bots.service import put_bot
from chinwag.conversations.models import Message, MessageAuthor
from chinwag.db.uow import Database
from chinwag.handoff import texts
from chinwag.testing.fake_llm import FakeLLM
from tests.browser.test_inbox import PASSWORD
from tests.browser.widget_pages import HostSite, ask, finished_answers, open_page
from tests.conftest import POSTGRES_ADMIN_DSN, _admin, _asyncpg_url, _run_in_thread
from tests.faults.processes import RedisServer, ServerProcess, server_env
from tests.handoff.conftest import BOT, handoff_bot

ANSWER = "We have two Barolos: Pio Cesare 2019 and Vietti Castiglione 2020."
GREETING = handoff_bot().widget.greeting
JOINING = texts.JOINING["en"].replace("{name}", "Vinhuset")
# What the widget shows, message by message: who (visitor, bot, or the operator's name), text.
WIDGET_LINES = """els => els.map((e) => [
  e.classList.contains("user") ? "visitor" : (e.querySelector(".who") || {}).textContent || "bot",
  e.querySelector(".bubble").innerText.trim()])"""
# What the console's transcript shows: the author's kind and name, and the text.
CONSOLE_LINES = """els => els.map((e) => [
  e.dataset.author, e.querySelector(".meta b").textContent, e.querySelector(".text").innerText])"""


@dataclass
class Workers:
    """What the module's tests share: the two workers on one database and one Redis, the shop's
    site and its key. Each test has a conversation of its own (its own visitor, its own first
    question)."""

    visitor_side: ServerProcess  # worker A: the widget's
    operator_side: ServerProcess  # worker B: the console's
    database_url: str
    site: HostSite
    key: str  # the shop's publishable key
    redis: RedisServer


@dataclass
class Deployment(Workers):
    db: Database  # the test's own connection (in its event loop), for what was stored

    def shop_page(self, widget: str | None = None) -> str:
        """The shop's page, its widget from `widget` (by default worker A)."""
        return self.site.add("shop.html", widget=widget or self.visitor_side.base_url, key=self.key)


@contextmanager
def started_workers(template: str, folder: Path) -> Iterator[Workers]:
    """A database of their own (a copy of `template`), seeded; a Redis of their own, a fake LLM,
    the shop's site, and the two workers, ready; all stopped on the way out."""
    name = f"chinwag_t_{uuid.uuid4().hex[:12]}"
    _run_in_thread(_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    url = _asyncpg_url(POSTGRES_ADMIN_DSN, name)
    redis = RedisServer(folder)
    started: list[ServerProcess] = []
    try:
        with FakeLLM() as llm, HostSite() as site:
            llm.behaviour.model_replies["fake-model"] = ANSWER
            redis.start()
            for side in ("a", "b"):
                env = server_env(url, llm.base_url, folder / side, redis_url=redis.url)
                started.append(ServerProcess(env, folder / f"worker-{side}.log"))
                started[-1].start()
            keys: list[str] = []
            _run_in_thread(_seed(url, site.origin, keys))
            for server in started:
                _run_in_thread(server.wait_ready())
            yield Workers(started[0], started[1], url, site, keys[0], redis)
    finally:
        for server in started:  # both at once: each waits a grace period for its readers
            if server.proc is not None and server.proc.poll() is None:
                server.proc.terminate()
        for server in started:
            server.stop()
        redis.stop()
        _run_in_thread(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _seed(url: str, origin: str, keys: list[str]) -> None:
    """The handoff bot, two operators (Kari, Ola) and a publishable key for the shop's site."""
    db = Database.from_url(url)
    try:
        async with db.write() as conn:
            await put_bot(conn, handoff_bot())
            for name in ("Kari", "Ola"):
                await add_operator(
                    conn,
                    name=name,
                    email=f"{name.lower()}@vinhuset.example",
                    password=PASSWORD,
                    role="operator",
                    bots=[BOT],
                )
            key = await create_key(
                conn, kind="publishable", name="site", bot_id=BOT, allowed_origins=[origin]
            )
        keys.append(key.key)
    finally:
        await db.dispose()


async def console(
    browser: Browser, base_url: str, email: str = "kari@vinhuset.example"
) -> tuple[BrowserContext, Page]:
    """An operator signed in to the console at `base_url`, their inbox live."""
    context = await browser.new_context(
        viewport={"width": 1280, "height": 760}, locale="en-GB", timezone_id="Europe/Oslo"
    )
    page = await context.new_page()
    await page.goto(f"{base_url}/admin")
    await page.fill("#operator-sign-in input[name=email]", email)
    await page.fill("#operator-sign-in input[name=password]", PASSWORD)
    await page.click("#operator-sign-in button[type=submit]")
    await expect(page.locator("#live")).to_have_text("● live")
    return context, page


async def asks_for_a_person(
    deployment: Deployment, context: BrowserContext, question: str, widget: str | None = None
) -> Page:
    """A visitor on the shop's page asks the bot, then for a person."""
    visitor = await open_page(context, deployment.shop_page(widget))
    await ask(visitor, question)
    await finished_answers(visitor, 1)
    await visitor.get_by_role("button", name="Talk to a person").click()
    await expect(visitor.locator(".msg.bot .bubble").last).to_contain_text("Someone will join")
    return visitor


async def claims(operator: Page, question: str, name: str = "Kari") -> None:
    """The operator opens the conversation from the live queue (it appears there without a
    reload) and claims it."""
    await waiting(operator, question).click()
    await operator.click("#claim")
    await expect(operator.locator("#state")).to_have_text(f"claimed by {name}")


async def writes(operator: Page, text: str) -> None:
    await operator.fill(".composer textarea", text)
    await operator.keyboard.press("Enter")
    await expect(operator.locator(".composer textarea")).to_have_value("")


async def widget_lines(visitor: Page, count: int) -> list[list[str]]:
    """The widget's messages once there are `count` (the greeting first)."""
    lines = visitor.locator(".msg:not(.streaming)")
    await expect(lines).to_have_count(count)
    found: list[list[str]] = await lines.evaluate_all(WIDGET_LINES)
    return found


async def console_lines(operator: Page, count: int) -> list[list[str]]:
    lines = operator.locator(".conversation .lines .msg")
    await expect(lines).to_have_count(count)
    found: list[list[str]] = await lines.evaluate_all(CONSOLE_LINES)
    return found


def waiting(operator: Page, question: str) -> Locator:
    """The link to the waiting conversation that `question` began, once it is in the queue."""
    return operator.locator(".queue-list li", has_text=question).locator("a")


async def session_of(db: Database, question: str) -> str:
    """The conversation (its primary key) that `question` began."""
    async with db.read() as conn:
        found = await conn.execute(select(Message.session_id).where(Message.content == question))
        return str(found.scalar_one())


async def stored(db: Database, question: str) -> list[tuple[str, str | None, str]]:
    """The conversation's messages as stored, in order: role, the operator's name, text."""
    session = await session_of(db, question)
    async with db.read() as conn:
        rows = await conn.execute(
            select(Message.role, MessageAuthor.name, Message.content)
            .outerjoin(MessageAuthor, MessageAuthor.message_id == Message.id)
            .where(Message.session_id == session)
            .order_by(Message.position)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


async def is_stored(db: Database, text: str) -> bool:
    async with db.read() as conn:
        found = await conn.execute(select(Message.id).where(Message.content == text))
        return found.first() is not None


async def shot(page: Page, name: str) -> None:
    """With CHINWAG_SCREENSHOTS=<folder> (e.g. docs), docs/handoff-<name>.png."""
    folder = os.environ.get("CHINWAG_SCREENSHOTS")
    if folder:
        await page.screenshot(path=str(Path(folder) / f"handoff-{name}.png"))


def port_of(server: ServerProcess) -> int:
    return int(server.base_url.rsplit(":", 1)[1])
