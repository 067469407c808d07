"""`chinwag validate` reports every tool problem at once, with paths, codes and hints; the
worked example of docs/tools.md validates and answers."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from chinwag.bots.validation import Problem, validate_document
from tests.helpers import ROOT, chinwag


def _document() -> dict[str, Any]:
    return {
        "id": "shop",
        "name": "Shop",
        "allowed_hosts": ["api.shop.example"],
        "tools": {
            "order_status": {
                "url": "https://api.shop.example/orders/{order}",
                "headers": {"Authorization": "Bearer ${SHOP_API_TOKEN}"},
                "arguments": {
                    "type": "object",
                    "properties": {"order": {"type": "string"}},
                    "required": ["order"],
                },
            }
        },
        "flows": {
            "main": {"template": "{{ message }}"},
            "orders": {
                "keywords": ["order"],
                "tool": "order_status",
                "arguments": {"order": {"pattern": r"\b(\d{5})\b"}},
                "template": "{{ tool.result }}",
                "generate": False,
            },
        },
    }


def _codes(problems: list[Problem]) -> set[tuple[str, str, str]]:
    return {(p.path, p.code, p.severity) for p in problems}


def test_a_correct_tool_validates() -> None:
    report = validate_document(_document(), env={"SHOP_API_TOKEN": "x"})
    assert report.ok and report.problems == [], report.problems


def test_every_tool_problem_is_reported_at_once() -> None:
    document = _document()
    tools = document["tools"]
    tools["order_status"]["url"] = "https://api.shop.example/orders/{order}/{line}"
    tools["order_status"]["headers"]["X-Order"] = "{order}"
    tools["order_status"]["headers"]["Host"] = "internal.shop.example"
    tools["broken_schema"] = {
        "url": "https://api.shop.example/x",
        "arguments": {"type": "object", "properties": {"n": {"type": "integr"}}},
    }
    tools["elsewhere"] = {"url": "https://evil.example/x"}
    tools["metadata"] = {"url": "http://169.254.169.254/latest"}
    tools["post"] = {"url": "https://api.shop.example/x", "method": "POST", "retries": 2}
    flows = document["flows"]
    flows["stock"] = {"keywords": ["stock"], "tool": "stock_level", "template": "x"}
    flows["orders"]["arguments"] = {
        "ordr": {"pattern": "(\\d+"},
        "customer": {},
    }
    flows["chat"] = {"keywords": ["hi"], "template": "{{ tool.result }}"}
    flows["main"]["tool"] = "order_status"
    report = validate_document(document)
    assert not report.ok
    assert _codes(report.problems) >= {
        ("tools.order_status.url", "tool_unknown_argument", "error"),
        ("tools.order_status.headers.X-Order", "tool_argument_in_header", "error"),
        ("tools.order_status.headers.Host", "tool_header_reserved", "error"),
        ("tools.broken_schema.arguments", "tool_schema_invalid", "error"),
        ("tools.elsewhere.url", "tool_host_not_allowed", "error"),
        ("tools.metadata.url", "tool_address_refused", "error"),
        ("tools.post.retries", "tool_retries_not_idempotent", "error"),
        ("flows.stock.tool", "tool_unknown", "error"),
        ("flows.orders.arguments.ordr", "tool_unknown_argument", "error"),
        ("flows.orders.arguments.ordr.pattern", "tool_pattern_invalid", "error"),
        ("flows.orders.arguments.customer", "tool_argument_without_pattern", "error"),
        ("flows.orders.arguments", "tool_argument_unfilled", "error"),
        ("flows.chat.template", "template_tool_without_tool", "error"),
        ("flows.main.tool", "tool_on_main", "error"),
    }, report.problems
    by_code = {p.code: p for p in report.problems}
    by_path = {p.path: p for p in report.problems if p.code == "tool_unknown_argument"}
    assert "'line'" in by_path["tools.order_status.url"].message
    assert "allowed_hosts" in by_code["tool_host_not_allowed"].hint
    assert "allow_private" in by_code["tool_address_refused"].hint
    assert all(p.hint for p in report.problems)


@pytest.mark.parametrize(
    "url",
    [
        "https://{tenant}.shop.example/orders",
        "https://user:password@api.shop.example/orders",
        "https://api.shop.example/orders?id={order}",
        "ftp://api.shop.example/orders",
    ],
)
def test_a_url_whose_host_or_query_could_move_is_refused(url: str) -> None:
    document = _document()
    document["tools"]["order_status"]["url"] = url
    report = validate_document(document)
    assert ("tools.order_status.url", "invalid_value", "error") in _codes(report.problems)


def test_a_tool_that_may_outlast_its_flow_is_a_warning() -> None:
    document = _document()
    document["tools"]["order_status"] |= {"timeout_seconds": 10, "retries": 2}
    document["flows"]["orders"]["timeout_seconds"] = 20
    report = validate_document(document)
    assert report.ok
    assert _codes(report.problems) == {
        ("flows.orders.timeout_seconds", "tool_slower_than_flow", "warning")
    }
    assert "30 s (3 attempt(s))" in report.problems[0].message


def test_a_secret_not_set_is_a_warning_to_validate_and_an_error_to_activate() -> None:
    validating = validate_document(_document(), env={}, activating=False)
    assert validating.ok
    assert _codes(validating.problems) == {
        ("tools.order_status.headers.Authorization", "env_var_not_set", "warning")
    }
    assert "SHOP_API_TOKEN" in validating.problems[0].message
    activating = validate_document(_document(), env={})
    assert not activating.ok
    assert _codes(activating.problems) == {
        ("tools.order_status.headers.Authorization", "env_var_not_set", "error")
    }


async def test_the_cli_warns_at_validate_and_refuses_at_import(
    database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "shop.yaml"
    path.write_text(yaml.safe_dump(_document()))
    code, out, _ = await chinwag(database_url, "validate", str(path), data_dir=tmp_path)
    assert code == 0, out
    assert "warning tools.order_status.headers.Authorization [env_var_not_set]" in out
    code, out, err = await chinwag(database_url, "bots", "import", str(path), data_dir=tmp_path)
    assert code == 1 and "error tools.order_status.headers.Authorization" in out + err
    code, out, _ = await chinwag(
        database_url,
        "bots",
        "import",
        str(path),
        data_dir=tmp_path,
        env={"SHOP_API_TOKEN": "set-here"},
    )
    assert code == 0, out


def docs_example() -> dict[str, Any]:
    """The worked example of docs/tools.md."""
    text = (ROOT / "docs" / "tools.md").read_text()
    start = text.index("```yaml", text.index("## A worked example")) + len("```yaml")
    document: dict[str, Any] = yaml.safe_load(text[start : text.index("```", start)])
    return document


def test_the_docs_example_validates() -> None:
    report = validate_document(docs_example(), env={"SHOP_API_TOKEN": "x"})
    assert report.ok and report.problems == [], report.problems


@pytest.mark.parametrize(
    ("code", "where"),
    [
        (c, w)
        for c in (
            "tool_unknown",
            "tool_unknown_argument",
            "tool_schema_invalid",
            "tool_host_not_allowed",
            "tool_address_refused",
            "tool_argument_in_header",
            "tool_header_reserved",
            "tool_retries_not_idempotent",
            "tool_argument_without_pattern",
            "tool_pattern_invalid",
            "tool_argument_unfilled",
            "tool_on_main",
            "template_tool_without_tool",
            "tool_slower_than_flow",
            "tools_only_on_main",
            "llm_no_function_calling",
        )
        for w in ("bots.md",)
    ],
)
def test_every_tool_validation_code_is_in_the_bots_page(code: str, where: str) -> None:
    assert f"`{code}`" in (ROOT / "docs" / where).read_text()


def test_the_docs_example_is_the_one_the_flow_tests_run() -> None:
    """Its order flow's pattern finds the order number in both languages."""
    flow = copy.deepcopy(docs_example()["flows"]["orders"])
    pattern = re.compile(flow["arguments"]["order"]["pattern"], re.IGNORECASE)
    for message in ("Where is my order 10023?", "Hvor er bestillingen min 10023?"):
        match = pattern.search(message)
        assert match is not None and match.group(1) == "10023"


def test_function_calling_problems_are_reported_with_paths() -> None:
    """main's `tools`: a tool the bot lacks, `tools` on another flow, and the embedded model;
    one that changes something is no problem (its calls wait for the visitor's confirmation)."""
    document = _document()
    document["tools"]["cancel"] = {"url": "https://api.shop.example/cancel", "method": "POST"}
    document["tools"]["search"] = {
        "url": "https://api.shop.example/search",
        "method": "POST",
        "confirm": False,  # a search sent as POST changes nothing
    }
    document["flows"]["main"]["tools"] = ["order_status", "stock", "cancel", "search"]
    document["flows"]["main"]["llm"] = {"provider": "local"}
    document["flows"]["orders"]["tools"] = ["order_status"]
    report = validate_document(document, env={"SHOP_API_TOKEN": "x"})
    assert _codes(report.problems) == {
        ("flows.main.tools.1", "tool_unknown", "error"),
        ("flows.main.tools", "llm_no_function_calling", "error"),
        ("flows.orders.tools", "tools_only_on_main", "error"),
    }, report.problems
    assert all(p.hint for p in report.problems)

    document["flows"]["main"].pop("llm")
    document["flows"]["main"]["tools"] = ["order_status", "search"]
    document["flows"]["orders"].pop("tools")
    document["flows"]["main"]["function_calling"] = {"max_steps": 2, "budget_seconds": 5}
    report = validate_document(document, env={"SHOP_API_TOKEN": "x"})
    assert report.ok and report.problems == [], report.problems

    document["flows"]["main"]["function_calling"] = {"max_steps": 0, "retries": 1}
    report = validate_document(document, env={"SHOP_API_TOKEN": "x"})
    paths = {p.path for p in report.errors}
    assert paths >= {
        "flows.main.function_calling.max_steps",
        "flows.main.function_calling.retries",
    }, report.problems
