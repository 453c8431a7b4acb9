"""The extractive summariser: facts kept, junk dropped, whole sentences, fallbacks, speed."""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot import summariser
from bot.sentences import split_sentences
from bot.summariser import summarise

HEADLINE = "Drone strike on Kharkiv apartment block kills three"
LEAD = (
    "Russian drones hit an apartment block in Kharkiv overnight, killing three people, "
    "the regional governor said."
)
SECOND = "Rescuers pulled five survivors from the rubble by Monday morning."
THIRD = "Air defence units shot down most of the drones over the region."


def test_seed_article(corpus) -> None:
    """The seed's summary says North Korean soldiers are in Ukraine fighting for Russia, per CNN
    citing Western intelligence, and carries none of the page's subscribe or comment junk."""
    headline, _, body = (corpus / "seed-article.txt").read_text(encoding="utf-8").partition("\n")
    summary = summarise(headline, [body])
    assert len(summary) <= 600
    for fact in ("North Korean soldiers", "Ukraine", "Russia", "CNN", "Western intelligence"):
        assert fact in summary
    assert "small number" in summary.casefold()
    for junk in (
        "Subscribe",
        "LEAVE A REPLY",
        "Please enter",
        "comment",
        "reCAPTCHA",
        "More Articles",
    ):
        assert junk.casefold() not in summary.casefold()
    assert 1 <= len(split_sentences(summary)) <= 3


@pytest.mark.parametrize(
    "junk",
    [
        "› Subscribe",
        "Subscribe to our daily briefing",
        "Read more: Ukraine war latest",
        "READ MORE",
        "LEAVE A REPLY",
        "Please enter your comment!",
        "Please enter your name here",
        "The reCAPTCHA verification period has expired. Please reload the page.",
        "We use cookies to improve your experience. By continuing you accept our cookie policy.",
        "By John Smith",
        "By Jane Doe and Tom Lee, Reuters",
        "By Olena Kovalenko | Published 14:05",
        "Photo: Firefighters at the scene of the strike in Kharkiv.",
        "Firefighters work at the site of the strike. (AP Photo/Andrii Marienko)",
        "A rescuer carries a child from the building. REUTERS/Vyacheslav Madiyevskyy",
        "Sign up for our newsletter to get the day's top stories.",
        "Reporting by Tom Balmforth; Editing by Alex Richardson",
        "Читайте також: Як працює ППО",
        "Updated 14:05 GMT, 28 October 2024",
        "Published on 5 December 2024, 14:05",
        "Last updated: Dec 5, 2024",
        "Advertisement",
        "“We will rebuild everything.”",
        "Listen here on your chosen podcast platform.",
        "© 2024 Example News. All rights reserved.",
        "Share this article on social media to spread the word.",
    ],
)
def test_junk_never_reaches_the_summary(junk: str) -> None:
    """Page junk around the report (prompts, bylines, captions, bare quotes) is dropped."""
    summary = summarise(HEADLINE, [f"{junk}\n{LEAD}\n{junk}\n{SECOND}\n{junk}"])
    assert junk not in summary
    assert LEAD in summary


@pytest.mark.parametrize(
    "sentence",
    [
        "By Monday, troops had withdrawn from the village near the river.",
        "Published reports suggest 12 soldiers died in the attack on the base.",
        "Published on 5 December, the UN report says 12 civilians died in Sumy region in November.",
        "Updated on 5 December, the toll now stands at 14 dead, officials said.",
        "Photo shows the destroyed Antonivskyi bridge in Kherson region after new Russian shelling.",
        "Video shows the aftermath of Russian missile strikes on central Kharkiv.",
        "Advertisement revenue of state media fell sharply, officials said.",
        "Subscribers to the channel reported explosions in the city centre.",
        "Photos of the strike were shared widely by residents overnight.",
        "NATO — the alliance — said it would respond to the incursion.",
        "Reporters saw smoke rising over the port after the strike.",
    ],
)
def test_news_sentences_that_resemble_junk_are_kept(sentence: str) -> None:
    """The junk filters are narrow: ordinary sentences starting with By, Published and the like
    stay."""
    assert summarise("Unrelated headline words", [sentence]) == sentence


@pytest.mark.parametrize(
    "dateline",
    [
        "KYIV, Oct 28 (Reuters) - ",
        "KYIV, Ukraine (AP) — ",
        "WASHINGTON — ",
        "LA CROSSE, Wis. (AP) — ",
        "Kyiv, Ukraine (CNN) — ",
        "BEIRUT/THE HAGUE, March 7 (Reuters) - ",
        "КИЇВ, 28 жовтня — ",
    ],
)
def test_dateline_is_stripped(dateline: str) -> None:
    """A dateline at the start of a sentence is removed; the sentence itself is kept whole."""
    summary = summarise(HEADLINE, [dateline + LEAD])
    assert summary == LEAD


def test_hyphenated_opening_is_not_a_dateline() -> None:
    """Text that merely starts with a capitalised word and a dash keeps its words."""
    text = "Ukraine - a country of 38 million - said the strike hit a school."
    assert summarise("School hit", [text]) == text


def test_headline_repeat_is_skipped() -> None:
    """A first sentence that repeats the headline is not used; the next sentence is."""
    text = f"{HEADLINE}.\n{LEAD}"
    summary = summarise(HEADLINE, [text])
    assert summary.startswith(LEAD)
    assert HEADLINE not in summary


def test_sentences_are_whole_and_in_original_order() -> None:
    """Chosen sentences are copied whole from the text and appear in their original order."""
    filler = " ".join(
        f"Officials in district {n} reported minor damage to roofs." for n in range(8)
    )
    text = f"{LEAD} {SECOND} {filler} {THIRD}"
    summary = summarise(HEADLINE, [text])
    chosen = split_sentences(summary)
    source = split_sentences(text)
    assert 1 <= len(chosen) <= 3
    assert all(sentence in source for sentence in chosen)
    assert [source.index(s) for s in chosen] == sorted(source.index(s) for s in chosen)
    assert chosen[0] == LEAD


def test_draws_on_other_reports_when_the_representative_is_empty() -> None:
    """When the representative text has nothing usable, another outlet's report supplies it."""
    summary = summarise(HEADLINE, ["› Subscribe\nRead more", f"{LEAD} {SECOND}"])
    assert LEAD in summary


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        ([], HEADLINE),
        ([""], HEADLINE),
        (["   \n  "], HEADLINE),
        (["› Subscribe\nLEAVE A REPLY\nPlease enter your comment!"], HEADLINE),
        ([LEAD], LEAD),
        ([HEADLINE], HEADLINE),
    ],
)
def test_fallbacks(texts: list[str], expected: str) -> None:
    """No usable text gives the headline alone; a one-sentence description gives that sentence."""
    assert summarise(HEADLINE, texts) == expected


def test_empty_headline_and_texts_give_empty() -> None:
    """With nothing at all to say, the summary is empty (the only empty case)."""
    assert summarise("", []) == ""


def test_overlong_first_sentence_is_cut_at_a_word() -> None:
    """A first sentence longer than max_chars is cut at a word boundary and ends with "…"."""
    words = " ".join(f"village{n}" for n in range(200))
    text = f"Shelling hit {words} in the region."
    summary = summarise("Shelling hits villages", [text], max_chars=120)
    assert len(summary) <= 120
    assert summary.endswith("…")
    assert summary[:-1] == text[: len(summary) - 1]
    assert text[len(summary) - 1] == " "


def test_budget_limits_the_number_of_sentences() -> None:
    """Further sentences are added only while they fit in max_chars."""
    summary = summarise(HEADLINE, [f"{LEAD} {SECOND} {THIRD}"], max_chars=len(LEAD) + 5)
    assert summary == LEAD


def test_ukrainian_summary_keeps_abbreviations() -> None:
    """A Ukrainian description is summarised whole, its abbreviations inside sentences."""
    text = (
        "Ген. Сирський заявив, що ЗСУ відбили атаку на вул. Центральній у м. Покровськ. "
        "Втрати противника уточнюються. Підписуйтесь на наш канал."
    )
    summary = summarise("ЗСУ відбили атаку в Покровську", [text], language="uk")
    assert summary.startswith("Ген. Сирський заявив")
    assert "Підписуйтесь" not in summary


@settings(max_examples=150, deadline=None)
@given(
    headline=st.text(min_size=1, max_size=80).filter(str.strip),
    texts=st.lists(st.text(max_size=400), max_size=3),
    max_chars=st.integers(min_value=20, max_value=700),
)
def test_any_input_gives_a_bounded_non_empty_summary(
    headline: str, texts: list[str], max_chars: int
) -> None:
    """Whatever the input, the summary is non-empty and at most max_chars long."""
    summary = summarise(headline, texts, max_chars=max_chars)
    assert summary.strip()
    assert len(summary) <= max_chars


def test_thousands_of_short_summaries_per_second() -> None:
    """Short descriptions summarise at well over a thousand per second (no model)."""
    texts = [f"KYIV, Oct 28 (Reuters) - {LEAD} {SECOND}", f"{SECOND} {THIRD}"]
    start = time.perf_counter()
    for _ in range(2000):
        summarise(HEADLINE, texts)
    assert time.perf_counter() - start < 2.0


@pytest.mark.parametrize(
    "fragment",
    [
        "Aid workers say supplies are being held at the border crossing for days",
        "The governor said more strikes were expected over the coming days and [+1532 chars]",
        "The governor said more strikes were expected over the coming […]",
        "The governor said more strikes were expected over the coming...",
    ],
)
def test_fragments_are_not_glued_to_sentences(fragment: str) -> None:
    """A standfirst without a full stop or a description the feed cut off is not combined with
    complete sentences."""
    summary = summarise(HEADLINE, [f"{fragment}\n{LEAD} {SECOND}"])
    assert summary == f"{LEAD} {SECOND}"


def test_a_text_of_fragments_gives_its_best_fragment_alone() -> None:
    """With no complete sentence anywhere, one fragment is the summary, as the outlet wrote it."""
    standfirst = "Rescuers search the rubble of a Kharkiv apartment block hit by drones overnight"
    summary = summarise(HEADLINE, [f"{standfirst}\nAnother fragment without any end at all here"])
    assert summary == standfirst


_ENDINGS = st.text(alphabet="ab .!?…\"'”’»)](", max_size=8)


@given(_ENDINGS)
def test_sentence_end_checks_equal_their_patterns(sentence: str) -> None:
    """The end-of-sentence tests read from the end exactly what the end-anchored patterns
    match: complete = . ! or ? (no ellipsis), terminated = . ! ? or …, then closers."""
    complete = re.search(r"(?<![.…])[.!?][\"'”’»)\]]*$", sentence)
    terminated = re.search(r"[.!?…][\"'”’»)\]]*$", sentence)
    assert summariser._complete(sentence) == bool(complete)
    assert summariser._terminated(sentence) == bool(terminated)
