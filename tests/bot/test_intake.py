"""bot.intake: the core's steps from feed entries to prepared articles."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.config import load_topics
from bot.intake import PLACE_CHARS, sign
from bot.topics import compile_topics

TOPICS = compile_topics(load_topics())
WORDS = ["Kharkiv", "Odesa", "Nova", "Kakhovka", "drones", "struck", "the", "port", "Kyivska"]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from(WORDS), max_size=6).map(" ".join),
    st.lists(st.sampled_from(WORDS), max_size=120).map(" ".join),
)
def test_the_whole_reports_topics_spare_the_ledes_match_without_changing_it(
    title: str, text: str
) -> None:
    """Given the report's topics, `sign` skips matching the lede when no place topic is among
    them; the lede is cut at a word, so the signature is the same either way."""
    matched = TOPICS.match(f"{title}\n{text}")
    assert sign(title, text, "en", TOPICS, matched) == sign(title, text, "en", TOPICS)


def test_a_lede_longer_than_the_limit_is_cut_at_a_word() -> None:
    """A place named across the cut is not half-read into another name."""
    prefix = "a" * (PLACE_CHARS - len("Kharkiv") - 1) + " "
    text = prefix + "Kharkivska oblast was hit"  # the first 300 characters end in "Kharkiv"
    assert text[:PLACE_CHARS].endswith(" Kharkiv") and "kharkiv" not in TOPICS.match(text)
    assert sign("News", text, "en", TOPICS).places == frozenset()
