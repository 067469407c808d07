"""HTTP routes for a bot's curated answers (admin keys and the bot's secret keys)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from chinwag.answers import service
from chinwag.answers.schemas import (
    CuratedAnswerIn,
    CuratedAnswerList,
    CuratedAnswerOut,
    CuratedAnswerPatch,
)
from chinwag.http.deps import PrincipalDep
from chinwag.http.runtime import ServicesDep

router = APIRouter(prefix="/v1/bots/{bot_id}/answers", tags=["curated answers"])


@router.get("", response_model=CuratedAnswerList)
async def list_answers(
    bot_id: str,
    services: ServicesDep,
    principal: PrincipalDep,
    enabled: bool | None = None,
    q: Annotated[str | None, Query(max_length=200, description="Text in question or answer.")] = (
        None
    ),
) -> CuratedAnswerList:
    """The bot's curated answers, oldest first. Its operators may read them too (the inbox
    inserts one into a reply)."""
    principal.require_bot(bot_id, kinds=("secret", "operator"))
    async with services.db.read() as conn:
        items = await service.list_answers(conn, bot_id, enabled=enabled, q=q)
    return CuratedAnswerList(items=items)


@router.post("", status_code=201, response_model=CuratedAnswerOut)
async def create_answer(
    bot_id: str, body: CuratedAnswerIn, services: ServicesDep, principal: PrincipalDep
) -> CuratedAnswerOut:
    """Add a curated answer; `message_id` names the bot's answer it corrects, if any."""
    principal.require_bot(bot_id, kinds=("secret",))
    async with services.db.write() as conn:
        created = await service.create_answer(conn, bot_id, body)
    services.generations.curated.forget(bot_id)
    return created


@router.get("/{answer_id}", response_model=CuratedAnswerOut)
async def get_answer(
    bot_id: str, answer_id: str, services: ServicesDep, principal: PrincipalDep
) -> CuratedAnswerOut:
    principal.require_bot(bot_id, kinds=("secret",))
    async with services.db.read() as conn:
        return await service.get_answer(conn, bot_id, answer_id)


@router.patch("/{answer_id}", response_model=CuratedAnswerOut)
async def update_answer(
    bot_id: str,
    answer_id: str,
    body: CuratedAnswerPatch,
    services: ServicesDep,
    principal: PrincipalDep,
) -> CuratedAnswerOut:
    """Change any of question, answer, sources, enabled; the rest stays."""
    principal.require_bot(bot_id, kinds=("secret",))
    async with services.db.write() as conn:
        updated = await service.update_answer(conn, bot_id, answer_id, body)
    services.generations.curated.forget(bot_id)
    return updated


@router.delete("/{answer_id}", status_code=204, response_class=Response)
async def delete_answer(
    bot_id: str, answer_id: str, services: ServicesDep, principal: PrincipalDep
) -> Response:
    principal.require_bot(bot_id, kinds=("secret",))
    async with services.db.write() as conn:
        await service.delete_answer(conn, bot_id, answer_id)
    services.generations.curated.forget(bot_id)
    return Response(status_code=204)
