"""The two small learners the router needs, in numpy: character n-gram TF-IDF and an
L2-regularised logistic regression.

They compute what scikit-learn's `TfidfVectorizer(analyzer="char_wb", sublinear_tf=True)` and
`LogisticRegression(solver="liblinear", class_weight="balanced")` compute (tests compare them),
without loading scikit-learn and SciPy into every worker (~86 MB resident).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


def char_wb_ngrams(text: str, sizes: tuple[int, int]) -> list[str]:
    """The character n-grams of each word, the word padded with one space on each side; a word
    shorter than n gives itself once (lowercased first)."""
    low, high = sizes
    grams: list[str] = []
    for word in text.lower().split():
        padded = f" {word} "
        for n in range(low, high + 1):
            if len(padded) <= n:
                grams.append(padded)
                break
            grams.extend(padded[i : i + n] for i in range(len(padded) - n + 1))
    return grams


@dataclass(frozen=True, slots=True)
class NgramTfidf:
    """Sublinear TF (1 + ln count) times smoothed IDF, rows normalised to unit length."""

    vocabulary: dict[str, int]
    idf: NDArray[np.float64]
    sizes: tuple[int, int]

    @classmethod
    def fit(cls, texts: list[str], sizes: tuple[int, int] = (2, 4)) -> NgramTfidf:
        counted = [set(char_wb_ngrams(t, sizes)) for t in texts]
        vocabulary = {g: i for i, g in enumerate(sorted(set().union(*counted)))}
        df = np.zeros(len(vocabulary))
        for grams in counted:
            df[[vocabulary[g] for g in grams]] += 1
        idf = np.log((1 + len(texts)) / (1 + df)) + 1
        return cls(vocabulary, idf, sizes)

    def transform(self, texts: Iterable[str]) -> NDArray[np.float64]:
        rows = []
        for text in texts:
            row = np.zeros(len(self.vocabulary))
            for gram, count in Counter(char_wb_ngrams(text, self.sizes)).items():
                column = self.vocabulary.get(gram)
                if column is not None:
                    row[column] = (1 + math.log(count)) * self.idf[column]
            norm = np.linalg.norm(row)
            rows.append(row / norm if norm else row)
        return np.vstack(rows) if rows else np.zeros((0, len(self.vocabulary)))


def fit_logistic(
    features: NDArray[np.float64], positive: NDArray[np.bool_], *, c: float
) -> tuple[NDArray[np.float64], float]:
    """Weights and intercept minimising ½|w|² + c·Σ s_i·log(1 + exp(-y_i·(w·x_i + b))), the
    intercept penalised like a weight (as liblinear does), s_i balancing the two classes.

    Truncated Newton: each step solves H·d = -g by conjugate gradients, then halves it until
    the objective falls; stops when |g| <= 1e-6·|g_0|."""
    x = np.hstack([features, np.ones((len(features), 1))])
    y = np.where(positive, 1.0, -1.0)
    n_pos = int(positive.sum())
    weight = np.where(positive, len(y) / (2 * max(n_pos, 1)), len(y) / (2 * max(len(y) - n_pos, 1)))
    cs = c * weight
    w = np.zeros(x.shape[1])

    def objective(v: NDArray[np.float64]) -> float:
        return float(0.5 * v @ v + cs @ np.logaddexp(0, -y * (x @ v)))

    value = objective(w)
    first_norm = None
    for _ in range(100):
        margin = y * (x @ w)
        sigma = 1 / (1 + np.exp(-margin))
        gradient = w + x.T @ (cs * (sigma - 1) * y)
        norm = float(np.linalg.norm(gradient))
        first_norm = first_norm or norm
        if norm <= 1e-6 * first_norm:
            break
        step = _conjugate_gradient(_hessian_times(x, cs * sigma * (1 - sigma)), -gradient)
        scale = 1.0
        while scale > 1e-8:
            candidate = objective(w + scale * step)
            if candidate < value:
                break
            scale /= 2
        else:
            break
        w, value = w + scale * step, candidate
    return w[:-1], float(w[-1])


def _hessian_times(
    x: NDArray[np.float64], curvature: NDArray[np.float64]
) -> Callable[[NDArray[np.float64]], NDArray[np.float64]]:
    return lambda v: v + x.T @ (curvature * (x @ v))


def _conjugate_gradient(
    apply: Callable[[NDArray[np.float64]], NDArray[np.float64]],
    rhs: NDArray[np.float64],
    iterations: int = 250,
) -> NDArray[np.float64]:
    """Solve A·d = rhs for a symmetric positive definite A given as `apply(v)` = A·v."""
    d = np.zeros_like(rhs)
    r = rhs.copy()
    p = r.copy()
    rr = float(r @ r)
    tolerance = 1e-10 * rr
    for _ in range(iterations):
        if rr <= tolerance:
            break
        ap = apply(p)
        alpha = rr / float(p @ ap)
        d += alpha * p
        r -= alpha * ap
        new_rr = float(r @ r)
        p = r + (new_rr / rr) * p
        rr = new_rr
    return d


def sigmoid(values: NDArray[np.float64]) -> NDArray[np.float64]:
    return 1 / (1 + np.exp(-values))
