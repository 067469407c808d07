"""A site names its verified end users (display name, email) in their token; the console
heads their conversations with it."""

from __future__ import annotations

from sqlalchemy import select

from chinwag.auth.tokens import identity_secret, user_hash
from chinwag.conversations.models import EndUser
from tests.auth.conftest import SITE, Keys
from tests.conftest import RunningServer
from tests.helpers import JSON, assert_problem, wait_finished


def _signed(keys: Keys, user_id: str) -> dict[str, str]:
    identity = identity_secret(b"test-secret", keys.publishable_id)
    return {"user_id": user_id, "user_hash": user_hash(identity, user_id)}


async def _token(server: RunningServer, keys: Keys, **body: str) -> dict[str, str]:
    response = await server.client.post(
        "/v1/bots/vinhuset/tokens", json=body, headers=Keys.bearer(keys.publishable, SITE)
    )
    assert response.status_code == 201, response.text
    made: dict[str, str] = response.json()
    return made


async def _stored(server: RunningServer, external_id: str) -> tuple[str | None, str | None]:
    async with server.db.read() as conn:
        row = (
            await conn.execute(
                select(EndUser.display_name, EndUser.email).where(
                    EndUser.external_id == external_id
                )
            )
        ).one()
    return row.display_name, row.email


async def test_a_token_stores_the_name_and_email_the_console_shows(
    server: RunningServer, keys: Keys
) -> None:
    made = await _token(
        server, keys, **_signed(keys, "1042"), display_name="Kari Nordmann", email="kari@example.no"
    )
    assert (made["display_name"], made["email"]) == ("Kari Nordmann", "kari@example.no")
    assert await _stored(server, "1042") == ("Kari Nordmann", "kari@example.no")
    # A later token changes what it gives and keeps what it leaves out.
    await _token(server, keys, **_signed(keys, "1042"), email="kari.n@example.no")
    assert await _stored(server, "1042") == ("Kari Nordmann", "kari.n@example.no")
    question = (
        "Har dere Barolo til lammestek i helgen? Det er til en middag for åtte personer, "
        "og vi vil gjerne ha noe under 400 kroner flasken."
    )
    sent = await server.client.post(
        "/v1/bots/vinhuset/messages",
        json={"message": question},
        headers={**JSON, **Keys.bearer(made["token"], SITE)},
    )
    assert sent.status_code == 202, sent.text
    ids = sent.json()
    await wait_finished(server.client, ids["assistant_message_id"])
    listed = (await server.client.get("/v1/conversations", params={"user_id": "1042"})).json()
    item = listed["items"][0]
    assert (item["user_display_name"], item["user_email"]) == ("Kari Nordmann", "kari.n@example.no")
    transcript = (
        await server.client.get(f"/v1/bots/vinhuset/sessions/{ids['session_id']}/transcript")
    ).json()
    assert transcript["user_display_name"] == "Kari Nordmann"
    assert (
        transcript["title"]
        == "Har dere Barolo til lammestek i helgen? Det er til en middag for åtte…"
    )
    exported = await server.client.get("/v1/conversations/export", params={"user_id": "1042"})
    assert '"user_display_name":"Kari Nordmann"' in exported.text


async def test_names_need_a_verified_user_and_a_real_email(
    server: RunningServer, keys: Keys
) -> None:
    anonymous = await server.client.post(
        "/v1/bots/vinhuset/tokens",
        json={"display_name": "The CEO", "email": "ceo@shop.example"},
        headers=Keys.bearer(keys.publishable, SITE),
    )
    problem = assert_problem(anonymous, 422, "invalid_request")
    assert [e["path"] for e in problem["errors"]] == ["body.display_name", "body.email"]
    assert "user_hash" in problem["hint"]
    typo = await server.client.post(
        "/v1/bots/vinhuset/tokens",
        json={**_signed(keys, "7"), "email": "kari at example.no"},
        headers=Keys.bearer(keys.publishable, SITE),
    )
    problem = assert_problem(typo, 422, "invalid_request")
    assert problem["errors"][0]["path"] == "body.email"
    async with server.db.read() as conn:
        assert (await conn.execute(select(EndUser.id))).all() == []
