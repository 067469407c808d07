"""A fact is found in a prompt however the prompt writes its numbers, spaces and dashes, and
never inside another number or in the question itself."""

from __future__ import annotations

import pytest

from chinwag.evaluation.facts import missing_facts, normalise


@pytest.mark.parametrize(
    ("written", "normalised"),
    [
        ("Open  10:00 -\n16:00", "open 10:00-16:00"),
        ("10:00\u201316:00", "10:00-16:00"),  # en dash between numbers
        ("10:00 \u2013 16:00", "10:00-16:00"),
        ("\u221218 \u00b0C", "-18 \u00b0c"),  # unicode minus
        ("1 200 kr", "1200 kr"),
        ("1,200 kr", "1200 kr"),
        ("1.200 kr", "1200 kr"),
        ("1\u202f200 kr", "1200 kr"),  # narrow no-break space
        ("1\u00a0200\u00a0kr", "1200 kr"),  # no-break spaces
        ("1 200 000", "1200000"),
        ("1.5 l and 0,75 l", "1.5 l and 0,75 l"),  # decimals keep their point or comma
        ("12,5 %", "12,5 %"),
        ("Bergen \u2013 Oslo", "bergen \u2013 oslo"),  # a dash between words stays
        ("KORKETREKKERSMAUET 4", "korketrekkersmauet 4"),
    ],
)
def test_normalise(written: str, normalised: str) -> None:
    assert normalise(written) == normalised


def test_a_fact_written_otherwise_in_the_prompt_is_found() -> None:
    prompt = "Saturday: 10:00\u201316:00. A car costs 1 200 NOK; a cabin 1,450 NOK."
    assert missing_facts(["10:00-16:00", "1200", "1 450 nok", "saturday"], prompt) == []


def test_a_fact_the_prompt_lacks_is_missing() -> None:
    assert missing_facts(["18", "Sunday"], "Open Monday to Saturday.") == ["18", "Sunday"]


def test_a_number_is_found_whole_only() -> None:
    prompt = "Founded in 2018. Strength 18,5 %. Ages 180 and up."
    assert missing_facts(["18"], prompt) == ["18"]
    assert missing_facts(["18"], prompt + " You must be 18.") == []
    assert missing_facts(["18,5"], prompt) == []


def test_a_word_may_be_part_of_a_longer_word() -> None:
    assert missing_facts(["kajakk"], "Kajakkutleie ved brygga") == []


def test_the_question_itself_is_not_context() -> None:
    question = "Is the shop open until 18?"
    prompt = f"You help the shop's customers.\n\n{question}"
    assert missing_facts(["18"], prompt, besides=question) == ["18"]
    assert missing_facts(["18"], prompt + "\nWe close at 18.", besides=question) == []
