"""Where a tool may connect: each refusal, on the address actually connected to."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from chinwag.config.bot import BotConfig
from chinwag.tools.call import ToolCaller
from chinwag.tools.safety import host_allowed, why_refused
from tests.tools.shop import FakeShop

pytestmark = pytest.mark.timeout(30)


@pytest.fixture(scope="module")
def shop() -> Iterator[FakeShop]:
    with FakeShop() as running:
        yield running


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.255.0.9",
        "10.1.2.3",
        "172.16.0.1",
        "172.31.255.254",
        "192.168.1.1",
        "169.254.169.254",
        "169.254.0.1",
        "100.64.0.1",
        "0.0.0.0",
        "::1",
        "::",
        "fd00::1",
        "fd00:ec2::254",
        "fc00::1",
        "fe80::1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "::ffff:10.0.0.1",
        "::127.0.0.1",
    ],
)
def test_private_loopback_link_local_and_metadata_addresses_are_refused(address: str) -> None:
    assert why_refused(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ["93.184.216.34", "1.1.1.1", "2606:4700::1111"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert why_refused(ipaddress.ip_address(address)) is None


def test_allowed_hosts_match_exactly_or_by_wildcard() -> None:
    allowed = ["shop.example", "*.api.example"]
    assert host_allowed("shop.example", allowed) and host_allowed("SHOP.example.", allowed)
    assert host_allowed("eu.api.example", allowed)
    assert not host_allowed("api.example", allowed)
    assert not host_allowed("shop.example.evil.com", allowed)
    assert not host_allowed("evilshop.example", allowed)


def bot(url: str, *, hosts: list[str], allow_private: bool = False) -> BotConfig:
    return BotConfig.model_validate(
        {
            "id": "shop",
            "name": "Shop",
            "flows": {"main": {"template": "{{ message }}"}},
            "allowed_hosts": hosts,
            "tools": {"t": {"url": url, "allow_private": allow_private}},
        }
    )


async def test_a_host_the_bot_does_not_allow_is_refused(shop: FakeShop) -> None:
    before = len(shop.seen)
    outcome = await ToolCaller({}).call(
        bot(f"{shop.base_url}/echo/x", hosts=["shop.example"], allow_private=True), "t", {}
    )
    assert outcome.code == "tool_host_not_allowed" and "allowed_hosts" in str(outcome.error)
    assert len(shop.seen) == before


@pytest.mark.parametrize("host", ["127.0.0.1", "[::ffff:127.0.0.1]", "localhost"])
async def test_a_private_address_is_refused_unless_the_tool_allows_it(
    shop: FakeShop, host: str
) -> None:
    """A literal address, its IPv4-mapped IPv6 form, and a name that resolves to it."""
    before = len(shop.seen)
    refused = await ToolCaller({}).call(
        bot(f"http://{host}:{shop.port}/echo/x", hosts=[host]), "t", {}
    )
    assert refused.code == "tool_address_refused", refused.error
    assert "loopback" in str(refused.error)
    assert len(shop.seen) == before
    if host != "[::ffff:127.0.0.1]":  # not every machine routes mapped addresses
        allowed = await ToolCaller({}).call(
            bot(f"http://{host}:{shop.port}/echo/x", hosts=[host], allow_private=True), "t", {}
        )
        assert allowed.status == "completed", allowed.error


def _resolver(answers: dict[str, list[list[str]]]) -> Any:
    """A stand-in for the system resolver: each lookup of a name gets its next answer."""
    calls: dict[str, int] = {}

    async def getaddrinfo(self: Any, host: str, port: int, **_: Any) -> list[Any]:
        if host not in answers:
            raise socket.gaierror(f"{host} is not known here")
        n = calls.get(host, 0)
        calls[host] = n + 1
        addresses = answers[host][min(n, len(answers[host]) - 1)]
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in addresses
        ]

    getaddrinfo.calls = calls  # type: ignore[attr-defined]
    return getaddrinfo


async def test_a_name_with_any_private_address_is_refused(
    shop: FakeShop, monkeypatch: pytest.MonkeyPatch
) -> None:
    resolver = _resolver({"rebind.example": [["93.184.216.34", "10.0.0.7"]]})
    monkeypatch.setattr(asyncio.BaseEventLoop, "getaddrinfo", resolver)
    outcome = await ToolCaller({}).call(
        bot("http://rebind.example/x", hosts=["rebind.example"]), "t", {}
    )
    assert outcome.code == "tool_address_refused" and "10.0.0.7" in str(outcome.error)


async def test_the_call_connects_to_the_address_that_was_checked(
    shop: FakeShop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: the name answers a checked address first and a metadata address
    after; the call connects to the first (one lookup) with the name kept as Host."""
    resolver = _resolver({"shop.test": [["127.0.0.1"], ["169.254.169.254"]]})
    monkeypatch.setattr(asyncio.BaseEventLoop, "getaddrinfo", resolver)
    url = f"http://shop.test:{shop.port}/echo/pinned"
    outcome = await ToolCaller({}).call(bot(url, hosts=["shop.test"], allow_private=True), "t", {})
    assert outcome.status == "completed", outcome.error
    assert resolver.calls == {"shop.test": 1}
    assert shop.seen[-1].raw_path == "/echo/pinned"
    assert shop.seen[-1].headers["host"] == f"shop.test:{shop.port}"
