"""HTTP routes of tickets: a visitor who cannot be answered live leaves an email address
(with consent); operators list the tickets."""

from __future__ import annotations

from fastapi import APIRouter

from chinwag.bots.service import get_bot
from chinwag.conversations.history import visible_session
from chinwag.db.base import utcnow
from chinwag.errors import TicketConsentRequired
from chinwag.handoff import service
from chinwag.handoff.follow import publish
from chinwag.handoff.schemas import TicketCreatedOut, TicketIn, TicketPage
from chinwag.handoff.tickets import create_ticket, list_tickets
from chinwag.http.deps import PrincipalDep
from chinwag.http.routes.handoff import OPERATORS, SESSION, VISITORS
from chinwag.http.runtime import ServicesDep

router = APIRouter(prefix="/v1", tags=["handoff"])


@router.post(f"{SESSION}/ticket", response_model=TicketCreatedOut, status_code=201)
async def leave_email(
    bot_id: str, session_id: str, body: TicketIn, principal: PrincipalDep, services: ServicesDep
) -> TicketCreatedOut:
    """The visitor leaves an email address (with consent) in a conversation waiting for a
    person: a ticket; the handoff is closed and the shop answers by email."""
    principal.require_bot(bot_id, kinds=VISITORS)
    if not body.consent:
        raise TicketConsentRequired("the visitor did not give consent to keep their email")
    now = utcnow()
    async with services.db.write() as conn:
        bot = (await get_bot(conn, bot_id)).config
        await visible_session(conn, principal, bot_id, session_id)
        session = await service.find_session(conn, bot_id, session_id)
        ticket_id, event = await create_ticket(
            conn, session=session, bot=bot, email=body.email, language=body.language, now=now
        )
    await publish(services.event_log.fanout, session["id"], [event])
    text = event_text(event.data, body.language)
    return TicketCreatedOut(ticket_id=ticket_id, text=text)


def event_text(data: str, language: str) -> str:
    parsed = service.parse_session_event(data)
    texts: dict[str, str] = getattr(parsed, "text", {})
    return texts.get(language) or texts.get("en", "")


@router.get("/bots/{bot_id}/tickets", response_model=TicketPage)
async def tickets(bot_id: str, principal: PrincipalDep, services: ServicesDep) -> TicketPage:
    """The bot's latest 200 tickets, newest first, with the consent each visitor gave."""
    principal.require_bot(bot_id, kinds=OPERATORS)
    async with services.db.read() as conn:
        await get_bot(conn, bot_id)
        return TicketPage.model_validate({"tickets": await list_tickets(conn, bot_id)})
