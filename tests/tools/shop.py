"""A small shop API over real HTTP (127.0.0.1, a free port, in a thread): orders with their
status and delivery date, and endpoints that fail in each way a tool can meet."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from chinwag.testing.server import ThreadedServer, free_port

TOKEN = "s3cr3t-shop-token-4f9a"  # what SHOP_API_TOKEN holds in the tests

ORDERS: dict[str, dict[str, Any]] = {
    "10023": {"id": "10023", "status": "shipped", "delivery": {"date": "2026-12-09"}},
    "10024": {"id": "10024", "status": "packing", "delivery": {"date": "2026-12-11"}},
}
CUSTOMER_ORDERS = {"kari@example.com": ["10024"]}


@dataclass
class Seen:
    """One request as the shop received it."""

    method: str
    raw_path: str
    headers: dict[str, str]
    body: bytes


class FakeShop(ThreadedServer):
    """Every request it received is in `seen`."""

    def __init__(self) -> None:
        self.port = free_port()
        super().__init__(self.port)
        self.seen: list[Seen] = []
        self.waiting = 0  # requests at /meet not answered yet

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def hits(self, path: str) -> int:
        return sum(1 for s in self.seen if s.raw_path.split("?")[0] == path)

    def app(self) -> Any:
        shop = self.routes()

        async def recorded(scope: Any, receive: Any, send: Any) -> None:
            """Every request is recorded before routing (even one no route matches)."""
            if scope["type"] == "http":
                raw = scope["raw_path"].decode()
                query = scope["query_string"].decode()
                headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
                self.seen.append(
                    Seen(scope["method"], raw + (f"?{query}" if query else ""), headers, b"")
                )
            await shop(scope, receive, send)

        return recorded

    def routes(self) -> Starlette:
        async def record(request: Request) -> None:
            self.seen[-1].body = await request.body()

        async def order(request: Request) -> Response:
            await record(request)
            if request.headers.get("authorization") != f"Bearer {TOKEN}":
                return JSONResponse({"error": "unauthorised"}, status_code=401)
            found = ORDERS.get(request.path_params["order"])
            if found is None:
                return JSONResponse({"error": "no such order"}, status_code=404)
            return JSONResponse({"order": found})

        async def customer_orders(request: Request) -> Response:
            await record(request)
            ids = CUSTOMER_ORDERS.get(request.path_params["customer"], [])
            return JSONResponse({"orders": [ORDERS[i] for i in ids]})

        async def echo(request: Request) -> Response:
            await record(request)
            return JSONResponse({"path": request.scope["raw_path"].decode()})

        async def broken(request: Request) -> Response:
            await record(request)
            return JSONResponse({"error": "down"}, status_code=503)

        async def slow(request: Request) -> Response:
            await record(request)
            await asyncio.sleep(3)
            return JSONResponse({})

        async def not_json(request: Request) -> Response:
            await record(request)
            return PlainTextResponse("<html>maintenance</html>")

        async def big(request: Request) -> Response:
            await record(request)
            return JSONResponse({"blob": "x" * 200_000})

        async def meet(request: Request) -> Response:
            """Answers once two requests wait here at the same time (or after 3 s): calls
            made one after the other never meet."""
            await record(request)
            self.waiting += 1
            for _ in range(300):
                if self.waiting >= 2:
                    break
                await asyncio.sleep(0.01)
            met = self.waiting >= 2
            await asyncio.sleep(0.05)  # the other one sees the meeting too
            self.waiting -= 1
            return JSONResponse({"met": met, "who": request.path_params["who"]})

        async def redirect(request: Request) -> Response:
            await record(request)
            return RedirectResponse("http://169.254.169.254/latest/meta-data/", status_code=302)

        return Starlette(
            routes=[
                Route("/api/orders/{order}", order),
                Route("/api/customers/{customer}/orders", customer_orders),
                Route("/echo/{rest:path}", echo, methods=["GET", "POST"]),
                Route("/broken", broken, methods=["GET", "POST"]),
                Route("/slow", slow),
                Route("/not-json", not_json),
                Route("/big", big),
                Route("/redirect", redirect),
                Route("/meet/{who}", meet),
            ]
        )
