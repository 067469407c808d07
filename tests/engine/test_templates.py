"""Prompt templates render in a sandbox where undefined variables are errors."""

from __future__ import annotations

from typing import Any

import pytest

from chinwag.bots.validation import validate_document
from chinwag.config.bot import BotConfig
from chinwag.engine.context import FlowContext, MessageInput
from chinwag.engine.prompts import build_prompt
from chinwag.engine.templates import render
from chinwag.errors import TemplateError


def _bot(system: str | None, template: str) -> BotConfig:
    return BotConfig.model_validate(
        {"id": "t", "name": "T", "flows": {"main": {"system": system, "template": template}}}
    )


def _no_model(llm: object) -> Any:
    raise AssertionError("building a prompt calls no model")


def test_prompt_has_system_history_and_rendered_user_turn() -> None:
    bot = _bot("You help {{ bot.name }}; {{ history|length }} earlier turns.", "Q: {{ message }}")
    message = MessageInput(
        text="hei", history=[("user", "a"), ("assistant", "b")], user_id="u", bot_version=1
    )
    context = FlowContext(bot=bot, message=message, emit=print, model_for=_no_model)
    prompt = build_prompt(context, "main", {})
    assert [(m.role, m.content) for m in prompt] == [
        ("system", "You help T; 2 earlier turns."),
        ("user", "a"),
        ("assistant", "b"),
        ("user", "Q: hei"),
    ]


@pytest.mark.parametrize(
    ("text", "norwegian"),
    [
        ("Hvilke viner er utsolgt?", True),
        ("Hva koster Barolo?", True),
        ("Har dere musserende vin under 250 kroner?", True),
        ("Which wines are sold out?", False),
        ("Tell me about Vin Santo", False),
        # mixed: the language most of its words are in
        ("Hei! What does the Barolo cost?", False),
        ("Hi, hvor mange flasker Rioja har dere igjen?", True),
        ("Takk!", True),
        ("Barolo?", False),
    ],
)
def test_a_template_knows_whether_the_message_reads_as_norwegian(
    text: str, norwegian: bool
) -> None:
    bot = _bot(None, "{% if norwegian %}Svar på norsk.{% else %}Answer in English.{% endif %}")
    message = MessageInput(text=text, history=[], user_id="u", bot_version=1)
    context = FlowContext(bot=bot, message=message, emit=print, model_for=_no_model)
    (turn,) = build_prompt(context, "main", {})
    assert turn.content == ("Svar på norsk." if norwegian else "Answer in English.")
    assert validate_document(bot.model_dump(mode="json", exclude_none=True)).errors == []


def test_undefined_variable_is_a_template_error_naming_the_place() -> None:
    with pytest.raises(TemplateError) as info:
        render("{{ mesage }}", {"message": "x"}, where="flows.main.template")
    assert info.value.code == "template_error"
    assert "flows.main.template" in info.value.message and "mesage" in info.value.message
    assert "message" in info.value.hint


def test_syntax_error_names_the_line() -> None:
    with pytest.raises(TemplateError, match="line 2"):
        render("ok\n{% if %}", {}, where="x")


def test_sandbox_blocks_attribute_escapes() -> None:
    with pytest.raises(TemplateError):
        render(
            "{{ message.__class__.__mro__[1].__subclasses__() }}",
            {"message": "x"},
            where="flows.main.template",
        )


def test_config_without_main_flow_is_rejected() -> None:
    report = validate_document(
        {"id": "t", "name": "T", "flows": {"smalltalk": {"template": "{{ message }}"}}}
    )
    assert report.config is None
    assert [(p.path, p.code) for p in report.errors] == [("flows.main", "missing_main_flow")]
