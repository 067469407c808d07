"""Tool calls in the console, in a real Chromium (SQLite and PostgreSQL): under an answer, a
compact list of its calls (tool, status, time) whose arguments show when one is opened, never a
secret; and the Analytics screen's table of calls, errors and p95 per tool."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import BrowserContext, expect

from chinwag.settings import Settings
from chinwag.testing.fake_llm import FakeLLM, ScriptedCall
from tests.browser.test_console import shot, sign_in
from tests.conftest import run_server
from tests.console.test_console_tool_calls import SECRET_ARGUMENT, calling_bot, shop
from tests.helpers import ask
from tests.tools.shop import FakeShop

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]
__all__ = ["shop"]  # the shop on 127.0.0.1, a fixture of the API's tests


async def test_an_answers_tool_calls_and_the_tool_table(
    make_settings: Settings,
    fake_llm: FakeLLM,
    shop: FakeShop,
    browser_context: BrowserContext,
    database_url: str,
) -> None:
    fake_llm.behaviour.tool_turns = [
        [
            ScriptedCall("order_status", {"order": "10024", "customer": SECRET_ARGUMENT}),
            ScriptedCall("broken", {}),
        ]
    ]
    async with run_server(make_settings, bot=calling_bot(shop)) as server:
        events = await ask(server.client, "Where is order 10023?", user_id="kari", session_id="s1")
        assert events[-1].data["status"] == "completed"
        page = await sign_in(browser_context, server.base_url, server.admin_key)
        await page.goto(f"{server.base_url}/admin/conversations/vinhuset/s1")

        calls = page.locator(".msg.assistant li.tool-call")
        await expect(calls).to_have_count(3)
        await expect(calls.nth(0).locator("summary")).to_have_text(
            re.compile(r"^order_status completed \d+ ms$")
        )
        main_calls = calls.locator("summary", has_text="order_status").nth(1)
        broken = calls.filter(has_text="broken").locator("summary")
        await expect(broken).to_have_text(re.compile(r"^broken error: tool_server_error \d+ ms$"))
        await expect(page.locator("pre.arguments").first).to_be_hidden()  # opened on a click

        await main_calls.click()
        opened = calls.filter(has=page.locator("details[open]"))
        await expect(opened).to_contain_text("main, step 1 · HTTP 200")
        await expect(opened.locator("pre.arguments")).to_contain_text('"customer": "[redacted]"')
        await broken.click()
        await expect(calls.filter(has_text="broken")).to_contain_text("HTTP 503")
        assert SECRET_ARGUMENT not in await page.content()
        await shot(page, "tool-calls", database_url)

        await page.goto(f"{server.base_url}/admin/analytics")
        table = page.locator("#chart-tools")
        await expect(table.locator("tbody tr")).to_have_count(2)
        rows = [
            await row.locator("td").all_inner_texts()
            for row in await table.locator("tbody tr").all()
        ]
        assert [r[:3] for r in rows] == [["broken", "1", "1 (100%)"], ["order_status", "2", "0"]]
        assert all(r[4].endswith(" ms") for r in rows)
        await shot(page, "analytics-tools", database_url)
        await page.fill("input[name=since]", "2020-01-01")
        await page.fill("input[name=until]", "2020-01-31")
        await expect(table.locator(".empty")).to_have_text("No tool calls in this range.")
