"""Content tokens: what near-duplicate detection compares, across inflection and languages."""

from __future__ import annotations

import pytest

from bot.tokeniser import content_tokens


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("у Харкові", "Харкова"),
        ("Kharkiv's", "Kharkiv"),
        ("drones", "drone"),
        ("Курской", "Курская"),
        ("1,000", "1000"),
        ("seven", "7"),
        ("killed", "dead"),
    ],
)
def test_content_tokens_fold_inflection_numbers_and_synonyms(a: str, b: str) -> None:
    """Inflected, plural, spelled-out and synonymous forms reduce to the same tokens."""
    assert content_tokens(a) == content_tokens(b)


def test_content_tokens_drop_stop_words_and_keep_numbers() -> None:
    """Function words of en/uk/ru go; numbers stay, split from their units."""
    assert content_tokens("The $61bn aid and the 14-й пакет та санкції") == [
        "61",
        "bn",
        "aid",
        "14",
        "пакет",
        "санкц",
    ]
