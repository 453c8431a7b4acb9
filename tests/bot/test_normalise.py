"""bot.normalise: canonical URLs, clean text and Articles built from Entries."""

from __future__ import annotations

import hashlib
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.feeds import parse_feed
from bot.models import Entry, Source
from bot.normalise import (
    _MARKUP_HINT,
    _SIMPLE_MARKUP,
    MAX_TEXT_CHARS,
    _clean_parsed,
    canonical_url,
    clean_text,
    fold_text,
    normalise_entry,
)

NOW = datetime(2024, 10, 29, 12, 0, tzinfo=UTC)
SOURCE = Source(name="Example Outlet", url="https://news.example.org/rss", language="en")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTPS://WWW.Example.COM/News/Story", "https://www.example.com/News/Story"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("http://example.com:80/a", "https://example.com/a"),
        ("http://example.com/a", "https://example.com/a"),
        ("http://127.0.0.1:8080/feed/item?id=2", "http://127.0.0.1:8080/feed/item?id=2"),
        ("http://localhost/a", "http://localhost/a"),
        ("http://10.1.2.3/a", "http://10.1.2.3/a"),
        ("http://[::1]:8000/a", "http://[::1]:8000/a"),
        ("http://example.com:8080/a", "http://example.com:8080/a"),
        ("https://example.com/a#comments", "https://example.com/a"),
        ("https://example.com/a/", "https://example.com/a"),
        ("https://example.com", "https://example.com/"),
        ("https://example.com/", "https://example.com/"),
        (
            "https://example.com/a?utm_source=rss&utm_medium=feed&utm_campaign=x",
            "https://example.com/a",
        ),
        ("https://example.com/a?UTM_Source=x&id=5", "https://example.com/a?id=5"),
        (
            "https://www.bbc.com/news/world-1?at_medium=RSS&at_campaign=rss",
            "https://www.bbc.com/news/world-1",
        ),
        ("https://example.com/a?fbclid=abc&gclid=def", "https://example.com/a"),
        (
            "https://www.cbc.ca/news/world/story-1.7287711?cmp=rss",
            "https://www.cbc.ca/news/world/story-1.7287711",
        ),
        (
            "https://www.dw.com/de/story/a-65464327?maca=de-rss-de-all-1119-xml-mrss",
            "https://www.dw.com/de/story/a-65464327",
        ),
        (
            "https://www.msn.com/en-us/news/ar-BBWZedJ?srcref=rss",
            "https://www.msn.com/en-us/news/ar-BBWZedJ",
        ),
        ("https://example.com/a?CMP=share_btn_tw&ito=1", "https://example.com/a"),
        (
            "https://example.com/a?ocid=x&mc_cid=1&mc_eid=2&ref=home&xtor=RSS-1&sr_share=tw&dmcid=x",
            "https://example.com/a",
        ),
        (
            "http://www.heise.de/developer/meldung/WildFly-10-3088438.html?wt_mc=rss.developer.beitrag.atom",
            "https://www.heise.de/developer/meldung/WildFly-10-3088438.html",
        ),
        (
            "https://www.heise.de/news/x-1.html?wt_zmc=nl.int.zonaudev.x",
            "https://www.heise.de/news/x-1.html",
        ),
        (
            "http://www.reuters.com/article/us-korea/u-s-general-idUSKBN1FJ23Z?feedType=RSS&feedName=worldNews",
            "https://www.reuters.com/article/us-korea/u-s-general-idUSKBN1FJ23Z",
        ),
        (
            "https://example.com/read?id=5&p=2&article=7&WT_MC=rss&feedName=x",
            "https://example.com/read?article=7&id=5&p=2",
        ),
        ("https://example.com/a?b=2&a=1", "https://example.com/a?a=1&b=2"),
        ("https://example.com/a?id=5&id=3", "https://example.com/a?id=3&id=5"),
        ("https://example.com/a?q=kyiv+news&page=2", "https://example.com/a?page=2&q=kyiv%20news"),
        ("https://example.com/news/story/amp/", "https://example.com/news/story"),
        ("https://example.com/amp/news/story", "https://example.com/news/story"),
        ("https://example.com/news/story.amp", "https://example.com/news/story"),
        ("https://example.com/news/story.amp.html", "https://example.com/news/story.html"),
        ("https://example.com/news/story?amp=1", "https://example.com/news/story"),
        ("https://example.com/news/story?amp", "https://example.com/news/story"),
        ("https://example.com/news/story?outputType=amp", "https://example.com/news/story"),
        ("https://example.com/news/story?amp=0", "https://example.com/news/story?amp=0"),
        ("https://example.com/news/amplifier", "https://example.com/news/amplifier"),
        (
            "https://amp.theguardian.com/world/2024/oct/29/x",
            "https://www.theguardian.com/world/2024/oct/29/x",
        ),
        ("https://m.bbc.co.uk/news/world-1", "https://www.bbc.co.uk/news/world-1"),
        ("https://mobile.reuters.com/article/x", "https://www.reuters.com/article/x"),
        ("https://m.example/x", "https://m.example/x"),
        ("https://user:secret@example.com/a", "https://example.com/a"),
        ("https://example.com./a", "https://example.com/a"),
        (
            "https://example.com/статья-1",
            "https://example.com/%D1%81%D1%82%D0%B0%D1%82%D1%8C%D1%8F-1",
        ),
        ("https://example.com/%d1%81", "https://example.com/%D1%81"),
        ("  https://example.com/a\n", "https://example.com/a"),
        ("https://example.com/a\n/b", "https://example.com/a/b"),
        ("tag:feedly.com,2013:cloud/entry/1", "tag:feedly.com,2013:cloud/entry/1"),
        ("mailto:desk@example.org", "mailto:desk@example.org"),
        ("", ""),
        ("http://[::1", "http://[::1"),
    ],
)
def test_canonical_url(url: str, expected: str):
    """One spelling per article: tracking, AMP, mobile, ports, fragments and order normalised."""
    assert canonical_url(url) == expected


@pytest.mark.parametrize(
    ("url", "base", "expected"),
    [
        (
            "/livewire/story",
            "https://talkingpointsmemo.com/feed/all",
            "https://talkingpointsmemo.com/livewire/story",
        ),
        ("story-2", "https://example.org/section/", "https://example.org/section/story-2"),
        ("../up", "https://example.org/a/b/", "https://example.org/a/up"),
        ("https://other.example/x", "https://example.org/", "https://other.example/x"),
    ],
)
def test_canonical_url_resolves_against_base(url: str, base: str, expected: str):
    """Relative links are made absolute against the feed's URL before normalising."""
    assert canonical_url(url, base) == expected


def test_canonical_url_variants_of_one_story_agree():
    """The links different feeds give for one article all map to the same key."""
    variants = [
        "https://www.example-news.com/world/2024/10/29/north-korean-troops/",
        "http://www.example-news.com/world/2024/10/29/north-korean-troops?utm_source=twitter",
        "https://m.example-news.com/world/2024/10/29/north-korean-troops/amp/",
        "https://amp.example-news.com/world/2024/10/29/north-korean-troops#top",
        "HTTPS://WWW.EXAMPLE-NEWS.COM:443/world/2024/10/29/north-korean-troops?amp=1&fbclid=x",
    ]
    assert len({canonical_url(url) for url in variants}) == 1


@settings(max_examples=300, deadline=None)
@example("HTTP://.//0")  # a host of dots only: once "https://0", then "https://0/"
@given(
    st.text(max_size=120)
    | st.from_regex(r"https?://[a-zA-Z0-9.:@\[\]-]{1,30}/[ -~]{0,60}", fullmatch=True)
)
def test_canonical_url_never_raises_and_is_idempotent(url: str):
    """Any string gives a result, and canonicalising a canonical URL changes nothing."""
    once = canonical_url(url)
    assert canonical_url(once) == once


@pytest.mark.parametrize(
    ("markup", "expected"),
    [
        ("<p>One</p><p>Two</p>", "One\nTwo"),
        ("Line one<br>Line two", "Line one\nLine two"),
        ("<div>A <b>bold</b> move</div>", "A bold move"),
        ("<script>alert(1)</script><p>Text</p><style>p {color: red}</style>", "Text"),
        ("before<script>var x = 1;</script> after", "before after"),
        ("<ul><li>one</li><li>two</li></ul>", "one\ntwo"),
        ("<table><tr><td>a</td><td>b</td></tr></table>", "a b"),
        ("<h2>Heading</h2>Body text", "Heading\nBody text"),
        ("<p>Pretty\n    printed\n    text</p>", "Pretty printed text"),
        ("<!-- comment --><p>Visible</p>", "Visible"),
        ('<?xml version="1.0" encoding="utf-8"?><p>x</p>', "x"),
        ("<img src='x.jpg' alt='ignored'>Caption", "Caption"),
        ("Unterminated <b>bold", "Unterminated bold"),
        ("<p></p>", ""),
        ("", ""),
        ("Tom &amp; Jerry", "Tom & Jerry"),
        ("Hello&hellip; &laquo;quoted&raquo;", "Hello… «quoted»"),
        ("Whitespace&nbsp;here", "Whitespace here"),
        ("l&amp;#39;uomo", "l'uomo"),
        ("Tom &amp;amp; Jerry", "Tom & Jerry"),
        ("&lt;b&gt;shown, not parsed&lt;/b&gt;", "<b>shown, not parsed</b>"),
        ("3 < 5 and 7 > 2", "3 < 5 and 7 > 2"),
        ("AT&T and R&D", "AT&T and R&D"),
        ("plain text, no markup", "plain text, no markup"),
        ("  lots   of\n\n\n spaces  ", "lots of\nspaces"),
        ("text\x00with\x07controls\u200b and\u00a0nbsp", "textwithcontrols and nbsp"),
        ("Mo\u00adscow", "Moscow"),
        ("one\r\ntwo\u2028three", "one\ntwo\nthree"),
        ("<p>Київ &mdash; Харків</p>", "Київ — Харків"),
    ],
)
def test_clean_text(markup: str, expected: str):
    """Tags, scripts and entities go; paragraphs become lines; entities are decoded once, and a
    leftover double-escaped reference once more, but escaped markup is never parsed as tags."""
    assert clean_text(markup) == expected


def test_clean_text_of_ilgiornale_description(corpus: Path):
    """The corpus feed with an `&amp;#39;` inside escaped HTML reads with plain apostrophes."""
    body = (corpus / "feeds/news/ilgiornale_cronache_2022-11-15_escaped-html.rss.xml").read_bytes()
    text = clean_text(parse_feed(body).entries[0].summary)
    assert "'" in text
    assert "&" not in text
    assert "<" not in text


def test_double_encoded_utf8_feed_reads_as_an_ellipsis(corpus: Path):
    """feedparser's double-encoded case (UTF-8 read as Latin-1, escaped) cleans to U+2026."""
    body = (corpus / "feeds/awkward/feedparser_double-encoded-html.xml").read_bytes()
    assert clean_text(parse_feed(body).entries[0].summary) == "\u2026"


@pytest.mark.parametrize(
    "markup",
    [
        "<" * 2_000_000,
        "<p " * 700_000,
        "&" * 2_000_000,
        "<!--" * 500_000,
        "<div>" * 400_000 + "deep",
        "<b>x " * 400_000,
        "&amp;#39;" * 200_000,
        ("<p>" + "word " * 50 + "</p>") * 8000,
        "a\n" * 1_000_000,
    ],
    ids=[
        "lt",
        "open-tags",
        "amp",
        "comments",
        "deep-divs",
        "deep-bold",
        "double-escaped",
        "page",
        "lines",
    ],
)
def test_clean_text_is_fast_on_2mb_of_hostile_markup(markup: str):
    """Two megabytes of pathological markup take well under two seconds (linear parsing)."""
    started = time.perf_counter()
    clean_text(markup)
    assert time.perf_counter() - started < 2.0


def test_clean_text_keeps_text_nested_deeper_than_libxml2_allows():
    """Text past libxml2's nesting limit is not silently dropped."""
    assert clean_text("<font>x " * 3000 + "END").endswith("END")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_clean_text_never_raises_and_leaves_no_control_characters(text: str):
    """Any input gives text without control characters or blank lines."""
    cleaned = clean_text(text)
    assert not any(ord(ch) < 32 and ch != "\n" for ch in cleaned)
    assert "\n\n" not in cleaned
    assert cleaned == cleaned.strip()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (" a \t b \n\n  c  ", "a b\nc"),
        ("AT&amp;T", "AT&T"),
        ("l&#39;uomo &#x2014; d&apos;onore", "l'uomo — d'onore"),
        ("?a=1&para=2 &copy 2024", "?a=1&para=2 &copy 2024"),
        ("<b>literal</b>", "<b>literal</b>"),
    ],
)
def test_fold_text(text: str, expected: str):
    """Plain text keeps its lines and markup-looking characters; only whitespace is folded
    and well-formed leftover references (with a semicolon) are decoded."""
    assert fold_text(text) == expected


def make_entry(**fields: object) -> Entry:
    values: dict[str, object] = {
        "title": "North Korean troops seen near Kursk",
        "url": "https://news.example.org/world/kursk?utm_source=rss",
        "guid": "urn:example:1",
        "summary": "<p>Officials said the troops arrived on Monday.</p>",
        "published": NOW - timedelta(hours=1),
    }
    values.update(fields)
    return Entry(**values)  # type: ignore[arg-type]


def test_normalise_entry_builds_a_clean_article():
    """Title, canonical URL, text, language, guid, date and a sha256 content hash."""
    article = normalise_entry(make_entry(), SOURCE, now=NOW)
    assert article is not None
    assert article.source == "Example Outlet"
    assert article.url == "https://news.example.org/world/kursk"
    assert article.title == "North Korean troops seen near Kursk"
    assert article.text == "Officials said the troops arrived on Monday."
    assert article.language == "en"
    assert article.guid == "urn:example:1"
    assert article.published_at == NOW - timedelta(hours=1)
    expected = f"{article.title.casefold()}\n{article.text.casefold()}"
    assert article.content_hash == hashlib.sha256(expected.encode()).hexdigest()


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {"content": "<p>Full text of the report, much longer than the teaser.</p>"},
            "Full text of the report, much longer than the teaser.",
        ),
        ({"content": "<p>Short.</p>"}, "Officials said the troops arrived on Monday."),
        ({"summary": "", "content": ""}, ""),
    ],
)
def test_content_is_preferred_when_longer(fields: dict[str, object], expected: str):
    """The longer of content and summary becomes the text."""
    article = normalise_entry(make_entry(**fields), SOURCE, now=NOW)
    assert article is not None
    assert article.text == expected


@pytest.mark.parametrize(
    ("published", "expected"),
    [
        (None, NOW),
        (NOW + timedelta(days=2), NOW),
        (NOW - timedelta(days=3), NOW - timedelta(days=3)),
        (datetime(2024, 10, 29, 11, 0), datetime(2024, 10, 29, 11, 0, tzinfo=UTC)),
    ],
)
def test_published_is_clamped_to_now(published: datetime | None, expected: datetime):
    """A missing or future date becomes `now`; a naive one is read as UTC."""
    article = normalise_entry(make_entry(published=published), SOURCE, now=NOW)
    assert article is not None
    assert article.published_at == expected


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, "urn:example:1"),
        ({"guid": None}, "https://news.example.org/world/kursk"),
        ({"guid": "  "}, "https://news.example.org/world/kursk"),
        (
            {"guid": None, "url": ""},
            "sha256:" + hashlib.sha256(b"north korean troops seen near kursk").hexdigest(),
        ),
    ],
)
def test_guid_falls_back_to_url_then_title_hash(fields: dict[str, object], expected: str):
    """Every article gets a stable guid: the feed's, else the canonical URL, else a title hash."""
    article = normalise_entry(make_entry(**fields), SOURCE, now=NOW)
    assert article is not None
    assert article.guid == expected


def test_entry_without_title_or_url_is_dropped():
    """Nothing to show and nothing to link: no Article."""
    assert normalise_entry(make_entry(title="  ", url=""), SOURCE, now=NOW) is None


def test_entry_without_title_takes_its_first_line():
    """A title-less entry (some Atom feeds) is titled by the start of its text."""
    article = normalise_entry(make_entry(title=""), SOURCE, now=NOW)
    assert article is not None
    assert article.title == "Officials said the troops arrived on Monday."


def test_relative_url_resolves_against_the_source():
    """An Entry URL still relative is resolved against the source's feed URL."""
    article = normalise_entry(make_entry(url="/world/kursk"), SOURCE, now=NOW)
    assert article is not None
    assert article.url == "https://news.example.org/world/kursk"


def test_junk_is_stripped_from_the_text():
    """Subscribe prompts, comment forms and "The post … appeared first on …" do not survive."""
    summary = (
        "<p>Officials said the troops arrived on Monday.</p><p>› Subscribe</p>"
        "<p>The post Troops arrive appeared first on Example Outlet.</p><p>LEAVE A REPLY</p>"
        "<p>Please enter your comment!</p>"
    )
    article = normalise_entry(make_entry(summary=summary), SOURCE, now=NOW)
    assert article is not None
    assert article.text == "Officials said the troops arrived on Monday."


def test_text_is_capped_at_a_word_boundary():
    """Text longer than MAX_TEXT_CHARS is cut, between words."""
    article = normalise_entry(
        make_entry(summary="<p>" + "word " * 10_000 + "</p>"), SOURCE, now=NOW
    )
    assert article is not None
    assert MAX_TEXT_CHARS - 10 <= len(article.text) <= MAX_TEXT_CHARS
    assert article.text.endswith("word")


def test_two_megabyte_description_is_fast():
    """A 2 MB description neither hangs nor crashes normalisation."""
    huge = "<div>" + "<p>Shelling continued overnight in the region.</p>" * 45_000 + "</div>"
    started = time.perf_counter()
    article = normalise_entry(make_entry(summary=huge), SOURCE, now=NOW)
    assert time.perf_counter() - started < 3.0
    assert article is not None
    assert len(article.text) <= MAX_TEXT_CHARS


@pytest.mark.parametrize(
    ("fields", "source_language", "expected"),
    [
        (
            {"title": "Обстріл Харкова триває", "summary": "Рятувальники працюють на місці."},
            "en",
            "uk",
        ),
        ({"title": "Ракетный удар", "summary": ""}, "ru", "ru"),
        ({"title": "Kyiv", "summary": ""}, "uk", "uk"),
        ({"title": "Kyiv", "summary": "", "language": "en"}, "uk", "en"),
    ],
)
def test_language_comes_from_text_then_entry_then_source(
    fields: dict[str, object], source_language: str, expected: str
):
    """Clear text decides the language; short text falls back to the entry's, then the source's."""
    source = Source(name="S", url="https://news.example.org/rss", language=source_language)
    article = normalise_entry(make_entry(**fields), source, now=NOW)
    assert article is not None
    assert article.language == expected


def test_same_report_from_two_feeds_has_one_content_hash():
    """Whitespace, case and markup differences do not change the content hash."""
    one = normalise_entry(
        make_entry(summary="<p>Officials said the troops  arrived on Monday.</p>"), SOURCE, now=NOW
    )
    two = normalise_entry(
        make_entry(
            title="NORTH KOREAN TROOPS SEEN NEAR KURSK",
            summary="Officials said the troops arrived on Monday.",
        ),
        SOURCE,
        now=NOW,
    )
    assert one is not None
    assert two is not None
    assert one.content_hash == two.content_hash


@pytest.mark.parametrize(
    "name",
    [
        "news/guardian_international_2025-04-01.rss.xml",
        "news/unian_ua_2020-09-28.rss.xml",
        "awkward/oren_ru_2014-01-23_windows-1251.rss.xml",
    ],
)
def test_corpus_entries_normalise(corpus: Path, name: str):
    """Every entry of real feeds becomes an Article with https URL, clean title and no markup."""
    parsed = parse_feed((corpus / "feeds" / name).read_bytes())
    articles = [normalise_entry(entry, SOURCE, now=NOW) for entry in parsed.entries]
    assert all(article is not None for article in articles)
    for article in articles:
        assert article is not None
        assert article.url.startswith("https://")
        assert not re.search(r"<[a-zA-Z/][^>]*>|&(?:#\d+|[a-z]+);", article.title + article.text)
        assert article.published_at <= NOW


_SIMPLE_PIECES = st.sampled_from(["<p>", "</p>", "<br>", "<br/>", "<br />"])
_SIMPLE_TEXT = st.text(
    st.characters(codec="utf-8", exclude_characters="<>&")
    | st.sampled_from(list(" \t\n\r\x0b\x0c\x00\x85\xa0\u2028\u3000\ufeff\ud800")),
    max_size=30,
)


@settings(max_examples=300, deadline=None)
@given(parts=st.lists(_SIMPLE_PIECES | _SIMPLE_TEXT, max_size=12))
def test_simple_markup_shortcut_equals_the_parse(parts: list[str]):
    """Whenever markup takes the `<p>`/`<br>` shortcut, libxml2's parse gives the same text.
    Text with control characters, odd whitespace and lone surrogates between the tags; a
    stray `</p>` sends the markup to the parse, which ignores it."""
    markup = "".join(parts)
    if _SIMPLE_MARKUP.fullmatch(markup) and _MARKUP_HINT.search(markup):
        assert clean_text(markup) == _clean_parsed(markup)


@pytest.mark.parametrize(
    ("markup", "expected"),
    [
        ("<p>One  two\nthree</p>", "One two three"),
        ("<p>First.</p><p>Second.</p>", "First.\nSecond."),
        ("Lead<br>next<br/>last<br />", "Lead\nnext\nlast"),
        ("<p>a<br>b</p>tail", "a\nb\ntail"),
        ("<p> </p><p>\x00x\u200b</p>", "x"),
        ("a;</p>b", "a;b"),
        ("<p>AT&amp;T</p>", "AT&T"),
    ],
)
def test_simple_markup_examples(markup: str, expected: str):
    """Descriptions of paragraphs and line breaks, taken by the shortcut or (a stray `</p>`,
    an entity) by the parse, come out as a browser would show them."""
    assert clean_text(markup) == expected
    assert _clean_parsed(markup) == expected


@pytest.mark.parametrize(
    ("markup", "expected"),
    [
        (
            "<p>Said <a href='x'>Mark Haefele</a> , an analyst .</p>",
            "Said Mark Haefele, an analyst.",
        ),
        ("<p>Talks in <b>Istanbul</b> . More soon</p>", "Talks in Istanbul. More soon"),
        ("Plain text , as some feeds send it .", "Plain text, as some feeds send it."),
        ("<p>Wait ... more</p>", "Wait ... more"),
    ],
)
def test_no_space_is_left_before_a_stop_after_a_link(markup: str, expected: str) -> None:
    """Pretty-printed markup ("</a> .") left "Haefele , an" and "collapsed ." in summaries
    (audit-cli); an ellipsis keeps its space."""
    assert clean_text(markup) == expected
