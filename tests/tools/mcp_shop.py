"""A real MCP server built with the SDK (MCPServer, once FastMCP): the shop's order status
and stock (read-only), a cancellation (changes something) and a tool that fails. Served over
streamable HTTP (tests/tools/test_mcp.py serves it on 127.0.0.1), or run as a stdio subprocess
(`python mcp_shop.py`): it imports only the SDK."""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp_types import ToolAnnotations

ORDERS = {
    "10023": {"status": "shipped", "delivery": "2026-12-09"},
    "10024": {"status": "packing", "delivery": "2026-12-11"},
}


def shop_server() -> MCPServer:
    server = MCPServer("shop")

    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    def order_status(order: str) -> dict[str, Any]:
        """An order's status and delivery date, by its five-digit number."""
        found = ORDERS.get(order)
        if found is None:
            raise ValueError(f"no order {order}")
        return {"order": order, **found}

    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    def stock_level(wine: str) -> dict[str, Any]:
        """Bottles in stock now, by the wine's name."""
        return {"wine": wine, "bottles": 7 if "barolo" in wine.lower() else 0}

    @server.tool()
    def cancel_order(order: str) -> str:
        """Cancel an order."""
        return f"order {order} cancelled"

    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    def warehouse() -> str:
        """Always fails: the warehouse system is down."""
        raise RuntimeError("the warehouse system is down")

    return server


if __name__ == "__main__":
    shop_server().run("stdio")
