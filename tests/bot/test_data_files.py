"""The bundled sources and topics files: they parse, are consistent, and the topics compile."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from bot.models import SourceKind, Topic
from bot.topics import compile_topics, normalise_name, parse_keyword

DATA = Path(__file__).resolve().parents[2] / "bot" / "data"
LANGUAGES = {"en", "uk", "ru"}
LATIN = re.compile(r"[A-Za-z]")
CYRILLIC = re.compile(r"[\u0400-\u04ff]")
UKRAINIAN_ONLY = re.compile(r"[іїєґІЇЄҐ]")


def _load(name: str) -> dict[str, Any]:
    with (DATA / name).open("rb") as handle:
        return tomllib.load(handle)


SOURCES: list[dict[str, Any]] = _load("sources.toml")["source"]
TOPICS: list[dict[str, Any]] = _load("topics.toml")["topic"]


def test_sources_have_unique_names() -> None:
    """No two sources share a name (commands refer to sources by name)."""
    names = [s["name"].casefold() for s in SOURCES]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("source", SOURCES, ids=lambda s: s["name"])
def test_source_fields_are_valid(source: dict[str, Any]) -> None:
    """Every source has an https URL with a host, a known kind and language, a bool full_text."""
    assert set(source) <= {"name", "url", "kind", "language", "full_text", "breaking"}
    url = urlsplit(source["url"])
    assert url.scheme == "https" and url.netloc
    assert source["kind"] in {k.value for k in SourceKind}
    assert source["language"] in LANGUAGES
    assert isinstance(source.get("full_text", False), bool)


def test_sources_cover_each_language_and_api_kind() -> None:
    """The default set reads English, Ukrainian and Russian outlets and both news APIs."""
    assert {s["language"] for s in SOURCES} == LANGUAGES
    assert {s["kind"] for s in SOURCES} == {k.value for k in SourceKind}


def test_api_sources_carry_their_required_parameters() -> None:
    """ReliefWeb v2 needs an appname; the GDELT query asks for the JSON article list."""
    for source in SOURCES:
        query = parse_qs(urlsplit(source["url"]).query)
        if source["kind"] == "reliefweb":
            assert urlsplit(source["url"]).path.startswith("/v2/")
            assert query["appname"][0]
        if source["kind"] == "gdelt":
            assert query["mode"] == ["artlist"]
            assert query["format"] == ["json"]


def _topic(row: dict[str, Any]) -> Topic:
    return Topic(
        key=row["key"],
        label=row["label"],
        aliases=tuple(row.get("aliases", ())),
        keywords=tuple(row["keywords"]),
        breaking=bool(row.get("breaking", False)),
    )


def test_topics_have_the_required_fields_and_slug_keys() -> None:
    """Each topic has a slug key, a label and keywords; optional fields have the right types."""
    for row in TOPICS:
        assert set(row) <= {"key", "label", "aliases", "keywords", "breaking", "place"}, row["key"]
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", row["key"]), row["key"]
        assert row["label"].strip()
        assert row["keywords"]
        assert isinstance(row.get("breaking", False), bool)
        assert isinstance(row.get("place", False), bool)


def test_there_are_at_least_twenty_topics_including_the_core_set() -> None:
    """The war's fronts and themes the brief names are all present."""
    keys = {row["key"] for row in TOPICS}
    assert len(keys) >= 20
    assert {
        "kursk", "donetsk", "kharkiv", "zaporizhzhia", "kherson", "crimea", "north-korea",
        "drones", "missiles", "energy", "black-sea", "sanctions", "peace-talks",
        "prisoner-exchange", "humanitarian", "nuclear", "mobilisation", "military-aid", "kyiv",
        "belarus", "odesa",
    } <= keys  # fmt: skip


@pytest.mark.parametrize("row", TOPICS, ids=lambda r: r["key"])
def test_topic_keywords_cover_english_ukrainian_and_russian(row: dict[str, Any]) -> None:
    """Every topic has Latin (English) and Cyrillic (Ukrainian/Russian) keywords."""
    keywords = row["keywords"]
    assert any(LATIN.search(k) for k in keywords)
    assert any(CYRILLIC.search(k) for k in keywords)


def test_nearly_every_topic_has_a_distinctly_ukrainian_spelling() -> None:
    """Ukrainian keywords are really there, not only Russian ones that share the script.

    Some stems are spelt alike in both languages ("зернов* коридор*"), so a few topics may
    lack a letter only Ukrainian has (і, ї, є, ґ); most must have one.
    """
    no_uk = [r["key"] for r in TOPICS if not any(UKRAINIAN_ONLY.search(k) for k in r["keywords"])]
    assert len(no_uk) <= 2, no_uk


@pytest.mark.parametrize("row", TOPICS, ids=lambda r: r["key"])
def test_topic_keywords_parse_and_are_not_repeated(row: dict[str, Any]) -> None:
    """Every keyword has words to match, and no keyword is listed twice in one topic."""
    parsed = [parse_keyword(k) for k in row["keywords"]]
    assert len(parsed) == len(set(parsed)), row["key"]


def test_topic_names_are_unique_across_topics() -> None:
    """Keys, labels and aliases never name two topics (compared as /topic compares them)."""
    owner: dict[str, str] = {}
    for row in TOPICS:
        for name in {
            normalise_name(n) for n in (row["key"], row["label"], *row.get("aliases", ()))
        }:
            assert owner.setdefault(name, row["key"]) == row["key"], name


def test_topics_compile_in_file_order() -> None:
    """The file compiles into an index whose topics keep the file's order."""
    index = compile_topics([_topic(row) for row in TOPICS])
    assert [t.key for t in index.topics] == [row["key"] for row in TOPICS]
    assert index.resolve("North-Korea") is index.get("north-korea")


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("Ukrainian troops advance in Kursk region", "kursk"),
        ("Бої в Курській області тривають", "kursk"),
        ("Бои в Курской области продолжаются", "kursk"),
        ("Explosions heard in Zaporozhye", "zaporizhzhia"),
        ("Удар по Запоріжжю", "zaporizhzhia"),
        ("Shelling in Kharkov", "kharkiv"),
        ("Обстріл Харкова", "kharkiv"),
        ("Обстрел Харькова", "kharkiv"),
        ("Air raid alert in Kiev", "kyiv"),
        ("Вибухи у Києві", "kyiv"),
        ("Взрывы в Киеве", "kyiv"),
        ("Port of Odessa hit", "odesa"),
        ("Удар по Одесі", "odesa"),
        ("Pyongyang sends troops", "north-korea"),
        ("Війська Північної Кореї", "north-korea"),
        ("Войска Северной Кореи", "north-korea"),
        ("Росія атакувала енергетику", "energy"),
        ("Обмін полоненими відбувся", "prisoner-exchange"),
        ("Загроза на Запорізькій АЕС", "nuclear"),
        ("Угроза на Запорожской АЭС", "nuclear"),
        ("Crimean Bridge closed", "crimea"),
        ("Вибухи в Криму", "crimea"),
    ],
)
def test_bundled_keywords_match_the_usual_spellings(text: str, key: str) -> None:
    """Transliterations and Ukrainian/Russian inflected forms reach the right topic."""
    index = compile_topics([_topic(row) for row in TOPICS])
    assert key in index.match(text)


@pytest.mark.parametrize(
    "text",
    [
        "Кримінальне провадження відкрито",  # "кримінальне" must not read as Crimea
        "Суми коштів на рахунках зросли",  # "суми" (sums) is not Sumy
        "The Kyivstar network is down",  # the operator's name is not the city
        "Газета вийшла вранці",  # "газета" (newspaper) is not gas
    ],
)
def test_bundled_keywords_avoid_known_lookalikes(text: str) -> None:
    """Words that merely start like a place or a fuel do not tag a story."""
    index = compile_topics([_topic(row) for row in TOPICS])
    assert index.match(text) == frozenset()
