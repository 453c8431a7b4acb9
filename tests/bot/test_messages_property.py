"""Whatever outlets send us, every message and keyboard we build is one Telegram accepts.

Hypothesis feeds any unicode (astral characters, right-to-left marks, zero-width characters),
stray markup (`<`, `&`, `&amp;`, `</b>`) and any length into every outside field, and each
rendered message is checked with `telegram_rules.check_message`, the offline stand-in for
Telegram's own parser and limits.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import event, given, settings
from hypothesis import strategies as st

from bot.buttons import alert_keyboard, to_reply_markup
from bot.formatting import render_alert, render_catch_up, render_digest, render_story_list
from bot.models import Story, StoryItem, Topic
from bot.telegram_html import html_to_plain
from bot.telegram_rules import check_message

NOW = datetime(2024, 10, 29, 11, 5, tzinfo=UTC)
ZONES = ["UTC", "Europe/Kyiv", "America/New_York", "Asia/Kathmandu", "Pacific/Chatham", "Bad/Zone"]
SPECIALS = [
    "<",
    ">",
    "&",
    "&amp;",
    "&lt;",
    "</b>",
    "<b>",
    '"',
    "'",
    "<a href='x'>",
    "&#0;",
    "&#xD800;",
    "\u200f",
    "\u200e",
    "\u202e",
    "\u200b",
    "\ufeff",
    "😀",
    "🇺🇦",
    "𝕏",
    "ܐ",
    "ש",
    "ي",
    " ",
    "\n",
    "…",
    "\u0301",
    "\t",
    "\x00",
    "\x1b",
]

piece = st.one_of(st.text(max_size=30), st.sampled_from(SPECIALS))
short_text = st.lists(piece, max_size=8).map("".join)
some_text = st.lists(piece, min_size=1, max_size=8).map("".join)
long_text = st.builds(lambda s, n: s * n, some_text, st.integers(min_value=1, max_value=400))
very_long_text = st.builds(lambda s, n: s * n, some_text, st.integers(min_value=60, max_value=400))
any_text = st.one_of(short_text, short_text, long_text)
urls = st.one_of(
    st.sampled_from(
        [
            "https://news.example.org/a?b=1&c=2",
            "http://127.0.0.1:8080/x",
            "javascript:alert(1)",
            "",
            "https://",
            "ftp://x.org",
        ]
    ),
    short_text.map(lambda s: "https://example.org/" + s),
    short_text,
)
keys = st.from_regex(r"[a-z0-9][a-z0-9-]{0,39}", fullmatch=True)
topic_maps = st.dictionaries(keys, st.builds(lambda label: label, any_text), max_size=4).map(
    lambda labels: {k: Topic(k, label, keywords=(label,)) for k, label in labels.items()}
)
times = st.integers(min_value=-86400 * 800, max_value=86400 * 800).map(
    lambda s: NOW + timedelta(seconds=s)
)


@st.composite
def stories(draw: st.DrawFn, topic_keys: list[str], number: int = 0) -> Story:
    """A story with arbitrary outside fields; `number` makes the headline start uniquely.

    Items only matter to alerts (lists do not show them), so list stories get none, which
    keeps generation fast; their texts are long more often, so that lists get split.
    """
    text = st.one_of(very_long_text, very_long_text, short_text) if number else any_text
    headline = draw(text)
    summary = draw(text)
    items: tuple[StoryItem, ...] = ()
    if number:
        headline = f"Story{number}Q {headline}"
    else:
        items = draw(
            st.lists(st.builds(StoryItem, short_text, urls, any_text, times), max_size=3).map(tuple)
        )
    return Story(
        id=draw(st.integers(min_value=-3, max_value=10**12)),
        headline=headline,
        summary=summary,
        url=draw(urls),
        source=draw(any_text),
        topics=frozenset(draw(st.lists(st.sampled_from([*topic_keys, "extra-key"]), max_size=4))),
        first_seen_at=draw(times),
        last_seen_at=NOW,
        outlets=draw(st.integers(min_value=0, max_value=10_000)),
        items=items,
    )


@st.composite
def scenes(draw: st.DrawFn, most: int = 1) -> tuple[dict[str, Topic], list[Story]]:
    """A topics mapping and up to `most` stories that may use its keys."""
    topics = draw(topic_maps)
    count = draw(st.one_of(st.integers(0, 3), st.integers(most // 2, most))) if most > 1 else 1
    if most == 1:
        return topics, [draw(stories(list(topics)))] if count else []
    listed = [draw(stories(list(topics), number=n + 1)) for n in range(count)]
    return topics, listed


@settings(max_examples=200, deadline=None)
@given(scene=scenes(), tz=st.sampled_from(ZONES), now=st.one_of(st.none(), times))
def test_every_alert_is_accepted(
    scene: tuple[dict[str, Topic], list[Story]], tz: str, now: datetime | None
) -> None:
    """An alert and its keyboard always pass Telegram's checks, and are never empty."""
    topics, (story,) = scene
    text = render_alert(story, tz=tz, topics=topics, now=now)
    markup = to_reply_markup(alert_keyboard(story, topics))
    assert check_message(text, "HTML", markup) is None
    assert html_to_plain(text)


@settings(max_examples=100, deadline=None)
@given(
    scene=scenes(most=30),
    tz=st.sampled_from(ZONES),
    kind=st.sampled_from(["list", "digest", "catch-up"]),
    heading=any_text,
)
def test_every_list_message_is_accepted_and_no_story_is_lost(
    scene: tuple[dict[str, Topic], list[Story]], tz: str, kind: str, heading: str
) -> None:
    """Story lists, digests and catch-ups: each message accepted and non-empty, and each
    story's headline appears exactly once across the messages, in order."""
    topics, listed = scene
    if kind == "list":
        messages = render_story_list(listed, tz=tz, topics=topics, heading=heading)
    elif kind == "digest":
        messages = render_digest(listed, tz=tz, topics=topics, period=heading)
    else:
        messages = render_catch_up(listed, tz=tz, topics=topics, since=NOW, now=NOW)
    assert messages
    event("split over several messages" if len(messages) > 1 else "one message")
    for message in messages:
        assert check_message(message, "HTML", None) is None
        assert html_to_plain(message)
    plain = "\n".join(html_to_plain(m) for m in messages)
    positions = []
    for n in range(1, len(listed) + 1):
        marker = f"{n}. Story{n}Q"
        assert plain.count(marker) == 1
        positions.append(plain.index(marker))
    assert positions == sorted(positions)
