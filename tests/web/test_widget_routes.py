"""The widget's script, its settings endpoint and the demo page, over HTTP."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import httpx
import yaml

from chinwag.app import create_app
from chinwag.bots.validation import validate_document
from chinwag.settings import Settings
from tests.conftest import RunningServer


async def _publishable(server: RunningServer, origin: str) -> str:
    created = await server.client.post(
        "/v1/keys",
        json={
            "kind": "publishable",
            "name": "w",
            "bot_id": "vinhuset",
            "allowed_origins": [origin],
        },
    )
    key: str = created.json()["key"]
    return key


async def test_widget_script_is_cached_by_content_hash(server: RunningServer) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as anonymous:
        first = await anonymous.get("/widget.js")
        assert first.status_code == 200
        assert first.headers["content-type"].startswith("text/javascript")
        assert "attachShadow" in first.text and "innerHTML" not in first.text.split("*/", 1)[1]
        etag = first.headers["etag"]
        assert first.headers["cache-control"].startswith("public, max-age=86400")
        again = await anonymous.get("/widget.js", headers={"if-none-match": etag})
        assert again.status_code == 304 and again.content == b""
        pinned = await anonymous.get(f"/widget.js?v={etag.strip(chr(34))}")
        assert pinned.headers["cache-control"] == "public, max-age=31536000, immutable"
        no_page = await anonymous.get("/")  # `chinwag serve` has no shop page
        assert no_page.status_code == 404 and no_page.json()["code"] == "not_found"


async def test_widget_script_is_gzipped_with_an_etag_per_encoding(server: RunningServer) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as browser:
        zipped = await browser.get("/widget.js", headers={"accept-encoding": "gzip, deflate, br"})
        plain = await browser.get("/widget.js", headers={"accept-encoding": "identity"})
        refused = await browser.get("/widget.js", headers={"accept-encoding": "gzip;q=0"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert "content-encoding" not in plain.headers and "content-encoding" not in refused.headers
    assert zipped.content == plain.content  # httpx decodes: the same script
    wire = int(zipped.headers["content-length"])
    assert wire < len(plain.content) / 2.5 and wire <= 15 * 1024, wire
    for response in (zipped, plain):
        assert response.headers["vary"] == "Accept-Encoding"
    assert zipped.headers["etag"] != plain.headers["etag"] == refused.headers["etag"]

    async def revalidate(etag: str, encoding: str) -> httpx.Response:
        async with httpx.AsyncClient(base_url=server.base_url) as browser:
            headers = {"if-none-match": etag, "accept-encoding": encoding}
            return await browser.get("/widget.js", headers=headers)

    again = await revalidate(zipped.headers["etag"], "gzip")
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == zipped.headers["etag"] and again.headers["vary"]
    assert (await revalidate(plain.headers["etag"], "identity")).status_code == 304
    assert (await revalidate(f"W/{zipped.headers['etag']}", "gzip")).status_code == 304
    # A cached plain copy is not the gzipped representation: the full body comes back.
    switched = await revalidate(plain.headers["etag"], "gzip")
    assert switched.status_code == 200 and switched.headers["content-encoding"] == "gzip"
    # ?v= pins the content, whatever the encoding.
    version = plain.headers["etag"].strip('"')
    async with httpx.AsyncClient(base_url=server.base_url) as browser:
        pinned = await browser.get(f"/widget.js?v={version}", headers={"accept-encoding": "gzip"})
    assert pinned.headers["cache-control"] == "public, max-age=31536000, immutable"


async def test_widget_settings_for_the_page_key(server: RunningServer) -> None:
    site = "https://shop.example"
    key = await _publishable(server, site)
    async with httpx.AsyncClient(base_url=server.base_url) as page:
        headers = {"authorization": f"Bearer {key}", "origin": site}
        got = await page.get("/v1/bots/vinhuset/widget", headers=headers)
        assert got.status_code == 200, got.text
        body = got.json()
        assert body["title"] == "Vinhuset" and body["bot_version"] >= 1
        assert body["widget"]["language"] == "nb" and len(body["widget"]["starters"]) == 3
        assert (await page.get("/v1/widget", headers=headers)).json() == body
        assert "access-control-allow-origin" in got.headers


async def test_a_same_origin_page_needs_no_origin_header(server: RunningServer) -> None:
    key = await _publishable(server, server.base_url)
    async with httpx.AsyncClient(base_url=server.base_url) as page:
        bearer = {"authorization": f"Bearer {key}"}
        same = await page.get(
            "/v1/bots/vinhuset/widget", headers={**bearer, "sec-fetch-site": "same-origin"}
        )
        assert same.status_code == 200, same.text
        bare = await page.get("/v1/bots/vinhuset/widget", headers=bearer)
        assert bare.status_code == 403 and bare.json()["code"] == "origin_not_allowed"
        cross = await page.get(
            "/v1/bots/vinhuset/widget", headers={**bearer, "sec-fetch-site": "cross-site"}
        )
        assert cross.status_code == 403


async def test_the_demo_page_carries_the_key_under_a_strict_csp(make_settings: Settings) -> None:
    app = create_app(make_settings, demo_publishable_key="cw_pk_demo<&>")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000"
    ) as browser:
        page = await browser.get("/")
        css = await browser.get("/demo/shop.css")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'data-key="cw_pk_demo&lt;&amp;&gt;"' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "'unsafe-inline'" not in page.headers["content-security-policy"]
    assert "<style" not in page.text and " style=" not in page.text
    assert 'id="opening-hours"' in page.text and "/widget.js?v=" in page.text
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


def test_widget_section_errors_have_paths() -> None:
    document = {
        "id": "shop",
        "name": "Shop",
        "flows": {"main": {"template": "{{ message }}"}},
        "widget": {
            "accent": "red",
            "avatar": "javascript:alert(1)",
            "persistence": "cookies",
            "strings": {"hello": "Hi"},
            "colour": "#ffffff",
        },
    }
    report = validate_document(document)
    paths = {(p.path, p.code) for p in report.errors}
    assert paths == {
        ("widget.accent", "invalid_value"),
        ("widget.avatar", "invalid_value"),
        ("widget.persistence", "invalid_value"),
        ("widget.strings", "invalid_value"),
        ("widget.colour", "unknown_key"),
    }, paths
    assert any("unknown widget string hello" in p.message for p in report.errors)


def test_the_demo_bot_has_a_norwegian_widget() -> None:
    from chinwag.bots.demo import demo_bot_path

    widget = yaml.safe_load(demo_bot_path().read_text())["widget"]
    assert widget["language"] == "nb" and widget["starters"]


def test_the_demo_documents_link_to_the_demo_on_its_own_port(tmp_path: Path) -> None:
    """`chinwag demo --port 8123` ingests its documents with URLs on :8123, where the shop page
    and its anchors are (the demo CLI test asks a question and checks the sources' URLs)."""
    from chinwag.bots.demo import demo_knowledge_on, demo_knowledge_path
    from chinwag.knowledge.loaders import find_files, load

    origin = "http://127.0.0.1:8123"
    files, _ = find_files([demo_knowledge_on(origin, tmp_path)])
    assert len(files) == len(list(demo_knowledge_path().iterdir()))
    urls = [load(f).url for f in files]
    assert all(url is None or url.startswith(f"{origin}/#") for url in urls)
    assert sum(url is not None for url in urls) >= len(files) - 2
    anchors = (Path(str(resources.files("chinwag.web"))) / "demo" / "index.html").read_text()
    for url in filter(None, urls):
        assert f'id="{url.rsplit("#", 1)[1]}"' in anchors, url  # each opens its place
