"""`chinwag keys create|list|revoke` against a real database, then the key used over HTTP."""

from __future__ import annotations

import re

import pytest

from chinwag.bots.service import put_bot
from chinwag.db import migrate
from chinwag.db.uow import Database
from tests.conftest import plain_demo_bot
from tests.helpers import chinwag


@pytest.mark.slow
async def test_keys_round_trip(database_url: str) -> None:
    db = Database.from_url(database_url)
    try:
        await migrate.upgrade(db)
        async with db.write() as conn:
            await put_bot(conn, plain_demo_bot())
    finally:
        await db.dispose()
    code, out, err = await chinwag(
        database_url, "keys", "create", "--kind", "secret", "--name", "shop", "--bot", "vinhuset"
    )
    assert code == 0, out + err
    key = re.search(r"key: (cw_sk_\S+)", out)
    key_id = re.search(r"\(([0-9a-f-]{36})\)", out)
    assert key is not None and key_id is not None
    code, out, err = await chinwag(database_url, "keys", "list")
    assert code == 0 and key_id.group(1) in out and key.group(1) not in out
    code, out, err = await chinwag(
        database_url, "keys", "create", "--kind", "publishable", "--name", "w", "--bot", "vinhuset"
    )
    assert code == 1 and "origin" in err and "hint:" in err
    code, out, err = await chinwag(database_url, "keys", "revoke", key_id.group(1))
    assert code == 0 and "revoked" in out
    code, out, err = await chinwag(database_url, "keys", "list")
    assert key_id.group(1) not in out
    code, out, _ = await chinwag(database_url, "keys", "list", "--all")
    assert key_id.group(1) in out and "revoked" in out
    code, _, err = await chinwag(database_url, "keys", "revoke", "no-such-key")
    assert code == 1 and "key 'no-such-key' does not exist" in err and "hint:" in err
