"""A corpus of broken bot configurations: every error and warning, asserted by code and path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from chinwag.bots.activation import check_file
from chinwag.bots.files import parse_yaml
from chinwag.bots.validation import validate_document

ROOT = Path(__file__).resolve().parents[2]
GOOD = """
id: shop
name: Shop
router: {strategy: semantic}
flows:
  main:
    system: "{{ bot.name }}: {% if flows.stats is defined %}{{ flows.stats.output }}{% endif %}"
    template: "{{ message }}"
  stats:
    examples: ["how many did you sell?", "best seller?", "sales this week", "what sold most", "x"]
    data: {items: "name,price\\nA,10\\n"}
    template: "{% for row in data.items %}{{ row.name }} {% endfor %}{{ message }}"
"""

# (case, YAML, expected (severity, code, path) problems — exactly these, in any order)
OVERLAPPING = """
id: shop
name: Shop
router: {strategy: semantic}
flows:
  main: {template: "{{ message }}"}
  checkups:
    template: "{{ message }}"
    examples: ["Can I book a check-up?", "I want an appointment for a check-up next week",
      "When can I come for my annual check?", "Do you have time for a check-up on Friday?",
      "Book my yearly examination please"]
  appointments:
    template: "{{ message }}"
    examples: ["I'd like to book an appointment", "Can I come for a check-up on Monday?",
      "Do you have any free times next week?", "Book me in for my yearly check-up",
      "When is the next time I can come in?"]
  prices:
    template: "{{ message }}"
    examples: ["How much is a filling?", "What does whitening cost?", "Price of a crown?",
      "Is an x-ray included in the price?", "What do you charge per hour?"]
"""
CORPUS: list[tuple[str, str, set[tuple[str, str, str]]]] = [
    ("valid", GOOD, set()),
    (
        "a flow with too few examples for the semantic router",
        GOOD.replace('"what sold most", "x"', '"x"'),
        {("warning", "router_too_few_examples", "flows.stats.examples")},
    ),
    (
        "two flows whose examples the router cannot tell apart",
        OVERLAPPING,
        {("warning", "router_examples_overlap", "flows.checkups.examples")},
    ),
    (
        "unknown key, with a suggestion",
        GOOD.replace("router: {strategy: semantic}", "router: {strategy: semantic, treshold: 1}"),
        {("error", "unknown_key", "router.treshold")},
    ),
    (
        "a router threshold below 0 (a probability)",
        GOOD.replace(
            "router: {strategy: semantic}", "router: {strategy: semantic, threshold: -0.2}"
        ),
        {("error", "invalid_value", "router.threshold")},
    ),
    (
        "a flow threshold below 0",
        GOOD.replace("    data: {items:", "    threshold: -1\n    data: {items:"),
        {("error", "invalid_value", "flows.stats.threshold")},
    ),
    (
        "unknown key in a flow",
        GOOD.replace('    examples: ["how', '    exmaples: ["x"]\n    examples: ["how'),
        {("error", "unknown_key", "flows.stats.exmaples")},
    ),
    (
        "missing main flow",
        "id: shop\nname: Shop\nflows:\n  other: {template: '{{ message }}'}\n",
        {("error", "missing_main_flow", "flows.main")},
    ),
    (
        "main without template",
        "id: shop\nname: Shop\nflows:\n  main: {system: hi}\n",
        {("error", "missing_template", "flows.main.template")},
    ),
    (
        "template syntax error",
        GOOD.replace('template: "{{ message }}"', 'template: "ok\\n{% if %}"'),
        {("error", "template_syntax_error", "flows.main.template")},
    ),
    (
        "unknown template variable",
        GOOD.replace('template: "{{ message }}"', 'template: "{{ mesage }}"'),
        {("error", "template_unknown_variable", "flows.main.template")},
    ),
    (
        "template reads a flow that does not exist",
        GOOD.replace("flows.stats.output", "flows.statz.output"),
        {("error", "template_unknown_flow", "flows.main.system")},
    ),
    (
        "template reads a data table that does not exist",
        GOOD.replace("data.items", "data.itemz"),
        {("error", "template_unknown_data", "flows.stats.template")},
    ),
    (
        "ragged CSV",
        GOOD.replace("name,price\\nA,10\\n", "name,price\\nA,10,extra\\n"),
        {("error", "data_invalid", "flows.stats.data.items")},
    ),
    (
        "unknown LLM provider",
        GOOD + "llm: {provider: openia}\n",
        {("error", "unknown_provider", "llm.provider")},
    ),
    (
        "unknown router strategy",
        GOOD.replace("strategy: semantic", "strategy: magic"),
        {("error", "unknown_router_strategy", "router.strategy")},
    ),
    (
        "semantic flow without examples",
        GOOD.replace(GOOD.split("\n")[9] + "\n", ""),
        {("error", "router_examples_missing", "flows.stats.examples")},
    ),
    (
        "duplicate flow names",
        GOOD + "  stats:\n    examples: [a, b, c, d, e]\n    template: '{{ message }}'\n",
        {("error", "duplicate_flow", "flows.stats")},
    ),
    (
        "invalid flow name",
        GOOD.replace("  stats:", "  Stats:").replace("flows.stats", "flows.Stats"),
        {("error", "invalid_flow_name", "flows.Stats")},
    ),
    (
        "optional flow without template is skipped",
        GOOD + "  extra: {examples: [x]}\n",
        {("warning", "flow_without_template", "flows.extra.template")},
    ),
    (
        "a prompt that only ever sees snippets of its sources",
        GOOD.replace(
            '    template: "{{ message }}"\n',
            '    template: "{% for s in sources %}{{ s.snippet }}{% endfor %} {{ message }}"\n',
            1,
        ),
        {("warning", "prompt_sees_snippets_only", "flows.main")},
    ),
    (
        "a prompt that shows the first of the four sources retrieval finds",
        "knowledge: {index: shop}\n"
        + GOOD.replace(
            '    template: "{{ message }}"\n',
            '    template: "{{ sources[0].text }} {{ message }}"\n',
            1,
        ),
        {("warning", "prompt_sees_some_sources", "flows.main")},
    ),
    (
        "a prompt that shows two sources of two is fine; so is a loop over them all",
        "knowledge: {index: shop, top_k: 2}\n"
        + GOOD.replace(
            '    template: "{{ message }}"\n',
            '    template: "{% for s in sources[:2] %}{{ s.text }}{% endfor %} {{ message }}"\n',
            1,
        ).replace(
            "{{ row.name }} {% endfor %}",
            "{{ row.name }} {% endfor %}{% for s in sources %}{{ s.text }}{% endfor %}",
        ),
        set(),
    ),
    (
        "a grounded bot with nothing to ground on declines everything",
        "policy: {mode: grounded}\n"
        + GOOD.replace('    data: {items: "name,price\\nA,10\\n"}\n', "").replace(
            "{% for row in data.items %}{{ row.name }} {% endfor %}", ""
        ),
        {("warning", "grounded_without_material", "policy.mode")},
    ),
    (
        "a grounded bot with a table, or open, has something to go on",
        "policy: {mode: grounded}\n" + GOOD,
        set(),
    ),
    (
        "a grounding check asked of the embedded model cannot judge",
        "policy: {mode: grounded, check: llm, check_llm: {provider: local}}\n" + GOOD,
        {("warning", "check_on_embedded_model", "policy.check_llm")},
    ),
    (
        "the bot's own embedded model, when the check names none, is the same",
        "llm: {provider: local}\npolicy: {mode: grounded, check: llm}\n" + GOOD,
        {("warning", "check_on_embedded_model", "policy.check_llm")},
    ),
    (
        "a check on a model server is what the docs advise",
        "policy: {mode: grounded, check: llm, check_llm: {provider: openai, model: m}}\n" + GOOD,
        set(),
    ),
    (
        "snippets beside whole passages are fine",
        GOOD.replace(
            '    template: "{{ message }}"\n',
            '    template: "{% for s in sources %}{{ s.snippet }}: {{ s.text }}{% endfor %}"\n',
            1,
        ),
        set(),
    ),
    (
        "main cannot answer word for word from itself",
        GOOD.replace(
            '    template: "{{ message }}"\n',
            '    template: "{{ message }}"\n    verbatim_answer: true\n',
            1,
        ),
        {("error", "verbatim_answer_on_main", "flows.main.verbatim_answer")},
    ),
    (
        "a flow no keyword route can select",
        GOOD.replace("strategy: semantic", "strategy: keywords"),
        {("warning", "flow_unreachable", "flows.stats.keywords")},
    ),
    (
        "wrong type",
        GOOD.replace("name: Shop", "name: Shop\nhistory_turns: many"),
        {("error", "invalid_value", "history_turns")},
    ),
    (
        "YAML syntax error",
        "id: shop\nname: [unclosed\n",
        {("error", "yaml_syntax_error", "")},
    ),
    (
        "several problems at once",
        GOOD.replace('template: "{{ message }}"', 'template: "{{ mesage }}"').replace(
            "router: {strategy: semantic}", "router: {strategy: semantic, treshold: 1}"
        )
        + "llm: {provider: openia}\n",
        {
            ("error", "template_unknown_variable", "flows.main.template"),
            ("error", "unknown_key", "router.treshold"),
            ("error", "unknown_provider", "llm.provider"),
        },
    ),
]


@pytest.mark.parametrize(("case", "text", "expected"), CORPUS, ids=[c[0] for c in CORPUS])
def test_corpus(case: str, text: str, expected: set[tuple[str, str, str]]) -> None:
    document, earlier = parse_yaml(text)
    report = validate_document(document, env={}, earlier=earlier)
    found = {(p.severity, p.code, p.path) for p in report.problems}
    assert found == expected, case
    assert (report.config is None) == any(s == "error" for s, _, _ in expected)
    for problem in report.problems:
        assert problem.message and problem.hint


def test_unknown_key_suggests_the_right_one() -> None:
    document, _ = parse_yaml(GOOD.replace("router: {strategy: semantic}", "routr: {}"))
    (problem,) = validate_document(document).problems
    assert problem.code == "unknown_key" and "Did you mean 'router'?" in problem.hint


def test_syntax_error_names_the_line_inside_the_template() -> None:
    document, _ = parse_yaml(
        GOOD.replace('template: "{{ message }}"', 'template: "a\\nb\\n{% if %}"')
    )
    (problem,) = validate_document(document).problems
    assert "line 3" in problem.message


def test_env_vars_must_be_set_at_activation() -> None:
    document, _ = parse_yaml(GOOD + "llm: {api_key_env: SHOP_TEST_KEY}\n")
    unset = validate_document(document, env={})
    assert [(p.code, p.path) for p in unset.errors] == [("env_var_not_set", "llm.api_key_env")]
    assert validate_document(document, env={"SHOP_TEST_KEY": "k"}).ok
    assert validate_document(document, env=None).ok  # validation without the server's env


def test_file_references_are_read_relative_to_the_yaml(tmp_path: Path) -> None:
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "main.j2").write_text("Hello {{ user.id }}")
    (tmp_path / "bot.yaml").write_text(
        "id: shop\nname: Shop\nflows:\n  main:\n    system: {file: prompts/main.j2}\n"
        "    template: {file: missing.j2}\n"
    )
    report = check_file(tmp_path / "bot.yaml")
    assert [(p.code, p.path) for p in report.errors] == [("file_not_found", "flows.main.template")]
    (tmp_path / "missing.j2").write_text("{{ message }}")
    report = check_file(tmp_path / "bot.yaml")
    assert report.config is not None
    assert report.config.flows["main"].system == "Hello {{ user.id }}"


def _chinwag(*args: str, data_dir: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHINWAG_")}
    if data_dir is not None:
        env["CHINWAG_DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [sys.executable, "-m", "chinwag", *args], capture_output=True, text=True, cwd=ROOT, env=env
    )


def test_cli_validate_reports_and_exits_1_on_errors(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(GOOD.replace("strategy: semantic", "strategy: magic") + "colour: red\n")
    result = _chinwag("validate", str(broken), "examples/bokhylla.yaml")
    assert result.returncode == 1
    assert "router.strategy [unknown_router_strategy]" in result.stdout
    assert "colour [unknown_key]" in result.stdout
    assert "bokhylla.yaml: ok" in result.stdout

    as_json = json.loads(_chinwag("validate", "--json", str(broken)).stdout)
    assert {p["code"] for p in as_json[0]["problems"]} == {"unknown_router_strategy", "unknown_key"}


@pytest.mark.slow
def test_cli_validate_passes_the_shipped_bots(tmp_path: Path) -> None:
    demo = "src/chinwag/bots/demo/vinhuset.yaml"
    missing = _chinwag("validate", demo, data_dir=tmp_path)
    assert missing.returncode == 1
    assert "knowledge.index [knowledge_index_not_found]" in missing.stdout
    assert "chinwag knowledge create" in missing.stdout
    assert _chinwag("knowledge", "create", demo, data_dir=tmp_path).returncode == 0
    examples = ("examples/bokhylla.yaml", "examples/sykkelverksted.yaml")
    result = _chinwag("validate", "--skip-env", demo, *examples, data_dir=tmp_path)
    assert result.returncode == 0, result.stdout
    assert "knowledge.index [knowledge_index_empty]" in result.stdout  # a warning


def test_cli_schema_is_the_json_schema_of_a_bot() -> None:
    schema = json.loads(_chinwag("schema").stdout)
    assert schema["title"] == "BotConfig" and "flows" in schema["required"]
