"""English glosses of Norwegian words: what the router and the search embed for a message."""

from __future__ import annotations

import pytest

from chinwag.norwegian import with_glosses


@pytest.mark.parametrize(
    ("text", "glossed"),
    [
        ("Hvor mye koster sengetøy?", "Hvor mye koster sengetøy? (how much costs)"),
        ("Tusen takk, ha det!", "Tusen takk, ha det! (thank you very much goodbye)"),
        ("Når er innsjekk?", "Når er innsjekk? (when is)"),
        ("When do you open?", "When do you open?"),  # English: as it is
    ],
)
def test_a_word_pair_is_glossed_once(text: str, glossed: str) -> None:
    assert with_glosses(text) == glossed
