"""Answer policy: how often each labelled kind of message is declined, on the six labelled bots.

    .venv/bin/python bench/answer_policy.py                 # test split (report these)
    .venv/bin/python bench/answer_policy.py --split dev     # the split thresholds are tuned on
    .venv/bin/python bench/answer_policy.py --features F    # also write each message's scores
    .venv/bin/python bench/answer_policy.py --check-llm     # with `check: llm` on the fake LLM
    .venv/bin/python bench/answer_policy.py --check-llm --oracle   # a check that is always right
    .venv/bin/python bench/answer_policy.py --check-local   # the embedded model checks (slow)

Each bot runs with `policy: grounded` through the real engine (scope classifier, curated
answers, router, flows, retrieval on an embedded LanceDB index, table lookups); the LLM is a stub
that answers "ok" at once, so only the policy's decisions and their cost are measured. With
`--check-llm`, the grounding check goes over real HTTP to the fake LLM (chinwag.testing), which
answers {"answerable": false} 50 ms after the request: the plumbing and its latency, not a
model's judgement (a real model's verdicts are what would decide the share it declines). With
`--oracle` the fake gives each message its label's verdict (in scope unless labelled out of
scope; answerable only if labelled answerable): the most `check: llm` can reach with a model that
is always right, since it only sees messages the policy has not declined or grounded otherwise.
`--check-local` asks the embedded model (SmolLM2-135M) instead: what a bot without an LLM
server of its own would get.
Sets: out_of_scope and unanswerable messages from tests/data/scope/<bot>.jsonl; answerable
in-scope questions from tests/data/routing/<bot>.* (less those tests/data/facts marks
`answerable: false`). Decision time = the scope check's extra wall time over routing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

from labelled_bots import BOTS, ROOT, Stub, in_scope, knowledge_for
from result_files import copy_stdout_to, result_path

from chinwag.bots.activation import check_file
from chinwag.config.bot import BotConfig, KnowledgeConfig
from chinwag.config.llm import LLMConfig
from chinwag.engine.context import Answer, FlowContext, MessageInput
from chinwag.engine.router import Router
from chinwag.engine.runner import run_message
from chinwag.engine.scope import Scope
from chinwag.engine.tables import TableLookups
from chinwag.norwegian import with_glosses
from chinwag.providers.protocols import ChatModel
from chinwag.providers.registry import ModelRegistry
from chinwag.settings import Settings
from chinwag.testing.fake_llm import FakeLLM

# Hyttegrenda's example has no knowledge section; measured with its documents, main's prompt
# gets the retrieved passages as the docs (docs/knowledge.md) show.
SOURCES_TEMPLATE = (
    "{% for s in sources %}{{ s.title }}: {{ s.text }}\n{% endfor %}Question: {{ message }}"
)


def labelled(bot_id: str, split: str) -> list[dict[str, Any]]:
    """{message, kind, flows?} of one split: answerable, out_of_scope, unanswerable."""
    rows: list[dict[str, Any]] = []
    scope = ROOT / f"tests/data/scope/{bot_id}.jsonl"
    for line in scope.read_text().splitlines():
        item = json.loads(line)
        if item["split"] == split:
            rows.append({"message": item["message"], "kind": item["kind"]})
    not_answerable = set()
    facts = ROOT / f"tests/data/facts/{bot_id}.jsonl"
    if facts.exists():
        for line in facts.read_text().splitlines():
            item = json.loads(line)
            if item.get("answerable") is False:
                not_answerable.add(item["message"])
    for item in in_scope(bot_id):
        if item["split"] in (split, None) and item["message"] not in not_answerable:
            rows.append({"message": item["message"], "kind": "answerable"})
    return rows


def grounded(bot: BotConfig, bot_id: str, overrides: dict[str, Any]) -> BotConfig:
    policy = (bot.policy.model_dump() if bot.policy else {}) | {"mode": "grounded"} | overrides
    update: dict[str, Any] = {"policy": policy, "llm": LLMConfig(provider="local")}
    if bot_id == "hyttegrenda" and bot.knowledge is None:
        main = bot.flows["main"].model_copy(update={"template": SOURCES_TEMPLATE})
        update["flows"] = {**bot.flows, "main": main}
        update["knowledge"] = KnowledgeConfig(index="hyttegrenda")
    return BotConfig.model_validate({**bot.model_dump(), **update})


CHECK_MODEL = "grounding-check"


def verdict(item: dict[str, Any]) -> str:
    """The check's reply for a message that a model that is always right would give."""
    return json.dumps(
        {"in_scope": item["kind"] != "out_of_scope", "answerable": item["kind"] == "answerable"}
    )


async def measure(
    bot_id: str,
    split: str,
    models: ModelRegistry,
    work: Path,
    overrides: dict[str, Any],
    oracle: FakeLLM | None = None,
) -> dict[str, Any]:
    loaded = check_file(BOTS[bot_id], check_env=False).config
    assert loaded is not None
    bot = grounded(loaded, bot_id, overrides)
    open_bot = bot.model_copy(update={"policy": None})
    embedder_for = lambda b: models.embedder(b.embedding)  # noqa: E731

    def model_for(llm: LLMConfig | None) -> ChatModel:
        checking = llm is not None and llm.model == CHECK_MODEL
        return models.for_bot(llm) if checking else Stub()

    router = Router(embedder_for=embedder_for, model_for=model_for)
    scope = Scope(embedder_for)
    tables = TableLookups(embedder_for)
    knowledge = await knowledge_for(bot, bot_id, models, work)
    await router.prepare(bot, 1)
    await scope.classifier(bot, 1)
    rows = []
    for item in labelled(bot_id, split):
        ctx = FlowContext(
            bot=bot,
            message=MessageInput(item["message"], [], "bench", 1),
            emit=lambda _event: None,
            model_for=model_for,
            knowledge=knowledge,
            tables=tables,
        )
        classifier = await scope.classifier(bot, 1)
        vector = (await embedder_for(bot).embed([with_glosses(item["message"])]))[0]
        started = time.perf_counter()
        outside = classifier.out_of_scope(item["message"], vector)
        scope_ms = (time.perf_counter() - started) * 1000
        if oracle is not None:
            oracle.behaviour.model_replies[CHECK_MODEL] = verdict(item)
        started = time.perf_counter()
        await run_message(ctx, router=router, scope=scope)
        grounded_ms = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        await run_message(replace(ctx, bot=open_bot, answer=Answer()), router=router)
        open_ms = (time.perf_counter() - started) * 1000
        declined = ctx.answer.declined
        rows.append(
            {
                **item,
                "declined": declined.reason if declined else None,
                "scores": ctx.answer.policy_scores,
                "out_of_scope": round(outside, 4),
                "scope_ms": scope_ms,
                "extra_ms": grounded_ms - open_ms,
                "flows": ctx.answer.route.flows if ctx.answer.route else None,
                "check_error": ctx.answer.policy_check_error,
            }
        )
    return {"bot": bot_id, "rows": rows}


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    by_kind: dict[str, Counter[str]] = {}
    for r in rows:
        by_kind.setdefault(r["kind"], Counter())[r["declined"] or "answered"] += 1
    found: dict[str, Any] = {}
    for kind, counts in by_kind.items():
        n = sum(counts.values())
        found[kind] = {"n": n, **{k: v / n for k, v in counts.items()}}
    found["scope_ms_p50"] = statistics.median(r["scope_ms"] for r in rows)
    # Only messages the policy let through pay for everything both runs do.
    answered = [r["extra_ms"] for r in rows if r["declined"] is None]
    found["extra_ms_p50"] = statistics.median(answered) if answered else None
    return found


def share(found: dict[str, Any], kind: str, outcome: str) -> str:
    value = found.get(kind, {}).get(outcome)
    return "—" if kind not in found else f"{(value or 0):.0%}"


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--split", choices=["dev", "test"], default="test")
    parser.add_argument("--features", type=Path, help="Write every message's scores here.")
    parser.add_argument("--bots", nargs="*", default=list(BOTS))
    parser.add_argument("--scope-threshold", type=float, help="Override the policy's.")
    parser.add_argument("--support-floor", type=float, help="Override the policy's.")
    parser.add_argument("--check-llm", action="store_true", help="`check: llm`, fake LLM.")
    parser.add_argument(
        "--oracle", action="store_true", help="`--check-llm` answers each message's label."
    )
    parser.add_argument("--check-local", action="store_true", help="The embedded model checks.")
    args = parser.parse_args()
    settings = Settings(llm_base_url=None, _env_file=None)  # type: ignore[call-arg]
    models = ModelRegistry(settings)
    work = Path(tempfile.mkdtemp(prefix="chinwag-policy-"))
    overrides = {
        key: value
        for key, value in (
            ("scope_threshold", args.scope_threshold),
            ("support_floor", args.support_floor),
        )
        if value is not None
    }
    results = []
    fake = FakeLLM()
    fake.behaviour.first_token_delay = 0.05
    fake.behaviour.model_replies[CHECK_MODEL] = '{"answerable": false}'
    if args.check_local:
        overrides |= {"check": "llm", "check_llm": {"provider": "local", "model": CHECK_MODEL}}
        overrides["check_timeout_seconds"] = 60
    if args.check_llm:
        fake.start()
        overrides |= {
            "check": "llm",
            "check_llm": {"provider": "openai", "base_url": fake.base_url, "model": CHECK_MODEL},
        }
    try:
        for bot_id in args.bots:
            oracle = fake if args.check_llm and args.oracle else None
            results.append(await measure(bot_id, args.split, models, work, overrides, oracle))
    finally:
        await models.aclose()
        shutil.rmtree(work, ignore_errors=True)
        if args.check_llm:
            fake.stop()
    if args.features:
        with args.features.open("w") as out:
            for result in results:
                for row in result["rows"]:
                    out.write(json.dumps({"bot": result["bot"], **row}, ensure_ascii=False) + "\n")
    check = "`check: llm` on the fake LLM" if args.check_llm else "no LLM check"
    if args.check_local:
        check = "`check: llm` on the embedded model"
    if args.check_llm and args.oracle:
        check += ", answering each message's label (a check that is always right)"
    print(f"\nAnswer policy `grounded`, {args.split} split, {check}\n")
    print(
        "| bot | out of scope declined | unanswerable declined | answerable wrongly declined "
        "| (as out of scope) | scope classifier p50 ms | extra wall time p50 ms |"
    )
    print("|---|---|---|---|---|---|---|")
    everything: list[dict[str, Any]] = []
    for result in results:
        everything += result["rows"]
        _row(result["bot"], summary(result["rows"]))
    _row("**all**", summary(everything))
    if args.check_llm or args.check_local:
        checked = [r for r in everything if "check" in r["scores"]]
        print(
            f"\nThe grounding check ran for {len(checked)} of {len(everything)} messages "
            f"({len(checked) / len(everything):.0%}); a grounded run took "
            f"{statistics.median(r['extra_ms'] for r in checked):.1f} ms p50 longer than an "
            + (
                "`open` one for them."
                if args.check_local
                else "`open` one for them (the fake LLM answers after 50 ms)."
            )
        )
        failed = [r for r in everything if r.get("check_error")]
        if failed:
            print(f"The check failed (recorded, the answer went on) for {len(failed)} messages.")


def _row(name: str, found: dict[str, Any]) -> None:
    answerable = found.get("answerable", {})
    wrong = 1 - answerable.get("answered", 0) if answerable else None
    print(
        f"| {name} | {share(found, 'out_of_scope', 'out_of_scope')} "
        f"(+{share(found, 'out_of_scope', 'unanswerable')} unanswerable) "
        f"| {share(found, 'unanswerable', 'unanswerable')} "
        f"(+{share(found, 'unanswerable', 'out_of_scope')} out of scope) "
        f"| {'—' if wrong is None else f'{wrong:.1%}'} "
        f"| {share(found, 'answerable', 'out_of_scope')} "
        f"| {found['scope_ms_p50']:.2f} | {found['extra_ms_p50']:.2f} |"
    )


if __name__ == "__main__":
    copy_stdout_to(result_path("answer-policy", "md"))
    asyncio.run(main())
