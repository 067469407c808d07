"""Docs are part of the feature: every setting and command is documented."""

from __future__ import annotations

from pathlib import Path

from typer.main import get_command

from chinwag.cli import app
from chinwag.errors import ChinwagError
from chinwag.settings import Settings

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _all_subclasses(cls: type) -> set[type]:
    found = set(cls.__subclasses__())
    for sub in list(found):
        found |= _all_subclasses(sub)
    return found


def test_every_setting_is_in_the_configuration_reference() -> None:
    text = (DOCS / "configuration.md").read_text()
    missing = [
        f"CHINWAG_{n.upper()}"
        for n in Settings.model_fields
        if f"`CHINWAG_{n.upper()}`" not in text
    ]
    assert missing == []


def test_every_cli_command_is_in_the_operations_page() -> None:
    text = (DOCS / "operations.md").read_text()
    group = get_command(app)
    names = []
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        subcommands = getattr(command, "commands", None)
        names += (
            [f"chinwag {name} {sub}" for sub in subcommands] if subcommands else [f"chinwag {name}"]
        )
    assert [n for n in names if f"`{n}" not in text] == []


def test_every_error_code_is_documented() -> None:
    text = (DOCS / "api.md").read_text()
    codes = {cls.code for cls in _all_subclasses(ChinwagError) | {ChinwagError}}
    assert sorted(c for c in codes if f"`{c}`" not in text) == []


def test_openapi_documents_every_stream_event() -> None:
    from chinwag.app import create_app

    schema = create_app().openapi()
    components = schema["components"]["schemas"]
    union = components["StreamEvent"]
    assert union["discriminator"]["propertyName"] == "type"
    assert len(union["oneOf"]) == 10
    for ref in union["oneOf"]:
        assert ref["$ref"].split("/")[-1] in components
    sse = schema["paths"]["/v1/streams/{stream_id}/events"]["get"]["responses"]["200"]
    assert sse["content"]["text/event-stream"]["schema"]["$ref"].endswith("/StreamEvent")
