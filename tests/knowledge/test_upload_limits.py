"""What a knowledge upload may hold: a document larger than a chat request is accepted (its own
limits, CHINWAG_MAX_UPLOAD_FILE_BYTES a file and CHINWAG_MAX_UPLOAD_BYTES the upload); a file
over its limit, an upload over its limit and a file type ingestion cannot read are refused with
a code and a hint that name what to change; a refused upload leaves nothing."""

from __future__ import annotations

import httpx

from chinwag.settings import Settings
from tests.conftest import run_server
from tests.helpers import assert_problem, finished_job

from .test_knowledge_in_flows import BOT, KNOWLEDGE

MIB = 1024 * 1024
UPLOAD = "/v1/bots/shop/knowledge/documents"


async def _shop(client: httpx.AsyncClient) -> None:
    assert (await client.post("/v1/knowledge/indexes", json={"knowledge": KNOWLEDGE})).is_success
    assert (await client.post("/v1/bots", json=BOT)).status_code == 201


async def test_a_document_larger_than_a_chat_request_is_accepted(make_settings: Settings) -> None:
    async with run_server(make_settings) as server:
        await _shop(server.client)
        # 1 MB, four times CHINWAG_MAX_BODY_BYTES: a PDF that cannot be parsed, so that the
        # job is quick; what matters is that the upload gets past the size limits.
        document = b"%PDF-1.4\n" + b"0" * MIB
        accepted = await server.client.post(UPLOAD, files=[("files", ("big.pdf", document))])
        assert accepted.status_code == 202, accepted.text
        job = await finished_job(server.client, accepted.json()["status_url"])
        assert [f["source"] for f in job["summary"]["failed"]] == ["big.pdf"]
        chat = await server.client.post(
            "/v1/bots/shop/messages",
            content=b'{"message": "' + b"x" * MIB + b'"}',
            headers={"content-type": "application/json", "accept": "application/json"},
        )
        assert_problem(chat, 413, "body_too_large")  # the chat limit is unchanged


async def test_a_file_or_an_upload_over_its_limit_is_refused(make_settings: Settings) -> None:
    settings = make_settings.model_copy(
        update={"max_upload_file_bytes": 2 * MIB, "max_upload_bytes": 3 * MIB}
    )
    async with run_server(settings) as server:
        await _shop(server.client)
        # A file of exactly the limit is taken (a PDF that cannot be parsed: a quick job).
        pdf = b"%PDF-1.4\n" + b"0" * (2 * MIB - 9)
        fits = await server.client.post(UPLOAD, files=[("files", ("fits.pdf", pdf))])
        assert fits.status_code == 202, fits.text
        job = await finished_job(server.client, fits.json()["status_url"])
        assert [f["source"] for f in job["summary"]["failed"]] == ["fits.pdf"]

        huge = b"x" * (2 * MIB + 1)
        refused = await server.client.post(UPLOAD, files=[("files", ("huge.txt", huge))])
        problem = assert_problem(refused, 413, "upload_too_large")
        assert problem["detail"] == (
            f"huge.txt is larger than {2 * MIB} bytes (CHINWAG_MAX_UPLOAD_FILE_BYTES)"
        )
        assert "CHINWAG_MAX_UPLOAD_FILE_BYTES" in problem["hint"]
        assert "chinwag ingest" in problem["hint"]

        two = [("files", (f"part{i}.txt", b"y" * (2 * MIB))) for i in (1, 2)]
        refused = await server.client.post(UPLOAD, files=two)
        problem = assert_problem(refused, 413, "body_too_large")
        assert f"the upload is larger than {3 * MIB} bytes" in problem["detail"]
        assert "CHINWAG_MAX_UPLOAD_BYTES" in problem["hint"]

        # A type ingestion cannot read is refused at once, not skipped by the job unseen.
        files = [("files", ("notes.md", b"# Notes")), ("files", ("notes.docx", b"PK\x03\x04"))]
        refused = await server.client.post(UPLOAD, files=files)
        problem = assert_problem(refused, 422, "invalid_request")
        assert "notes.docx: unsupported file type '.docx'" in problem["detail"]
        assert ".pdf" in problem["hint"]

        index = (await server.client.get("/v1/bots/shop/knowledge")).json()
        assert index["documents"] == {} and index["chunks"] == 0
        jobs = settings.data_dir / "uploads"
        assert not jobs.exists() or not [f for f in jobs.rglob("*") if f.is_file()]
