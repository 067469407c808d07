"""`chinwag answers add|list|import|export` against a real database, as a user runs them."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from sqlalchemy import select

from chinwag.answers.models import CuratedAnswer
from chinwag.bots.service import put_bot
from chinwag.db.uow import Database
from tests.conftest import plain_demo_bot
from tests.helpers import chinwag


async def _with_bot(database_url: str) -> Database:
    db = Database.from_url(database_url)
    from chinwag.db import migrate

    await migrate.upgrade(db)
    async with db.write() as conn:
        await put_bot(conn, plain_demo_bot())
    return db


@pytest.mark.slow
async def test_add_list_export_import_round_trip(database_url: str, tmp_path: Path) -> None:
    db = await _with_bot(database_url)
    try:
        code, out, err = await chinwag(
            database_url,
            "answers",
            "add",
            "vinhuset",
            "--question",
            "When are you open on Saturday?",
            "--answer",
            "Saturdays 10-16.",
            "--source",
            "Opening hours|https://shop.example/hours",
        )
        assert code == 0 and "vinhuset: added curated answer" in out, out
        code, out, err = await chinwag(
            database_url,
            "answers",
            "add",
            "vinhuset",
            "-q",
            "Do you ship, abroad?",
            "-a",
            'Only in Norway, "sadly".',
            "--disabled",
        )
        assert code == 0, out + err
        code, listed, err = await chinwag(database_url, "answers", "list", "vinhuset")
        assert code == 0
        lines = listed.splitlines()
        assert [line.split("\t")[1:] for line in lines] == [
            ["enabled ", "When are you open on Saturday?"],
            ["disabled", "Do you ship, abroad?"],
        ]

        code, exported, err = await chinwag(database_url, "answers", "export", "vinhuset")
        assert code == 0
        rows = list(csv.DictReader(io.StringIO(exported)))
        assert rows[1] == {
            "question": "Do you ship, abroad?",
            "answer": 'Only in Norway, "sadly".',
            "enabled": "false",
            "sources": "[]",
        }
        file = tmp_path / "answers.csv"
        file.write_text(exported)
        code, out, err = await chinwag(
            database_url, "answers", "import", "vinhuset", str(file), "--replace"
        )
        assert code == 0 and "imported 2 curated answer(s) (replaced all)" in out, out + err
        async with db.read() as conn:
            stored = (
                await conn.execute(select(CuratedAnswer).order_by(CuratedAnswer.question))
            ).all()
        assert [(a.question, a.enabled, a.sources) for a in stored] == [
            ("Do you ship, abroad?", False, []),
            (
                "When are you open on Saturday?",
                True,
                [{"title": "Opening hours", "url": "https://shop.example/hours"}],
            ),
        ]
        code, again, _ = await chinwag(database_url, "answers", "export", "vinhuset")
        assert again == exported
    finally:
        await db.dispose()


async def test_import_refuses_a_bad_file_whole(database_url: str, tmp_path: Path) -> None:
    db = await _with_bot(database_url)
    try:
        file = tmp_path / "bad.csv"
        file.write_text("question,answer,enabled\nHi?,Hello.,true\n,No question,true\nX,Y,maybe\n")
        code, out, err = await chinwag(database_url, "answers", "import", "vinhuset", str(file))
        assert code == 1
        assert "line 3" in err and "line 4" in err and "hint:" in err, out + err
        async with db.read() as conn:
            assert (await conn.execute(select(CuratedAnswer))).all() == []
        code, out, err = await chinwag(database_url, "answers", "list", "nope")
        assert code == 1 and out == "" and "bot 'nope' does not exist" in err
    finally:
        await db.dispose()
