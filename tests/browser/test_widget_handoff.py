"""The widget during a handoff, in a real Chromium on another origin: "Talk to a person", the
operator's messages live with their name, the bot silent, a reload, and the hand-back."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import BrowserContext, expect
from sqlalchemy import select

from chinwag.config.answers import PolicyConfig
from chinwag.conversations.models import ChatSession, Handoff, Message
from chinwag.settings import Settings
from chinwag.testing.fake_llm import FakeLLM
from tests.browser.test_widget import DOCS_IMG, Setup, publishable_key
from tests.browser.widget_pages import HostSite, ask, finished_answers, open_page
from tests.conftest import run_server
from tests.engine.test_answer_policy import SYSTEM
from tests.handoff.conftest import handoff_bot

pytestmark = pytest.mark.slow
BOT = "vinhuset"


@pytest.fixture
async def shop(make_settings: Settings, fake_llm: FakeLLM) -> AsyncIterator[Setup]:
    with HostSite() as site:
        async with run_server(make_settings, bot=handoff_bot()) as server:
            yield Setup(server, site, await publishable_key(server, [site.origin]))


async def test_a_person_answers_in_the_widget(shop: Setup, browser_context: BrowserContext) -> None:
    server = shop.server
    url = shop.site.add("shop.html", widget=server.base_url, key=shop.key)
    page = await open_page(browser_context, url)
    person = page.get_by_role("button", name="Talk to a person")
    await ask(page, "Hei")
    await finished_answers(page, 1)
    await person.click()
    await expect(page.locator(".msg.bot .bubble").last).to_contain_text("Someone will join")
    await expect(person).to_be_hidden()  # asked already

    async with server.db.read() as conn:
        session = (await conn.execute(select(ChatSession.external_id))).scalar_one()
    handoff = f"/v1/bots/{BOT}/sessions/{session}/handoff"
    claimed = await server.client.post(f"{handoff}/claim", json={"name": "Kari"})
    assert claimed.status_code == 200, claimed.text
    wrote = await server.client.post(f"{handoff}/messages", json={"message": "Hei, Kari her!"})
    assert wrote.status_code == 201
    kari = page.locator(".msg.bot:has(.who)")
    await expect(kari).to_have_count(1)
    await expect(kari.locator(".who")).to_have_text("Kari")
    await expect(kari.locator(".bubble")).to_have_text("Hei, Kari her!")
    await expect(page.locator(".status")).to_have_text("Kari joined the chat")

    await ask(page, "Har dere Barolo?")  # to Kari: stored, no bot answer
    await expect(page.locator(".msg.user")).to_have_count(2)
    await page.wait_for_timeout(300)
    await expect(page.locator(".msg.bot.streaming")).to_have_count(0)
    async with server.db.read() as conn:
        said = (await conn.execute(select(Message.role).order_by(Message.position))).scalars()
        assert list(said) == ["user", "assistant", "assistant", "user"]

    await page.reload()
    await page.locator(".launcher").click()
    await expect(kari).to_have_count(1)  # from the history, once
    again = await server.client.post(f"{handoff}/messages", json={"message": "Ja, mange!"})
    assert again.status_code == 201
    await expect(kari).to_have_count(2)  # live after the reload, once
    await expect(kari.last.locator(".bubble")).to_have_text("Ja, mange!")

    released = await server.client.post(f"{handoff}/release")
    assert released.status_code == 200
    await expect(page.locator(".status")).to_have_text("You're chatting with the assistant again")
    await expect(person).to_be_visible()
    await ask(page, "Og Chianti?")
    await finished_answers(page, 2)


@pytest.fixture
async def grounded_shop(make_settings: Settings, fake_llm: FakeLLM) -> AsyncIterator[Setup]:
    bot = handoff_bot()
    main = bot.flows["main"].model_copy(update={"system": SYSTEM, "template": "{{ message }}"})
    grounded = bot.model_copy(
        update={"flows": {"main": main}, "policy": PolicyConfig(mode="grounded")}
    )
    with HostSite() as site:
        async with run_server(make_settings, bot=grounded) as server:
            yield Setup(server, site, await publishable_key(server, [site.origin]))


async def test_a_question_the_bot_cannot_answer_offers_a_person(
    grounded_shop: Setup, browser_context: BrowserContext
) -> None:
    server = grounded_shop.server
    url = grounded_shop.site.add("shop.html", widget=server.base_url, key=grounded_shop.key)
    page = await open_page(browser_context, url)
    await ask(page, "Do you have parking spaces for bicycles nearby?")
    await finished_answers(page, 1)
    answer = page.locator(".msg.bot").last
    await expect(answer.locator(".bubble")).to_contain_text("Would you like to talk to a person")
    offer = answer.locator(".offer").get_by_role("button", name="Talk to a person")
    await expect(offer).to_be_visible()
    await page.locator("textarea").blur()
    await page.locator(".panel").screenshot(path=DOCS_IMG / "widget-offer-person.png")
    await offer.click()
    await expect(page.locator(".msg.bot .bubble").last).to_contain_text("Someone will join")
    await expect(page.locator(".offer")).to_have_count(0)
    async with server.db.read() as conn:
        state = (await conn.execute(select(Handoff.state))).scalar_one()
    assert state == "waiting"
