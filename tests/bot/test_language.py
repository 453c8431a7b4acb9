"""bot.language: en, uk and ru told apart, short headlines included, with the source's hint."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.feeds import parse_feed
from bot.language import UNDETERMINED, detect_language, language_code
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
