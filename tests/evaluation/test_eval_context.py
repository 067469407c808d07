"""`chinwag eval` with `facts`: context recall in main's prompt and in its flows' prompts, by
kind, the misses, the prompt size, `--min-context-recall`, and the misrouted messages as
examples to paste, as a bot owner sees them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.evaluation.test_eval_cli import write
from tests.helpers import chinwag

FERRY = """
id: ferry
name: Ferry
router: {strategy: keywords}
flows:
  main:
    system: |
      You answer passengers of the ferry. The office is open 10:00\u201316:00.
      Children under 18 travel for half price. A car costs 1 200 kr.
      {% if flows.fares is defined %}Fares: {{ flows.fares.output }}{% endif %}
      {% if flows.cabins is defined %}Cabins: {{ flows.cabins.output }}{% endif %}
    template: "{{ message }}"
  fares:
    keywords: [cost, price, fare]
    data:
      fares: "route,adult_nok,child_nok\\nLavik-Oppedal,62,31\\nBergen-Stavanger,1450,725\\n"
    lookup: {fares: {columns: [route], max_rows: 1}}
    generate: false
    template: >-
      {% for f in data.fares %}{{ f.route }}: adult {{ f.adult_nok }} NOK,
      child {{ f.child_nok }} NOK. {% endfor %}
  cabins:
    keywords: [cabin]
    data:
      cabins: "cabin,beds,price_nok\\nInside,2,590\\nSea view,4,1190\\n"
    template: >-
      {% for c in data.cabins %}{{ c.cabin }}: {{ c.beds }} beds, {{ c.price_nok }} NOK.
      {% endfor %} {{ message }}
"""
FACTS: list[dict[str, Any]] = [
    # in main's system prompt, written otherwise there (an en dash, a space in 1 200)
    {"message": "When is the office open?", "flows": [], "facts": ["10:00-16:00"],
     "kind": "prompt"},
    {"message": "Do children pay less?", "flows": [], "facts": ["18", "half price"],
     "kind": "prompt"},
    {"message": "What does a car cost?", "flows": ["fares"], "facts": ["1200"], "kind": "prompt"},
    {"message": "Can I bring my dog?", "flows": [], "facts": ["leash"], "kind": "prompt"},
    # table rows: only the row the message names reaches main (max_rows: 1)
    {"message": "What is the fare Lavik-Oppedal?", "flows": ["fares"], "facts": ["62", "31"],
     "kind": "table"},
    {"message": "What is the fare Bergen-Stavanger?", "flows": ["fares"], "facts": ["62"],
     "kind": "table"},
    # a flow that generates: main gets its (empty) output, its own prompt has the row
    {"message": "Do you have a cabin with sea view?", "flows": ["cabins"], "facts": ["1190"],
     "kind": "table"},
]  # fmt: skip
MISROUTED: list[dict[str, Any]] = [
    {"message": "How much for a bike?", "flows": ["fares"]},  # no keyword: main alone
    {"message": "Is the price of coffee on board ok?", "flows": []},  # `price`: fares
    {"message": 'Har dere "hundelugar" på båten?', "flows": ["cabins"]},
]


@pytest.fixture
def ferry(tmp_path: Path) -> Path:
    bot = tmp_path / "ferry.yaml"
    bot.write_text(FERRY)
    return bot


async def test_context_recall_in_main_and_flow_prompts_with_misses_and_examples(
    tmp_path: Path, ferry: Path
) -> None:
    labelled = write(tmp_path, [*FACTS, *MISROUTED])
    code, out, err = await chinwag(
        "sqlite:///unused.db", "eval", str(ferry), str(labelled), "--min-context-recall", "0.7"
    )
    assert code == 0, out + err
    assert (
        "context: 4/7 questions have all their facts in main's prompt (57.1%), "
        "5/7 in main's and its flows' prompts (71.4%)"
    ) in out
    assert "median main prompt: " in out and " characters" in out
    assert "| kind | questions | main prompt | main + flow prompts |" in out
    assert "| prompt | 4 | 0.75 | 0.75 |" in out
    assert "| table | 3 | 0.33 | 0.67 |" in out
    assert "facts missing from main's prompt (3):" in out
    assert "  'Can I bring my dog?': missing leash; flows: main alone; retrieved: nothing" in out
    assert "  'What is the fare Bergen-Stavanger?': missing 62; flows: fares;" in out
    assert (
        "  'Do you have a cabin with sea view?': missing 1190 (in a flow's prompt: 1190); "
        "flows: cabins;"
    ) in out

    # the report ends with the misrouted messages as YAML to paste under each flow
    heading = "examples to add from the misrouted messages (paste into the bot's YAML):"
    snippets = out.split(heading, 1)[1].strip().split("\n\n")
    pasted = [yaml.safe_load(s)["flows"] for s in snippets]
    assert pasted == [
        {"main": {"examples": ["Is the price of coffee on board ok?"]}},
        {"cabins": {"examples": ['Har dere "hundelugar" på båten?']}},
        {"fares": {"examples": ["How much for a bike?"]}},
    ]
    assert (
        snippets[0]
        == 'flows:\n  main:\n    examples:\n      - "Is the price of coffee on board ok?"'
    )


async def test_context_recall_as_json_and_below_the_threshold(tmp_path: Path, ferry: Path) -> None:
    labelled = write(tmp_path, [*FACTS, *MISROUTED])
    code, out, err = await chinwag(
        "sqlite:///unused.db",
        "eval",
        str(ferry),
        str(labelled),
        "--json",
        "--min-context-recall",
        "0.9",
    )
    assert code == 1  # the report, then the verdict
    assert "context recall 71.4% is below --min-context-recall 0.9" in err
    assert "hint: Look at the misrouted and missed questions and the missing facts" in err
    report = json.loads(out)
    context = report["context"]
    assert context["questions"] == 7
    assert context["main_prompt"] == pytest.approx(4 / 7)
    assert context["main_and_flow_prompts"] == pytest.approx(5 / 7)
    assert context["by_kind"]["table"] == {
        "questions": 3,
        "main_prompt": pytest.approx(1 / 3),
        "main_and_flow_prompts": pytest.approx(2 / 3),
    }
    assert context["median_prompt_chars"] > len("You answer passengers of the ferry.")
    cabin = next(m for m in context["misses"] if "cabin" in m["message"])
    assert cabin["missing"] == ["1190"] and cabin["missing_with_flows"] == []
    assert cabin["flows"] == ["cabins"] and cabin["answered_by"] == "main"
    assert report["routing"]["suggested_examples"] == {
        "main": ["Is the price of coffee on board ok?"],
        "cabins": ['Har dere "hundelugar" på båten?'],
        "fares": ["How much for a bike?"],
    }


async def test_facts_must_be_a_list_of_strings(tmp_path: Path, ferry: Path) -> None:
    labelled = write(tmp_path, [{"message": "When do you open?", "facts": "10:00"}])
    code, _, err = await chinwag("sqlite:///unused.db", "eval", str(ferry), str(labelled))
    assert code == 1 and 'labelled.jsonl:1: "facts" must be a list of strings' in err


CLINIC = """
id: clinic
name: Clinic
router: {strategy: keywords}
knowledge: {index: clinic-docs, top_k: 1}
curated: {mode: prefer}
flows:
  main:
    system: "{% for s in sources %}{{ s.title }}: {{ s.text }}{% endfor %}"
    template: "{{ message }}"
"""
CLINIC_DOCUMENTS = {
    "hours.txt": "Opening hours: the clinic is open Monday to Friday from 8 to 16.",
    "prices.txt": "Price list: a check-up costs 850 kr, a filling 1200 kr, whitening 3500 kr.",
    "parking.txt": "Parking: there is a car park behind the building, free for patients.",
}


@pytest.mark.slow
async def test_context_recall_of_a_bot_in_the_database_with_documents_and_curated_answers(
    database_url: str, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    bot = tmp_path / "clinic.yaml"
    bot.write_text(CLINIC)
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in CLINIC_DOCUMENTS.items():
        (docs / name).write_text(text)
    for args in (
        ("knowledge", "create", str(bot)),
        ("bots", "import", str(bot)),
        ("ingest", "clinic", str(docs)),
        ("answers", "add", "clinic", "-q", "Do you take new patients?",
         "-a", "Yes, until 1 March."),
    ):  # fmt: skip
        code, out, err = await chinwag(database_url, *args, data_dir=data)
        assert code == 0, out + err
    labelled = write(
        tmp_path,
        [
            {"message": "What does a filling cost?", "facts": ["1 200 kr"], "kind": "document"},
            {"message": "Where can I leave my car?", "facts": ["3500"], "kind": "document"},
            {"message": "Do you take new patients?", "facts": ["1 March"], "kind": "curated"},
        ],
    )
    code, out, err = await chinwag(
        database_url, "eval", "clinic", str(labelled), "--json", data_dir=data
    )
    assert code == 0, out + err
    context = json.loads(out)["context"]
    assert context["by_kind"]["curated"]["main_prompt"] == 1.0  # prefer: main is given it
    assert context["by_kind"]["document"]["main_prompt"] == 0.5
    (miss,) = context["misses"]
    assert miss["message"] == "Where can I leave my car?" and miss["missing"] == ["3500"]
    assert len(miss["retrieved"]) == 1 and "(parking.txt)" in miss["retrieved"][0]
