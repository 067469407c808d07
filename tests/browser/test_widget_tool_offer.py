"""A tool that fails, in a real Chromium: the widget shows the shop's failure text, the offer of
a person, and the "Talk to a person" button under the answer; clicking it asks for one."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import BrowserContext, expect
from sqlalchemy import select

from chinwag.config.handoff import HandoffConfig
from chinwag.conversations.models import Handoff
from chinwag.settings import Settings
from chinwag.testing.fake_llm import FakeLLM
from tests.browser.test_widget import Setup, publishable_key
from tests.browser.widget_pages import HostSite, ask, finished_answers, open_page
from tests.conftest import run_server
from tests.tools.shop import TOKEN, FakeShop
from tests.tools.test_tool_flows import shop_bot

pytestmark = pytest.mark.slow


@pytest.fixture
async def broken_shop(
    make_settings: Settings, fake_llm: FakeLLM, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Setup]:
    monkeypatch.setenv("SHOP_API_TOKEN", TOKEN)
    with FakeShop() as shop, HostSite() as site:
        bot = shop_bot(shop, path="/broken", query=True)
        bot = bot.model_copy(update={"handoff": HandoffConfig(enabled=True)})
        async with run_server(make_settings, bot=bot) as server:
            yield Setup(server, site, await publishable_key(server, [site.origin]))


async def test_a_failing_tool_offers_a_person_in_the_widget(
    broken_shop: Setup, browser_context: BrowserContext
) -> None:
    server = broken_shop.server
    page = await open_page(
        browser_context,
        broken_shop.site.add("shop.html", widget=server.base_url, key=broken_shop.key),
    )
    await ask(page, "Where is my order 10023?")
    await finished_answers(page, 1)
    answer = page.locator(".msg.bot").last
    await expect(answer.locator(".bubble")).to_contain_text("Sorry, I can't check that right now")
    await expect(answer.locator(".bubble")).to_contain_text("Would you like to talk to a person")
    offer = answer.locator(".offer").get_by_role("button", name="Talk to a person")
    await expect(offer).to_be_visible()
    await offer.click()
    await expect(page.locator(".msg.bot .bubble").last).to_contain_text("Someone will join")
    await expect(page.locator(".offer")).to_have_count(0)
    async with server.db.read() as conn:
        assert (await conn.execute(select(Handoff.state))).scalar_one() == "waiting"
