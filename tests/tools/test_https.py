"""HTTPS to a checked address: the call connects to the IP it checked, and still verifies the
server's certificate against the tool's host name (SNI), with a real TLS server."""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from chinwag.config.bot import BotConfig
from chinwag.testing.server import ThreadedServer
from chinwag.tools.call import ToolCaller

pytestmark = pytest.mark.timeout(60)


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private CA and a certificate for `shop.test` signed by it."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command makes the test's certificates")
    d = tmp_path_factory.mktemp("tls")
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=chinwag test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        cwd=d,
    )
    _openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=shop.test",
        "-keyout",
        "shop.key",
        "-out",
        "shop.csr",
        cwd=d,
    )
    (d / "ext.cnf").write_text("subjectAltName=DNS:shop.test\n")
    _openssl(
        "x509",
        "-req",
        "-in",
        "shop.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
        "-out",
        "shop.pem",
        cwd=d,
    )
    return d


class TlsShop(ThreadedServer):
    def __init__(self, certificates: Path) -> None:
        super().__init__()
        self.certificates = certificates
        self.hosts: list[str] = []

    @property
    def port(self) -> int:
        return self._port

    def app(self) -> Starlette:
        async def order(request: Request) -> JSONResponse:
            self.hosts.append(request.headers["host"])
            return JSONResponse({"order": {"status": "shipped"}})

        return Starlette(routes=[Route("/orders/{order}", order)])

    def start(self) -> TlsShop:
        config = uvicorn.Config(
            self.app(),
            host="127.0.0.1",
            port=self._port,
            log_level="warning",
            lifespan="off",
            ssl_certfile=str(self.certificates / "shop.pem"),
            ssl_keyfile=str(self.certificates / "shop.key"),
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            assert time.monotonic() < deadline, "the TLS shop did not start"
            time.sleep(0.01)
        return self


@pytest.fixture(scope="module")
def tls_shop(certificates: Path) -> Iterator[TlsShop]:
    with TlsShop(certificates) as running:
        yield running


def _resolving(name: str, address: str) -> Any:
    async def getaddrinfo(self: Any, host: str, port: int, **_: Any) -> list[Any]:
        if host != name:
            raise socket.gaierror(f"{host} is not known here")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    return getaddrinfo


def _bot(host: str, port: int) -> BotConfig:
    return BotConfig.model_validate(
        {
            "id": "shop",
            "name": "Shop",
            "flows": {"main": {"template": "{{ message }}"}},
            "allowed_hosts": [host],
            "tools": {
                "t": {
                    "url": f"https://{host}:{port}/orders/{{order}}",
                    "arguments": {"type": "object", "properties": {"order": {"type": "string"}}},
                    "response": {"status": "order.status"},
                    "allow_private": True,
                }
            },
        }
    )


async def test_https_verifies_the_name_while_connecting_to_the_checked_address(
    tls_shop: TlsShop, certificates: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(asyncio.BaseEventLoop, "getaddrinfo", _resolving("shop.test", "127.0.0.1"))
    trusted = ssl.create_default_context(cafile=str(certificates / "ca.pem"))
    outcome = await ToolCaller({}, tls=trusted).call(
        _bot("shop.test", tls_shop.port), "t", {"order": "10023"}
    )
    assert outcome.status == "completed", outcome.error
    assert outcome.result == {"status": "shipped"}
    assert tls_shop.hosts[-1] == f"shop.test:{tls_shop.port}"


async def test_a_certificate_for_another_name_is_refused(
    tls_shop: TlsShop, certificates: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(asyncio.BaseEventLoop, "getaddrinfo", _resolving("other.test", "127.0.0.1"))
    trusted = ssl.create_default_context(cafile=str(certificates / "ca.pem"))
    outcome = await ToolCaller({}, tls=trusted).call(
        _bot("other.test", tls_shop.port), "t", {"order": "10023"}
    )
    assert outcome.status == "error" and outcome.code == "tool_unreachable", outcome.error
    assert "certificate" in str(outcome.error).lower()


async def test_an_untrusted_certificate_is_refused(
    tls_shop: TlsShop, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(asyncio.BaseEventLoop, "getaddrinfo", _resolving("shop.test", "127.0.0.1"))
    outcome = await ToolCaller({}).call(_bot("shop.test", tls_shop.port), "t", {"order": "1"})
    assert outcome.code == "tool_unreachable" and "certificate" in str(outcome.error).lower()
