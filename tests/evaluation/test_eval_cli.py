"""`chinwag eval BOT FILE.jsonl` as a bot owner runs it: from a YAML file, and against a bot in
the database (both kinds) with its knowledge index, answers from an LLM, and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chinwag.testing.fake_llm import FakeLLM
from tests.helpers import chinwag

BOT = """
id: dentist
name: Dentist
router: {strategy: semantic}
knowledge: {index: dentist-docs}
flows:
  main:
    template: "{{ message }}"
    retrieval: true
    examples: ["Where is the clinic?", "What are your opening hours?", "Do you speak English?",
      "Is there parking nearby?", "Are you taking new patients?"]
  appointments:
    template: "{{ message }}"
    examples: ["I'd like to book a check-up", "Can I move my appointment to Thursday?",
      "Please cancel my appointment tomorrow", "Do you have any free times next week?",
      "Book me for a cleaning with the hygienist", "Kan jeg bestille time?"]
  prices:
    template: "{{ message }}"
    examples: ["How much is a check-up?", "What does a filling cost?", "Price of whitening?",
      "How expensive is an implant?", "Do you have a price list?", "Hva koster tannrens?"]
"""
DOCUMENTS = {
    "hours.txt": "Opening hours: the clinic is open Monday to Friday from 8 to 16.",
    "prices.txt": "Price list: a check-up costs 850 kr, a filling 1200 kr, whitening 3500 kr.",
    "parking.txt": "Parking: there is a car park behind the building, free for patients.",
}
LABELLED = [
    {"message": "When do you open on Monday?", "flows": [], "documents": ["hours.txt"]},
    {"message": "Can I book a check-up for Friday?", "flows": ["appointments"]},
    {
        "message": "What does a filling cost?",
        "flows": ["prices"],
        "documents": ["prices.txt"],
        "reference": "1200 kr.",
    },
    {"message": "Where can I leave my car?", "flows": [], "documents": ["parking.txt"]},
]


def write(tmp_path: Path, lines: list[dict[str, object]]) -> Path:
    path = tmp_path / "labelled.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    return path


async def test_eval_a_yaml_file_prints_accuracy_confusion_and_misrouted(tmp_path: Path) -> None:
    bot = tmp_path / "dentist.yaml"
    bot.write_text(
        BOT.replace("knowledge: {index: dentist-docs}\n", "").replace("    retrieval: true\n", "")
    )
    wrong = {"message": "What does whitening cost?", "flows": ["appointments"]}  # mislabelled
    labelled = write(tmp_path, [*LABELLED, wrong])
    code, out, err = await chinwag("sqlite:///unused.db", "eval", str(bot), str(labelled))
    assert code == 0, out + err
    assert "routing: 4/5 right (80.0%)" in out
    assert "| expected \\ chosen | appointments | prices | (main alone) |" in out
    assert "| appointments | 1 | 1 |  |" in out  # one right, the mislabelled one went to prices
    assert "'What does whitening cost?': appointments -> prices" in out
    assert "note: bot 'dentist' has no knowledge: documents not checked" in out

    code, out, err = await chinwag(
        "sqlite:///unused.db", "eval", str(bot), str(labelled), "--min-routing", "0.9"
    )
    assert code == 1 and "routing: 4/5 right (80.0%)" in out  # the report, then the verdict
    assert "routing accuracy 80.0% is below --min-routing 0.9" in err
    assert "hint: Look at the misrouted" in err


async def test_eval_rejects_a_file_it_cannot_read(tmp_path: Path) -> None:
    bot = tmp_path / "dentist.yaml"
    bot.write_text(
        BOT.replace("knowledge: {index: dentist-docs}\n", "").replace("    retrieval: true\n", "")
    )
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"message": "hi", "flows": []}\n{"flows": ["prices"]}\n')
    code, _, err = await chinwag("sqlite:///unused.db", "eval", str(bot), str(broken))
    assert code == 1 and 'broken.jsonl:2 has no "message" text' in err
    assert "hint: Each line of a labelled file is a JSON object" in err
    unknown = write(tmp_path, [{"message": "hi", "flows": ["billing"]}])
    code, _, err = await chinwag("sqlite:///unused.db", "eval", str(bot), str(unknown))
    assert code == 1 and "names flows that bot 'dentist' does not have: billing" in err


@pytest.mark.slow
async def test_eval_a_bot_in_the_database_with_its_knowledge_and_answers(
    database_url: str, tmp_path: Path, fake_llm: FakeLLM
) -> None:
    data = tmp_path / "data"
    bot = tmp_path / "dentist.yaml"
    bot.write_text(BOT)
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in DOCUMENTS.items():
        (docs / name).write_text(text)
    for args in (
        ("knowledge", "create", str(bot)),
        ("bots", "import", str(bot)),
        ("ingest", "dentist", str(docs)),
    ):
        code, out, err = await chinwag(database_url, *args, data_dir=data)
        assert code == 0, out + err
    labelled = write(tmp_path, LABELLED)

    code, out, err = await chinwag(
        database_url, "eval", "dentist", str(labelled), "--json", data_dir=data
    )
    assert code == 0, out + err
    report = json.loads(out[out.index("{") :])
    assert report["bot"] == "dentist"
    assert report["routing"]["messages"] == 4 and report["routing"]["accuracy"] == 1.0
    assert report["retrieval"]["questions"] == 3
    recall = report["retrieval"]["recall"]
    assert set(recall) == {"vector", "keyword", "hybrid"}
    assert recall["hybrid"]["@5"] == 1.0  # three documents: every one is in the first five
    assert all(0.0 <= recall[m][f"@{d}"] <= 1.0 for m in recall for d in (1, 3, 5))

    fake_llm.behaviour.tokens = 3
    code, out, err = await chinwag(
        database_url,
        "eval",
        "dentist",
        str(labelled),
        "--answers",
        "--min-recall",
        "1.0",
        data_dir=data,
        env={"CHINWAG_LLM_BASE_URL": fake_llm.base_url, "CHINWAG_LLM_MODEL": "fake-model"},
    )
    assert code == 0, out + err
    assert "| hybrid (bot) |" in out
    assert "Q: What does a filling cost?" in out and "reference: 1200 kr." in out
    assert out.count("\nA: ") == 4


async def test_eval_answers_as_the_bot_would_its_policy_included(
    tmp_path: Path, fake_llm: FakeLLM
) -> None:
    """A grounded bot's out-of-scope message gets its decline in eval too, not an LLM answer."""
    bot = tmp_path / "dentist.yaml"
    plain = BOT.replace("knowledge: {index: dentist-docs}\n", "").replace(
        "    retrieval: true\n", ""
    )
    bot.write_text(
        plain.replace(
            "router: {strategy: semantic}", "router: {strategy: semantic}\npolicy: grounded"
        )
    )
    poem = {"message": "Write me a poem about the sea", "flows": []}
    labelled = write(tmp_path, [poem])
    code, out, err = await chinwag(
        "sqlite:///unused.db",
        "eval",
        str(bot),
        str(labelled),
        "--answers",
        env={"CHINWAG_LLM_BASE_URL": fake_llm.base_url, "CHINWAG_LLM_MODEL": "fake-model"},
    )
    assert code == 0, out + err
    assert "A: Sorry, I can only help with questions about Dentist." in out
    assert fake_llm.requests == []
