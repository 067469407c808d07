"""Table lookup: the rows of a flow's CSV table that match a message, never the whole table.

Per message: conditions and sort orders the message names (`where`, `order`), numeric bounds it
states (`under 250 kr`), then the rows ranked by the message's words (IDF-weighted, by stem)
and meaning (cosine to each row's text, embedded once per bot version), at most `max_rows`.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from chinwag.config.bot import BotConfig
from chinwag.config.flow import TableLookup
from chinwag.engine.once import OncePerKey
from chinwag.providers.protocols import Embedder
from chinwag.words import STEM, STOPWORDS, WORD

Row = dict[str, str]
_NUMBER = r"(\d+(?:[.,]\d+)?)"
_BELOW = r"under|below|less than|cheaper than|at most|max(?:imum)?|up to|no more than|<=?|"
_BELOW += r"mindre enn|billigere enn|maks|opp til|inntil"
_ABOVE = r"over|above|more than|at least|from|min(?:imum)?|>=?|mer enn|minst|fra"
BETWEEN = re.compile(rf"(?:between|mellom)\s+{_NUMBER}\s*\S*\s+(?:and|og|-)\s+{_NUMBER}", re.I)
BELOW = re.compile(rf"(?:{_BELOW})\s+{_NUMBER}", re.I)
ABOVE = re.compile(rf"(?:{_ABOVE})\s+{_NUMBER}", re.I)
CONDITION = re.compile(r"^\s*(\w+)\s*(=|!=|<=|>=|<|>)\s*(.+?)\s*$")
VECTOR_WEIGHT = 0.5  # a row's score: IDF of the message's words it holds + this x cosine
INFLECTION = "(?:e|s|es|er|en|ene|et|a)?"  # English plurals; Norwegian plurals and definites
NAMED_SHARE = 0.6  # rows whose words score at least this share of the best row's are kept


@dataclass(frozen=True, slots=True)
class Lookup:
    """The rows a flow gets for one message, and how many of the table's rows matched.

    `selected`: the message itself picked them (a row's word, a category value, a bound, a
    `where` or `order` phrase); False when they are only the rows nearest to it in meaning
    ("How much is delivery?" names no wine)."""

    rows: list[Row]
    matched: int
    selected: bool = True


@dataclass(slots=True)
class _Table:
    rows: list[Row]
    stems: list[set[str]]  # per row: the stems of its matched columns' words
    idf: dict[str, float]
    vectors: NDArray[np.float32]
    categories: dict[str, dict[str, set[str]]]  # column -> value -> the value's stems


@dataclass(slots=True)
class TableLookups:
    """Finds matching rows; keeps each table's row embeddings per (bot, version, flow, table)."""

    embedder_for: Callable[[BotConfig], Embedder]
    _tables: OncePerKey[tuple[str, int, str, str], _Table] = field(default_factory=OncePerKey)

    async def lookup(
        self,
        bot: BotConfig,
        version: int,
        flow: str,
        rows_of: Callable[[str], Sequence[Row]],
        message: str,
    ) -> dict[str, Lookup]:
        """Each looked-up table of the flow: its matching rows for `message`."""
        found: dict[str, Lookup] = {}
        settings = bot.flows[flow].lookup
        if not settings:
            return found
        vector = (await self.embedder_for(bot).embed([message]))[0]
        for name, lookup in settings.items():
            table = await self._table(bot, version, flow, name, lookup, rows_of(name))
            found[name] = match_rows(table, lookup, message, vector)
        return found

    async def _table(
        self,
        bot: BotConfig,
        version: int,
        flow: str,
        name: str,
        lookup: TableLookup,
        rows: Sequence[Row],
    ) -> _Table:
        async def learn() -> _Table:
            columns = text_columns(rows, lookup)
            texts = [", ".join(row.get(c, "") for c in columns) for row in rows]
            stems = [stems_of(text) for text in texts]
            vectors = await self.embedder_for(bot).embed(texts)
            return _Table(list(rows), stems, idf_of(stems), vectors, categories_of(rows, columns))

        return await self._tables.get((bot.id, version, flow, name), learn)


def match_rows(
    table: _Table, lookup: TableLookup, message: str, vector: NDArray[np.float32]
) -> Lookup:
    """The rows for one message, best first; see the module docstring for the order."""
    lowered = message.lower()
    message_stems = stems_of(message)
    keep = list(range(len(table.rows)))
    selected = False
    for phrase, condition in lookup.where.items():
        if _says(lowered, phrase):
            keep = [i for i in keep if _holds(table.rows[i], condition)]
            selected = True
    for column, low, high in numeric_bounds(lowered, lookup):
        keep = [i for i in keep if _within(table.rows[i].get(column), low, high)]
        selected = True
    # Category values the message names ("red", "France") narrow the rows, per column.
    for column, values in table.categories.items():
        named = {v for v, stems in values.items() if stems and stems <= message_stems}
        if named:
            keep = [i for i in keep if table.rows[i].get(column, "").lower() in named]
            selected = True
    orders = [column for phrase, column in lookup.order.items() if _says(lowered, phrase)]
    if orders:
        selected = True
        column = orders[0]
        keep.sort(
            key=lambda i: _number(table.rows[i].get(column.lstrip("-"))) or 0.0,
            reverse=column.startswith("-"),
        )
        chosen = keep
    else:
        words = {i: _word_score(table, i, message_stems) for i in keep}
        best = max(words.values(), default=0.0)
        if best > 0:  # the message names rows ("the Barolo"): those, not their neighbours
            keep = [i for i in keep if words[i] >= NAMED_SHARE * best]
            selected = True
        score = {i: words[i] + VECTOR_WEIGHT * float(table.vectors[i] @ vector) for i in keep}
        chosen = sorted(keep, key=lambda i: score[i], reverse=True)
    return Lookup([table.rows[i] for i in chosen[: lookup.max_rows]], len(chosen), selected)


def categories_of(rows: Sequence[Row], columns: list[str]) -> dict[str, dict[str, set[str]]]:
    """Columns with few distinct values (a third of the rows, or 6): value -> its stems."""
    found: dict[str, dict[str, set[str]]] = {}
    for column in columns:
        values = {row.get(column, "").lower() for row in rows} - {""}
        if values and len(values) <= min(len(rows) - 1, max(6, len(rows) // 3)):
            found[column] = {v: stems_of(v) for v in values}
    return found


def text_columns(rows: Sequence[Row], lookup: TableLookup) -> list[str]:
    if lookup.columns:
        return lookup.columns
    names = list(rows[0]) if rows else []
    return [n for n in names if not all(_number(r.get(n)) is not None for r in rows)]


def stems_of(text: str) -> set[str]:
    words = (w.lower() for w in WORD.findall(text))
    return {w[:STEM] for w in words if w not in STOPWORDS and len(w) > 1}


def idf_of(stems: list[set[str]]) -> dict[str, float]:
    counts: dict[str, int] = {}
    for row in stems:
        for stem in row:
            counts[stem] = counts.get(stem, 0) + 1
    total = len(stems)
    return {stem: math.log(1 + total / count) for stem, count in counts.items()}


def numeric_bounds(
    lowered: str, lookup: TableLookup
) -> list[tuple[str, float | None, float | None]]:
    """(column, low, high) for each bound the message states on a `numbers` column."""
    if not lookup.numbers:
        return []
    named = [c for c, words in lookup.numbers.items() if any(_says(lowered, w) for w in words)]
    if not named and len(lookup.numbers) == 1:
        named = list(lookup.numbers)
    if not named:
        return []
    column = named[0]
    between = BETWEEN.search(lowered)
    if between:
        return [(column, _float(between.group(1)), _float(between.group(2)))]
    bounds: list[tuple[str, float | None, float | None]] = []
    below, above = BELOW.search(lowered), ABOVE.search(lowered)
    if below:
        bounds.append((column, None, _float(below.group(1))))
    if above:
        bounds.append((column, _float(above.group(1)), None))
    return bounds


def _word_score(table: _Table, i: int, message_stems: set[str]) -> float:
    row = table.stems[i]
    return sum(
        table.idf.get(s, 0.0)
        for s in message_stems
        if s in row or (len(s) >= 4 and any(r.startswith(s) for r in row))
    )


def _says(lowered: str, phrase: str) -> bool:
    """The message has the phrase as whole words; a last word of 4 letters or more may carry an
    inflection ("rødvin": rødviner, rødvinen; "fransk": franske; "best seller": best sellers)."""
    return _phrase_pattern(phrase).search(lowered) is not None


@functools.lru_cache(maxsize=4096)
def _phrase_pattern(phrase: str) -> re.Pattern[str]:
    text = phrase.lower().strip()
    ending = INFLECTION if len(text.rsplit(" ", 1)[-1]) >= 4 else ""
    return re.compile(rf"(?<!\w){re.escape(text)}{ending}(?!\w)")


def _holds(row: Row, condition: str) -> bool:
    parsed = CONDITION.match(condition)
    if parsed is None:
        return True  # validation reports conditions it cannot read
    column, op, wanted = parsed.groups()
    have = row.get(column, "")
    a, b = _number(have), _number(wanted)
    if a is not None and b is not None:
        left: float | str = a
        right: float | str = b
    else:
        left, right = have.strip().lower(), wanted.strip().strip("'\"").lower()
    return {
        "=": left == right,
        "!=": left != right,
        "<": left < right,  # type: ignore[operator]
        "<=": left <= right,  # type: ignore[operator]
        ">": left > right,  # type: ignore[operator]
        ">=": left >= right,  # type: ignore[operator]
    }[op]


def _within(value: str | None, low: float | None, high: float | None) -> bool:
    number = _number(value)
    if number is None:
        return False
    return (low is None or number >= low) and (high is None or number <= high)


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value.replace(",", ".").strip())
    except ValueError:
        return None


def _float(text: str) -> float:
    return float(text.replace(",", "."))
