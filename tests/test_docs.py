"""Docs are part of the feature: every setting and command is documented."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from typer.main import get_command

import chinwag
from chinwag.bots.validation import validate_document
from chinwag.cli.main import app
from chinwag.engine.templates import render
from chinwag.errors import ChinwagError
from chinwag.knowledge.search import plain_snippet
from chinwag.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


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
    assert len(union["oneOf"]) == 16
    for ref in union["oneOf"]:
        assert ref["$ref"].split("/")[-1] in components
    sse = schema["paths"]["/v1/streams/{stream_id}/events"]["get"]["responses"]["200"]
    assert sse["content"]["text/event-stream"]["schema"]["$ref"].endswith("/StreamEvent")


def test_bot_reference_is_generated_from_the_models() -> None:
    from chinwag.bots.reference import BEGIN, END, reference_markdown

    text = (DOCS / "configuration.md").read_text()
    documented = text[text.index(BEGIN) : text.index(END) + len(END)] + "\n"
    assert documented == reference_markdown(), "run: chinwag schema --markdown"


def test_the_every_key_example_validates_and_uses_every_key() -> None:
    import yaml

    from chinwag.bots.files import inline_files
    from chinwag.bots.validation import model_at, validate_document
    from chinwag.config.bot import BotConfig

    text = (DOCS / "configuration.md").read_text()
    start = text.index("```yaml", text.index("### Every key, in one example")) + len("```yaml")
    document = yaml.safe_load(text[start : text.index("```", start)])
    demo = Path(__file__).resolve().parent.parent / "src/chinwag/bots/demo"
    assert inline_files(document, base_dir=demo) == []
    report = validate_document(document)
    assert report.errors == [], report.errors

    used: set[tuple[str, str]] = set()  # (model, key) wherever the model is used

    def walk(node: object, loc: tuple[str, ...]) -> None:
        if isinstance(node, dict):
            model = model_at(list(loc))
            for key, value in node.items():
                if model is not None:
                    used.add((model.__name__, str(key)))
                walk(value, (*loc, str(key)))

    walk(document, ())
    models = {m.__name__: m for m in (model_at(list(loc)) for loc in [()]) if m}
    models |= {m.__name__: m for m in _all_models(BotConfig)}
    missing = sorted(
        (name, field)
        for name, m in models.items()
        for field in m.model_fields
        if (name, field) not in used
    )
    assert missing == []


def _all_models(model: type) -> set[type]:
    from pydantic import BaseModel

    from chinwag.bots.validation import _model_of

    found = {model}
    assert issubclass(model, BaseModel)
    for field in model.model_fields.values():
        annotation = field.annotation
        for candidate in (annotation, *__import__("typing").get_args(annotation)):
            sub = _model_of(candidate)
            if sub is not None and sub not in found:
                found |= _all_models(sub)
    return found


def test_the_architecture_walk_names_real_files_in_at_most_twelve_steps() -> None:
    """docs/architecture.md walks one message through the code; its files must exist, and the
    functions it names must be in them."""
    text = (DOCS / "architecture.md").read_text()
    walk = text.split("## One message through the code", 1)[1].split("\n## ", 1)[0]
    steps = re.findall(r"^\d+\. `([\w/]+\.py)`", walk, flags=re.MULTILINE)
    assert 1 <= len(steps) <= 12, steps
    package = Path(chinwag.__file__).parent
    for path in re.findall(r"`([\w/]+\.py)", walk):
        where = package.parent.parent / path if path.startswith("tests/") else package / path
        assert where.is_file(), f"docs/architecture.md names {path}, which is gone"
    sources = {path: (package / path).read_text() for path in steps}
    for path, name in (
        ("generations/service.py", "async def accept"),
        ("conversations/service.py", "async def record_answer"),
        ("streams/store.py", "async def insert_stream"),
        ("engine/runner.py", "async def run_message"),
    ):
        assert name in sources[path], f"{path} no longer has {name}"


def test_the_knowledge_prompt_example_carries_facts_past_the_snippet() -> None:
    """docs/knowledge.md's prompt, as a user copies it: it validates without a warning, and a
    fact 600 characters into a retrieved passage reaches the model."""
    text = (DOCS / "knowledge.md").read_text()
    section = text[text.index("## In a bot's answers") :]
    example = yaml.safe_load(section.split("```yaml\n", 1)[1].split("```", 1)[0])
    document = {"id": "shop", "name": "Shop", **example}
    report = validate_document(document)
    assert report.ok and report.problems == [], report.problems
    passage = "Our cellar holds many wines. " * 20 + "Delivery to Tromsø costs 149 kroner."
    source = {"title": "Shipping", "snippet": passage[:300], "text": passage}
    variables = {"sources": [source], "message": "x", "history": [], "flows": {}}
    variables |= {"user": {}, "bot": {"id": "shop", "name": "Shop"}, "now": "2026-12-06"}
    system = render(document["flows"]["main"]["system"], variables, where="system")
    assert "Delivery to Tromsø costs 149 kroner" in system


def test_the_short_prompt_example_is_the_demos_and_shows_every_source() -> None:
    """docs/knowledge.md's shorter prompt is the demo's main template (what bench/context_recall
    measured), and it shows the best passage whole and each other source's passage about the
    question, the snippet chinwag picks for it."""
    text = (DOCS / "knowledge.md").read_text()
    section = text[text.index("To keep a prompt short") :]
    example = yaml.safe_load(section.split("```yaml\n", 1)[1].split("```", 1)[0])
    demo = ROOT / "src/chinwag/bots/demo/prompts/main.template.j2"
    assert example["template"].strip() in demo.read_text()
    message = "Do you hold tastings in the cellar?"
    first = "Our cellar holds many wines. " * 20 + "Delivery to Tromsø costs 149 kroner."
    second = "Opening hours are long. " * 20 + "Tastings are held in Kjellerstua at 19:00."
    sources = [
        {"title": t, "text": body, "snippet": plain_snippet(body, t, query=message)}
        for t, body in (("Shipping", first), ("Events", second))
    ]
    variables = {"sources": sources, "message": message, "history": [], "flows": {}}
    prompt = render(example["template"], variables, where="template")
    assert "Delivery to Tromsø costs 149 kroner" in prompt
    assert "Tastings are held in Kjellerstua at 19:00." in prompt
    assert len(prompt) < len(first) + len(second)
