"""bot.feeds: response bodies become Entries, on the corpus feeds and on samples of our own."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.errors import SourceError
from bot.feeds import parse_feed, parse_loose_date
from bot.models import SourceKind
from bot.normalise import clean_text

FIXTURES = Path(__file__).parent / "fixtures"
LEFTOVER_TAG = re.compile(r"<[a-zA-Z/!][^>]*>")
LEFTOVER_ENTITY = re.compile(r"&(?:#\d+|#[xX][0-9a-fA-F]+|[a-zA-Z]+);")
MOJIBAKE_LETTERS = re.compile(r"[\u00c0-\u00ff]")

# Every feed in corpus/feeds with the entry count SOURCES.md gives for it; the truncated
# Reuters file has none and is tested on its own below.
CORPUS_FEEDS = [
    ("news/ukrainska_pravda_rus_2020-09-29_windows-1251.rss.xml", 20),
    ("news/unian_ua_2020-09-28.rss.xml", 50),
    ("news/liga_net_ru_2020-09-29.rss.xml", 20),
    ("news/ukranews_2020-09-28_default-ns_yandex-fulltext.rss.xml", 2),
    ("news/reliefweb_updates_ukraine_2020-09-17.rss.xml", 20),
    ("news/emm_newsbrief_clusters_en_2022-06-21.rss.xml", 3),
    ("news/feedly_board_mozambique_2020-09-16_atom-html-content.atom.xml", 5),
    ("news/guardian_international_2025-04-01.rss.xml", 99),
    ("news/guardian_us_2018-01-31.rss.xml", 55),
    ("news/reuters_worldnews_2018-01-30_feedburner.rss.xml", 10),
    ("news/huffpost_worldnews_2019-06-30.rss.xml", 31),
    ("news/tpm_all_news_2017-11-08_relative-links.atom.xml", 20),
    ("news/heise_developer_2016-02-01.atom.xml", 15),
    ("news/golem_de_2023-01-25_rss1.0-rdf_iso-8859-1.rdf.xml", 1),
    ("news/nbc_newyork_2023-12-17_nonstandard-pubdate.rss.xml", 1),
    ("news/ilgiornale_cronache_2022-11-15_escaped-html.rss.xml", 1),
    ("awkward/uol_noticias_2018-09-24_latin1-no-xml-decl.rss.xml", 15),
    ("awkward/jornal_de_noticias_pt_2018-01-03_iso-8859-1_feedburner.rss.xml", 40),
    ("awkward/oren_ru_2014-01-23_windows-1251.rss.xml", 10),
    ("awkward/pcmag_dvorak_2009_illegally-nested.rss.xml", 20),
    ("awkward/intertwingly_2012-07-25_atom-xhtml-content.atom.xml", 20),
    ("awkward/feedparser_koi8r_no-encoding-decl.xml", 1),
    ("awkward/feedparser_rss_incomplete_cdata.xml", 1),
    ("awkward/feedparser_double-encoded-html.xml", 1),
]
CYRILLIC_FEEDS = [
    "news/ukrainska_pravda_rus_2020-09-29_windows-1251.rss.xml",
    "awkward/oren_ru_2014-01-23_windows-1251.rss.xml",
    "awkward/feedparser_koi8r_no-encoding-decl.xml",
    "news/unian_ua_2020-09-28.rss.xml",
    "news/liga_net_ru_2020-09-29.rss.xml",
]


def read_feed(corpus: Path, name: str) -> bytes:
    return (corpus / "feeds" / name).read_bytes()


def rss(items: str, *, declaration: str = '<?xml version="1.0" encoding="utf-8"?>') -> str:
    """A minimal RSS 2.0 document around `items`."""
    return (
        f'{declaration}\n<rss version="2.0"><channel><title>Sample</title>'
        f"<link>https://news.example.org/</link>{items}</channel></rss>"
    )


@pytest.mark.parametrize(("name", "count"), CORPUS_FEEDS)
def test_corpus_feeds_give_the_entry_counts_of_sources_md(corpus: Path, name: str, count: int):
    """Every corpus feed parses, broken ones included, with the number of entries it holds."""
    parsed = parse_feed(read_feed(corpus, name), base_url="https://feeds.example.org/rss")
    assert len(parsed.entries) == count


@pytest.mark.parametrize(("name", "count"), CORPUS_FEEDS)
def test_corpus_titles_are_one_line_of_plain_text(corpus: Path, name: str, count: int):
    """No tags, entities, line breaks or surrounding spaces survive in any title."""
    parsed = parse_feed(read_feed(corpus, name))
    titles = [entry.title for entry in parsed.entries] + [parsed.title or ""]
    for title in titles:
        assert not LEFTOVER_TAG.search(title), title
        assert not LEFTOVER_ENTITY.search(title), title
        assert title == title.strip()
        assert "\n" not in title
        assert "  " not in title


@pytest.mark.parametrize("name", CYRILLIC_FEEDS)
def test_cyrillic_feeds_come_out_as_cyrillic(corpus: Path, name: str):
    """windows-1251 (declared), KOI8-R (undeclared) and UTF-8 Russian/Ukrainian read correctly.

    Mojibake of single-byte Cyrillic is made of Latin-1 letters (À to ÿ), so their absence and
    a title made of Cyrillic letters show the right decoding.
    """
    parsed = parse_feed(read_feed(corpus, name))
    titles = "".join(entry.title for entry in parsed.entries)
    letters = [ch for ch in titles if ch.isalpha()]
    assert sum("\u0400" <= ch <= "\u04ff" for ch in letters) >= 0.9 * len(letters)
    for entry in parsed.entries:
        assert re.search("[\u0400-\u04ff]", entry.title), entry.title
        assert not MOJIBAKE_LETTERS.search(entry.title + entry.summary), entry.title


def test_undeclared_koi8r_is_detected_and_reported(corpus: Path):
    """feedparser alone reads this KOI8-R file as windows-1252; we read KOI8-R and say so."""
    parsed = parse_feed(read_feed(corpus, "awkward/feedparser_koi8r_no-encoding-decl.xml"))
    assert parsed.warning is not None
    assert "koi8" in parsed.warning
    assert "новогодн" in parsed.entries[0].title


def test_latin1_feed_without_declaration_reads_as_latin(corpus: Path):
    """Undeclared Latin-1 Portuguese stays Portuguese (not Cyrillic), with a warning."""
    parsed = parse_feed(
        read_feed(corpus, "awkward/uol_noticias_2018-09-24_latin1-no-xml-decl.rss.xml")
    )
    text = " ".join(entry.title for entry in parsed.entries)
    assert "ç" in text or "ã" in text
    assert not re.search(r"[\u0400-\u04ff]", text)
    assert parsed.warning is not None
    assert "cp1252" in parsed.warning


def test_portuguese_dates_are_parsed_with_their_offset(corpus: Path):
    """ "Seg, 24 Set 2018 19:42:40 -0300" is 22:42:40 UTC, though feedparser cannot read it."""
    parsed = parse_feed(
        read_feed(corpus, "awkward/uol_noticias_2018-09-24_latin1-no-xml-decl.rss.xml")
    )
    assert all(entry.published is not None for entry in parsed.entries)
    assert parsed.entries[0].published == datetime(2018, 9, 24, 22, 42, 40, tzinfo=UTC)


def test_us_style_pubdate_with_pm_is_afternoon(corpus: Path):
    """ "Sat, Dec 16 2023 02:02:33 PM" is 14:02:33; feedparser alone drops the PM."""
    parsed = parse_feed(
        read_feed(corpus, "news/nbc_newyork_2023-12-17_nonstandard-pubdate.rss.xml")
    )
    assert parsed.entries[0].published == datetime(2023, 12, 16, 14, 2, 33, tzinfo=UTC)


@pytest.mark.parametrize("base_url", ["https://talkingpointsmemo.com/feed/all", ""])
def test_relative_atom_links_become_absolute(corpus: Path, base_url: str):
    """TPM's `/livewire/...` links resolve against the feed URL, or the feed's own link."""
    parsed = parse_feed(
        read_feed(corpus, "news/tpm_all_news_2017-11-08_relative-links.atom.xml"), base_url=base_url
    )
    for entry in parsed.entries:
        assert re.match(r"https?://talkingpointsmemo\.com/", entry.url), entry.url


def test_truncated_feed_without_entries_is_a_source_error(corpus: Path):
    """A feed cut off before its first item is reported as broken, not as an empty feed.

    An empty feed would look healthy; this one is not, and the source's health must say so.
    """
    body = read_feed(corpus, "awkward/reuters_mostread_2020-03-21_truncated-server-error.rss.xml")
    with pytest.raises(SourceError, match="malformed"):
        parse_feed(body)


def test_broken_feed_with_entries_keeps_them_and_warns(corpus: Path):
    """A truncated CDATA block still yields the feed's one entry, with the problem as a warning."""
    parsed = parse_feed(read_feed(corpus, "awkward/feedparser_rss_incomplete_cdata.xml"))
    assert len(parsed.entries) == 1
    assert parsed.warning


def test_double_encoded_utf8_yields_an_ellipsis(corpus: Path):
    """`&#226;&#128;&#166;` (UTF-8 bytes of … escaped as Latin-1) becomes U+2026."""
    parsed = parse_feed(read_feed(corpus, "awkward/feedparser_double-encoded-html.xml"))
    assert parsed.entries[0].summary == "\u2026"


def test_yandex_full_text_becomes_content_markup(corpus: Path):
    """Entity-escaped HTML in yandex:full-text is the entry's content, as real markup."""
    parsed = parse_feed(
        read_feed(corpus, "news/ukranews_2020-09-28_default-ns_yandex-fulltext.rss.xml")
    )
    for entry in parsed.entries:
        assert entry.content.startswith("<p>")
        assert "&lt;" not in entry.content


def test_entries_carry_guid_dates_and_language(corpus: Path):
    """RSS guid, pubDate (aware UTC) and the channel language reach the Entry."""
    parsed = parse_feed(read_feed(corpus, "news/guardian_international_2025-04-01.rss.xml"))
    for entry in parsed.entries:
        assert entry.guid
        assert entry.published is not None
        assert entry.published.tzinfo is UTC
        assert entry.language == "en"
        assert entry.url.startswith("https://www.theguardian.com/")


@pytest.mark.parametrize(
    "name",
    [
        "nyt_topstories_home_2025-03-31.json",
        "currentsapi_latest-news_2025-03.json",
        "newsapi_top-headlines_us_2023-03-30.json",
        "newsapi_top-headlines_pl_2023-03-30.json",
        "reliefweb_v1_reports_country-NPL_2020-09-17.json",
    ],
)
def test_json_apis_are_refused_as_feeds(corpus: Path, name: str):
    """JSON under kind "feed" is refused with a message naming the supported JSON kinds."""
    with pytest.raises(SourceError, match=r"JSON.*reliefweb.*gdelt"):
        parse_feed((corpus / "news_api_json" / name).read_bytes())


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


@pytest.mark.parametrize(
    ("body", "kind", "reason"),
    [
        (b"", SourceKind.FEED, "empty"),
        (b"  \n\t ", SourceKind.FEED, "empty"),
        (
            b"<!DOCTYPE html><html><head><title>Home</title></head><body><p>Hi</p></body></html>",
            SourceKind.FEED,
            "HTML page",
        ),
        (b"<html><body>Moved</body></html>", SourceKind.FEED, "HTML page"),
        (b"Service temporarily unavailable", SourceKind.FEED, "not an RSS/Atom feed"),
        (b'[{"title": "x"}]', SourceKind.FEED, "JSON"),
        (b"Please limit requests to one every 5 seconds", SourceKind.GDELT, "limit requests"),
        (b'{"articles": "none"}', SourceKind.GDELT, "articles"),
        (b"[1, 2]", SourceKind.GDELT, "GDELT"),
        (b"<html>error</html>", SourceKind.RELIEFWEB, "not JSON"),
        (b'{"error": {"status": 400}}', SourceKind.RELIEFWEB, "data"),
    ],
)
def test_unusable_bodies_raise_a_clear_source_error(body: bytes, kind: SourceKind, reason: str):
    """Nothing usable in the body: SourceError whose message says what was wrong."""
    with pytest.raises(SourceError, match=reason):
        parse_feed(body, kind=kind)


def test_valid_feed_without_items_is_empty_and_healthy():
    """A well-formed feed with no items gives no entries and no warning."""
    parsed = parse_feed(rss("").encode())
    assert parsed.entries == ()
    assert parsed.title == "Sample"
    assert parsed.warning is None


SAMPLE_RU = "Обстрел Харькова: повреждены школа и подстанция"
SAMPLE_UK = "Обстріл Харкова: пошкоджено школу та підстанцію"
SAMPLE_PT = "Negociações de paz avançam em Genebra, diz ministério"


def sample_item(title: str) -> str:
    return f"<item><title>{title}</title><link>https://news.example.org/a/1</link></item>"


@pytest.mark.parametrize(
    ("text", "codec", "declared", "content_type", "warns"),
    [
        (SAMPLE_RU, "cp1251", "windows-1251", None, False),
        (SAMPLE_RU, "cp1251", None, None, True),
        (SAMPLE_RU, "koi8_r", None, None, True),
        (SAMPLE_RU, "koi8_r", "koi8-r", None, False),
        (SAMPLE_UK, "cp1251", None, None, True),
        (SAMPLE_UK, "koi8_u", "koi8-u", None, False),
        (SAMPLE_PT, "latin-1", None, None, True),
        (SAMPLE_PT, "cp1252", "iso-8859-1", None, False),
        (SAMPLE_RU, "cp1251", "windows-1251", "text/xml; charset=iso-8859-1", False),
        (SAMPLE_RU, "cp1251", None, "text/xml; charset=iso-8859-1", True),
        (SAMPLE_RU, "cp1251", None, "application/rss+xml; charset=windows-1251", False),
        (SAMPLE_RU, "utf-8", "windows-1251", None, False),
        (SAMPLE_UK, "utf-16", "utf-16", None, False),
        (SAMPLE_RU, "utf-8-sig", None, None, False),
    ],
)
def test_encodings_declared_undeclared_and_misdeclared(
    text: str, codec: str, declared: str | None, content_type: str | None, warns: bool
):
    """The title comes out right however the body was encoded and whatever was declared.

    Undeclared or wrongly declared non-UTF-8 bodies are read by the encoding whose words look
    like words, with a warning; a correct declaration raises no warning.
    """
    declaration = f'<?xml version="1.0" encoding="{declared}"?>' if declared else ""
    body = rss(sample_item(text), declaration=declaration).encode(codec)
    parsed = parse_feed(body, content_type=content_type)
    assert parsed.entries[0].title == text
    assert (parsed.warning is not None) is warns


def test_relative_links_and_xml_base():
    """Relative entry links resolve against base_url, and xml:base where the feed gives one."""
    atom = (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        "<title>A</title><entry><title>One</title><link href='/news/1'/><id>1</id></entry>"
        "<entry xml:base='https://other.example.net/section/'><title>Two</title>"
        "<link href='story-2'/><id>2</id></entry></feed>"
    )
    parsed = parse_feed(atom.encode(), base_url="https://news.example.org/feeds/atom.xml")
    assert [entry.url for entry in parsed.entries] == [
        "https://news.example.org/news/1",
        "https://other.example.net/section/story-2",
    ]


def test_entry_fields_from_rss():
    """guid, content:encoded, summary, author and dates map onto the Entry."""
    items = (
        "<item><title>  Talks  resume\n in Geneva </title><link>https://news.example.org/a/2</link>"
        "<guid isPermaLink='false'>urn:example:2</guid><description>&lt;p&gt;Short.&lt;/p&gt;"
        "</description><content:encoded><![CDATA[<p>Long text.</p><p>More.</p>]]></content:encoded>"
        "<author>desk@example.org (News Desk)</author><pubDate>Mon, 28 Oct 2024 12:30:00 +0300</pubDate>"
        "</item><item><title>Undated</title><pubDate>yesterday</pubDate></item>"
    )
    document = rss(items).replace(
        '<rss version="2.0">',
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">',
    )
    talks, undated = parse_feed(document.encode()).entries
    assert talks.title == "Talks resume in Geneva"
    assert talks.guid == "urn:example:2"
    assert talks.summary == "<p>Short.</p>"
    assert talks.content == "<p>Long text.</p><p>More.</p>"
    assert talks.author
    assert "News Desk" in talks.author
    assert talks.published == datetime(2024, 10, 28, 9, 30, tzinfo=UTC)
    assert (undated.published, undated.guid, undated.url) == (None, None, "")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Seg, 24 Set 2018 19:42:40 -0300", datetime(2018, 9, 24, 22, 42, 40, tzinfo=UTC)),
        ("Mon, 28 Oct 2024 12:30:00 +0300", datetime(2024, 10, 28, 9, 30, tzinfo=UTC)),
        ("28 октября 2024 10:15", datetime(2024, 10, 28, 10, 15, tzinfo=UTC)),
        ("Пн, 28 жовт 2024 08:00:00 +0200", datetime(2024, 10, 28, 6, 0, tzinfo=UTC)),
        ("Di, 3. Dez. 2024 07:05:00 +0100", datetime(2024, 12, 3, 6, 5, tzinfo=UTC)),
        ("Sat, Dec 16 2023 02:02:33 PM", datetime(2023, 12, 16, 14, 2, 33, tzinfo=UTC)),
        ("Dec 16, 2023 12:05 AM", datetime(2023, 12, 16, 0, 5, tzinfo=UTC)),
        ("24 Set 2018", datetime(2018, 9, 24, tzinfo=UTC)),
        ("31 Feb 2024 10:00", None),
        ("12 Foo 2024", None),
        ("yesterday", None),
        ("", None),
    ],
)
def test_parse_loose_date(raw: str, expected: datetime | None):
    """Dates with non-English month names or AM/PM parse to UTC; nonsense gives None."""
    assert parse_loose_date(raw) == expected


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=st.one_of(
        st.binary(max_size=400),
        st.text(max_size=300).map(lambda text: rss(sample_item(text)).encode("utf-8", "replace")),
        st.text(max_size=300).map(lambda text: text.encode("utf-8", "surrogatepass")),
    ),
    kind=st.sampled_from(list(SourceKind)),
)
def test_parse_feed_raises_nothing_but_source_error(body: bytes, kind: SourceKind):
    """Whatever the bytes, parse_feed returns a ParsedFeed or raises SourceError."""
    try:
        parsed = parse_feed(body, kind=kind)
    except SourceError:
        return
    assert all(entry.published is None or entry.published.tzinfo is UTC for entry in parsed.entries)


def test_character_references_to_surrogates_do_not_lose_the_feed() -> None:
    """A numeric reference to a UTF-16 surrogate becomes U+FFFD; the feed still parses
    (found by tests/bot/test_fuzz.py: feedparser raised UnicodeEncodeError)."""
    body = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        b"<item><title>Bad &#xD800; ref &#55296; here</title><link>https://a.example/1</link>"
        b"</item></channel></rss>"
    )
    parsed = parse_feed(body)
    assert len(parsed.entries) == 1
    assert "\ufffd" in parsed.entries[0].title


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
