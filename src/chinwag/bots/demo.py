"""The demo bot `vinhuset`: a fictional wine shop, answering from the embedded defaults."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from chinwag.bots.activation import check_file
from chinwag.config.bot import BotConfig


def demo_bot_path() -> Path:
    return Path(str(resources.files("chinwag.bots").joinpath("demo/vinhuset.yaml")))


def demo_knowledge_path() -> Path:
    """The documents the demo bot knows, shipped with the package."""
    return demo_bot_path().parent / "knowledge"


# The origin the shipped documents' URLs are written with (`url: http://127.0.0.1:8000/#hours`).
WRITTEN_ORIGIN = "http://127.0.0.1:8000"


def demo_knowledge_on(origin: str, into: Path) -> Path:
    """Copies of the demo's documents in `into`, their URLs on `origin` (the host and port the
    demo serves its shop page on), so that a source chip opens the page the demo serves."""
    for file in sorted(demo_knowledge_path().iterdir()):
        data = file.read_bytes()
        (into / file.name).write_bytes(data.replace(WRITTEN_ORIGIN.encode(), origin.encode()))
    return into


def demo_answers_path() -> Path:
    """The demo's curated answers (CSV, the format of `chinwag answers import`)."""
    return demo_bot_path().parent / "answers.csv"


# Where the shipped YAML's tools find the demo shop's API (chinwag.web.demo_shop).
WRITTEN_SHOP_HOST = "127.0.0.1"
WRITTEN_SHOP = f"http://{WRITTEN_SHOP_HOST}:8000/demo/shop-api"
WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::", "localhost"})


def demo_shop_origin(host: str, port: int) -> str:
    """How the demo's tools reach the demo's own server: loopback when it listens on every
    interface (or on loopback), else the address it listens on."""
    name = "127.0.0.1" if host in WILDCARD_HOSTS else host
    return f"http://{'[' + name + ']' if ':' in name else name}:{port}"


def demo_bot_config(shop_origin: str | None = None) -> BotConfig:
    """The demo bot's configuration; its YAML is part of the package and always valid.

    `shop_origin`: where the demo serves its shop API (`http://127.0.0.1:8123`); the tools'
    URLs and allowed host move there. Unset: as written (port 8000)."""
    report = check_file(demo_bot_path())
    assert report.config is not None, [p.message for p in report.errors]
    if shop_origin is None:
        return report.config
    return BotConfig.model_validate(_on_shop(report.config.model_dump(), shop_origin))


def demo_bot_source(source: str | None, shop_origin: str) -> str | None:
    """The demo bot's YAML text with its tools on `shop_origin`, as demo_bot_config makes it."""
    if source is None:
        return None
    host = _host(shop_origin)
    written = f'allowed_hosts: ["{WRITTEN_SHOP_HOST}"]'
    return source.replace(WRITTEN_SHOP, _shop(shop_origin)).replace(
        written, f'allowed_hosts: ["{host}"]'
    )


def _on_shop(data: dict[str, Any], shop_origin: str) -> dict[str, Any]:
    for tool in data.get("tools", {}).values():
        tool["url"] = tool["url"].replace(WRITTEN_SHOP, _shop(shop_origin))
    data["allowed_hosts"] = [
        _host(shop_origin) if h == WRITTEN_SHOP_HOST else h for h in data["allowed_hosts"]
    ]
    return data


def _shop(origin: str) -> str:
    return origin.rstrip("/") + "/demo/shop-api"


def _host(origin: str) -> str:
    return origin.split("://", 1)[1].rsplit(":", 1)[0].strip("[]")
