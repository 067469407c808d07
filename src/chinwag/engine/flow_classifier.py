"""The semantic router's classifier: one per bot version, learnt from the flows' examples.

For each optional flow, a logistic regression over the examples' embeddings and character
n-grams learns that flow's examples against every other flow's and against "main alone" (main's
examples, plus a few general questions that no helper flow of any shop answers). The flows are
thus weighed against each other and against main, and the scores are probabilities (balanced
classes) that compare across flows and bots. A message is split into its sentences and clauses;
a flow is chosen when the message or one of its parts gives it at least the threshold.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from chinwag.engine.linear import NgramTfidf, fit_logistic, sigmoid
from chinwag.norwegian import with_glosses

# Questions any customer may ask that none of a shop's helper flows answers. They give the
# "main alone" class something to learn from when the owner wrote no examples for `main`.
GENERAL_QUESTIONS = (
    "Where are you located?",
    "What is your address?",
    "What's your phone number?",
    "Do you have a website?",
    "Who owns the company?",
    "Can I write to you in English?",
    "Are you on Facebook?",
    "Do you have any job openings?",
    "Is the building wheelchair accessible?",
    "What's the weather like today?",
    "Tell me a joke",
    "What is the capital of France?",
)
NGRAM_WEIGHT = 1.0  # character n-grams next to the embedding: typos, names, Norwegian words
REGULARISATION = 10.0  # liblinear's C: examples are few, so the model may fit them closely
SENTENCE_BREAK = re.compile(r"(?<=[.!?…])\s+|\s+-\s+|:\s+")
CLAUSE_BREAK = re.compile(r"\s*[,;]?\s+(?:and|also|plus|but|og|men|også)\s+(?=\w)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class FlowClassifier:
    """Scores each optional flow for a message; trained once per bot version."""

    flows: list[str]
    # One logistic regression per flow (that flow against everything else): a row of weights
    # over [embedding, n-grams] and an intercept.
    weights: NDArray[np.float64]
    intercepts: NDArray[np.float64]
    ngrams: NgramTfidf
    train_ms: float

    def probabilities(self, texts: list[str], vectors: NDArray[np.float32]) -> NDArray[np.float64]:
        """One row per text, one column per flow: P(the flow is what the text asks for)."""
        features = np.hstack([vectors, NGRAM_WEIGHT * self.ngrams.transform(texts)])
        return sigmoid(features @ self.weights.T + self.intercepts)


def routing_texts(examples: list[str]) -> list[str]:
    """What the router embeds for a flow's examples (Norwegian ones glossed), then the general
    questions of the "main alone" class."""
    return [*map(with_glosses, examples), *GENERAL_QUESTIONS]


def train_classifier(
    flows: list[str], examples: list[str], owners: list[int], vectors: NDArray[np.float32]
) -> FlowClassifier:
    """Fit on `examples` (owner i < len(flows) is flows[i]; len(flows) is main) and their vectors.

    `vectors` are the embeddings of routing_texts(examples) followed by GENERAL_QUESTIONS'.
    Blocking (tens of milliseconds): run it in a thread.
    """
    started = time.perf_counter()
    texts = routing_texts(examples)
    labels = np.asarray([*owners, *[len(flows)] * len(GENERAL_QUESTIONS)])
    ngrams = NgramTfidf.fit(texts, (2, 4))
    features = np.hstack([vectors, NGRAM_WEIGHT * ngrams.transform(texts)])
    fitted = [fit_logistic(features, labels == i, c=REGULARISATION) for i in range(len(flows))]
    width = features.shape[1]
    weights = np.vstack([w for w, _ in fitted]) if fitted else np.zeros((0, width))
    intercepts = np.asarray([b for _, b in fitted])
    return FlowClassifier(
        flows, weights, intercepts, ngrams, (time.perf_counter() - started) * 1000
    )


def clauses(message: str) -> list[str]:
    """The message, then its sentences and clauses when it has several (one intent each), each
    with English glosses when it is Norwegian: the texts the router embeds and classifies."""
    return [with_glosses(text) for text in _parts(message)]


def clause_spans(message: str) -> list[tuple[int, int]]:
    """Where clauses(message)[1:] stand in the message: (start, end) of each, in characters
    (the first of clauses(message) begins with the message itself)."""
    spans: list[tuple[int, int]] = []
    cursor = 0
    for part in _parts(message)[1:]:
        start = message.find(part, cursor)
        spans.append((start, start + len(part)))
        cursor = start + len(part)
    return spans


def _parts(message: str) -> list[str]:
    parts: list[str] = []
    for sentence in filter(str.strip, SENTENCE_BREAK.split(message.strip())):
        pieces = [p for p in CLAUSE_BREAK.split(sentence) if len(p.split()) >= 2]
        parts += pieces if len(pieces) > 1 else [sentence]
    return [message, *parts] if len(parts) > 1 else [message]
