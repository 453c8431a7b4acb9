"""bot.language: en, uk and ru told apart, short headlines included, with the source's hint."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from py3langid.langid import MODEL_FILE, LanguageIdentifier

from bot.feeds import parse_feed
from bot.feedserver import SAMPLE_FEEDS_DIR
from bot.language import (
    _CYRILLIC_LETTER,
    _HAS_WALK_LAYOUT,
    _LETTER,
    _WALK_DEPTH,
    LANGUAGES,
    UNDETERMINED,
    _count_letters,
    _identifier,
    detect_language,
    language_code,
)
from bot.normalise import clean_text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Russia strikes Kyiv overnight", "en"),
        ("NATO summit opens in Vilnius", "en"),
        ("Zelensky meets allies in Washington", "en"),
        ("Обстріл Харкова", "uk"),
        ("Удар по Києву", "uk"),
        ("Війна триває", "uk"),
        ("З'явилися нові подробиці", "uk"),
        ("Зеленський", "uk"),
        ("Обстрел Харькова", "ru"),
        ("Путин заявил", "ru"),
        ("Мобилизация в Украине", "ru"),
        ("Война продолжается", "ru"),
        ("Эвакуация из Курской области", "ru"),
        ("Guerre en Ukraine : deux morts dans des frappes", "fr"),
        ("Krieg in der Ukraine: Angriffe auf Kiew", "de"),
        ("Wojna w Ukrainie trwa od lat", "pl"),
        ("Беларусь і Украіна: сустрэча ў Мінску", "be"),
    ],
)
def test_headlines_without_a_hint(text: str, expected: str):
    """Short headlines are placed by their letters and the model, without any hint."""
    assert detect_language(text) == expected


@pytest.mark.parametrize(
    ("text", "hint", "expected"),
    [
        ("Kyiv", "uk", "uk"),
        ("ЗСУ", "uk", "uk"),
        ("ЗСУ", "ru", "ru"),
        ("Удар по Харкову", "uk", "uk"),
        ("Ракетний удар", "uk", "uk"),
        ("Новини от София и страната", "bg", "bg"),
        ("Обстріл Харкова", "ru", "uk"),
        ("Эвакуация из Харькова", "uk", "ru"),
        ("Обстрел Харькова", "uk", "uk"),
        ("The ministry said the talks would resume in Geneva next week.", "uk", "en"),
        ("12:45", "en-US", "en"),
        ("", "pt_BR", "pt"),
        ("", None, UNDETERMINED),
        ("2024 — 15:30", None, UNDETERMINED),
        ("Kyiv", "not-a-code", "hu"),
    ],
)
def test_hint_wins_only_when_the_text_cannot_tell(text: str, hint: str | None, expected: str):
    """Telling letters and clear text beat the hint; short or letterless text takes it."""
    assert detect_language(text, hint=hint) == expected


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("en", "en"),
        ("en-US", "en"),
        ("pt_BR", "pt"),
        (" UK ", "uk"),
        ("eng", None),
        ("", None),
        (None, None),
    ],
)
def test_language_code(tag: str | None, expected: str | None):
    """Language tags from feeds reduce to two-letter codes; anything else is None."""
    assert language_code(tag) == expected


CORPUS_LANGUAGES = [
    ("news/unian_ua_2020-09-28.rss.xml", "uk"),
    ("news/liga_net_ru_2020-09-29.rss.xml", "ru"),
    ("news/ukrainska_pravda_rus_2020-09-29_windows-1251.rss.xml", "ru"),
    ("news/guardian_international_2025-04-01.rss.xml", "en"),
    ("awkward/oren_ru_2014-01-23_windows-1251.rss.xml", "ru"),
]


@pytest.mark.parametrize(("name", "expected"), CORPUS_LANGUAGES)
def test_every_corpus_entry_without_a_hint(corpus: Path, name: str, expected: str):
    """Title plus summary of every entry is placed correctly with no help from the source."""
    parsed = parse_feed((corpus / "feeds" / name).read_bytes())
    wrong = [
        entry.title
        for entry in parsed.entries
        if detect_language(f"{entry.title}\n{clean_text(entry.summary)}") != expected
    ]
    assert wrong == []


@pytest.mark.parametrize(("name", "expected"), CORPUS_LANGUAGES)
def test_every_corpus_title_alone_with_the_source_hint(corpus: Path, name: str, expected: str):
    """Headlines alone, as in an alert, are right when the source's language is the hint."""
    parsed = parse_feed((corpus / "feeds" / name).read_bytes())
    wrong = [
        entry.title
        for entry in parsed.entries
        if detect_language(entry.title, hint=expected) != expected
    ]
    assert wrong == []


def test_one_stray_ukrainian_letter_does_not_make_russian_text_ukrainian():
    """A Russian paragraph quoting one Ukrainian word stays Russian."""
    text = (
        "Власти сообщили, что эвакуация жителей из прифронтовых сел продолжится всю неделю, "
        "а на въезде в город появился указатель «Київ»."
    )
    assert detect_language(text) == "ru"


@pytest.fixture(scope="module")
def stock_identifier() -> LanguageIdentifier:
    """py3langid's own identifier, restricted like ours: the reference for the fast walk."""
    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(LANGUAGES))
    return identifier


def _sample_texts() -> list[str]:
    texts = [
        "Russia strikes Kyiv overnight",
        "Обстріл Харкова",
        "Эвакуация из Курской области",
        "Беларусь і Украіна: сустрэча ў Мінску",
        "A",
        "  ",
        "12:45",
        "\u0483\u0488 ЛЮДИ",
        "ALL CAPS HEADLINE ABOUT THE SUMMIT",
    ]
    for path in sorted(SAMPLE_FEEDS_DIR.iterdir()):
        for entry in parse_feed(path.read_bytes()).entries:
            texts += [entry.title, clean_text(entry.summary), clean_text(entry.content)]
    return texts


def test_fast_scores_equal_py3langid_to_the_last_bit(stock_identifier: LanguageIdentifier):
    """The vectorised walk gives py3langid's exact probabilities for every sample text."""
    ours = _identifier()
    for text in _sample_texts():
        assert np.array_equal(ours._decide(text), stock_identifier._decide(text)), text
        assert ours.rank(text) == stock_identifier.rank(text)


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=400))
def test_fast_scores_equal_py3langid_on_any_text(stock_identifier: LanguageIdentifier, text: str):
    """Any text, control bytes and lone surrogates included, scores exactly as py3langid's."""
    assert np.array_equal(_identifier()._decide(text), stock_identifier._decide(text))


@pytest.mark.skipif(not _HAS_WALK_LAYOUT, reason="another py3langid model layout")
def test_the_walk_depth_covers_the_model():
    """No automaton state is deeper than `_WALK_DEPTH`, so the fast walk never falls back
    (it would still be exact, only slower)."""
    ours = _identifier()
    transitions = np.frombuffer(ours.tk_nextmove, dtype=ours.tk_nextmove.typecode)
    rows = np.frombuffer(ours.tk_row, dtype=ours.tk_row.typecode).astype(np.intp) << 8
    seen = np.zeros(rows.size, dtype=bool)
    seen[0] = True
    frontier, depth = np.array([0]), 0
    while True:
        reached = np.unique(transitions[rows[frontier][:, None] + np.arange(256)])
        frontier = reached[~seen[reached]]
        if not frontier.size:
            break
        seen[frontier] = True
        depth += 1
    assert seen.all()
    assert depth <= _WALK_DEPTH


def test_the_cyrillic_letter_class_is_the_letters_of_the_block():
    """`_CYRILLIC_LETTER` is exactly the `_LETTER` characters of U+0400-U+04FF."""
    for code in range(0x400, 0x500):
        char = chr(code)
        assert bool(_CYRILLIC_LETTER.match(char)) == bool(_LETTER.match(char)), hex(code)


@given(text=st.text(max_size=300) | st.text(st.characters(max_codepoint=127), max_size=300))
def test_letter_counts_equal_matching_each_letter(text: str):
    """The ASCII shortcut and the Cyrillic class count what matching letter by letter does."""
    letters = _LETTER.findall(text)
    cyrillic = sum(1 for ch in letters if "\u0400" <= ch <= "\u04ff")
    assert _count_letters(text) == (len(letters), cyrillic)
