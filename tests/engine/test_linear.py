"""The router's learners (engine/linear.py) compute what scikit-learn computes: the same TF-IDF
matrix and, within the solvers' tolerance, the same probabilities, on the shipped bots' examples."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from chinwag.bots.demo import demo_bot_config
from chinwag.engine.linear import NgramTfidf, char_wb_ngrams, fit_logistic, sigmoid


def _examples() -> tuple[list[str], np.ndarray]:
    bot = demo_bot_config()
    texts, owners = [], []
    for i, (_, flow) in enumerate(sorted(bot.flows.items())):
        for example in flow.examples:
            texts.append(example)
            owners.append(i)
    texts += ["Hvor mye koster  en flaske?", "a", "Å", "I'd like 2 bottles…  please", ""]
    owners += [0, 1, 1, 0, 1]
    return texts, np.asarray(owners)


def test_ngrams_pad_each_word_and_keep_short_words_whole() -> None:
    grams = [" h", "hi", "i ", " hi", "hi ", " y", "yo", "o ", " yo", "yo "]
    assert char_wb_ngrams("Hi  yo", (2, 3)) == grams
    assert char_wb_ngrams("a", (2, 4)) == [" a", "a ", " a "]  # " a " once, not for n = 4


def test_tfidf_is_scikit_learns() -> None:
    texts, _ = _examples()
    theirs = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True)
    expected = theirs.fit_transform(texts).toarray()
    ours = NgramTfidf.fit(texts, (2, 4))
    order = [ours.vocabulary[g] for g in theirs.get_feature_names_out()]
    assert len(order) == len(ours.vocabulary)
    unseen = ["Har dere Barolo på lager?", "completely unseen zzz"]
    np.testing.assert_allclose(ours.transform(texts)[:, order], expected, atol=1e-12)
    np.testing.assert_allclose(
        ours.transform(unseen)[:, order], theirs.transform(unseen).toarray(), atol=1e-12
    )


@pytest.mark.parametrize("c", [0.5, 10.0])
def test_logistic_regression_is_liblinears(c: float) -> None:
    texts, owners = _examples()
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(len(texts), 32))
    features = np.hstack([vectors, NgramTfidf.fit(texts).transform(texts)])
    for flow in np.unique(owners):
        theirs = LogisticRegression(C=c, class_weight="balanced", solver="liblinear", tol=1e-8)
        theirs.fit(features, owners == flow)
        weights, intercept = fit_logistic(features, owners == flow, c=c)
        np.testing.assert_allclose(
            sigmoid(features @ weights + intercept),
            theirs.predict_proba(features)[:, 1],
            atol=1e-4,
        )
