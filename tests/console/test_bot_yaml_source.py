"""The bot editor saves the owner's YAML text: comments and layout kept, a one-word change a
one-line diff, an optional note per version, rollback to a text."""

from __future__ import annotations

import yaml

from chinwag.bots.activation import check_file
from chinwag.bots.demo import demo_bot_path
from chinwag.bots.files import yaml_source
from chinwag.config.bot import BotConfig
from chinwag.console.bot_yaml import check_yaml, compact_yaml, to_yaml
from tests.conftest import RunningServer
from tests.helpers import assert_problem

BOT = "vinhuset"
LONG = "You help the customers of a wine shop in Bergen. " * 4
OWNERS = f"""# Vinhuset's assistant: keep this comment.
id: vinhuset
name: Vinhuset   # the shop's name as customers know it

flows:
  main:
    # One long line the owner wants as it is:
    system: "{LONG.strip()}"
    template: "{{{{ message }}}}"
"""


def _changed_lines(diff: str) -> list[str]:
    return [
        line
        for line in diff.splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


async def test_the_owners_text_is_saved_shown_and_diffed_line_by_line(
    server: RunningServer,
) -> None:
    client = server.client
    saved = await client.put(f"/v1/bots/{BOT}/yaml", json={"yaml": OWNERS, "note": "my own text"})
    assert saved.status_code == 200, saved.text
    first = saved.json()["version"]
    shown = await client.get(f"/v1/bots/{BOT}/yaml")
    assert shown.text == OWNERS  # comments, blank line, long line: as written
    renamed = OWNERS.replace("name: Vinhuset ", "name: Vinhus ")
    again = await client.put(f"/v1/bots/{BOT}/yaml", json={"yaml": renamed})
    second = again.json()["version"]
    assert again.json()["changed"] and second == first + 1
    diff = (await client.get(f"/v1/bots/{BOT}/diff", params={"old": first})).json()["diff"]
    assert _changed_lines(diff) == [
        "-name: Vinhuset   # the shop's name as customers know it",
        "+name: Vinhus   # the shop's name as customers know it",
    ]
    # A comment is the owner's text too: a new version, the configuration unchanged.
    commented = renamed.replace("keep this comment", "keep this comment, please")
    third = (await client.put(f"/v1/bots/{BOT}/yaml", json={"yaml": commented})).json()
    assert third["changed"] and third["version"] == second + 1
    same = (await client.put(f"/v1/bots/{BOT}/yaml", json={"yaml": commented})).json()
    assert not same["changed"] and same["version"] == third["version"]
    versions = (await client.get(f"/v1/bots/{BOT}/versions")).json()
    assert next(v for v in versions if v["version"] == first)["note"] == "my own text"
    # A rollback serves the earlier text again, as a new version, and the diff shows it.
    back = (await client.post(f"/v1/bots/{BOT}/rollback", json={"version": first})).json()
    assert (await client.get(f"/v1/bots/{BOT}/yaml")).text == OWNERS
    diff = (await client.get(f"/v1/bots/{BOT}/diff", params={"old": third["version"]})).json()
    assert diff["new"] == back["version"]
    assert "+name: Vinhuset   # the shop's name as customers know it" in diff["diff"]
    assert "-# Vinhuset's assistant: keep this comment, please." in diff["diff"]
    versions = (await client.get(f"/v1/bots/{BOT}/versions")).json()
    assert versions[-1]["note"] == f"rollback to version {first}" and versions[-1]["active"]


async def test_a_text_with_errors_or_another_id_saves_nothing(server: RunningServer) -> None:
    client = server.client
    before = (await client.get(f"/v1/bots/{BOT}/versions")).json()
    broken = OWNERS.replace("name: Vinhuset", "colour: red\nname: Vinhuset")
    refused = await client.put(f"/v1/bots/{BOT}/yaml", json={"yaml": broken})
    problem = assert_problem(refused, 422, "bot_config_invalid")
    assert [(p["path"], p["line"]) for p in problem["problems"]] == [("colour", 3)]
    other = await client.put(
        f"/v1/bots/{BOT}/yaml", json={"yaml": OWNERS.replace("id: vinhuset", "id: other")}
    )
    assert_problem(other, 422, "bot_id_mismatch")
    assert (await client.get(f"/v1/bots/{BOT}/versions")).json() == before


async def test_a_version_saved_as_json_shows_only_what_differs_from_the_defaults(
    server: RunningServer,
) -> None:
    text = (await server.client.get(f"/v1/bots/{BOT}/yaml")).text
    full = (await server.client.get(f"/v1/bots/{BOT}")).json()["config"]
    config = BotConfig.model_validate(yaml.safe_load(text))
    assert config.model_dump(mode="json", exclude_none=True) == full
    # Defaults are not spelled out (the editor showed ~300 lines for the demo bot).
    for default in ("persistence: local", "timeout_seconds: 5.0", "strings: {}"):
        assert default in to_yaml(full) and default not in text


def test_an_imported_file_keeps_its_comments_with_its_files_inlined() -> None:
    source = yaml_source(demo_bot_path())
    assert source is not None
    assert source.startswith("# Vinhuset: a small, fictional wine shop in Bergen.")
    assert "{file:" not in source
    report, problems = check_yaml(source)
    expected = check_file(demo_bot_path()).config
    assert report is not None and report.config == expected, problems
    assert expected is not None
    assert check_yaml(compact_yaml(expected))[0].config == expected  # type: ignore[union-attr]
