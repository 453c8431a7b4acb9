"""Every message the bot sends about stories, in Telegram's HTML parse mode, within its limits.

Why one module: escaping and limits are easy to get almost right. Every string from outside
(headlines, summaries, outlet names, URLs, topic labels) goes through `escape` exactly once,
here, and nothing else in the project builds HTML around story data.

Lengths are counted as Telegram counts them: UTF-16 code units of the text left after entity
parsing, so markup is free and an emoji outside the BMP counts twice. Texts are cut before they
are escaped, at a word boundary, so a cut never falls inside an entity or a tag; Python strings
index code points, so it never splits a surrogate pair either.

Times are shown in the chat's IANA zone as "14:05". When the caller passes `now`, a story from
another day than `now` (in that zone) shows its date too ("28 Oct 14:05"), and one from another
year its year; without `now` only the time is shown. An unknown zone falls back to UTC.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, tzinfo
from urllib.parse import urlsplit

from bot.models import Story, Topic
from bot.sentences import split_sentences
from bot.timing import find_zone

__all__ = [
    "MAX_MESSAGE",
    "cut",
    "escape",
    "hashtag",
    "is_web_url",
    "render_alert",
    "render_catch_up",
    "render_digest",
    "render_help",
    "render_outlets",
    "render_story_list",
    "render_topic_counts",
    "split_messages",
    "truncate_html",
    "utf16_len",
    "visible_len",
]

log = logging.getLogger(__name__)

MAX_MESSAGE = 4096
ELLIPSIS = "…"
# Caps in UTF-16 units; an alert stays far below MAX_MESSAGE even with every cap reached.
MAX_HEADLINE = 250
MAX_SUMMARY = 600
MAX_LIST_HEADLINE = 200
MAX_LIST_SUMMARY = 200
MAX_SOURCE = 60
MAX_LABEL = 60
MAX_HASHTAGS = 8
MAX_HELP_TEXT = 300
UNTITLED = "Untitled story"

# English month names whatever the process locale (strftime's %b follows LC_TIME).
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_TAG = re.compile(r"<[^>]*>")
_MARKUP = re.compile(r"<[^>]*>|&(?:#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);|.", re.DOTALL)
_NOT_HASHTAG = re.compile(r"[\W]+")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def escape(text: str) -> str:
    """`text` safe inside Telegram HTML, in element content and in double-quoted attributes.

    Escapes &, <, > and " (Telegram knows only &lt; &gt; &amp; &quot; by name); a lone
    surrogate, which cannot be sent as UTF-8 at all, becomes U+FFFD.
    """
    text = _SURROGATE.sub("\ufffd", text)
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram's limits."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def visible_len(markup: str) -> int:
    """What Telegram counts of our HTML: UTF-16 units of the text once tags and escapes go."""
    return utf16_len(html.unescape(_TAG.sub("", markup)))


def is_web_url(url: str) -> bool:
    """An http(s) URL with a host and no whitespace: safe to link and to put on a button."""
    if not url or not url.isprintable() or any(c.isspace() for c in url):
        return False
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(host)


def hashtag(key: str) -> str:
    """A topic key as a Telegram hashtag: "north-korea" becomes "#north_korea"."""
    tag = _NOT_HASHTAG.sub("_", key).strip("_")
    return f"#{tag}" if tag else ""


def cut(text: str, limit: int) -> str:
    """Plain `text` with whitespace folded, cut to `limit` UTF-16 units at a word boundary.

    A cut text ends with "…"; the boundary is the last space, unless that would drop more
    than half of what fits, in which case the word itself is cut.
    """
    text = " ".join(text.split())
    if utf16_len(text) <= limit:
        return text
    if limit < 1:
        return ""
    room = limit - 1
    end = 0
    used = 0
    for i, ch in enumerate(text):
        used += 2 if ord(ch) > 0xFFFF else 1
        if used > room:
            end = i
            break
    head = text[:end]
    space = head.rfind(" ")
    if space > end // 2:
        head = head[:space]
    return head.rstrip(" ,;:—–-") + ELLIPSIS


def truncate_html(markup: str, limit: int) -> str:
    """Our HTML cut to `limit` visible UTF-16 units, ending with "…", its tags closed again.

    Walks tags, escapes and characters, so a cut never falls inside an entity or a tag; it
    prefers the last space. Meant for HTML this module built (tags balanced, escapes valid).
    """
    if visible_len(markup) <= limit:
        return markup
    out: list[str] = []
    stack: list[str] = []
    used = 0
    # Where the last space was, and the tags open there: the preferred place to cut.
    space_at = -1
    space_stack: tuple[str, ...] = ()
    for match in _MARKUP.finditer(markup):
        token = match.group()
        if token.startswith("<") and len(token) > 1:
            if token.startswith("</"):
                if stack:
                    stack.pop()
            else:
                stack.append(token[1:].split(None, 1)[0].rstrip(">").lower())
            out.append(token)
            continue
        width = utf16_len(html.unescape(token))
        if used + width > limit - 1:
            break
        if token.isspace():
            space_at, space_stack = len(out), tuple(stack)
        out.append(token)
        used += width
    if space_at > len(out) // 2:
        out, stack = out[:space_at], list(space_stack)
    return "".join(out).rstrip() + ELLIPSIS + "".join(f"</{tag}>" for tag in reversed(stack))


def split_messages(
    blocks: Sequence[str], *, limit: int = MAX_MESSAGE, separator: str = "\n\n"
) -> list[str]:
    """Pack HTML blocks into as few messages as fit, in order, each at most `limit` long.

    A block is never split between messages; one longer than `limit` on its own is cut with
    `truncate_html`. Blank blocks are skipped; no blocks give no messages.
    """
    messages: list[str] = []
    current: list[str] = []
    used = 0
    gap = visible_len(separator)
    for block in blocks:
        if not block.strip():
            continue
        size = visible_len(block)
        if size > limit:
            block = truncate_html(block, limit)
            size = visible_len(block)
        if current and used + gap + size > limit:
            messages.append(separator.join(current))
            current, used = [], 0
        used += size + (gap if current else 0)
        current.append(block)
    if current:
        messages.append(separator.join(current))
    return messages


def render_alert(
    story: Story, *, tz: str, topics: Mapping[str, Topic], now: datetime | None = None
) -> str:
    """One story as an alert: bold headline, summary, linked source · +N outlets · time, tags."""
    zone = _zone(tz)
    headline = cut(story.headline, MAX_HEADLINE) or UNTITLED
    lines = [f"<b>{escape(headline)}</b>"]
    summary = cut(story.summary, MAX_SUMMARY)
    if summary and _fold(summary) != _fold(headline):
        lines.append(escape(summary))
    lines.append(_meta_line(story, zone, now))
    tags = " ".join(escape(t) for t in _hashtags(story, topics) if t)
    if tags:
        lines.append(tags)
    return "\n".join(lines)


def render_story_list(
    stories: Sequence[Story],
    *,
    tz: str,
    topics: Mapping[str, Topic],
    heading: str,
    now: datetime | None = None,
    one_message: bool = False,
) -> list[str]:
    """Stories as a numbered list, split into as many messages as needed (never mid-story).

    `one_message` (digests, catch-ups: promised as one message) drops the summary lines
    when that makes the list fit one message; a list too long even then is still split,
    since no story may be left out."""
    zone = _zone(tz)
    title = f"<b>{escape(cut(heading, MAX_HEADLINE))}</b>"
    if not stories:
        return [f"{title}\nNothing here yet." if heading.strip() else "Nothing here yet."]
    limit = MAX_MESSAGE - visible_len(title) - 1
    blocks = [_story_block(n, story, zone, now) for n, story in enumerate(stories, 1)]
    messages = split_messages(blocks, limit=limit)
    if one_message and len(messages) > 1:
        short = [_story_block(n, s, zone, now, summary=False) for n, s in enumerate(stories, 1)]
        if len(compact := split_messages(short, limit=limit)) == 1:
            messages = compact
    if heading.strip():
        messages[0] = f"{title}\n{messages[0]}"
    return messages


def render_digest(
    stories: Sequence[Story],
    *,
    tz: str,
    topics: Mapping[str, Topic],
    period: str,
    now: datetime | None = None,
) -> list[str]:
    """A digest ("Daily digest: 12 stories") as story-list messages."""
    heading = f"{period} digest: {_count(len(stories))}"
    return render_story_list(
        stories, tz=tz, topics=topics, heading=heading, now=now, one_message=True
    )


def render_catch_up(
    stories: Sequence[Story],
    *,
    tz: str,
    topics: Mapping[str, Topic],
    since: datetime,
    now: datetime | None = None,
) -> list[str]:
    """What arrived during quiet hours ("While you were away (since 23:10): 4 stories")."""
    zone = _zone(tz)
    heading = f"While you were away (since {_when(since, zone, now)}): {_count(len(stories))}"
    return render_story_list(
        stories, tz=tz, topics=topics, heading=heading, now=now, one_message=True
    )


def render_outlets(story: Story, *, tz: str, now: datetime | None = None) -> str:
    """Every outlet's report of one story: linked outlet, its title, its time."""
    zone = _zone(tz)
    head = f"<b>{escape(cut(story.headline, MAX_HEADLINE) or UNTITLED)}</b>"
    items = story.items or ()
    lines = [
        f"• {_link(cut(item.source, MAX_SOURCE) or 'Source', item.url)}: "
        f"{escape(cut(item.title, MAX_LIST_HEADLINE))} · {_when(item.published_at, zone, now)}"
        for item in items
    ]
    outlets = story.outlets if story.outlets > 0 else len({item.source for item in items})
    title = f"{head}\nReported by {_count(outlets, 'outlet')}:"
    if not lines:
        return f"{title}\n• {_link(cut(story.source, MAX_SOURCE) or 'Source', story.url)}"
    return _fit_lines(title, lines)


def render_topic_counts(rows: Sequence[tuple[Topic, int]]) -> str:
    """The topics with their story counts over the last 24 hours, busiest first."""
    title = "<b>Topics, stories in the last 24 h</b>"
    if not rows:
        return f"{title}\nNo topics are configured."
    ordered = sorted(rows, key=lambda row: -row[1])
    lines = [
        f"{escape(hashtag(topic.key))} {escape(cut(topic.label, MAX_LABEL))}: {count}"
        for topic, count in ordered
    ]
    return _fit_lines(title, lines)


def render_help(commands: Sequence[tuple[str, str, str]]) -> str:
    """Every command with what it does and an example: (name, description, example) rows."""
    lines = []
    for name, description, example in commands:
        command = name if name.startswith("/") else f"/{name}"
        line = f"{escape(cut(command, MAX_LABEL))} — {escape(cut(description, MAX_HELP_TEXT))}"
        if example.strip():
            line += f"\n   e.g. <code>{escape(cut(example, MAX_HELP_TEXT))}</code>"
        lines.append(line)
    return _fit_lines("<b>Commands</b>", lines)


def _story_block(
    number: int, story: Story, zone: tzinfo, now: datetime | None, *, summary: bool = True
) -> str:
    """One story of a list: numbered linked headline, a one-line summary, source and time."""
    headline = escape(cut(story.headline, MAX_LIST_HEADLINE) or UNTITLED)
    if is_web_url(story.url):
        headline = f'<a href="{escape(story.url)}">{headline}</a>'
    lines = [f"{number}. <b>{headline}</b>"]
    sentences = split_sentences(story.summary) if summary else []
    line = cut(sentences[0], MAX_LIST_SUMMARY) if sentences else ""
    if line and _fold(line) != _fold(story.headline):
        lines.append(escape(line))
    parts = [escape(cut(story.source, MAX_SOURCE) or "Source")]
    if story.outlets > 1:
        parts.append(f"+{story.outlets - 1}")
    parts.append(_when(story.happened_at, zone, now))
    lines.append(" · ".join(parts))
    return "\n".join(lines)


def _meta_line(story: Story, zone: tzinfo, now: datetime | None) -> str:
    """ "Source (linked) · +N outlets · 14:05"."""
    parts = [_link(cut(story.source, MAX_SOURCE) or "Source", story.url)]
    if story.outlets > 1:
        extra = story.outlets - 1
        parts.append(f"+{extra} outlet{'s' if extra > 1 else ''}")
    parts.append(_when(story.happened_at, zone, now))
    return " · ".join(parts)


def _link(text: str, url: str) -> str:
    """Escaped `text`, linked to `url` when it is an http(s) address."""
    if is_web_url(url):
        return f'<a href="{escape(url)}">{escape(text)}</a>'
    return escape(text)


def _hashtags(story: Story, topics: Mapping[str, Topic]) -> list[str]:
    """The story's topics as hashtags: the topics file's order first, then any others."""
    known = [key for key in topics if key in story.topics]
    others = sorted(story.topics - set(known))
    return [hashtag(cut(key, MAX_LABEL)) for key in known + others][:MAX_HASHTAGS]


def _fit_lines(title: str, lines: Sequence[str]) -> str:
    """`title` and as many whole lines as fit one message, then "…and N more"."""
    text = title
    for shown, line in enumerate(lines):
        more = f"\n…and {len(lines) - shown} more"
        if visible_len(f"{text}\n{line}") + utf16_len(more) > MAX_MESSAGE:
            return text + more
        text = f"{text}\n{line}"
    return text


def _zone(name: str) -> tzinfo:
    """The chat's zone; UTC when the name is unknown (it was checked when the chat set it)."""
    found = find_zone(name)
    if found is None:
        log.warning("unknown time zone %r, showing UTC", name)
        return UTC
    return found


def _when(moment: datetime, zone: tzinfo, now: datetime | None) -> str:
    """ "14:05", with the date when it is not the day of `now` (see the module docstring)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(zone)
    if now is None:
        return f"{local:%H:%M}"
    today = (now if now.tzinfo else now.replace(tzinfo=UTC)).astimezone(zone)
    if local.date() == today.date():
        return f"{local:%H:%M}"
    month = _MONTHS[local.month - 1]
    if local.year == today.year:
        return f"{local.day} {month} {local:%H:%M}"
    return f"{local.day} {month} {local.year} {local:%H:%M}"


def _count(n: int, noun: str = "story") -> str:
    """ "1 story", "3 stories", "2 outlets"."""
    if n == 1:
        return f"1 {noun}"
    plural = noun[:-1] + "ies" if noun.endswith("y") else noun + "s"
    return f"{n} {plural}"


def _fold(text: str) -> str:
    """Text compared loosely: case and whitespace folded, trailing punctuation ignored."""
    return " ".join(text.casefold().split()).rstrip(".!?… ")
