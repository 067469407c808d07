"""The demo shop in Chromium: "Cancel order 10023" asks for confirmation in the widget, with
Confirm and Cancel, and the order is cancelled in the demo shop's API only after Confirm; a
reload while asked shows the buttons again, and confirming then cancels once."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path

import httpx
import pytest
from playwright.async_api import BrowserContext, expect
from sqlalchemy import func, select

from chinwag.conversations.models import FlowRun, ToolActionDecision
from chinwag.settings import Settings
from chinwag.testing.fake_llm import FakeLLM
from tests.browser.test_widget import DOCS_IMG, Setup, publishable_key
from tests.browser.widget_pages import HostSite, ask, open_page
from tests.conftest import run_server

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]
# A fresh server's first answer also rewrites the embedding model and embeds the demo bot's
# router and scope examples: each test here takes ~10 s alone on a slow 2-core machine, and the
# first answer took over 20 s once in CI there (4 test processes on the 2 cores).
FIRST_ANSWER_MS = 90_000


@pytest.fixture
async def shop(make_settings: Settings, fake_llm: FakeLLM) -> AsyncIterator[Setup]:
    """The demo bot, its shop API and the demo shop page (on a second origin); no documents."""
    with HostSite() as site:
        runner = run_server(make_settings, demo_shop=True)
        assert runner.bot is not None
        runner.bot = runner.bot.model_copy(update={"knowledge": None})
        async with runner as server:
            key = await publishable_key(server, [site.origin])
            page = resources.files("chinwag.web").joinpath("demo", "index.html").read_text()
            page = page.replace("/widget.js?v={{widget_version}}", f"{server.base_url}/widget.js")
            site.add("demo.html", widget=server.base_url, key=key)  # its CSP
            site.pages["demo.html"] = page.replace("{{publishable_key}}", key)
            yield Setup(server, site, key)


async def order_status(setup: Setup) -> str:
    async with httpx.AsyncClient(base_url=setup.server.base_url) as client:
        response = await client.get("/demo/shop-api/orders/10023")
    status: str = response.json()["order"]["status"]
    return status


async def test_cancel_order_asks_in_the_widget_and_cancels_only_after_confirm(
    shop: Setup, fake_llm: FakeLLM, browser_context: BrowserContext, tmp_path: Path
) -> None:
    page = await open_page(browser_context, f"{shop.site.origin}/demo.html")
    await ask(page, "Cancel order 10023")
    # Pinned by its text: after the click, `.last` would move on to the answer that follows.
    asked = page.locator(".msg.bot:not(.streaming)", has_text="Shall I cancel order 10023?")
    await expect(asked.locator(".bubble")).to_have_text(
        "Shall I cancel order 10023? This cannot be undone.", timeout=FIRST_ANSWER_MS
    )
    # The demo widget speaks Norwegian: Bekreft (confirm) and Avbryt (cancel).
    confirm = asked.get_by_role("button", name="Bekreft")
    await expect(confirm).to_be_enabled()
    await expect(asked.get_by_role("button", name="Avbryt")).to_be_enabled()
    assert await order_status(shop) == "shipped"  # asked, nothing sent

    shots = DOCS_IMG if os.environ.get("CHINWAG_WIDGET_SCREENSHOTS") else tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    await page.locator("textarea").blur()
    await page.screenshot(path=shots / "widget-confirmation.png")

    await confirm.click()
    await expect(confirm).to_be_disabled()
    answer = page.locator(".msg.bot:not(.streaming) .bubble").last
    await expect(answer).to_have_text(
        "Order 10023 is cancelled; the money will be back on your card within five days.",
        timeout=20_000,
    )
    await expect(page.locator(".msg.user").last).to_have_text("Bekreft")
    assert await order_status(shop) == "cancelled"
    assert fake_llm.requests == []  # routed, asked and answered with no LLM


async def cancel_calls(setup: Setup) -> tuple[int, int]:
    """The cancel_order calls made (flow runs that called it) and the decisions recorded."""
    async with setup.server.db.read() as conn:
        calls = (
            await conn.execute(
                select(func.count())
                .select_from(FlowRun)
                .where(FlowRun.tool["tool"].as_string() == "cancel_order")
            )
        ).scalar_one()
        decided = (
            await conn.execute(select(func.count()).select_from(ToolActionDecision))
        ).scalar_one()
    return calls, decided


async def test_a_reload_while_asked_shows_confirm_again_and_confirming_cancels_once(
    shop: Setup, browser_context: BrowserContext
) -> None:
    page = await open_page(browser_context, f"{shop.site.origin}/demo.html")
    await ask(page, "Cancel order 10023")
    asked = page.locator(".msg.bot:not(.streaming)", has_text="Shall I cancel order 10023?")
    await expect(asked.get_by_role("button", name="Bekreft")).to_be_enabled(timeout=FIRST_ANSWER_MS)

    await page.reload()  # not answered: the history brings the question and its buttons back
    await page.locator(".launcher").click()
    asked = page.locator(".msg.bot", has_text="Shall I cancel order 10023?")
    confirm = asked.get_by_role("button", name="Bekreft")
    await expect(confirm).to_be_enabled()
    await expect(asked.get_by_role("button", name="Avbryt")).to_be_enabled()
    await expect(asked.locator(".rate")).to_have_count(0)  # asked: no thumbs yet
    assert await order_status(shop) == "shipped" and await cancel_calls(shop) == (0, 0)

    await confirm.click()
    answer = page.locator(".msg.bot:not(.streaming) .bubble").last
    await expect(answer).to_have_text(
        "Order 10023 is cancelled; the money will be back on your card within five days.",
        timeout=20_000,
    )
    assert await order_status(shop) == "cancelled"
    assert await cancel_calls(shop) == (1, 1)

    await page.reload()  # answered: the question comes back without its buttons
    await page.locator(".launcher").click()
    await expect(page.locator(".msg.user")).to_have_count(2)
    asked = page.locator(".msg.bot", has_text="Shall I cancel order 10023?")
    await expect(asked.locator(".ask")).to_have_count(0)
    await expect(asked.locator(".rate")).to_have_count(1)
    assert await cancel_calls(shop) == (1, 1)
