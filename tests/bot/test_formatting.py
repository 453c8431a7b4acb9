"""Message formatting: escaping, the alert layout, lists split under Telegram's limit, times."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot import formatting
from bot.formatting import (
    MAX_MESSAGE,
    cut,
    escape,
    hashtag,
    is_web_url,
    render_alert,
    render_catch_up,
    render_digest,
    render_help,
    render_outlets,
    render_story_list,
    render_topic_counts,
    split_messages,
    truncate_html,
    utf16_len,
    visible_len,
)
from bot.models import Story, StoryItem, Topic
from bot.telegram_html import html_to_plain
from bot.telegram_rules import check_message

NOW = datetime(2024, 10, 29, 11, 5, tzinfo=UTC)
TOPICS = {
    "north-korea": Topic("north-korea", "North Korea", keywords=("North Korean", "DPRK")),
    "kursk": Topic("kursk", "Kursk", keywords=("Kursk",)),
}


def make_story(**changes: object) -> Story:
    """A story like the seed's, with any field replaced."""
    story = Story(
        id=7,
        headline="North Korean soldiers already in Ukraine, report says",
        summary="A few North Korean soldiers are fighting for Russia in Ukraine, CNN reported.",
        url="https://news.example.org/nk?src=rss&id=1",
        source="Example News",
        topics=frozenset({"kursk", "north-korea"}),
        first_seen_at=NOW,
        last_seen_at=NOW,
        outlets=5,
    )
    return replace(story, **changes)  # type: ignore[arg-type]


def accepted(text: str) -> bool:
    """Whether Telegram would take this as an HTML message (no reason given back)."""
    return check_message(text, "HTML", None) is None


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("plain", "plain"),
        ("a & b", "a &amp; b"),
        ("<b>bold</b>", "&lt;b&gt;bold&lt;/b&gt;"),
        ('say "hi"', "say &quot;hi&quot;"),
        ("it's", "it's"),
        ("&amp;", "&amp;amp;"),
        ("😀 𝕏", "😀 𝕏"),
        ("lone \ud800 surrogate", "lone \ufffd surrogate"),
    ],
)
def test_escape(raw: str, escaped: str) -> None:
    """Escaping covers &, <, > and " once, leaves the rest alone, and repairs lone surrogates."""
    assert escape(raw) == escaped


@pytest.mark.parametrize(
    ("key", "tag"),
    [
        ("north-korea", "#north_korea"),
        ("kursk", "#kursk"),
        ("zaporizhzhia-npp", "#zaporizhzhia_npp"),
        ("a b.c", "#a_b_c"),
        ("-edge-", "#edge"),
        ("---", ""),
        ("україна", "#україна"),
    ],
)
def test_hashtag(key: str, tag: str) -> None:
    """Topic keys become hashtags with `-` (and other non-word runs) as `_`."""
    assert hashtag(key) == tag


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://example.org/a?b=1", True),
        ("http://127.0.0.1:8080/feed", True),
        ("HTTPS://EXAMPLE.ORG", True),
        ("javascript:alert(1)", False),
        ("ftp://example.org/file", False),
        ("http://", False),
        ("https://exa mple.org", False),
        ("https://[::1", False),
        ("example.org/no-scheme", False),
        ("", False),
    ],
)
def test_is_web_url(url: str, ok: bool) -> None:
    """Only http(s) URLs with a host are linked or put on buttons."""
    assert is_web_url(url) is ok


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short text", 50, "short text"),
        ("  folded \n  spaces ", 50, "folded spaces"),
        ("one two three four five", 12, "one two…"),
        ("abcdefghijklmnop", 8, "abcdefg…"),
        ("😀😀😀😀😀", 6, "😀😀…"),
        ("x", 0, ""),
    ],
)
def test_cut(text: str, limit: int, expected: str) -> None:
    """Cutting folds whitespace and stops at a word boundary within `limit` UTF-16 units."""
    result = cut(text, limit)
    assert result == expected
    assert utf16_len(result) <= limit


def test_alert_layout() -> None:
    """An alert is the bold headline, the summary, linked source · +N outlets · time, hashtags."""
    text = render_alert(make_story(), tz="Europe/Kyiv", topics=TOPICS)
    assert text == (
        "<b>North Korean soldiers already in Ukraine, report says</b>\n"
        "A few North Korean soldiers are fighting for Russia in Ukraine, CNN reported.\n"
        '<a href="https://news.example.org/nk?src=rss&amp;id=1">Example News</a>'
        " · +4 outlets · 13:05\n"
        "#north_korea #kursk"
    )
    assert accepted(text)


@pytest.mark.parametrize(
    ("outlets", "shown"),
    [(1, None), (2, "+1 outlet ·"), (5, "+4 outlets ·")],
)
def test_outlet_count(outlets: int, shown: str | None) -> None:
    """ "+N outlets" counts the other outlets and appears only when there are any."""
    text = render_alert(make_story(outlets=outlets), tz="UTC", topics=TOPICS)
    if shown is None:
        assert "outlet" not in text
    else:
        assert shown in text


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "ftp://x.org/a", "", "not a url", "https://x.org/a b"]
)
def test_unsafe_url_is_not_linked(url: str) -> None:
    """A URL that is not a clean http(s) address is never put in an href."""
    text = render_alert(make_story(url=url), tz="UTC", topics=TOPICS)
    assert "<a " not in text
    assert accepted(text)


def test_quotes_in_a_url_cannot_break_out_of_the_href() -> None:
    """A URL carrying quotes and brackets stays inside its attribute, escaped."""
    text = render_alert(make_story(url='https://x.org/"><b>'), tz="UTC", topics=TOPICS)
    assert '<a href="https://x.org/&quot;&gt;&lt;b&gt;">' in text
    assert accepted(text)


def test_outside_text_is_escaped_once() -> None:
    """Headline, summary, source and URL with markup come out as text, escaped exactly once."""
    story = make_story(
        headline="<b>Tanks</b> & drones",
        summary="Use &amp; as-is, not </b>.",
        source='Outlet "A" <x>',
        url='https://x.org/?a=1&b="2"',
    )
    text = render_alert(story, tz="UTC", topics=TOPICS)
    assert accepted(text)
    plain = html_to_plain(text)
    assert "<b>Tanks</b> & drones" in plain
    assert "Use &amp; as-is, not </b>." in plain
    assert 'Outlet "A" <x>' in plain
    assert 'href="https://x.org/?a=1&amp;b=&quot;2&quot;"' in text


def test_summary_that_repeats_the_headline_is_left_out() -> None:
    """When the summary is the headline again, it is not shown twice."""
    story = make_story(summary="North Korean soldiers already in Ukraine, report says.")
    text = render_alert(story, tz="UTC", topics=TOPICS)
    assert text.count("already in Ukraine") == 1


def test_long_fields_are_capped() -> None:
    """Huge headline and summary are cut at word boundaries; the alert stays within limits."""
    story = make_story(headline="Strike & " * 2000, summary="Shelling <hit> " * 3000)
    text = render_alert(story, tz="UTC", topics=TOPICS)
    assert accepted(text)
    lines = html_to_plain(text).split("\n")
    assert len(lines[0]) <= formatting.MAX_HEADLINE
    assert lines[0].endswith("…")
    assert len(lines[1]) <= formatting.MAX_SUMMARY
    assert lines[1].endswith("…")


def test_empty_headline_gets_a_placeholder() -> None:
    """A blank headline still gives a readable bold first line."""
    text = render_alert(make_story(headline="  ", summary=""), tz="UTC", topics=TOPICS)
    assert text.startswith(f"<b>{formatting.UNTITLED}</b>")


@pytest.mark.parametrize(
    ("tz", "now", "shown"),
    [
        ("Europe/Kyiv", None, "13:05"),
        ("America/New_York", None, "07:05"),
        ("Asia/Kolkata", None, "16:35"),
        ("UTC+05:30", None, "16:35"),
        ("UTC-09:30", None, "01:35"),
        ("CET", None, "12:05"),
        ("Europe/Kyiv", NOW + timedelta(hours=2), "13:05"),
        ("Europe/Kyiv", NOW + timedelta(days=1), "29 Oct 13:05"),
        ("Europe/Kyiv", NOW + timedelta(days=400), "29 Oct 2024 13:05"),
        ("America/New_York", NOW + timedelta(hours=14), "07:05"),
        ("America/New_York", NOW + timedelta(hours=18), "29 Oct 07:05"),
        ("Not/AZone", None, "11:05"),
        ("", None, "11:05"),
    ],
)
def test_time_in_the_chats_zone(tz: str, now: datetime | None, shown: str) -> None:
    """Times are in the chat's zone; the date appears when it is not `now`'s day there."""
    text = render_alert(make_story(), tz=tz, topics=TOPICS, now=now)
    assert f"· {shown}\n" in text


def test_hashtags_follow_the_topics_file_order() -> None:
    """Configured topics come first in file order, unknown keys after them, sorted."""
    story = make_story(topics=frozenset({"zz-unknown", "kursk", "north-korea"}))
    text = render_alert(story, tz="UTC", topics=TOPICS)
    assert text.endswith("#north_korea #kursk #zz_unknown")


def test_no_topics_means_no_hashtag_line() -> None:
    """A story without topics ends with its source line."""
    text = render_alert(make_story(topics=frozenset()), tz="UTC", topics=TOPICS)
    assert text.endswith("· 11:05")


@pytest.mark.parametrize(
    ("blocks", "limit", "expected"),
    [
        ([], 100, []),
        (["a", "b"], 100, ["a\n\nb"]),
        (["aaaa", "bbbb", "cccc"], 10, ["aaaa\n\nbbbb", "cccc"]),
        (["aaaa", "  ", "bbbb"], 10, ["aaaa\n\nbbbb"]),
        (["<b>aaaa</b>", "<i>bbbb</i>"], 10, ["<b>aaaa</b>\n\n<i>bbbb</i>"]),
        (["&amp;&amp;&amp;", "&lt;&lt;"], 7, ["&amp;&amp;&amp;\n\n&lt;&lt;"]),
        (["aaaa", "bbbb"], 9, ["aaaa", "bbbb"]),
    ],
)
def test_split_messages(blocks: list[str], limit: int, expected: list[str]) -> None:
    """Blocks are packed in order into as few messages as fit, counted as visible text."""
    assert split_messages(blocks, limit=limit) == expected


def test_split_messages_cuts_a_single_oversized_block_safely() -> None:
    """One block over the limit is cut, its tags closed, never inside an escape."""
    block = "<b>" + "&amp; word " * 1000 + "</b>"
    (message,) = split_messages([block], limit=100)
    assert visible_len(message) <= 100
    assert message.endswith("…</b>")
    assert accepted(message)


@pytest.mark.parametrize(
    ("markup", "limit"),
    [
        ('<b><a href="https://x.org/?a=1&amp;b=2">' + "tank &amp; gun " * 50 + "</a></b> tail", 40),
        ("😀" * 100, 11),
        ("<b>" + "x" * 50 + "</b>" + "y" * 50, 60),
        ("&lt;" * 100, 10),
        ("<code>" + "a b " * 40 + "</code>", 17),
    ],
)
def test_truncate_html(markup: str, limit: int) -> None:
    """Truncated HTML fits, parses (tags balanced, escapes whole) and ends with "…"."""
    result = truncate_html(markup, limit)
    assert visible_len(result) <= limit
    assert accepted(result)
    assert "…" in result


def test_story_list_layout() -> None:
    """A list is numbered; each story has a linked bold headline, one line, source · +N · time."""
    first = make_story(summary="First sentence here. Second sentence is dropped.")
    second = make_story(id=8, headline="Kursk strike", url="javascript:x", outlets=1)
    (message,) = render_story_list([first, second], tz="UTC", topics=TOPICS, heading="Latest")
    assert message == (
        "<b>Latest</b>\n"
        '1. <b><a href="https://news.example.org/nk?src=rss&amp;id=1">'
        "North Korean soldiers already in Ukraine, report says</a></b>\n"
        "First sentence here.\n"
        "Example News · +4 · 11:05\n\n"
        "2. <b>Kursk strike</b>\n"
        "A few North Korean soldiers are fighting for Russia in Ukraine, CNN reported.\n"
        "Example News · 11:05"
    )


def test_empty_story_list_says_so() -> None:
    """No stories give one message saying there is nothing yet."""
    messages = render_story_list([], tz="UTC", topics=TOPICS, heading="Latest on Kursk")
    assert messages == ["<b>Latest on Kursk</b>\nNothing here yet."]


def test_long_list_is_split_without_losing_or_repeating_a_story() -> None:
    """Many long stories are spread over several messages, each accepted, numbered in order."""
    stories = [
        make_story(id=n, headline=f"Story {n} " + "&" * 190, summary="Long <summary> " * 40)
        for n in range(1, 61)
    ]
    messages = render_story_list(stories, tz="UTC", topics=TOPICS, heading="All")
    assert len(messages) > 1
    assert all(accepted(m) and visible_len(m) <= MAX_MESSAGE for m in messages)
    numbers = [int(n) for m in messages for n in re.findall(r"^(\d+)\. <b>", m, re.MULTILINE)]
    assert numbers == list(range(1, 61))
    assert messages[0].startswith("<b>All</b>\n1. ")


def test_digest_and_catch_up_headings() -> None:
    """Digests name their period and count; a catch-up says since when, in the chat's zone."""
    stories = [make_story(), make_story(id=8)]
    digest = render_digest(stories, tz="UTC", topics=TOPICS, period="Daily")
    assert digest[0].startswith("<b>Daily digest: 2 stories</b>\n1. ")
    since = NOW - timedelta(hours=8)
    catch_up = render_catch_up(stories[:1], tz="Europe/Kyiv", topics=TOPICS, since=since)
    assert catch_up[0].startswith("<b>While you were away (since 05:05): 1 story</b>\n1. ")
    empty = render_digest([], tz="UTC", topics=TOPICS, period="Hourly")
    assert empty == ["<b>Hourly digest: 0 stories</b>\nNothing here yet."]


def test_a_catch_up_drops_summaries_to_stay_one_message() -> None:
    """A catch-up or digest is one message (PRODUCT.md): 30 stories whose summaries would
    take two messages come as headlines only in one; the story list keeps its summaries."""
    stories = [
        make_story(
            id=n,
            headline=f"Drone strike number {n} hits a depot near the front line",
            summary="Officials said the strike caused a fire that burned for hours. " * 2,
        )
        for n in range(1, 31)
    ]
    since = NOW - timedelta(hours=8)
    (catch_up,) = render_catch_up(stories, tz="UTC", topics=TOPICS, since=since, now=NOW)
    (digest,) = render_digest(stories, tz="UTC", topics=TOPICS, period="Hourly", now=NOW)
    for message in (catch_up, digest):
        assert accepted(message) and "Officials said" not in message
        numbers = re.findall(r"^(\d+)\. <b>", message, re.MULTILINE)
        assert numbers == [str(n) for n in range(1, 31)]
    listed = render_story_list(stories, tz="UTC", topics=TOPICS, heading="Latest", now=NOW)
    assert len(listed) == 2 and "Officials said" in listed[0]


def test_outlets_lists_every_item() -> None:
    """Each outlet's report: linked outlet name, its title, its time; bad URLs not linked."""
    items = (
        StoryItem("Example News", "https://news.example.org/1", "Soldiers <seen>", NOW),
        StoryItem("Other & Co", "javascript:x", "Troops spotted", NOW - timedelta(days=1)),
    )
    text = render_outlets(make_story(items=items, outlets=2), tz="UTC", now=NOW)
    assert text == (
        "<b>North Korean soldiers already in Ukraine, report says</b>\n"
        "Reported by 2 outlets:\n"
        '• <a href="https://news.example.org/1">Example News</a>: Soldiers &lt;seen&gt; · 11:05\n'
        "• Other &amp; Co: Troops spotted · 28 Oct 11:05"
    )


def test_outlets_with_hundreds_of_items_fits() -> None:
    """A story with very many reports is cut with "…and N more" inside one message."""
    items = tuple(
        StoryItem(f"Outlet {n}", f"https://o{n}.example.org/a", "Title " * 20, NOW)
        for n in range(400)
    )
    text = render_outlets(make_story(items=items, outlets=400), tz="UTC")
    assert accepted(text)
    assert re.search(r"…and \d+ more$", text)


def test_topic_counts() -> None:
    """Topics are listed busiest first with their hashtag, label and 24 h count."""
    rows = [(TOPICS["kursk"], 3), (TOPICS["north-korea"], 12)]
    assert render_topic_counts(rows) == (
        "<b>Topics, stories in the last 24 h</b>\n#north_korea North Korea: 12\n#kursk Kursk: 3"
    )
    assert "No topics" in render_topic_counts([])


def test_help_lists_commands_with_examples() -> None:
    """Help shows each command with its description and an escaped example."""
    text = render_help([("/latest", "the newest stories", "/latest 3"), ("topic", "a <topic>", "")])
    assert text == (
        "<b>Commands</b>\n"
        "/latest — the newest stories\n"
        "   e.g. <code>/latest 3</code>\n"
        "/topic — a &lt;topic&gt;"
    )
    assert accepted(text)
