"""HTTP routes for API keys (admin) and end-user tokens (publishable keys)."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

from fastapi import APIRouter

from chinwag.auth.keys import create_key, list_keys, revoke_key
from chinwag.auth.schemas import KeyCreated, KeyIn, KeyOut, TokenIn, TokenOut
from chinwag.auth.tokens import UserToken, identity_secret, issue_token, verify_user_hash
from chinwag.conversations.identity import remember_identity
from chinwag.errors import Forbidden, IdentityNotVerified, InvalidRequest
from chinwag.http.deps import PrincipalDep
from chinwag.http.runtime import ServicesDep

router = APIRouter(prefix="/v1", tags=["keys"])


@router.post("/keys", status_code=201, response_model=KeyCreated)
async def create(body: KeyIn, principal: PrincipalDep, services: ServicesDep) -> KeyCreated:
    """Create a key (admin); the response is the only time the key itself is shown."""
    principal.require_admin()
    async with services.db.write() as conn:
        new = await create_key(
            conn,
            kind=body.kind,
            name=body.name,
            bot_id=body.bot_id,
            allowed_origins=body.allowed_origins,
        )
    services.keys.forget()
    identity = identity_secret(services.secret, new.info.id) if body.kind == "publishable" else None
    return KeyCreated(**KeyOut.of(new.info).model_dump(), key=new.key, identity_secret=identity)


@router.get("/keys", response_model=list[KeyOut])
async def keys(
    principal: PrincipalDep, services: ServicesDep, include_revoked: bool = False
) -> list[KeyOut]:
    """Every key (admin), without the keys themselves."""
    principal.require_admin()
    async with services.db.read() as conn:
        found = await list_keys(conn, include_revoked=include_revoked)
    return [KeyOut.of(k) for k in found]


@router.delete("/keys/{key_id}", response_model=KeyOut)
async def revoke(key_id: str, principal: PrincipalDep, services: ServicesDep) -> KeyOut:
    """Revoke a key (admin); it stops working at once on this server."""
    principal.require_admin()
    async with services.db.write() as conn:
        info = await revoke_key(conn, key_id)
    services.keys.forget()
    return KeyOut.of(info)


@router.post("/bots/{bot_id}/tokens", status_code=201, response_model=TokenOut)
async def token(
    bot_id: str, body: TokenIn, principal: PrincipalDep, services: ServicesDep
) -> TokenOut:
    """An end-user token for the widget (publishable key): anonymous, or a verified user id,
    with the display name and email the console shows for them."""
    if principal.kind != "publishable":
        raise Forbidden("end-user tokens are issued to publishable keys only")
    principal.require_bot(bot_id, kinds=("publishable",))
    if body.user_id is None:
        if body.user_hash is not None:
            raise InvalidRequest("user_hash without user_id", hint="Send both, or neither.")
        named = [f for f in ("display_name", "email") if getattr(body, f) is not None]
        if named:
            raise InvalidRequest(
                "a display name or email needs a verified user",
                hint="Send user_id and user_hash with them: an anonymous visitor is not named.",
                errors=[{"path": f"body.{f}", "message": "needs user_id"} for f in named],
            )
        user_id = f"anon-{uuid.uuid4().hex}"
    elif body.user_hash is None or not verify_user_hash(
        services.secret, principal.key_id, body.user_id, body.user_hash
    ):
        raise IdentityNotVerified(f"user_hash does not verify user_id '{body.user_id}'")
    else:
        user_id = body.user_id
        async with services.db.write() as conn:
            await remember_identity(
                conn,
                bot_id=bot_id,
                external_id=user_id,
                display_name=body.display_name,
                email=body.email,
            )
    expires = int(time.time()) + services.settings.user_token_ttl_seconds
    claims = UserToken(bot_id=bot_id, user_id=user_id, key_id=principal.key_id, expires=expires)
    return TokenOut(
        token=issue_token(services.secret, claims),
        bot_id=bot_id,
        user_id=user_id,
        expires_at=datetime.fromtimestamp(expires, UTC),
        display_name=body.display_name,
        email=body.email,
    )
