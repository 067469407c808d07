"""The demo shop's own API, served by `chinwag demo` under /demo/shop-api: orders with their
status and delivery date, live stock, and cancelling an order (its bottles go back on the
shelf). The vinhuset bot's tools call it (docs/tools.md#the-demo-shops-tools).

State lives in this process, seeded afresh at each start: a demo, not a shop system."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, timedelta
from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

SHOP_API_PATH = "/demo/shop-api"


@dataclass(slots=True)
class Order:
    id: str
    status: str  # received | packing | shipped | delivered | cancelled
    delivery: date
    items: dict[str, int]  # wine name -> bottles

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "delivery": {"date": self.delivery.isoformat()},
            "items": [{"wine": w, "bottles": n} for w, n in self.items.items()],
        }


def seeded_orders(today: date) -> dict[str, Order]:
    """The demo's orders, dated from `today` (10023 is on its way, delivered in two days)."""
    orders = [
        Order("10023", "shipped", today + timedelta(days=2), {"Barolo Sorì del Vento": 2}),
        Order("10024", "packing", today + timedelta(days=4), {"Rosso di Lupa": 6}),
        Order("10025", "delivered", today - timedelta(days=3), {"Prosecco Brio": 3}),
        Order("10026", "received", today + timedelta(days=5), {"Les Lauzes Tavel Rosé": 1}),
    ]
    return {o.id: o for o in orders}


# An order in one of these can still be cancelled; later, the answer is 409.
CANCELLABLE = frozenset({"received", "packing", "shipped"})


@dataclass(slots=True)
class DemoShop:
    """The shop's live state: its orders and the bottles on the shelf."""

    orders: dict[str, Order]
    stock: dict[str, int] = field(default_factory=dict)  # wine name -> bottles

    @classmethod
    def seeded(cls, today: date | None = None) -> DemoShop:
        return cls(seeded_orders(today or date.today()), shelf_stock())

    def named_in(self, text: str) -> dict[str, int]:
        """Each wine whose name has a word of its own in `text` (accents and case aside), and
        the bottles of it on the shelf: "Is the Barolo in stock?" names Barolo Sorì del Vento."""
        said = set(_words(text))
        return {
            name: bottles
            for name, bottles in self.stock.items()
            if any(w in said for w in _words(name) if len(w) >= 4 and w not in COMMON_WORDS)
        }

    def cancel(self, order: Order) -> None:
        order.status = "cancelled"
        for wine, bottles in order.items.items():
            self.stock[wine] = self.stock.get(wine, 0) + bottles


def shelf_stock() -> dict[str, int]:
    """The bottles on the shelf at opening: the demo's wine table (data/wines.csv)."""
    text = resources.files("chinwag.bots").joinpath("demo/data/wines.csv").read_text("utf-8")
    return {row["name"]: int(row["stock_bottles"]) for row in csv.DictReader(io.StringIO(text))}


# Words in many wines' names: a message that says "rosé" names no one wine.
COMMON_WORDS = frozenset(
    [
        "rosso",
        "rosato",
        "rose",
        "rosado",
        "bianco",
        "blanc",
        "blanca",
        "noir",
        "pinot",
        "brut",
        "grand",
        "premier",
        "reserva",
        "riserva",
        "reserve",
        "classico",
        "chateau",
        "haut",
        "cotes",
        "crianza",
        "nature",
        "tinto",
        "vinho",
        "anos",
    ]
)


def _words(text: str) -> list[str]:
    plain = unicodedata.normalize("NFKD", text.casefold())
    folded = "".join(c for c in plain if not unicodedata.combining(c))
    return re.findall(r"[a-z0-9]+", folded)


def _problem(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"error": detail}, status_code=status)


def demo_shop_app(shop: DemoShop | None = None) -> Starlette:
    """The API as an ASGI app of its own (mounted at SHOP_API_PATH by the demo)."""
    state = shop or DemoShop.seeded()

    async def get_order(request: Request) -> JSONResponse:
        order = state.orders.get(request.path_params["order"])
        if order is None:
            return _problem(404, "no such order")
        return JSONResponse({"order": order.as_json()})

    async def cancel_order(request: Request) -> JSONResponse:
        order = state.orders.get(request.path_params["order"])
        if order is None:
            return _problem(404, "no such order")
        if order.status == "cancelled":
            return JSONResponse({"order": order.as_json(), "changed": False})
        if order.status not in CANCELLABLE:
            return _problem(409, f"order {order.id} is {order.status}: it cannot be cancelled")
        state.cancel(order)
        return JSONResponse({"order": order.as_json(), "changed": True})

    async def get_stock(request: Request) -> JSONResponse:
        """The live stock of the wines the text `q` names (none named: an empty object)."""
        return JSONResponse({"wines": state.named_in(request.query_params.get("q", ""))})

    return Starlette(
        routes=[
            Route("/orders/{order}", get_order),
            Route("/orders/{order}/cancel", cancel_order, methods=["POST"]),
            Route("/stock", get_stock),
        ]
    )
