"""Warnings about a semantic router's examples: too few for a flow, or two flows that overlap.

Overlap is judged without the embedding model (validation never loads one): each example is
compared, by its character n-grams, with every other example of the bot; when many of a flow's
examples are closest to another flow's examples, the router cannot tell the two apart well.
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
        if isinstance(flow, dict)
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
                f"flows.{first} and flows.{second}: {share:.0%} of the examples of {first} "
                f"are closer to an example of {second} than to the rest of {first}",
                f"Make the examples of {first} and {second} say what only that flow does, or "
                "merge the two flows.",
                severity="warning",
            )
        )
    return problems


def overlapping_flows(examples: dict[str, list[str]]) -> list[tuple[str, str, float]]:
    """Pairs (flow, other, share) where `share` of flow's examples sit nearest to `other`'s."""
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer

    owners = [name for name, texts in examples.items() for _ in texts]
    texts = [text for name in examples for text in examples[name]]
    if len(set(owners)) < 2:
        return []
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=NGRAMS, sublinear_tf=True)
    matrix = vectorizer.fit_transform(texts)
    similarity = (matrix @ matrix.T).toarray()
    np.fill_diagonal(similarity, -1.0)
    nearest = similarity.argmax(axis=1)
    found: list[tuple[str, str, float]] = []
    for name, own in examples.items():
        if len(own) < MIN_EXAMPLES:
            continue
        rows = [i for i, owner in enumerate(owners) if owner == name]
        for other in examples:
            if other == name:
                continue
            share = sum(owners[nearest[i]] == other for i in rows) / len(rows)
            if share >= OVERLAP_SHARE:
                found.append((name, other, share))
    return found
