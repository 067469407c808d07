"""Validation of what a bot's prompts can see of its material: a prompt that shows only part of
what retrieval found, a grounded bot with nothing to ground its answers on, and a grounding
check asked of the embedded model, which cannot judge it (warnings)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from chinwag.words import content_words

if TYPE_CHECKING:
    from chinwag.bots.validation import Problem

_SOURCE_FIELD = re.compile(r"\.\s*(snippet|text)\b")
_SOURCES_LOOP = re.compile(r"\bfor\s+\w+\s+in\s+sources\b(?!\s*\[)")
_SOURCES_INDEX = re.compile(r"\bsources\s*\[\s*(\d+)\s*\]")
_SOURCES_FIRST = re.compile(r"\bsources\s*\|\s*first\b")
_SOURCES_SLICE = re.compile(r"\bsources\s*\[\s*(?:0\s*)?:\s*(\d+)\s*\]")
_JINJA = re.compile(r"\{[{%#].*?[}%#]\}", re.S)
DEFAULT_TOP_K = 4  # KnowledgeConfig.top_k's default
# A main prompt with fewer content words than this holds no facts worth grounding on.
FACT_WORDS = 40


def prompt_problems(where: str, flow: dict[str, Any], top_k: int | None) -> list[Problem]:
    """A flow prompt that shows each source's snippet only, or fewer sources than are found."""
    prompt = " ".join(str(flow.get(f) or "") for f in ("system", "template"))
    return _snippet_only(where, prompt) + _some_sources_only(where, prompt, top_k)


def top_k_of(document: dict[str, Any]) -> int | None:
    """How many sources retrieval gives a flow; None for a bot without knowledge."""
    knowledge = document.get("knowledge")
    if not isinstance(knowledge, dict):
        return None
    top_k = knowledge.get("top_k", DEFAULT_TOP_K)
    return top_k if isinstance(top_k, int) else None


def grounded_problems(document: dict[str, Any]) -> list[Problem]:
    """A grounded bot with no documents, no tables and no facts in main's prompt declines
    everything its curated answers do not cover."""
    from chinwag.bots.validation import Problem

    policy = document.get("policy")
    flows = document.get("flows")
    if not isinstance(policy, dict) or policy.get("mode", "grounded") != "grounded":
        return []
    if document.get("knowledge") or not isinstance(flows, dict):
        return []
    if any(isinstance(f, dict) and f.get("data") for f in flows.values()):
        return []
    main = flows.get("main") if isinstance(flows.get("main"), dict) else {}
    assert isinstance(main, dict)
    prompt = " ".join(str(main.get(f) or "") for f in ("system", "template"))
    if len(content_words(_JINJA.sub(" ", prompt))) >= FACT_WORDS:
        return []
    return [
        Problem(
            "policy.mode",
            "grounded_without_material",
            "policy.mode is grounded, but the bot has no knowledge documents, no data tables "
            "and no facts in main's prompt: every message its curated answers do not cover "
            "will be declined as unanswerable",
            "Add a `knowledge:` section and ingest documents, a flow with `data:`, or the "
            "shop's facts in flows.main.system; or set `policy.mode: open`.",
            severity="warning",
        )
    ]


def check_problems(document: dict[str, Any]) -> list[Problem]:
    """`check: llm` on the embedded model: SmolLM2-135M takes 20-70 s a check on 2 cores (a
    check times out, the answer goes on unchecked) and misjudges plain cases."""
    from chinwag.bots.validation import Problem

    policy = document.get("policy")
    if not isinstance(policy, dict) or policy.get("check") != "llm":
        return []
    check_llm, llm = policy.get("check_llm"), document.get("llm")
    provider = next(
        (c.get("provider") for c in (check_llm, llm) if isinstance(c, dict) and c.get("provider")),
        None,
    )
    if provider != "local":
        return []
    return [
        Problem(
            "policy.check_llm",
            "check_on_embedded_model",
            "policy.check is llm, but the check would ask the embedded model, which is too small "
            "to judge whether a message is in scope or answered (and takes 20 s or more a check "
            "on a small machine, so most checks time out)",
            "Point policy.check_llm at a capable OpenAI-compatible model "
            "({provider: openai, base_url: ..., model: ...}), or set policy.check: none.",
            severity="warning",
        )
    ]


def _snippet_only(where: str, prompt: str) -> list[Problem]:
    """Each source's snippet is at most 300 characters of a ~1,000-character chunk."""
    from chinwag.bots.validation import Problem

    used = set(_SOURCE_FIELD.findall(prompt))
    if "snippet" not in used or "text" in used:
        return []
    return [
        Problem(
            where,
            "prompt_sees_snippets_only",
            f"{where} gives the model each source's snippet, at most 300 characters of the "
            "passage retrieval found: facts after that never reach the prompt",
            "Use {{ s.text }} (the whole passage) in the prompt; the snippet is for readers.",
            severity="warning",
        )
    ]


def _some_sources_only(where: str, prompt: str, top_k: int | None) -> list[Problem]:
    """`sources[0]` (or `sources[:2]`) without a loop over every source, when more are found."""
    from chinwag.bots.validation import Problem

    if top_k is None or _SOURCES_LOOP.search(prompt):
        return []
    indexes = [int(i) + 1 for i in _SOURCES_INDEX.findall(prompt)]
    indexes += [1] * len(_SOURCES_FIRST.findall(prompt))
    indexes += [int(n) for n in _SOURCES_SLICE.findall(prompt)]
    seen = max(indexes, default=0)
    if not seen or seen >= top_k:
        return []
    return [
        Problem(
            where,
            "prompt_sees_some_sources",
            f"{where} shows the model {seen} of the {top_k} sources retrieval finds "
            "(knowledge.top_k): the facts in the others never reach the prompt",
            "Loop over them: {% for s in sources %}{{ s.title }}: {{ s.text }}{% endfor %}; "
            "or lower knowledge.top_k to what the prompt shows.",
            severity="warning",
        )
    ]
