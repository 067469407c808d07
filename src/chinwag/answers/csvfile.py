"""Curated answers as CSV: columns question, answer, enabled, sources (a JSON list)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable

from pydantic import ValidationError

from chinwag.answers.schemas import CuratedAnswerIn, CuratedAnswerOut
from chinwag.errors import InvalidRequest

COLUMNS = ("question", "answer", "enabled", "sources")
_TRUE = {"", "true", "yes", "1", "y"}
_FALSE = {"false", "no", "0", "n"}


def to_csv(answers: Iterable[CuratedAnswerOut]) -> str:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for a in answers:
        sources = json.dumps([s.model_dump() for s in a.sources], ensure_ascii=False)
        writer.writerow((a.question, a.answer, "true" if a.enabled else "false", sources))
    return out.getvalue()


def from_csv(text: str) -> list[CuratedAnswerIn]:
    """Every row as a curated answer; InvalidRequest naming each bad row (line numbers)."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = {"question", "answer"} - set(reader.fieldnames or ())
    if missing:
        raise InvalidRequest(
            f"the CSV lacks the column(s) {', '.join(sorted(missing))}",
            hint="The first line names the columns: question,answer[,enabled][,sources].",
        )
    answers: list[CuratedAnswerIn] = []
    problems: list[str] = []
    for row in reader:
        line = reader.line_num
        try:
            answers.append(_row(row))
        except (ValueError, ValidationError) as exc:
            problems.append(f"line {line}: {_short(exc)}")
    if problems:
        raise InvalidRequest(
            "the CSV has rows that are not curated answers: " + "; ".join(problems[:10]),
            hint="Each row needs a question and an answer; enabled is true/false; sources is "
            'a JSON list like [{"title": "Opening hours", "url": null}].',
        )
    return answers


def _row(row: dict[str, str | None]) -> CuratedAnswerIn:
    enabled_text = (row.get("enabled") or "").strip().lower()
    if enabled_text not in _TRUE | _FALSE:
        raise ValueError(f"enabled must be true or false, not {enabled_text!r}")
    sources_text = (row.get("sources") or "").strip()
    sources = json.loads(sources_text) if sources_text else []
    return CuratedAnswerIn.model_validate(
        {
            "question": (row.get("question") or "").strip(),
            "answer": (row.get("answer") or "").strip(),
            "enabled": enabled_text in _TRUE,
            "sources": sources,
        }
    )


def _short(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return f"{where}: {first['msg']}"
    return str(exc)
