"""Table lookup: which rows of a flow's table a message gets, and what validation says."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from chinwag.bots.validation import validate_document
from chinwag.config.bot import BotConfig
from chinwag.engine.prompts import table_rows
from chinwag.engine.tables import TableLookups

WINES = """name,producer,country,color,price_nok,stock_bottles,sold_this_year
Barolo Sori,Cantina Ombra,Italy,red,689,7,15
Rosso di Lupa,Poggio Lupaio,Italy,red,239,46,88
Prosecco Brio,Casa Rondinella,Italy,sparkling,199,72,214
Cava Estel,Caves Estel,Spain,sparkling,189,55,120
Champagne Delorme,Maison Delorme,France,sparkling,549,30,87
Tavel Rose,Domaine des Lauzes,France,rose,229,0,47
Pinotage Klipkop,Klipkop Estate,South Africa,red,219,0,48
Rioja Reserva,Bodegas Alcaravan,Spain,red,289,44,95
Chablis Cote Blanche,Domaine Arnaudet,France,white,459,16,39
"""


class ConstantEmbedder:
    """Every text the same vector: the ranking comes from words, filters and orders alone."""

    name = "constant"

    async def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        return np.ones((len(texts), 4), dtype=np.float32) / 2

    async def dimension(self) -> int:
        return 4

    async def aclose(self) -> None:
        return None


def _bot(**lookup: object) -> BotConfig:
    return BotConfig.model_validate(
        {
            "id": "shop",
            "name": "Shop",
            "flows": {
                "main": {"template": "{{ message }}"},
                "stats": {
                    "template": "{% for w in data.wines %}{{ w.name }}{% endfor %}",
                    "data": {"wines": WINES},
                    "lookup": {
                        "wines": {
                            "max_rows": 3,
                            "columns": ["name", "producer", "country", "color"],
                            "numbers": {"price_nok": ["kr", "price"], "stock_bottles": ["bottles"]},
                            "order": {"cheapest": "price_nok", "best seller": "-sold_this_year"},
                            "where": {"sold out": "stock_bottles = 0"},
                            **lookup,
                        }
                    },
                },
            },
        }
    )


async def _names(message: str) -> list[str]:
    bot = _bot()
    lookups = TableLookups(lambda _: ConstantEmbedder())
    found = await lookups.lookup(
        bot, 1, "stats", lambda n: table_rows(bot.flows["stats"].data[n]), message
    )
    return [row["name"] for row in found["wines"].rows]


async def test_rows_named_by_the_message() -> None:
    assert await _names("What does the Barolo cost?") == ["Barolo Sori"]
    assert await _names("how much is the rioja") == ["Rioja Reserva"]


async def test_numbers_categories_conditions_and_orders() -> None:
    assert await _names("Any sparkling wine under 250 kr?") == ["Prosecco Brio", "Cava Estel"]
    assert await _names("sparkling between 190 and 600 kr") == [
        "Prosecco Brio",
        "Champagne Delorme",
    ]
    assert await _names("Which wines are sold out?") == ["Tavel Rose", "Pinotage Klipkop"]
    assert await _names("What is your cheapest red wine?") == [
        "Pinotage Klipkop",
        "Rosso di Lupa",
        "Rioja Reserva",
    ]
    assert await _names("Your best seller from France?") == [
        "Champagne Delorme",
        "Tavel Rose",
        "Chablis Cote Blanche",
    ]
    assert len(await _names("Tell me about your wines")) == 3  # bounded by max_rows


async def test_it_says_whether_the_message_itself_picked_the_rows() -> None:
    bot = _bot()
    lookups = TableLookups(lambda _: ConstantEmbedder())

    async def selected(message: str) -> bool:
        found = await lookups.lookup(
            bot, 1, "stats", lambda n: table_rows(bot.flows["stats"].data[n]), message
        )
        return found["wines"].selected

    for message in (
        "What does the Barolo cost?",  # a row's word
        "Any sparkling wine?",  # a category value
        "Anything under 250 kr?",  # a bound
        "Which wines are sold out?",  # a `where` phrase
        "What is your cheapest?",  # an `order` phrase
    ):
        assert await selected(message), message
    # Rows still come (the nearest in meaning), but nothing in the message picked them.
    assert not await selected("How much is delivery?")
    assert len(await _names("How much is delivery?")) == 3


async def test_a_where_phrase_matches_its_inflections() -> None:
    """`rødvin` also picks "rødviner" and "rødvinen", `fransk` "franske"; a last word shorter
    than 4 letters is matched whole ("sold out" is not "sold outside")."""
    where = {"sold out": "stock_bottles = 0", "rødvin": "color = red", "fransk": "country = France"}
    bot = _bot(where=where, max_rows=9)
    lookups = TableLookups(lambda _: ConstantEmbedder())

    async def colours_and_countries(message: str) -> set[tuple[str, str]]:
        found = await lookups.lookup(
            bot, 1, "stats", lambda n: table_rows(bot.flows["stats"].data[n]), message
        )
        return {(row["color"], row["country"]) for row in found["wines"].rows}

    red = await colours_and_countries("Hvilke rødviner har dere?")
    assert {colour for colour, _ in red} == {"red"} and len(red) == 3
    assert await colours_and_countries("Er rødvinen god?") == red
    assert {c for _, c in await colours_and_countries("Har dere franske viner?")} == {"France"}
    assert len(await colours_and_countries("Which wines sold outside Norway?")) > 2


def test_validation_names_unknown_tables_and_columns() -> None:
    document = _bot().model_dump(exclude_none=True)
    stats = document["flows"]["stats"]
    stats["lookup"]["bottles"] = {}
    stats["lookup"]["wines"]["columns"] = ["name", "colour"]
    stats["lookup"]["wines"]["where"] = {"sold out": "stock = 0"}
    report = validate_document(document)
    found = {(p.path, p.code) for p in report.errors}
    assert found == {
        ("flows.stats.lookup.bottles", "lookup_table_unknown"),
        ("flows.stats.lookup.wines.columns", "lookup_column_unknown"),
        ("flows.stats.lookup.wines.where.sold out", "lookup_column_unknown"),
    }
