"""The answer policy's last word before `main`'s LLM call: is the message grounded?

Grounded: a curated answer matched, an optional flow gave an output, or `main`'s material (its
prompt without the message) supports an answer (grounding.py). A message nothing supports is
declined: out of scope when the scope classifier leaned that way, else unanswerable. With
`check: llm`, every message grounded by passages or flows (not by a curated answer) is also put
to a model, which says whether it is the bot's business and whether the material, flow outputs
included, answers it (grounding_check.py); a check that fails is recorded and the answer goes
on.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from chinwag.engine.context import FlowContext
from chinwag.engine.grounding import passages_of, support
from chinwag.engine.grounding_check import check_message
from chinwag.engine.policy import Decline
from chinwag.errors import GroundingCheckFailed
from chinwag.knowledge.search import SearchResult
from chinwag.providers.protocols import ChatMessage

log = logging.getLogger(__name__)
# A message nothing supports, that the scope classifier gives at least this, is out of scope.
LEANING_OUT_OF_SCOPE = 0.5


async def judge(
    ctx: FlowContext, results: Sequence[SearchResult], prompt: Sequence[ChatMessage]
) -> Decline | None:
    """The decline for a message `main` should not answer, or None; records the scores."""
    answer, text = ctx.answer, ctx.message.text
    policy = ctx.bot.answer_policy
    material = [m.content.replace(text, " ") for m in prompt if m.role != "assistant"]
    found = support(
        text, [p for m in material for p in passages_of(m)], [r.similarity for r in results]
    )
    scores = answer.policy_scores
    scores.update(found.scores())
    if answer.curated is not None:
        return None
    from_flows = any(r.output for r in answer.flow_results)
    if not from_flows and found.score < policy.support_floor:
        leaning_out = scores.get("out_of_scope", 0.0) >= LEANING_OUT_OF_SCOPE
        return Decline("out_of_scope" if leaning_out else "unanswerable", dict(scores))
    if policy.check != "llm":
        return None
    try:
        verdict = await check_message(ctx.bot, ctx.model_for, "\n".join(material), text)
    except GroundingCheckFailed as exc:
        answer.policy_check_error = exc.code
        log.warning("bot %s: %s (%s)", ctx.bot.id, exc.message, exc.code)
        return None
    scores["check"] = 1.0 if verdict.answerable else 0.0
    scores["check_in_scope"] = 1.0 if verdict.in_scope else 0.0
    if not verdict.in_scope:
        return Decline("out_of_scope", dict(scores))
    return None if verdict.answerable else Decline("unanswerable", dict(scores))
