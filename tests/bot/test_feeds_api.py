"""bot.feeds_api: ReliefWeb and GDELT JSON become Entries (through `parse_feed`, the entry
point), and ReliefWeb's boilerplate goes from its API text and its RSS alike."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.errors import SourceError
from bot.feeds import parse_feed
from bot.models import SourceKind
from bot.normalise import clean_text

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize(
    "name",
    [
        "nyt_topstories_home_2025-03-31.json",
        "currentsapi_latest-news_2025-03.json",
        "newsapi_top-headlines_us_2023-03-30.json",
    ],
)
def test_other_apis_are_not_reliefweb(corpus: Path, name: str):
    """Only a body with ReliefWeb's `data` list is read as ReliefWeb."""
    with pytest.raises(SourceError, match="ReliefWeb"):
        parse_feed((corpus / "news_api_json" / name).read_bytes(), kind=SourceKind.RELIEFWEB)


@pytest.mark.parametrize(
    "name", ["nyt_topstories_home_2025-03-31.json", "currentsapi_latest-news_2025-03.json"]
)
def test_other_apis_are_not_gdelt(corpus: Path, name: str):
    """A JSON object without GDELT's `articles` list is refused as GDELT."""
    with pytest.raises(SourceError, match="GDELT"):
        parse_feed((corpus / "news_api_json" / name).read_bytes(), kind=SourceKind.GDELT)


def test_reliefweb_v1_corpus_response(corpus: Path):
    """The v1 response: every report, its pretty URL, original date, sources and a stable guid."""
    body = (
        corpus / "news_api_json" / "reliefweb_v1_reports_country-NPL_2020-09-17.json"
    ).read_bytes()
    parsed = parse_feed(body, kind=SourceKind.RELIEFWEB)
    document = json.loads(body)
    assert len(parsed.entries) == len(document["data"]) == 10
    first, raw = parsed.entries[0], document["data"][0]
    assert first.url == raw["fields"]["url_alias"]
    assert first.guid == f"reliefweb:report:{raw['id']}"
    assert first.published == datetime.fromisoformat(raw["fields"]["date"]["original"])
    assert first.author == raw["fields"]["source"][0]["name"]
    assert all(
        entry.title and entry.url.startswith("https://reliefweb.int/") for entry in parsed.entries
    )


def test_reliefweb_v2_reports():
    """v2 fields: url_alias over url, created over original, body-html, every source, language."""
    parsed = parse_feed(
        (FIXTURES / "reliefweb_v2_reports.json").read_bytes(), kind=SourceKind.RELIEFWEB
    )
    assert [entry.guid for entry in parsed.entries] == [
        "reliefweb:report:4101234",
        "reliefweb:report:4101235",
        "reliefweb:report:4101236",
    ]
    flash, evacuation, bare = parsed.entries
    assert flash.url.endswith("/ukraine-flash-update-shelling-kharkiv-oblast-28-october-2024")
    assert flash.published == datetime(2024, 10, 28, 9, 15, tzinfo=UTC)
    assert flash.content.startswith("<p>Shelling damaged <strong>")
    assert flash.author == "OCHA, UNHCR"
    assert flash.language == "en"
    assert evacuation.url == "https://reliefweb.int/node/4101235"
    assert evacuation.published == datetime(2024, 10, 28, tzinfo=UTC)
    assert (evacuation.author, evacuation.language) == ("IOM", "uk")
    assert bare.published is None
    assert bare.content == ""


def test_gdelt_artlist():
    """GDELT articles: entities decoded, seendate in UTC, language names as codes, url_mobile
    as a fallback; unusable items are skipped and missing fields tolerated."""
    parsed = parse_feed((FIXTURES / "gdelt_artlist.json").read_bytes(), kind=SourceKind.GDELT)
    assert len(parsed.entries) == 5
    drone, village, talks, untitled, wire = parsed.entries
    assert drone.title == "Drone attack on Kyiv & Kharkiv overnight, officials say"
    assert drone.published == datetime(2024, 10, 28, 12, 30, tzinfo=UTC)
    assert (drone.language, drone.guid) == ("en", drone.url)
    assert village.language == "uk"
    assert talks.url == "https://m.example-daily.com/story/42"
    assert (talks.published, talks.language) == (None, None)
    assert (untitled.title, untitled.url) == ("", "https://example-wire.com/a/7")
    assert wire.language == "ru"


@pytest.mark.parametrize(
    ("body", "entries"),
    [(b"{}", 0), (b'{"articles": []}', 0), (b"\xef\xbb\xbf{}", 0)],
)
def test_gdelt_without_matches_is_empty_not_an_error(body: bytes, entries: int):
    """GDELT answers `{}` when nothing matched: that is zero entries, not a broken source."""
    assert len(parse_feed(body, kind=SourceKind.GDELT).entries) == entries


RELIEFWEB_BOILERPLATE = re.compile(
    r"^(?:Countr(?:y|ies)|Sources?):|Please refer to the attached", re.IGNORECASE | re.MULTILINE
)


def test_reliefweb_boilerplate_is_stripped_from_its_feed(corpus: Path):
    """ReliefWeb's country and source tags and its "Please refer to the attached file." note
    are the same on unrelated reports (they made them look alike to dedup): they go, and the
    report's own text stays."""
    body = (corpus / "feeds" / "news" / "reliefweb_updates_ukraine_2020-09-17.rss.xml").read_bytes()
    entries = parse_feed(body, base_url="https://reliefweb.int/").entries
    texts = {e.title: clean_text(e.summary) + "\n" + clean_text(e.content) for e in entries}
    assert len(texts) == 20
    assert not [title for title, text in texts.items() if RELIEFWEB_BOILERPLATE.search(text)]
    convoy = texts["Ukraine: UNHCR delivered 92 tons of humanitarian aid to Luhansk"]
    assert convoy.lstrip().startswith("The humanitarian cargo will provide much needed help")
    assert "On September 10, the UNHCR humanitarian convoy arrived in Luhansk." in convoy


def test_reliefweb_api_text_loses_its_tag_lines_but_not_sentences_about_sources():
    """In API text the tags are lines of their own; "Sources said …" is a sentence and stays.
    Other outlets' items are never touched."""
    text = (
        "Country: Ukraine\nSources: UNHCR, Right to Protection\n"
        "Please refer to the attached Infographic.\nSources said the convoy arrived.\nMore."
    )
    api = json.dumps(
        {
            "data": [
                {
                    "id": 7,
                    "fields": {
                        "title": "Convoy",
                        "url_alias": "https://reliefweb.int/r/7",
                        "body": text,
                    },
                }
            ]
        }
    )
    (entry,) = parse_feed(api.encode(), kind=SourceKind.RELIEFWEB).entries
    assert entry.content == "Sources said the convoy arrived.\nMore."
    rss = (
        "<?xml version='1.0'?><rss version='2.0'><channel><title>W</title>"
        "<item><title>T</title><link>https://wire.example/1</link>"
        f"<description>{text}</description></item></channel></rss>"
    )
    (other,) = parse_feed(rss.encode()).entries
    assert clean_text(other.summary) == text
