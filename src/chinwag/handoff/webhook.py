"""Sending one handoff webhook: signed (HMAC-SHA256 over the timestamp and the body), only to
a host the bot allows and never to a private address unless the webhook says so, with a time
limit and a cap on what is read back. The secret is read from the environment per send and
never written anywhere (not in errors, logs or the delivery record)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from chinwag.config.bot import BotConfig
from chinwag.config.handoff import HandoffWebhook
from chinwag.errors import (
    WebhookAddressRefused,
    WebhookHostNotAllowed,
    WebhookRedirectRefused,
    WebhookRejected,
    WebhookSecretNotSet,
    WebhookServerError,
    WebhookTimeout,
    WebhookUnreachable,
)
from chinwag.tools.safety import (
    RefusedAddress,
    UnresolvableHost,
    checked_addresses,
    host_allowed,
)

TIMEOUT_SECONDS = 5.0  # the whole attempt: connect, send, and the answer's status and body
RESPONSE_CAP_BYTES = 64 * 1024  # read back at most this much (the answer is not used)
SIGNATURE_HEADER = "x-chinwag-signature"
TIMESTAMP_HEADER = "x-chinwag-timestamp"
DELIVERY_HEADER = "x-chinwag-delivery"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """`sha256=` and the hex HMAC-SHA256, keyed with the secret, of `{timestamp}.{body}`."""
    signed = str(timestamp).encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class Sent:
    http_status: int
    bytes_read: int


class WebhookSender:
    """Sends webhooks for every bot of a server; secrets come from `env` at each send."""

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        tls: ssl.SSLContext | None = None,
        timeout_seconds: float = TIMEOUT_SECONDS,
    ) -> None:
        self._env = env if env is not None else os.environ
        self._tls = tls
        self.timeout_seconds = timeout_seconds

    async def send(
        self, bot: BotConfig, hook: HandoffWebhook, *, delivery_id: str, body: bytes, now: int
    ) -> Sent:
        """One attempt; raises a WebhookError (`transient` says whether to try again)."""
        secret = self._env.get(hook.secret_env)
        if not secret:
            raise WebhookSecretNotSet(
                f"the environment variable {hook.secret_env} (handoff.webhook.secret_env) is not "
                "set on this server"
            )
        parts = urlsplit(hook.url)
        host = (parts.hostname or "").lower()
        if not host_allowed(host, bot.allowed_hosts):
            raise WebhookHostNotAllowed(
                f"the webhook may not call {host}: it is not in the bot's allowed_hosts"
            )
        scheme = parts.scheme
        port = parts.port or (443 if scheme == "https" else 80)
        addresses = await _resolve(host, port, allow_private=hook.allow_private)
        headers = {
            "content-type": "application/json",
            "user-agent": "chinwag-webhook",
            TIMESTAMP_HEADER: str(now),
            SIGNATURE_HEADER: signature(secret, now, body),
            DELIVERY_HEADER: delivery_id,
            "host": parts.netloc.rsplit("@", 1)[-1],
        }
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        tls = await self._tls_context() if scheme == "https" else None
        try:
            async with asyncio.timeout(self.timeout_seconds):
                sent = await self._post(scheme, host, port, path, addresses, headers, body, tls)
        except TimeoutError:
            raise WebhookTimeout(
                f"the webhook at {host} did not answer within {self.timeout_seconds:g} s"
            ) from None
        status = sent.http_status
        if 300 <= status < 400:
            raise WebhookRedirectRefused(
                f"the webhook at {host} answered with a redirect ({status})"
            )
        if status >= 500 or status == 429:
            raise WebhookServerError(f"the webhook at {host} answered {status}", http_status=status)
        if status >= 400:
            raise WebhookRejected(f"the webhook at {host} answered {status}", http_status=status)
        return sent

    async def _post(
        self,
        scheme: str,
        host: str,
        port: int,
        path: str,
        addresses: list[str],
        headers: dict[str, str],
        body: bytes,
        tls: ssl.SSLContext | None,
    ) -> Sent:
        """POST to the first checked address that accepts the connection."""
        import httpx  # on first send: a worker whose bots have no webhook never loads it

        last: Exception | None = None
        async with httpx.AsyncClient(
            verify=tls or False, trust_env=False, follow_redirects=False, timeout=None
        ) as client:
            for address in addresses:
                url = httpx.URL(scheme=scheme, host=address, port=port, raw_path=path.encode())
                extensions = {"sni_hostname": host} if tls is not None else {}
                try:
                    async with client.stream(
                        "POST", url, headers=headers, content=body, extensions=extensions
                    ) as response:
                        read = 0
                        async for chunk in response.aiter_raw():
                            read += len(chunk)
                            if read >= RESPONSE_CAP_BYTES:
                                break  # the rest is not read
                        return Sent(response.status_code, min(read, RESPONSE_CAP_BYTES))
                except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                    last = exc
                except httpx.TransportError as exc:
                    raise WebhookUnreachable(
                        f"the connection to {host} broke: {type(exc).__name__}"
                    ) from None
        why = str(last)[:200] if last is not None else "no address"
        raise WebhookUnreachable(f"cannot connect to {host}:{port}: {why}")

    async def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = await asyncio.to_thread(ssl.create_default_context)
        return self._tls


async def _resolve(host: str, port: int, *, allow_private: bool) -> list[str]:
    """Every address of `host`, each checked (one refused address refuses the name)."""
    try:
        return await checked_addresses(host, port, allow_private=allow_private)
    except UnresolvableHost as exc:
        raise WebhookUnreachable(f"cannot resolve {host}: {exc.cause}") from None
    except RefusedAddress as exc:
        raise WebhookAddressRefused(
            f"the webhook may not connect to {host}: it is {exc.address}, a {exc.why} address"
        ) from None
