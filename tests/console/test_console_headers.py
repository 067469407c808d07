"""Every response under /admin carries the console's strict CSP: no inline script or style,
never framed (the widget preview, framed by the bot page, is the one exception)."""

from __future__ import annotations

from pathlib import Path

import httpx

from chinwag.console.routes import STATIC
from chinwag.settings import Settings
from tests.conftest import RunningServer, run_server

SCREENS = [
    "/admin",
    "/admin/conversations",
    "/admin/conversations?rating=down",
    "/admin/conversations/vinhuset/some-session",
    "/admin/routes",
    "/admin/answers/vinhuset",
    "/admin/analytics",
    "/admin/bots",
    "/admin/bots/vinhuset",
    "/admin/knowledge/vinhuset",
    "/admin/keys",
    "/admin/health",
]
FILES = [
    *(f"/admin/assets/{p.name}" for p in sorted(STATIC.iterdir()) if p.suffix != ".html"),
    "/admin/vendor/preact.mjs",
    "/admin/vendor/hooks.mjs",
    "/admin/vendor/htm.mjs",
    "/admin/vendor/uPlot.esm.js",
    "/admin/vendor/uPlot.min.css",
    "/admin/assets/nothing.js",  # a 404, as problem+json
    "/admin/session",  # a 401: not signed in
]


def assert_strict(response: httpx.Response) -> None:
    policy = response.headers.get("content-security-policy", "")
    rules = dict((r.strip() + " ").split(" ", 1) for r in policy.split(";") if r.strip())
    assert rules.get("default-src", "").strip() == "'none'", (response.url, policy)
    assert rules.get("script-src", "").strip() == "'self'", (response.url, policy)
    assert rules.get("style-src", "").strip() == "'self'", (response.url, policy)
    assert rules.get("frame-ancestors", "").strip() == "'none'", (response.url, policy)
    assert "unsafe" not in policy, (response.url, policy)
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_every_console_response_has_the_strict_policy(server: RunningServer) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as web:
        for url in SCREENS:
            page = await web.get(url)
            assert page.status_code == 200, url
            assert_strict(page)
            assert page.headers["x-frame-options"] == "DENY"
            # Nothing inline: the page's only script and styles are files of this server.
            assert "<style" not in page.text and "style=" not in page.text
            assert page.text.count("<script") == 1
            assert '<script type="module" src="/admin/assets/app.js"></script>' in page.text
        for url in FILES:
            response = await web.get(url)
            assert response.status_code in (200, 401, 404), url
            assert_strict(response)


async def test_the_console_files_hold_no_inline_style_or_bare_import(
    server: RunningServer,
) -> None:
    """The scripts set no style attribute from text (only CSSOM properties) and import by URL;
    preact's hooks are served importing preact by URL too (no import map needed)."""
    for path in STATIC.glob("*.js"):
        text = path.read_text()
        assert 'style="' not in text and "style=${`" not in text, path.name
        assert 'from "preact' not in text and 'from "htm"' not in text, path.name
    async with httpx.AsyncClient(base_url=server.base_url) as web:
        hooks = (await web.get("/admin/vendor/hooks.mjs")).text
        assert 'from"./preact.mjs"' in hooks and 'from"preact"' not in hooks


async def test_the_preview_and_the_missing_libraries_page_have_their_policy(
    make_settings: Settings, tmp_path: Path, server: RunningServer
) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as web:
        preview = await web.get("/admin/preview")
        policy = preview.headers["content-security-policy"]
        assert "frame-ancestors 'self'" in policy and "unsafe" not in policy
    settings = make_settings.model_copy(update={"console_node_modules": tmp_path / "none"})
    async with run_server(settings) as bare, httpx.AsyncClient(base_url=bare.base_url) as web:
        missing = await web.get("/admin/keys")
        assert missing.status_code == 503
        assert_strict(missing)
        assert "style=" not in missing.text
