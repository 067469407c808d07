"""Where a tool may connect: the bot's allowed hosts, and never a private address unless the
tool allows one. The check is made on every address the name resolves to, and the call then
connects to a checked address (tools/call.py), so DNS cannot change the answer in between."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence

from chinwag.tools.errors import ToolAddressRefused, ToolHostNotAllowed, ToolUnreachable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Addresses no tool reaches unless it says `allow_private: true`.
REFUSED_NETWORKS: tuple[tuple[str, str], ...] = (
    ("0.0.0.0/8", "this network"),
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "carrier-grade NAT"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local (cloud metadata lives at 169.254.169.254)"),
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "IETF protocol assignments"),
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "benchmarking"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved"),
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("fc00::/7", "unique local (private)"),
    ("fe80::/10", "link-local"),
    ("ff00::/8", "multicast"),
    ("64:ff9b::/96", "NAT64"),
    ("2002::/16", "6to4"),
)
_NETWORKS = [(ipaddress.ip_network(net), why) for net, why in REFUSED_NETWORKS]


def host_allowed(host: str, allowed: Sequence[str]) -> bool:
    """Whether `host` is one of `allowed` (`*.example.com` allows its subdomains)."""
    host = host.lower().rstrip(".").strip("[]")
    for entry in allowed:
        entry = entry.lower().rstrip(".").strip("[]")
        if entry.startswith("*."):
            if host.endswith(entry[1:]) and host != entry[2:]:
                return True
        elif host == entry:
            return True
    return False


def check_host(tool: str, host: str, allowed: Sequence[str]) -> None:
    if not host_allowed(host, allowed):
        raise ToolHostNotAllowed(
            f"tool '{tool}' may not call {host}: it is not in the bot's allowed_hosts",
        )


def why_refused(address: IPAddress) -> str | None:
    """Why an address is refused, or None when a tool may connect to it."""
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped or _ipv4_compatible(address)
        if mapped is not None:
            return why_refused(mapped) or None
    for network, why in _NETWORKS:
        if address.version == network.version and address in network:
            return why
    return None


def _ipv4_compatible(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """`::a.b.c.d` (deprecated IPv4-compatible form) as its IPv4 address."""
    if int(address) >> 32 == 0 and int(address) > 1:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


class UnresolvableHost(Exception):
    """The name could not be resolved (`cause`: the resolver's error)."""

    def __init__(self, cause: OSError) -> None:
        super().__init__(str(cause))
        self.cause = cause


class RefusedAddress(Exception):
    """The name resolves to an address that may not be reached (`why`: its kind)."""

    def __init__(self, address: IPAddress, why: str) -> None:
        super().__init__(f"{address}, a {why} address")
        self.address, self.why = address, why


async def checked_addresses(host: str, port: int, *, allow_private: bool) -> list[str]:
    """Every address `host` resolves to (or the literal address it is), each checked;
    UnresolvableHost or RefusedAddress otherwise. For whatever reaches outside: tools, MCP
    servers, webhooks.

    Refusing the whole name when one of its addresses is private stops a name that answers
    with a public and a private address (or changes between lookups) from slipping through."""
    literal = _literal(host)
    if literal is not None:
        addresses: list[IPAddress] = [literal]
    else:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise UnresolvableHost(exc) from exc
        addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))
    if not allow_private:
        for address in addresses:
            why = why_refused(address)
            if why is not None:
                raise RefusedAddress(address, why)
    return [str(a) for a in addresses]


async def resolve_checked(tool: str, host: str, port: int, *, allow_private: bool) -> list[str]:
    """checked_addresses for a tool: ToolUnreachable or ToolAddressRefused with its name."""
    try:
        return await checked_addresses(host, port, allow_private=allow_private)
    except UnresolvableHost as exc:
        raise ToolUnreachable(f"tool '{tool}': cannot resolve {host}: {exc.cause}") from exc
    except RefusedAddress as exc:
        raise ToolAddressRefused(
            f"tool '{tool}' may not connect to {host}: it is {exc.address}, a {exc.why} address"
        ) from None


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
