"""bot.junk: page junk goes, the article stays."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.junk import (
    _LINE_TAIL,
    _PHRASE_REACH,
    _TAIL_PHRASES,
    _may_have_tail,
    _strip_tail,
    strip_junk,
)
from bot.normalise import clean_text


@pytest.mark.parametrize(
    "line",
    [
        "› Subscribe",
        "Subscribe",
        "SUBSCRIBE NOW",
        "Subscribe to our daily briefing",
        "Sign up for our newsletter",
        "Get our free newsletter delivered to your inbox — sign up",
        "LEAVE A REPLY",
        "Please enter your comment!",
        "Please enter your name here",
        "You have entered an incorrect email address!",
        "The reCAPTCHA verification period has expired. Please reload the page.",
        "This site is protected by reCAPTCHA and the Google Privacy Policy and Terms of Service apply.",
        "Save my name, email, and website in this browser for the next time I comment.",
        "The post Troops advance near Pokrovsk appeared first on Example Outlet.",
        "Read more",
        "Read more: Shelling resumes in Kharkiv",
        "Continue reading…",
        "Continue reading...",
        "[…]",
        "[...]",
        "We use cookies to improve your experience. By continuing you accept our cookie policy.",
        "This website uses cookies",
        "Share this article",
        "Share on Facebook",
        "Share",
        "Twitter",
        "WhatsApp",
        "Related articles",
        "Related: Sanctions on oil exports widen",
        "More Articles",
        "More stories",
        "Click here to read the full report",
        "Photo: Reuters",
        "(Photo by Jane Doe/AFP via Getty Images)",
        "Photo by John Smith/AFP",
        "Image: Getty Images",
        "Image caption, Rescuers at the site",
        "image captionHuman rights activists circulated the video on social media",
        "image copyrightTwitter/ @ZenaidaMachado",
        "VIDEO: The 20-second hand wash",
        "фото УНІАН",
        "Getty Images",
        "By John Smith",
        "By John Smith and Jane Doe",
        "Advertisement",
        "Story continues below advertisement",
        "Published 3 hours ago",
        "Published 12:30, 5 December 2022",
        "Updated at 1:23 p.m.",
        "Last updated: 5 Dec 2022, 12:30 GMT",
        "Please reload the page.",
        "© 2024 Example Media. All rights reserved.",
        "Follow us on Telegram",
        "Читайте також: Обстріл Харкова",
        "Читайте также: Удар по Одессе",
        "Підписуйтесь на наш Telegram-канал",
        "Lesen Sie auch: Angriff auf Kiew",
        "SEE MORE: Talks resume in Geneva",
        "DON'T MISS",
        "Strike on depot shown in new footage [VIDEO]",
        "05.09.2024 | 2:03 min",
        "Also read: Russia hits Odesa port",
        "ALSO READ - Talks resume in Geneva",
        "This article was originally published by Reuters.",
        "This story first appeared on Example News.",
        "Originally published at example.org",
        "Keep reading to learn what officials said next.",
        "Rate, review, share on Apple Podcasts , Soundcloud , Audible or wherever you listen and join the conversation on Facebook , Twitter and email .",
        "Join the conversation on Facebook and Twitter",
        "¯",
        "* * *",
    ],
)
def test_junk_lines_are_removed(line: str):
    """Each of these lines on its own is page furniture, not news."""
    assert strip_junk(f"Troops advanced near the town on Monday.\n{line}") == (
        "Troops advanced near the town on Monday."
    )


@pytest.mark.parametrize(
    "line",
    [
        "Ukraine says it will subscribe to the EU defence plan, officials said.",
        "By Monday evening, troops had withdrawn from the village.",
        "Updated guidance was issued by the ministry on Tuesday.",
        "More on the situation in Kursk will follow tomorrow, the ministry said.",
        "Also on Monday, Russian forces shelled Kharkiv, killing two people.",
        "Don't miss the chance to see it, the curator said.",
        "Share prices in Moscow fell 3% after the announcement.",
        "The photographer said the images were taken on Sunday.",
        "The spokesman said cookies and other gifts were sent to soldiers at the front.",
        "Related developments are expected at the summit.",
        "Comments by the minister drew criticism from Kyiv.",
        "Read the statement in full below.",
        "Photo shows the destroyed Antonivskyi bridge in Kherson region after new Russian shelling on Monday.",
        "Video shows Russian strike on Kharkiv apartment block",
        "Video shows aftermath of Kharkiv missile strikes",
        "Image shows a crater left by the missile near the school, the police said.",
        "Published on 5 December, the UN report says 12 civilians died in Sumy region in November.",
        "Published on 5 December, the UN report says 12 civilians died.",
        "Updated figures show 40 drones were launched at Kyiv overnight.",
        "Originally published in 2019, the UN report says 12 civilians died in Sumy region.",
        "Also read by millions, the statement was posted on Telegram on Monday.",
    ],
)
def test_news_sentences_that_mention_junk_words_stay(line: str):
    """Real sentences with "subscribe", "share", "By …", "cookies" and so on are kept."""
    assert strip_junk(f"First paragraph.\n{line}") == f"First paragraph.\n{line}"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Missiles hit Odesa overnight […]", "Missiles hit Odesa overnight"),
        ("Missiles hit Odesa overnight [...]", "Missiles hit Odesa overnight"),
        ("Missiles hit Odesa overnight. Continue reading...", "Missiles hit Odesa overnight."),
        ("Missiles hit Odesa overnight. Read more »", "Missiles hit Odesa overnight."),
        ("Troops advanced. The post Troops advance appeared first on Example.", "Troops advanced."),
        ("Drones struck a refinery. Photo: Reuters", "Drones struck a refinery."),
        ("Drones struck a refinery. (Photo: AFP)", "Drones struck a refinery."),
        ("Drones struck a refinery. Читать далее", "Drones struck a refinery."),
        ("Drones struck a refinery [more] Photo: AP", "Drones struck a refinery"),
    ],
)
def test_junk_phrases_are_cut_from_line_ends(line: str, expected: str):
    """Teaser tails and photo credits go; the sentence before them stays."""
    assert strip_junk(line) == expected


NEWS = "Russian forces shelled 12 communities in Sumy region overnight, officials said."


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            f"{NEWS} Subscribe to our daily newsletter for more. We use cookies to improve your experience.",
            NEWS,
        ),
        (f"We use cookies to improve your experience. {NEWS}", NEWS),
        (f"{NEWS} Sign up for our newsletter here. Click here to read the full story.", NEWS),
        (
            f"{NEWS} Sign up for our newsletter. Drones also hit Kharkiv.",
            f"{NEWS} Drones also hit Kharkiv.",
        ),
        (f"Subscribe to our newsletter. {NEWS}", NEWS),
        (
            f"{NEWS} " * 6
            + "This website uses cookies. By continuing you accept our cookie policy.",
            f"{NEWS} " * 5 + NEWS,
        ),
        (f"{NEWS} Photo: Reuters. © 2024 Example Media. All rights reserved.", NEWS),
        (
            '"We will rebuild. … We will not leave," the mayor said. Subscribe now!',
            '"We will rebuild. … We will not leave," the mayor said.',
        ),
        (f"{NEWS} Advertisement. Drones also hit Kharkiv.", f"{NEWS} Drones also hit Kharkiv."),
        (f"{NEWS} Also read: Russia hits Odesa port.", NEWS),
        (f"{NEWS} This article was originally published by Reuters.", NEWS),
        (f"{NEWS} Keep reading to learn what officials said next.", NEWS),
        # A link's text glued on ("click", lower case) hides the sentence end from the
        # splitter: the cookie banner must not take the news sentence with it.
        (f"{NEWS} click Cookie notice: we use cookies. Read more", NEWS),
        (f"{NEWS} click Cookie notice: we use cookies.", NEWS),
        (f"{NEWS} here we use cookies to improve your experience.", NEWS),
        (
            f"{NEWS} Cookies help us deliver our services. By using our services, you agree to our use of cookies.",
            NEWS,
        ),
    ],
)
def test_junk_sentences_are_cut_out_of_news_lines(line: str, expected: str):
    """A line that mixes news and junk (a feed description, a paragraph) loses the cookie,
    subscribe or credit sentences and keeps the news sentences, in order."""
    assert strip_junk(f"{line}\nSecond paragraph.") == f"{expected}\nSecond paragraph."


@pytest.mark.parametrize(
    "line",
    [
        "We use cookies to improve your experience. By continuing you accept our cookie policy.",
        "The reCAPTCHA verification period has expired. Please reload the page.",
        "© 2024 Example Media. All rights reserved.",
        "Like this story? Share it with a friend!",
        "Subscribe now. …",
    ],
)
def test_a_line_of_junk_sentences_goes_whole(line: str):
    """When every sentence of a line is junk, or the line is junk as a whole and what the
    rules do not know in it is too short to be news, nothing of it is left."""
    assert strip_junk(f"News.\n{line}") == "News."


def test_section_markers_end_the_article():
    """After "Related articles" or a comment form come other headlines, which go too."""
    text = "Talks resumed in Geneva.\nDelegations met for six hours.\nRelated articles\nSome other headline\nAnother one"
    assert strip_junk(text) == "Talks resumed in Geneva.\nDelegations met for six hours."


def test_a_section_marker_as_the_first_line_does_not_empty_the_text():
    """A marker before any content is dropped alone; the article after it stays."""
    assert strip_junk("Comments\nTalks resumed in Geneva.") == "Talks resumed in Geneva."


def test_seed_article_loses_its_junk_tail_and_keeps_its_facts(corpus: Path):
    """The project's seed article: subscribe prompt, comment form, reCAPTCHA and "More
    Articles" go; the report's paragraphs all stay, unchanged and in order."""
    raw = (corpus / "seed-article.txt").read_text(encoding="utf-8")
    cleaned = strip_junk(clean_text(raw))
    for junk in ("Subscribe", "LEAVE A REPLY", "Please enter", "reCAPTCHA", "More Articles"):
        assert junk not in cleaned
    paragraphs = [p.strip() for p in raw.split("\n\n") if p.strip()]
    facts = paragraphs[: paragraphs.index("› Subscribe")]
    assert len(facts) > 10
    assert cleaned.split("\n") == [" ".join(p.split()) for p in facts]


def test_strip_junk_is_linear_on_long_lines():
    """A 400 kB single line of text (a capped 2 MB description) is handled quickly."""
    text = ("Shelling continued overnight in the region, officials said. " * 7000) + "Photo: AP"
    started = time.perf_counter()
    result = strip_junk(text)
    assert time.perf_counter() - started < 1.0
    assert not result.endswith("Photo: AP")


_TAIL_WORDS = st.sampled_from(
    [
        "The post",
        "appeared first on",
        "APPEARED FIRST ON",
        "Read more",
        "read the full article",
        "Continue reading",
        "читать далее",
        "[…]",
        "[...]",
        "[more]",
        "[Read more]",
        "ſtory",
        "readmore",
        "...",
        " ",
        "»",
        "\u0131",
    ]
)


@settings(max_examples=300, deadline=None)
@given(parts=st.lists(_TAIL_WORDS | st.text(max_size=120), max_size=8))
def test_the_tail_check_never_misses_a_tail(parts: list[str]):
    """`_may_have_tail` is False only for lines `_LINE_TAIL` cannot match."""
    line = "".join(parts)
    if not _may_have_tail(line):
        assert _LINE_TAIL.search(line) is None


def test_the_phrase_reach_covers_the_longest_phrase():
    """Every phrase tail of `_LINE_TAIL` fits in the `_PHRASE_REACH` characters looked at."""
    longest = re._parser.parse(rf"(?:{_TAIL_PHRASES})\W{{0,4}}").getwidth()[1]
    assert longest <= _PHRASE_REACH


@pytest.mark.parametrize(
    "line",
    [
        "x" * 300 + " The post Strikes on Kharkiv appeared first on Ledger.",
        "x" * 300 + " The post Strikes appeared first on " + "y" * 199,
        "Troops advanced near the river [Read more]",
        "Troops advanced near the river… continue reading »",
    ],
)
def test_long_lines_still_lose_their_tails(line: str):
    """Tails far into a long line are still found and cut."""
    assert _may_have_tail(line)
    assert _strip_tail(line) != line


def test_what_follows_junk_in_lower_case_is_not_rescued():
    """Only news-shaped pieces of a junk sentence come back: the lower-case run-on of a
    subscribe prompt is still part of the prompt."""
    line = "Subscribe to our newsletter for the latest news. we send it daily to over a million readers"
    assert strip_junk(f"News.\n{line}") == "News."
