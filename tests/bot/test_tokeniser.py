"""Content tokens: what near-duplicate detection compares, across inflection and languages."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.tokeniser import content_tokens, normalised


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


_FOLD = str.maketrans({"’": "", "'": "", "ʼ": "", "`": "", "ё": "е"})


def _normalised_by_lookbehinds(text: str) -> str:
    """`normalised` as first written: leading lookbehinds and one translate table."""
    folded = re.sub(r"(?<=[a-z])['’ʼ]s\b", "", unicodedata.normalize("NFKC", text).casefold())
    folded = re.sub(r"(?<=\d)[,.\u00a0\u202f](?=\d{3}\b)", "", folded).translate(_FOLD)
    return re.sub(r"\bno one\b", "nobody", folded)


@given(st.text(alphabet="ab1290,. \u00a0\u202f'’ʼ`sSёЁ\nno e", max_size=30) | st.text())
def test_normalised_equals_the_lookbehind_patterns(text: str) -> None:
    """The reordered patterns and plain replaces fold text exactly as before."""
    assert normalised(text) == _normalised_by_lookbehinds(text)
