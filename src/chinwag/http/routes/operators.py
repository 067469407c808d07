"""HTTP routes for managing operators (admin keys, and operators with the `admin` role): list,
create, remove, and the record of sign-in lockouts."""

from __future__ import annotations

from fastapi import APIRouter, Response
from sqlalchemy import select

from chinwag.auth.models import Operator
from chinwag.auth.operator_admin import list_lockouts, list_operators, operator_out, remove_operator
from chinwag.auth.operators import add_operator
from chinwag.auth.principal import Principal
from chinwag.auth.schemas import LockoutList, OperatorIn, OperatorList, OperatorOut
from chinwag.db.base import utcnow
from chinwag.errors import Forbidden
from chinwag.handoff.follow import publish
from chinwag.handoff.requeue import requeue_claimed_by
from chinwag.http.deps import PrincipalDep
from chinwag.http.runtime import ServicesDep

router = APIRouter(prefix="/v1", tags=["operators"])


def _require_people_admin(principal: Principal) -> None:
    """An admin key, or an operator with the `admin` role."""
    if principal.kind == "admin":
        return
    if principal.kind == "operator" and principal.operator_bots is None:
        return
    raise Forbidden("managing operators needs an admin key or an operator with the admin role")


@router.get("/operators", response_model=OperatorList)
async def operators(principal: PrincipalDep, services: ServicesDep) -> OperatorList:
    """Every operator (removed ones are not listed), by name."""
    _require_people_admin(principal)
    async with services.db.read() as conn:
        return OperatorList(operators=await list_operators(conn))


@router.post("/operators", response_model=OperatorOut, status_code=201)
async def create_operator(
    body: OperatorIn, principal: PrincipalDep, services: ServicesDep
) -> OperatorOut:
    """Create an operator (the password is stored only as an argon2 hash, never shown)."""
    _require_people_admin(principal)
    async with services.db.write() as conn:
        made = await add_operator(
            conn,
            name=body.name,
            email=body.email,
            password=body.password,
            role=body.role,
            bots=[] if body.role == "admin" else sorted(set(body.bots)),
        )
        created = await conn.execute(select(Operator.created_at).where(Operator.id == made.id))
        return operator_out(made, created.scalar_one())


@router.delete("/operators/{operator_id}", status_code=204)
async def delete_operator(
    operator_id: str, principal: PrincipalDep, services: ServicesDep
) -> Response:
    """Remove an operator: every console session of theirs ends at once (their next request
    is 401), and the conversations they had claimed go back to waiting."""
    _require_people_admin(principal)
    now = utcnow()
    async with services.db.write() as conn:
        await remove_operator(conn, operator_id, now)
        moved = await requeue_claimed_by(conn, operator_id=operator_id, now=now)
    for session_pk, event in moved:
        await publish(services.event_log.fanout, session_pk, [event])
    return Response(status_code=204)


@router.get("/operators/lockouts", response_model=LockoutList)
async def lockouts(principal: PrincipalDep, services: ServicesDep) -> LockoutList:
    """The latest 100 lockouts of the console's sign-in (too many attempts), newest first."""
    _require_people_admin(principal)
    async with services.db.read() as conn:
        return LockoutList(lockouts=await list_lockouts(conn))
