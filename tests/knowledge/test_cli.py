"""`chinwag knowledge …` and `chinwag ingest` as a user runs them, on a bot in a real database."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from chinwag.bots.service import put_bot
from chinwag.cli.knowledge import ingest, knowledge_app
from chinwag.config.bot import BotConfig
from chinwag.db import migrate
from chinwag.db.uow import Database
from chinwag.errors import ChinwagError

from .conftest import INGEST


def _bot(knowledge: dict[str, object] | None) -> BotConfig:
    return BotConfig.model_validate(
        {
            "id": "cellar",
            "name": "Cellar",
            "knowledge": knowledge,
            "flows": {"main": {"template": "{{ message }}"}},
        }
    )


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    url = f"sqlite+aiosqlite:///{tmp_path}/chinwag.db"
    monkeypatch.setenv("CHINWAG_DATABASE_URL", url)
    monkeypatch.setenv("CHINWAG_DATA_DIR", str(tmp_path / "data"))

    async def seed() -> None:
        db = Database.from_url(url)
        await migrate.upgrade(db)
        async with db.write() as conn:
            await put_bot(conn, _bot({"store": "lancedb", "index": "cellar-docs"}))
            await put_bot(conn, _bot(None).model_copy(update={"id": "bare"}))
        await db.dispose()

    asyncio.run(seed())
    cli = typer.Typer()
    cli.add_typer(knowledge_app, name="knowledge")
    cli.command("ingest")(ingest)
    return cli


def _invoke(app: typer.Typer, *args: str) -> tuple[int, str, BaseException | None]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output, result.exception


@pytest.mark.slow
def test_create_ingest_info_reindex_drop(
    app: typer.Typer, tmp_path: Path, embedder: object
) -> None:
    docs = tmp_path / "docs"
    shutil.copytree(INGEST, docs)
    _, _, error = _invoke(app, "ingest", "cellar", str(docs))
    assert isinstance(error, ChinwagError) and error.code == "knowledge_index_not_found"
    assert "`chinwag knowledge create cellar`" in error.message

    code, out, _ = _invoke(app, "knowledge", "create", "cellar")
    assert code == 0 and "created index 'cellar-docs' in lancedb (384 dimensions)" in out
    code, out, _ = _invoke(app, "knowledge", "info", "cellar")
    assert code == 0 and "chunks:    0" in out and "warning: the index is empty" in out

    code, out, _ = _invoke(app, "ingest", "cellar", str(docs), "--tag", "docs")
    assert code == 1  # broken.pdf failed; the rest went in
    assert "failed    broken.pdf" in out
    assert "5 added, 0 replaced, 0 unchanged, 0 removed, 1 failed" in out
    assert "embedded" in out and "files" in out  # the progress bars

    (docs / "broken.pdf").unlink()
    code, out, _ = _invoke(app, "ingest", "cellar", str(docs))
    assert code == 0 and "0 added, 0 replaced, 5 unchanged" in out

    code, out, _ = _invoke(
        app, "knowledge", "search", "cellar", "Barolo", "--mode", "keyword", "--filter", "page=2"
    )
    assert code == 0 and out.splitlines()[0].endswith(
        "sample.pdf page=2  (Sample PDF for the loader tests)"
    )

    code, out, _ = _invoke(app, "knowledge", "reindex", "cellar", str(docs / "sample.md"))
    assert code == 0 and "1 added" in out
    code, out, _ = _invoke(app, "knowledge", "info", "cellar")
    assert "documents: 1" in out and "warning" not in out

    code, out, _ = _invoke(app, "knowledge", "drop", "cellar", "--yes")
    assert code == 0 and "dropped index 'cellar-docs'" in out
    _, _, error = _invoke(app, "knowledge", "info", "cellar")
    assert isinstance(error, ChinwagError) and error.code == "knowledge_index_not_found"


def test_a_bot_without_knowledge_is_told_what_to_add(app: typer.Typer) -> None:
    _, _, error = _invoke(app, "knowledge", "create", "bare")
    assert isinstance(error, ChinwagError) and error.code == "knowledge_not_configured"
