"""Handoff emails: the notice that a conversation waits for a person, sent through the server's
SMTP server (CHINWAG_SMTP_URL) from the same outbox as the webhook (handoff/deliveries.py).

smtplib blocks, so each email is sent in a thread, within a timeout; the login is never shown in
an error or a log. smtplib is imported by the first email: most servers never send one."""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any
from urllib.parse import unquote, urlsplit

from chinwag.errors import EmailFailed, EmailRefused, SmtpNotConfigured

TIMEOUT_SECONDS = 10.0
MAILTO = "mailto:"
ASKED = {"button": "with the widget's button", "words": "in words"}  # else its own name


@dataclass(frozen=True, slots=True)
class SmtpServer:
    """Where and how to send: from `smtp[s]://[user:password@]host[:port]`."""

    host: str
    port: int
    tls: bool  # TLS from the start (smtps); else STARTTLS when the server offers it
    user: str | None
    password: str | None

    @classmethod
    def from_url(cls, url: str) -> SmtpServer:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise SmtpNotConfigured("CHINWAG_SMTP_URL is not smtp://host[:port] or smtps://…")
        tls = parts.scheme == "smtps"
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if tls else 587),
            tls=tls,
            user=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )


def mailto(addresses: list[str]) -> str:
    """The outbox's `url` of an email delivery."""
    return MAILTO + ",".join(addresses)


def recipients(url: str) -> list[str]:
    return [a for a in url.removeprefix(MAILTO).split(",") if a]


def notice(bot_name: str, body: dict[str, Any], sender: str, to: list[str]) -> EmailMessage:
    """The email of a `handoff.waiting` notice: who waits, since when, where to answer."""
    message = EmailMessage()
    message["Subject"] = f"{bot_name}: a visitor is waiting for a person"
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Message-ID"] = f"<{body['delivery_id']}@chinwag>"  # a resend is the same email
    when = "within opening hours" if body["within_hours"] else "outside opening hours"
    how = ASKED.get(body["requested_by"], body["requested_by"])
    message.set_content(
        f"A visitor of {bot_name} asked for a person {how}, {when}, at "
        f"{body['requested_at'][:19].replace('T', ' ')} UTC.\n\n"
        f"Answer in the console's inbox: {body['console_path']}\n"
        f"(bot {body['bot_id']}, conversation {body['session_id']})\n"
    )
    return message


class EmailSender:
    """Sends handoff emails through one SMTP server (None: every send fails, with a hint)."""

    def __init__(
        self, url: str | None, sender: str, *, timeout_seconds: float = TIMEOUT_SECONDS
    ) -> None:
        self._url = url
        self._from = sender
        self.timeout_seconds = timeout_seconds

    async def send(self, bot_name: str, url: str, body: dict[str, Any]) -> None:
        """EmailFailed (transient) or SmtpNotConfigured when it was not taken."""
        import smtplib

        if not self._url:
            raise SmtpNotConfigured("this server has no SMTP server (CHINWAG_SMTP_URL)")
        server = SmtpServer.from_url(self._url)
        to = recipients(url)
        message = notice(bot_name, body, self._from, to)
        try:
            await asyncio.wait_for(
                asyncio.to_thread(self._send, server, message, to), self.timeout_seconds + 1
            )
        except smtplib.SMTPResponseException as exc:
            failure = EmailRefused if exc.smtp_code >= 500 else EmailFailed  # 4xx: try later
            raise failure(f"the email to {', '.join(to)} was not sent: {_why(exc)}") from None
        except (smtplib.SMTPException, OSError, TimeoutError) as exc:
            raise EmailFailed(f"the email to {', '.join(to)} was not sent: {_why(exc)}") from None

    def _send(self, server: SmtpServer, message: EmailMessage, to: list[str]) -> None:
        import smtplib

        connect = smtplib.SMTP_SSL if server.tls else smtplib.SMTP
        kwargs: dict[str, Any] = {"timeout": self.timeout_seconds}
        if server.tls:
            kwargs["context"] = ssl.create_default_context()
        with connect(server.host, server.port, **kwargs) as smtp:
            if not server.tls:
                smtp.ehlo()
                if smtp.has_extn("starttls"):
                    smtp.starttls(context=ssl.create_default_context())
                    smtp.ehlo()
            if server.user is not None:
                smtp.login(server.user, server.password or "")
            smtp.send_message(message, to_addrs=to)


def _why(exc: BaseException) -> str:
    """What went wrong, without the login (SMTP errors quote the server's reply only)."""
    import smtplib

    if isinstance(exc, smtplib.SMTPResponseException):
        reply = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else ""
        return f"{exc.smtp_code} {reply}"[:300]
    if isinstance(exc, TimeoutError):
        return "the SMTP server did not answer in time"
    return f"{type(exc).__name__}: {exc}"[:300]
