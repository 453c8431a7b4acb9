"""A source's response body as Entries: RSS 0.9x/1.0/2.0, Atom and RDF, or a news API's JSON.

feedparser does the XML, on bytes we hand it (never a URL: fetching is the shell's job).
Two things are done before it sees them. The body is decoded here, because feedparser
guesses an undeclared encoding with chardet only when chardet happens to be installed and
otherwise reads KOI8-R Russian as windows-1252 mojibake (see `bot.charsets`). And a JSON
body is refused with a reason, rather than becoming a "feed" with no entries. A malformed
feed is used as far as it goes: its entries are kept and the problem is reported as a
warning; only a body with nothing usable in it raises SourceError. The JSON APIs are read
in `bot.feeds_api` and entry dates in `bot.feed_dates`; `parse_feed` is the one entry point.

feedparser's own HTML sanitising and resolving of URIs inside content are off: every text
becomes plain text in `bot.normalise`, which drops scripts, styles and all markup itself,
so they only cost time (a third of parsing and cleaning a feed). Item links are still
resolved against the feed's address.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import feedparser

from bot.charsets import decode_document
from bot.errors import SourceError
from bot.feed_dates import entry_time
from bot.feeds_api import (
    gdelt_entries,
    is_reliefweb,
    reliefweb_entries,
    strip_reliefweb_boilerplate,
)
from bot.language import language_code
from bot.models import Entry, SourceKind
from bot.normalise import clean_text, fold_text

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """What one response held: its entries, the feed's own title, and what was wrong with it.

    `warning` is set when the body was malformed or mis-encoded but still gave entries, so
    the source's health can show it without the entries being lost.
    """

    entries: tuple[Entry, ...]
    title: str | None = None
    warning: str | None = None


def parse_feed(
    body: bytes,
    *,
    kind: SourceKind = SourceKind.FEED,
    base_url: str = "",
    content_type: str | None = None,
) -> ParsedFeed:
    """Parse a response body of the given kind; relative links resolve against `base_url`.

    Raises:
        SourceError: the body holds nothing usable: empty, an HTML page, JSON where a feed
            was expected (or the wrong JSON), or a feed so broken that no entry survived.
            A feed that is valid and simply has no items is not an error.
    """
    if not body.strip():
        raise SourceError("the response body is empty")
    if kind is SourceKind.RELIEFWEB:
        return ParsedFeed(entries=reliefweb_entries(body), title="ReliefWeb")
    if kind is SourceKind.GDELT:
        return ParsedFeed(entries=gdelt_entries(body), title="GDELT")
    return _parse_xml(body, base_url=base_url, content_type=content_type)


# Character references to UTF-16 surrogates (&#xD800; … &#57343;) decode to lone surrogates,
# which feedparser then fails to encode; a reader wants a replacement mark, not a lost feed.
_SURROGATE_REF = re.compile(
    r"&#(?:[xX]0*[dD][89a-fA-F][0-9a-fA-F]{2}"
    r"|0*(?:5529[6-9]|55[3-9]\d\d|56\d{3}|57[0-2]\d\d|573[0-3]\d|5734[0-3]));"
)


def _parse_xml(body: bytes, *, base_url: str, content_type: str | None) -> ParsedFeed:
    head = body[:2048].lstrip().lower()
    if head.startswith((b"{", b"[")):
        raise SourceError(
            "the response is JSON, not an RSS/Atom feed; of the JSON APIs only ReliefWeb "
            '(kind = "reliefweb") and GDELT (kind = "gdelt") are supported'
        )
    text, encoding_warning = decode_document(body, content_type)
    headers = {"content-type": "application/xml; charset=utf-8"}
    if base_url:
        headers["content-location"] = base_url
    clean = _SURROGATE_REF.sub("&#xFFFD;", text.lstrip())
    try:
        parsed = feedparser.parse(
            clean.encode("utf-8", "replace"),
            response_headers=headers,
            resolve_relative_uris=False,
            sanitize_html=False,
        )
    except (UnicodeError, ValueError) as exc:
        raise SourceError(f"the feed has characters that cannot be read ({exc})") from None
    except TypeError as exc:  # feedparser's own slip on broken markup (`</height>` unopened)
        raise SourceError(f"the feed is too broken to read ({exc})") from None
    problem = _bozo_reason(parsed)
    if not parsed.entries:
        if head.startswith((b"<!doctype html", b"<html")) or b"<html" in head:
            raise SourceError("the response is an HTML page, not an RSS/Atom feed")
        if not parsed.get("version"):
            raise SourceError(f"the response is not an RSS/Atom feed ({problem or 'unknown'})")
        if problem:
            raise SourceError(f"the feed is malformed and no entry could be read: {problem}")
    feed = parsed.get("feed", {})
    site = urljoin(base_url, feed.get("link", "")) if feed.get("link") else base_url
    entries = tuple(_entry_from_feedparser(item, feed, site) for item in parsed.entries)
    warnings = [w for w in (encoding_warning, problem) if w]
    return ParsedFeed(
        entries=entries,
        title=_plain_title(feed.get("title_detail")) or None,
        warning="; ".join(warnings) or None,
    )


def _bozo_reason(parsed: Mapping[str, Any]) -> str | None:
    if not parsed.get("bozo"):
        return None
    error = parsed.get("bozo_exception")
    return f"{type(error).__name__}: {error}" if error is not None else "malformed feed"


def _entry_from_feedparser(item: Mapping[str, Any], feed: Mapping[str, Any], site: str) -> Entry:
    link = _item_link(item)
    if link and site and "://" not in link:
        link = urljoin(site, link)
    contents = [c.get("value", "") for c in item.get("content", []) if isinstance(c, Mapping)]
    contents.append(_unescape_markup(str(item.get("yandex_full-text") or "")))
    title_detail = item.get("title_detail") or {}
    language = title_detail.get("language") or feed.get("language")
    summary = _unescape_markup(str(item.get("summary") or ""))
    content = max(contents, key=len)
    if is_reliefweb(link):
        summary, content = (
            strip_reliefweb_boilerplate(summary),
            strip_reliefweb_boilerplate(content),
        )
    return Entry(
        title=_plain_title(title_detail) or _plain_title({"value": item.get("title", "")}),
        url=link,
        guid=str(item.get("id") or "").strip() or None,
        summary=summary,
        content=content,
        published=entry_time(item),
        author=fold_text(str(item.get("author") or "")) or None,
        language=language_code(language),
    )


def _item_link(item: Mapping[str, Any]) -> str:
    """The item's article address: FeedBurner's `<feedburner:origLink>` when it is an
    http(s) URL, else `<link>`.

    A FeedBurner feed's `<link>` is a redirect (feeds.feedburner.com, feedproxy.google.com,
    feeds.reuters.com/~r/…) that hides the article's own address from exact-URL dedup, and
    some of those hosts no longer resolve at all.
    """
    original = str(item.get("feedburner_origlink") or "").strip()
    if original[:8].lower().startswith(("http://", "https://")):
        return original
    return str(item.get("link") or "").strip()


def _unescape_markup(value: str) -> str:
    """HTML that was escaped once more than usual (`&lt;p&gt;` inside CDATA, as some Yandex
    full-text feeds do) becomes HTML again, so cleaning removes the tags instead of showing them."""
    return html.unescape(value) if "&lt;" in value and "<" not in value else value


def _plain_title(detail: Mapping[str, Any] | None) -> str:
    """A title as one line of plain text; feedparser marks titles that hold markup as html."""
    if not detail:
        return ""
    value = str(detail.get("value") or "")
    is_markup = "html" in str(detail.get("type") or "")
    return (clean_text(value) if is_markup else fold_text(value)).replace("\n", " ")
