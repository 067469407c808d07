"""End-user tokens and identity verification, both HMAC-SHA256 under the server's secret."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from chinwag.errors import Unauthenticated
from chinwag.settings import Settings

TOKEN_PREFIX = "cwu_"


def server_secret(settings: Settings) -> bytes:
    """CHINWAG_SECRET_KEY, or a random secret created once in the data directory."""
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value().encode()
    path = Path(settings.data_dir) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
    return path.read_text().strip().encode()


def identity_secret(secret: bytes, key_id: str) -> str:
    """The secret a site signs its user ids with, for the publishable key `key_id`."""
    return hmac.new(secret, f"identity:{key_id}".encode(), hashlib.sha256).hexdigest()


def user_hash(identity: str, user_id: str) -> str:
    """What a site sends as `user_hash`: HMAC-SHA256(identity secret, user id), hex."""
    return hmac.new(identity.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def verify_user_hash(secret: bytes, key_id: str, user_id: str, given: str) -> bool:
    expected = user_hash(identity_secret(secret, key_id), user_id)
    return hmac.compare_digest(expected, given.lower())


@dataclass(frozen=True, slots=True)
class UserToken:
    bot_id: str
    user_id: str  # the end user's external id
    key_id: str  # the publishable key it was issued under
    expires: int  # unix seconds


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: bytes, payload: str) -> str:
    return _b64(hmac.new(secret, f"token:{payload}".encode(), hashlib.sha256).digest())


def issue_token(secret: bytes, token: UserToken) -> str:
    body = {"b": token.bot_id, "u": token.user_id, "k": token.key_id, "e": token.expires}
    payload = _b64(json.dumps(body, separators=(",", ":")).encode())
    return f"{TOKEN_PREFIX}{payload}.{_sign(secret, payload)}"


def read_token(secret: bytes, token: str) -> UserToken:
    """The token's claims; Unauthenticated when forged, malformed or expired."""
    try:
        payload, signature = token.removeprefix(TOKEN_PREFIX).split(".", 1)
        if not hmac.compare_digest(signature, _sign(secret, payload)):
            raise ValueError("bad signature")
        body = json.loads(_unb64(payload))
        claims = UserToken(
            bot_id=str(body["b"]), user_id=str(body["u"]), key_id=str(body["k"]), expires=body["e"]
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise Unauthenticated("the user token is not valid") from exc
    if claims.expires < time.time():
        raise Unauthenticated(
            "the user token has expired", hint="Ask for a new one: POST /v1/bots/{bot_id}/tokens."
        )
    return claims
