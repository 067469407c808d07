"""While a person has the conversation, in two Chromium contexts (the widget on another origin,
an operator signed in to the console): each side sees the other typing, the indicator going
away by itself; the operator drafts a reply from a curated answer; the console's Analytics
shows the handoffs.

The SQLite run writes docs/img/handoff-typing-*.png, handoff-answer-picker.png and
console-analytics-handoffs.png."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect
from sqlalchemy import func, select

from chinwag.conversations.models import ChatSession, Message
from tests.browser.test_inbox import BOT, Shop, operator_page
from tests.browser.test_inbox import shop as shop  # the fixture
from tests.browser.test_widget import DOCS_IMG
from tests.browser.widget_pages import ask, finished_answers, open_page

pytestmark = pytest.mark.slow


async def picture(page: Page, name: str, shop: Shop, selector: str | None = None) -> None:
    if not shop.database_url.startswith("sqlite"):
        return
    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    target = page.locator(selector) if selector else page
    await target.screenshot(path=DOCS_IMG / f"{name}.png")


async def claimed_conversation(
    shop: Shop, browser: Browser, browser_context: BrowserContext
) -> tuple[BrowserContext, Page, Page]:
    """A visitor asked for a person and Kari claimed the conversation in her inbox."""
    operator_context, console = await operator_page(browser, shop)
    visitor = await open_page(
        browser_context, shop.site.add("shop.html", widget=shop.server.base_url, key=shop.key)
    )
    await ask(visitor, "Do you have Barolo?")
    await finished_answers(visitor, 1)
    await visitor.get_by_role("button", name="Talk to a person").click()
    await expect(visitor.locator(".msg.bot .bubble").last).to_contain_text("Someone will join")
    await console.locator(".queue-list li a").click()
    await console.click("#claim")
    await expect(console.locator("#state")).to_have_text("claimed by Kari")
    await expect(visitor.locator(".status")).to_have_text("Kari joined the chat")
    await expect(console.locator("#waiting-count")).to_have_count(0)  # the inbox caught up
    return operator_context, console, visitor


async def test_each_side_sees_the_other_typing(
    shop: Shop, browser: Browser, browser_context: BrowserContext
) -> None:
    operator_context, console, visitor = await claimed_conversation(shop, browser, browser_context)
    indicator = visitor.locator(".typing")
    await expect(indicator).to_be_hidden()

    await console.locator(".composer textarea").press_sequentially("Let me check")
    await expect(indicator).to_have_text("Kari is typing…")
    await picture(visitor, "handoff-typing-widget", shop, ".panel")
    # Kari stops typing without sending: the indicator goes away by itself.
    await expect(indicator).to_be_hidden(timeout=15_000)

    typing = console.locator("#visitor-typing")
    await expect(typing).to_have_count(0)
    await visitor.locator("textarea").press_sequentially("Which vintage")
    await expect(typing).to_have_text("Anonymous visitor is typing…")
    await picture(console, "handoff-typing-inbox", shop)
    await expect(typing).to_have_count(0, timeout=15_000)  # expired

    # Typing again, then sending: the message replaces the indicator at once.
    await visitor.locator("textarea").press_sequentially(" do you have?")
    await expect(typing).to_be_visible()
    await visitor.locator("textarea").press("Enter")
    lines = console.locator(".conversation .lines .msg")
    await expect(lines.last).to_contain_text("Which vintage do you have?")
    await expect(typing).to_have_count(0)
    await console.locator(".composer textarea").press_sequentially(" in the cellar")
    await expect(indicator).to_be_visible()
    await console.keyboard.press("Enter")
    await expect(visitor.locator(".msg.bot:has(.who) .bubble")).to_have_text(
        "Let me check in the cellar"
    )
    await expect(indicator).to_be_hidden()
    assert await console.evaluate("window.__csp") == []
    await operator_context.close()


async def test_the_operator_drafts_a_reply_from_a_curated_answer(
    shop: Shop, browser: Browser, browser_context: BrowserContext
) -> None:
    for question, answer in (
        ("Do you deliver on Sundays?", "We deliver Monday to Saturday, 9 to 18."),
        ("Can I return a bottle?", "Unopened bottles can be returned within 30 days."),
    ):
        made = await shop.server.client.post(
            f"/v1/bots/{BOT}/answers", json={"question": question, "answer": answer}
        )
        assert made.status_code == 201, made.text
    operator_context, console, visitor = await claimed_conversation(shop, browser, browser_context)
    box = console.locator(".composer textarea")
    await box.fill("Hi!")
    await console.get_by_role("button", name="Insert answer").click()
    picker = console.get_by_role("dialog", name="Curated answers")
    await expect(picker.locator("button.pick")).to_have_count(2)
    await picker.get_by_role("searchbox").fill("return")
    await expect(picker.locator("button.pick")).to_have_count(1)
    await expect(picker.locator("button.pick")).to_contain_text("Can I return a bottle?")
    await picture(console, "handoff-answer-picker", shop)
    await picker.locator("button.pick").click()
    await expect(picker).to_have_count(0)
    # A draft: in the box after what Kari wrote, not sent.
    await expect(box).to_have_value("Hi!\n\nUnopened bottles can be returned within 30 days.")
    await console.get_by_role("button", name="Insert answer").click()
    await picker.get_by_role("searchbox").fill("no such words")
    await expect(picker).to_contain_text("No curated answer matches.")
    await picker.get_by_role("searchbox").press("Escape")
    async with shop.server.db.read() as conn:
        said = (
            await conn.execute(
                select(func.count()).select_from(Message).where(Message.role == "assistant")
            )
        ).scalar_one()
    assert said == 1  # the bot's answer only: the draft is not sent
    await box.press("End")
    await box.press_sequentially(" Anything else?")
    await console.get_by_role("button", name="Send").click()
    await expect(visitor.locator(".msg.bot:has(.who) .bubble p")).to_have_text(
        ["Hi!", "Unopened bottles can be returned within 30 days. Anything else?"]
    )
    assert await console.evaluate("window.__csp") == []
    await operator_context.close()


async def test_analytics_shows_the_handoffs(shop: Shop, browser_context: BrowserContext) -> None:
    operator_context, console, visitor = await claimed_conversation(
        shop, browser_context.browser, browser_context
    )
    await console.locator(".composer textarea").fill("Hi, Kari here.")
    await console.keyboard.press("Enter")
    await expect(visitor.locator(".msg.bot:has(.who)")).to_have_count(1)
    await console.click("#close")
    await expect(console.locator("#state")).to_have_text("closed")
    await operator_context.close()
    # A second conversation the bot answers alone.
    await visitor.get_by_role("button", name="New chat").click()
    await ask(visitor, "And Chianti?")
    await finished_answers(visitor, 1)
    async with shop.server.db.read() as conn:
        assert (await conn.execute(select(func.count()).select_from(ChatSession))).scalar() == 2

    admin = await browser_context.new_page()
    await admin.set_viewport_size({"width": 1280, "height": 900})
    await admin.goto(f"{shop.server.base_url}/admin/analytics")
    await admin.fill("#key-sign-in input[name=key]", shop.server.admin_key)
    await admin.click("#key-sign-in button[type=submit]")
    card = admin.locator("#chart-handoffs")
    await expect(card.locator("#handoff-rate")).to_have_text("50 %")
    await expect(card).to_contain_text("1 of 2 conversations asked for a person (1 request)")
    await expect(card).to_contain_text("time to a person's first reply (1 answered)")
    endings = card.locator("#handoff-endings tr")
    await expect(endings).to_have_text(
        [
            "by the bot (no person asked)1",
            "handed back to the bot0",
            "closed by a person1",
            "left an email (ticket)0",
        ]
    )
    await card.scroll_into_view_if_needed()
    await picture(admin, "console-analytics-handoffs", shop, "#chart-handoffs")
    # Days before today: nothing.
    await admin.fill("input[name=until]", "2020-01-31")
    await admin.fill("input[name=since]", "2020-01-01")
    await expect(card).to_contain_text("0 of 0 conversations asked for a person")
    await expect(card.locator("#handoff-rate")).to_have_text("–")
