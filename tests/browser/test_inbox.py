"""The whole handoff in two Chromium contexts: a visitor on the widget (another origin) and an
operator signed in to the console by email and password, its inbox live over SSE.

With CHINWAG_SCREENSHOTS=<folder> (e.g. docs) the SQLite run writes each step's screenshot
there: docs/handoff-*.png come from this test."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect
from sqlalchemy import select

from chinwag.auth.operators import add_operator
from chinwag.conversations.models import Handoff
from chinwag.settings import Settings
from chinwag.testing.fake_llm import FakeLLM
from tests.browser.test_widget import publishable_key
from tests.browser.widget_pages import HostSite, ask, finished_answers, open_page
from tests.conftest import RunningServer, run_server
from tests.handoff.conftest import handoff_bot

pytestmark = pytest.mark.slow
BOT = "vinhuset"
PASSWORD = "correct horse battery"
# Counts the tones the page plays (the inbox chimes with Web Audio: two tones a chime).
TONES_JS = """
window.__tones = 0;
const start = OscillatorNode.prototype.start;
OscillatorNode.prototype.start = function (...args) {
  window.__tones++;
  return start.apply(this, args);
};
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(e.violatedDirective));
"""


@dataclass
class Shop:
    server: RunningServer
    site: HostSite
    key: str  # the site's publishable key
    database_url: str


@pytest.fixture
async def shop(
    make_settings: Settings, fake_llm: FakeLLM, database_url: str
) -> AsyncIterator[Shop]:
    fake_llm.behaviour.model_replies["fake-model"] = (
        "We have two Barolos: Pio Cesare 2019 and Vietti Castiglione 2020."
    )
    with HostSite() as site:
        async with run_server(make_settings, bot=handoff_bot()) as server:
            async with server.db.write() as conn:
                for name in ("Kari", "Ola"):
                    await add_operator(
                        conn,
                        name=name,
                        email=f"{name.lower()}@vinhuset.example",
                        password=PASSWORD,
                        role="operator",
                        bots=[BOT],
                    )
            yield Shop(server, site, await publishable_key(server, [site.origin]), database_url)


async def shot(page: Page, name: str, shop: Shop) -> None:
    folder = os.environ.get("CHINWAG_SCREENSHOTS")
    if folder and shop.database_url.startswith("sqlite"):
        await page.wait_for_timeout(200)
        await page.screenshot(path=str(Path(folder) / f"handoff-{name}.png"))


async def operator_page(
    browser: Browser, shop: Shop, email: str = "kari@vinhuset.example"
) -> tuple[BrowserContext, Page]:
    context = await browser.new_context(
        viewport={"width": 1280, "height": 760}, locale="en-GB", timezone_id="Europe/Oslo"
    )
    await context.add_init_script(TONES_JS)
    page = await context.new_page()
    await page.goto(f"{shop.server.base_url}/admin")
    await page.fill("#operator-sign-in input[name=email]", email)
    await page.fill("#operator-sign-in input[name=password]", "not the password")
    await page.click("#operator-sign-in button[type=submit]")
    await expect(page.get_by_role("alert")).to_contain_text("email or password is not right")
    await page.fill("#operator-sign-in input[name=password]", PASSWORD)
    await shot(page, "sign-in", shop)
    await page.click("#operator-sign-in button[type=submit]")
    await expect(page.locator("nav.side")).to_contain_text("operator of vinhuset")
    return context, page


async def tones(page: Page) -> int:
    count: int = await page.evaluate("window.__tones")
    return count


async def test_an_operator_answers_a_visitor_from_the_inbox(
    shop: Shop, browser: Browser, browser_context: BrowserContext
) -> None:
    operator_context, console = await operator_page(browser, shop)
    nav = console.locator("nav.side")
    # An operator sees the inbox only (the key's screens answer 403 to an operator anyway).
    await expect(nav.get_by_role("link")).to_have_text(["Inbox"])
    await expect(console.locator("#live")).to_have_text("● live")
    await expect(console.locator(".queue .empty")).to_have_text("Nobody is waiting for a person.")
    await expect(console.locator("#waiting-count")).to_have_count(0)

    visitor = await open_page(
        browser_context, shop.site.add("shop.html", widget=shop.server.base_url, key=shop.key)
    )
    await ask(visitor, "Do you have Barolo?")
    await finished_answers(visitor, 1)
    await visitor.get_by_role("button", name="Talk to a person").click()
    await expect(visitor.locator(".msg.bot .bubble").last).to_contain_text("Someone will join")

    # Live, without a reload: the count, the queue, a chime.
    await expect(console.locator("#waiting-count")).to_have_text("1")
    item = console.locator(".queue-list li")
    await expect(item).to_have_count(1)
    await expect(item).to_contain_text("Do you have Barolo?")
    await console.wait_for_function("window.__tones === 2")
    await shot(console, "waiting", shop)

    await item.locator("a").click()
    lines = console.locator(".conversation .lines .msg")
    await expect(console.locator("#state")).to_have_text("waiting for a person")
    await expect(lines.first).to_contain_text("Do you have Barolo?")
    await expect(lines.nth(1)).to_have_attribute("data-author", "bot")
    await shot(console, "open", shop)
    await console.click("#claim")
    await expect(console.locator("#state")).to_have_text("claimed by Kari")
    await expect(visitor.locator(".status")).to_have_text("Kari joined the chat")
    await expect(console.locator("#waiting-count")).to_have_count(0)

    await console.fill(".composer textarea", "Hi, Kari here. Which vintage?")
    await console.keyboard.press("Enter")
    kari = visitor.locator(".msg.bot:has(.who)")
    await expect(kari.locator(".bubble")).to_have_text("Hi, Kari here. Which vintage?")
    await expect(kari.locator(".who")).to_have_text("Kari")
    await expect(console.locator(".composer textarea")).to_have_value("")

    await ask(visitor, "2019, please")  # reaches the operator live; the bot stays silent
    await expect(lines.last).to_have_attribute("data-author", "visitor")
    await expect(lines.last).to_contain_text("2019, please")
    await expect(lines.nth(-2)).to_have_attribute("data-author", "operator")
    await console.get_by_role("tab", name="Mine").click()
    await expect(console.locator(".queue-list li")).to_contain_text("2019, please")
    await shot(console, "claimed", shop)
    await shot(visitor, "visitor", shop)

    await console.click("#release")  # hand back: the bot answers the next message
    await expect(console.locator("#state")).to_have_text("the bot answers")
    await expect(visitor.locator(".status")).to_have_text(
        "You're chatting with the assistant again"
    )
    await expect(console.locator(".composer")).to_have_count(0)

    # Sound off: the next request is counted and listed, without a chime.
    await console.click("#sound")
    await expect(console.locator("#sound")).to_have_text("Sound off")
    await visitor.get_by_role("button", name="Talk to a person").click()
    await expect(console.locator("#waiting-count")).to_have_text("1")
    await expect(console.locator("#state")).to_have_text("waiting for a person")
    assert await tones(console) == 2
    await console.reload()  # the choice is kept
    await expect(console.locator("#sound")).to_have_text("Sound off")

    await console.click("#claim")
    await console.click("#close")
    await expect(console.locator("#state")).to_have_text("closed")
    await expect(visitor.locator(".status")).to_have_text(
        "You're chatting with the assistant again"
    )
    await console.get_by_role("tab", name="Closed").click()
    await expect(console.locator(".queue-list li")).to_have_count(1)
    # The last 30 days, refreshed as the inbox changes: one conversation asked (twice).
    await expect(console.locator("#stats")).to_contain_text(
        "1 of 1 conversations asked for a person (100 %)"
    )
    await expect(console.locator("#stats")).to_contain_text("1 handed back, 1 closed, 0 tickets")
    async with shop.server.db.read() as conn:
        assert (await conn.execute(select(Handoff.state))).scalar_one() == "closed"
    assert await console.evaluate("window.__csp") == []
    await operator_context.close()


async def test_another_operator_sees_it_claimed(
    shop: Shop, browser: Browser, browser_context: BrowserContext
) -> None:
    """Two operators on one conversation: the one who claims answers; the other is told, live,
    who does."""
    first_context, first = await operator_page(browser, shop)
    second_context, second = await operator_page(browser, shop, "ola@vinhuset.example")
    visitor = await open_page(
        browser_context, shop.site.add("shop.html", widget=shop.server.base_url, key=shop.key)
    )
    await ask(visitor, "Hei")
    await finished_answers(visitor, 1)
    await visitor.get_by_role("button", name="Talk to a person").click()
    for page in (first, second):
        await page.locator(".queue-list li a").click()
        await expect(page.locator("#claim")).to_be_visible()
    await first.click("#claim")
    await expect(first.locator(".composer")).to_be_visible()
    await expect(second.locator("#state")).to_have_text("claimed by Kari")
    await expect(second.locator(".hint-line")).to_have_text("Kari is answering.")
    await expect(second.locator(".composer")).to_have_count(0)
    await first_context.close()
    await second_context.close()


async def test_an_admin_adds_an_operator_and_removing_them_signs_them_out(
    shop: Shop, browser: Browser, browser_context: BrowserContext
) -> None:
    await browser_context.add_init_script(TONES_JS)
    admin = await browser_context.new_page()
    await admin.goto(f"{shop.server.base_url}/admin/operators")
    await admin.fill("#key-sign-in input[name=key]", shop.server.admin_key)
    await admin.click("#key-sign-in button[type=submit]")
    form = admin.locator("#create-operator")
    await form.locator("input[name=name]").fill("Per")
    await form.locator("input[name=email]").fill("per@vinhuset.example")
    await form.locator("input[name=password]").fill("short")
    await form.locator("input[name=bots][value=vinhuset]").check()
    await form.locator("button[type=submit]").click()
    await expect(form.get_by_role("alert")).to_contain_text("password")
    await form.locator("input[name=password]").fill(PASSWORD)
    await form.locator("button[type=submit]").click()
    await expect(form.get_by_role("status")).to_contain_text("Per can sign in")
    row = admin.locator("#operators tr[data-operator='per@vinhuset.example']")
    await expect(row).to_contain_text("vinhuset")
    await shot(admin, "operators", shop)

    per_context, per = await operator_page(browser, shop, "per@vinhuset.example")
    await expect(per.locator("#live")).to_have_text("● live")
    admin.on("dialog", lambda dialog: dialog.accept())
    await row.get_by_role("button", name="Remove").click()
    await expect(row).to_have_count(0)
    # Per's open console notices at once: the inbox feed ends and he is back at the sign-in.
    await expect(per.locator("#operator-sign-in")).to_be_visible(timeout=10_000)
    assert await admin.evaluate("window.__csp") == []
    await per_context.close()


@pytest.fixture
async def closed_shop(
    make_settings: Settings, fake_llm: FakeLLM, database_url: str
) -> AsyncIterator[Shop]:
    """A shop whose opening hours never come: every request for a person meets the form."""
    fake_llm.behaviour.model_replies["fake-model"] = "We deliver Monday to Saturday."
    with HostSite() as site:
        bot = handoff_bot(hours={"timezone": "Europe/Oslo"})
        async with run_server(make_settings, bot=bot) as server:
            yield Shop(server, site, await publishable_key(server, [site.origin]), database_url)


async def test_after_hours_the_visitor_leaves_an_email_in_the_widget(
    closed_shop: Shop, browser_context: BrowserContext
) -> None:
    shop = closed_shop
    visitor = await open_page(
        browser_context, shop.site.add("shop.html", widget=shop.server.base_url, key=shop.key)
    )
    await ask(visitor, "Do you deliver on Sundays?")
    await finished_answers(visitor, 1)
    await visitor.get_by_role("button", name="Talk to a person").click()
    await expect(visitor.locator(".msg.bot .bubble").last).to_contain_text("Leave your email")
    form = visitor.locator("form.ticket")
    await expect(form).to_contain_text("I agree that Vinhuset keeps my email address")
    await visitor.reload()  # offered and not filled in: the history brings the form back, once
    await visitor.locator(".launcher").click()
    await expect(visitor.locator(".msg.user")).to_have_count(1)
    await expect(form).to_have_count(1)
    await expect(form).to_contain_text("I agree that Vinhuset keeps my email address")
    email = form.get_by_role("textbox", name="Your email address")
    await email.fill("kari@example.com")
    await form.get_by_role(
        "button", name="Send"
    ).click()  # consent not ticked: the browser stops it
    await expect(form).to_be_visible()
    await form.get_by_role("checkbox").check()
    await shot(visitor, "ticket", shop)
    await form.get_by_role("button", name="Send").click()
    await expect(form).to_have_count(0)
    await expect(visitor.locator(".msg.bot .bubble").last).to_have_text(
        "Thanks! Vinhuset will write to kari@example.com."
    )
    listed = await shop.server.client.get(f"/v1/bots/{BOT}/tickets")
    assert [t["email"] for t in listed.json()["tickets"]] == ["kari@example.com"]

    # The console's inbox lists it under Tickets, with a way to write back.
    console = await browser_context.new_page()
    await console.goto(f"{shop.server.base_url}/admin/inbox")
    await console.fill("#key-sign-in input[name=key]", shop.server.admin_key)
    await console.click("#key-sign-in button[type=submit]")
    await console.get_by_role("tab", name="Tickets").click()
    tickets = console.locator("#tickets li")
    await expect(tickets).to_have_count(1)
    await expect(tickets).to_contain_text("kari@example.com")
    await expect(tickets).to_contain_text("after hours")
    mail = tickets.get_by_role("link", name="Write to kari@example.com")
    await expect(mail).to_have_attribute("href", "mailto:kari@example.com")
    await shot(console, "tickets", shop)
