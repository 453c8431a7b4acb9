"""bot.feeds: response bodies become Entries, on the corpus feeds and on samples of our own.

The JSON API kinds are tested in test_feeds_api.py, loose dates in test_feed_dates.py."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.errors import SourceError
from bot.feeds import parse_feed
from bot.models import SourceKind

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


FEEDBURNER_FEEDS = [
    ("news/reuters_worldnews_2018-01-30_feedburner.rss.xml", "http://www.reuters.com/article/"),
    (
        "awkward/jornal_de_noticias_pt_2018-01-03_iso-8859-1_feedburner.rss.xml",
        "https://www.jn.pt/",
    ),
]


@pytest.mark.parametrize(("name", "prefix"), FEEDBURNER_FEEDS)
def test_feedburner_items_link_to_the_article_not_the_redirect(
    corpus: Path, name: str, prefix: str
):
    """FeedBurner's `<link>` is a feeds.*/~r/ redirect (feeds.reuters.com no longer even
    resolves); `<feedburner:origLink>` holds the article's own address, and that is the URL."""
    parsed = parse_feed(read_feed(corpus, name))
    assert parsed.entries
    for entry in parsed.entries:
        assert entry.url.startswith(prefix), entry.url
        assert "/~r/" not in entry.url


FEEDBURNER_NS = 'xmlns:feedburner="http://rssnamespace.org/feedburner/ext/1.0"'


@pytest.mark.parametrize(
    ("orig_link", "expected"),
    [
        ("https://news.example.org/world/story-1", "https://news.example.org/world/story-1"),
        ("  http://news.example.org/world/story-1 ", "http://news.example.org/world/story-1"),
        ("", "http://feeds.feedburner.com/~r/Example/~3/abc/story-1"),
        ("javascript:alert(1)", "http://feeds.feedburner.com/~r/Example/~3/abc/story-1"),
        ("/world/story-1", "http://feeds.feedburner.com/~r/Example/~3/abc/story-1"),
    ],
)
def test_feedburner_orig_link_is_preferred_when_it_is_http(orig_link: str, expected: str):
    """An http(s) origLink replaces the redirect link; an empty, relative or other-scheme
    one is ignored and the item keeps its `<link>`."""
    items = (
        "<item><title>Story</title>"
        "<link>http://feeds.feedburner.com/~r/Example/~3/abc/story-1</link>"
        f"<feedburner:origLink>{orig_link}</feedburner:origLink></item>"
    )
    document = rss(items).replace('<rss version="2.0">', f'<rss version="2.0" {FEEDBURNER_NS}>')
    (entry,) = parse_feed(document.encode()).entries
    assert entry.url == expected


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


def test_markup_that_trips_feedparser_itself_is_a_source_error() -> None:
    """A closing tag without its opening one can make feedparser fail inside (int(None) for
    an image's height); the source is reported as broken rather than crashing the pass."""
    body = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title><image>'
        b"<url>https://wire.example/logo.png</url></height></image><item><title>A</title>"
        b"<link>https://wire.example/a</link></item></channel></rss>"
    )
    with pytest.raises(SourceError, match="too broken to read"):
        parse_feed(body, kind=SourceKind.FEED, base_url="https://wire.example/", content_type=None)
