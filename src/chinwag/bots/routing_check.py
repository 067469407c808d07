"""Warnings about a semantic router's examples: too few for a flow, or two flows that overlap.

Overlap is judged without the embedding model (validation never loads one), by the examples'
character n-grams: when many of one flow's examples lie closer to another flow's examples than
to the rest of their own, and the other way round, the router cannot tell the two apart.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chinwag.bots.validation import Problem

MIN_EXAMPLES = 5
OVERLAP_SHARE = 0.4  # of a flow's examples whose nearest neighbour belongs to the other flow
NGRAMS = (2, 4)


def routing_problems(flows: dict[str, Any]) -> list[Problem]:
    """`router_too_few_examples` and `router_examples_overlap` warnings for semantic routing."""
    from chinwag.bots.validation import Problem

    examples = {
        str(name): [str(e) for e in flow.get("examples") or [] if str(e).strip()]
        for name, flow in flows.items()
        if isinstance(flow, dict) and flow.get("template")  # a flow without one never runs
    }
    problems = [
        Problem(
            f"flows.{name}.examples",
            "router_too_few_examples",
            f"flows.{name} has {len(texts)} example(s); the router learns a flow from its "
            f"examples and needs at least {MIN_EXAMPLES}",
            "Add 8-15 messages a customer would write for this flow: different wordings, "
            "lengths and languages.",
            severity="warning",
        )
        for name, texts in examples.items()
        if name != "main" and 0 < len(texts) < MIN_EXAMPLES
    ]
    for first, second, share in overlapping_flows(examples):
        problems.append(
            Problem(
                f"flows.{first}.examples",
                "router_examples_overlap",
                f"flows.{first} and flows.{second} overlap: up to {share:.0%} of the examples "
                "of one are closer to the other flow's examples than to their own",
                f"Make the examples of {first} and {second} say what only that flow does, or "
                "merge the two flows.",
                severity="warning",
            )
        )
    return problems


def overlapping_flows(examples: dict[str, list[str]]) -> list[tuple[str, str, float]]:
    """Pairs (flow, other, share) that the examples cannot tell apart: each flow's examples
    (every one left out in turn) lie closer to the other flow's than to their own in at least
    OVERLAP_SHARE of cases, both ways. `share` is the larger of the two."""
    import numpy as np

    from chinwag.engine.linear import NgramTfidf

    names = [name for name, texts in examples.items() if len(texts) >= MIN_EXAMPLES]
    if len(names) < 2:
        return []
    owners = np.asarray([i for i, name in enumerate(names) for _ in examples[name]])
    texts = [text for name in names for text in examples[name]]
    matrix = NgramTfidf.fit(texts, NGRAMS).transform(texts)
    closest = np.empty(len(texts), dtype=np.int64)
    for i in range(len(texts)):
        others = np.arange(len(texts)) != i
        centroids = np.stack(
            [matrix[others & (owners == k)].mean(axis=0) for k in range(len(names))]
        )
        centroids /= np.linalg.norm(centroids, axis=1, keepdims=True) + 1e-12
        closest[i] = int(np.argmax(centroids @ matrix[i]))
    share = np.asarray(
        [
            [float(np.mean(closest[owners == a] == b)) for b in range(len(names))]
            for a in range(len(names))
        ]
    )
    return [
        (names[a], names[b], max(share[a, b], share[b, a]))
        for a in range(len(names))
        for b in range(a + 1, len(names))
        if share[a, b] >= OVERLAP_SHARE and share[b, a] >= OVERLAP_SHARE
    ]
