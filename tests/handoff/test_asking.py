"""Recognising a request for a person, and the opening hours, without a server."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chinwag.bots.validation import validate_document
from chinwag.config.handoff import HandoffHours
from chinwag.handoff.asking import asks_for_person
from chinwag.handoff.hours import within_hours
from chinwag.handoff.texts import handoff_reply
from tests.handoff.conftest import handoff_bot

ASKING = [
    "can I talk to a human?",
    "I want to speak to a person",
    "Can I speak with a real person please",
    "let me chat with an agent",
    "please connect me to someone from customer service... I mean to a human",
    "human please",
    "snakke med et menneske",
    "kan jeg få snakke med en person?",
    "Jeg vil prate med en ansatt",
    "Kan jeg snakke med noen i kundeservice?",
    "menneske takk",
]
NOT_ASKING = [
    "Har dere Barolo?",
    "What wine goes with lamb?",
    "Are you a human?",
    "er du et menneske?",
    "How many people does a magnum serve?",
    "Which wine would a person who likes Rioja enjoy?",
    "Can I talk about the order I placed yesterday?",
    "Hvilken vin passer til fisk for fire personer?",
    "Do your staff recommend the Chianti?",
    "I want to speak French with my guests, what wine fits a French dinner?",
]


@pytest.mark.parametrize("message", ASKING)
def test_a_request_for_a_person_is_recognised(message: str) -> None:
    assert asks_for_person(message)


@pytest.mark.parametrize("message", NOT_ASKING)
def test_ordinary_questions_do_not_ask_for_a_person(message: str) -> None:
    assert not asks_for_person(message)


OSLO = HandoffHours(timezone="Europe/Oslo", weekdays="09:00-17:00", saturday="10:00-14:00")


@pytest.mark.parametrize(
    ("utc", "open_now"),
    [
        (datetime(2026, 12, 7, 8, 0, tzinfo=UTC), True),  # Monday 09:00 in Oslo (UTC+1)
        (datetime(2026, 12, 7, 7, 59, tzinfo=UTC), False),  # Monday 08:59
        (datetime(2026, 12, 7, 16, 0, tzinfo=UTC), False),  # Monday 17:00: closed
        (datetime(2026, 6, 8, 15, 30, tzinfo=UTC), False),  # Monday 17:30 in summer (UTC+2)
        (datetime(2026, 6, 8, 7, 30, tzinfo=UTC), True),  # Monday 09:30 in summer
        (datetime(2026, 12, 12, 10, 0, tzinfo=UTC), True),  # Saturday 11:00
        (datetime(2026, 12, 13, 10, 0, tzinfo=UTC), False),  # Sunday: nobody
    ],
)
def test_opening_hours_are_local_to_the_time_zone(utc: datetime, open_now: bool) -> None:
    assert within_hours(OSLO, utc) is open_now


def test_no_hours_means_always_and_24_00_means_midnight() -> None:
    assert within_hours(None, datetime(2026, 12, 13, 3, 0, tzinfo=UTC))
    late = HandoffHours(timezone="UTC", weekdays="18:00-24:00")
    assert within_hours(late, datetime(2026, 12, 7, 23, 59, tzinfo=UTC))


def test_an_unknown_time_zone_is_refused() -> None:
    document = handoff_bot(hours={"timezone": "Europe/Bergen"}).model_dump(exclude_none=True)
    report = validate_document(document)
    (problem,) = [p for p in report.errors if p.path.startswith("handoff")]
    assert (problem.path, problem.code) == ("handoff.hours.timezone", "unknown_time_zone")
    assert "Europe/Oslo" in problem.hint


def test_the_reply_is_in_the_visitors_language_and_honest_about_hours() -> None:
    closed = handoff_bot(hours={"timezone": "Europe/Oslo"}, after_hours={"en": "Email us."})
    monday = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
    assert handoff_reply(closed, "can I talk to a human?", monday) == ("Email us.", False)
    text, open_now = handoff_reply(closed, "kan jeg få snakke med en person?", monday)
    assert not open_now and "e-postadressen" in text
    always = handoff_bot()
    text, open_now = handoff_reply(always, "snakke med et menneske", monday)
    assert open_now and text.startswith("Jeg har bedt om at en person fra Vinhuset")
