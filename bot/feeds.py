"""A source's response body as Entries: RSS 0.9x/1.0/2.0, Atom and RDF, or a news API's JSON.

feedparser does the XML, on bytes we hand it (never a URL: fetching is the shell's job).
Two things are done before it sees them. The body is decoded here, because feedparser
guesses an undeclared encoding with chardet only when chardet happens to be installed and
otherwise reads KOI8-R Russian as windows-1252 mojibake (see `bot.charsets`). And a JSON
body is refused with a reason, rather than becoming a "feed" with no entries. A malformed
feed is used as far as it goes: its entries are kept and the problem is reported as a
warning; only a body with nothing usable in it raises SourceError.
"""

from __future__ import annotations

import html
import json
import logging
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser

from bot.charsets import decode_document
from bot.errors import SourceError
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
        return _parse_reliefweb(_load_json(body, "ReliefWeb"))
    if kind is SourceKind.GDELT:
        return _parse_gdelt(_load_json(body, "GDELT"))
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
        parsed = feedparser.parse(clean.encode("utf-8", "replace"), response_headers=headers)
    except (UnicodeError, ValueError) as exc:
        raise SourceError(f"the feed has characters that cannot be read ({exc})") from None
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
    link = str(item.get("link") or "").strip()
    if link and site and "://" not in link:
        link = urljoin(site, link)
    contents = [c.get("value", "") for c in item.get("content", []) if isinstance(c, Mapping)]
    contents.append(_unescape_markup(str(item.get("yandex_full-text") or "")))
    title_detail = item.get("title_detail") or {}
    language = title_detail.get("language") or feed.get("language")
    summary = _unescape_markup(str(item.get("summary") or ""))
    content = max(contents, key=len)
    if _is_reliefweb(link):
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
        published=_entry_time(item),
        author=fold_text(str(item.get("author") or "")) or None,
        language=language_code(language),
    )


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


def _entry_time(item: Mapping[str, Any]) -> datetime | None:
    """The entry's date in UTC: feedparser's, else our own parse of non-English month names.

    feedparser also reads "02:02:33 PM" as 02:02, so a time with AM/PM is always our own.
    """
    for key in ("published", "updated", "created"):
        # `in` first: feedparser's get("updated") falls back to "published" with a warning.
        raw = item.get(key) if key in item else None
        raw = raw if isinstance(raw, str) else ""
        parsed = item.get(f"{key}_parsed") if f"{key}_parsed" in item else None
        moment = _from_struct_time(parsed) if parsed else None
        if moment is None or _HALF_DAY.search(raw):
            moment = parse_loose_date(raw) or moment
        if moment is not None:
            return moment
    return None


def _from_struct_time(value: time.struct_time) -> datetime | None:
    try:
        moment = datetime(*value[:6], tzinfo=UTC)
    except (TypeError, ValueError, OverflowError):
        return None
    return moment if 1990 <= moment.year <= 2100 else None


_MONTHS = {
    "jan": 1,
    "feb": 2,
    "fev": 2,
    "fév": 2,
    "mar": 3,
    "mär": 3,
    "mrz": 3,
    "apr": 4,
    "abr": 4,
    "avr": 4,
    "may": 5,
    "mai": 5,
    "mag": 5,
    "jun": 6,
    "juin": 6,
    "giu": 6,
    "jul": 7,
    "juil": 7,
    "lug": 7,
    "aug": 8,
    "ago": 8,
    "aoû": 8,
    "aou": 8,
    "sep": 9,
    "set": 9,
    "oct": 10,
    "okt": 10,
    "out": 10,
    "ott": 10,
    "nov": 11,
    "dec": 12,
    "dez": 12,
    "dic": 12,
    "déc": 12,
    "ene": 1,
    "gen": 1,
    "янв": 1,
    "фев": 2,
    "мар": 3,
    "апр": 4,
    "мая": 5,
    "май": 5,
    "июн": 6,
    "июл": 7,
    "авг": 8,
    "сен": 9,
    "окт": 10,
    "ноя": 11,
    "дек": 12,
    "січ": 1,
    "лют": 2,
    "бер": 3,
    "кві": 4,
    "тра": 5,
    "чер": 6,
    "лип": 7,
    "сер": 8,
    "вер": 9,
    "жов": 10,
    "лис": 11,
    "гру": 12,
}
_DAY_FIRST = re.compile(r"(?P<day>\d{1,2})\.?\s+(?P<month>[^\W\d_]{3,12})\.?,?\s+(?P<year>\d{4})")
_MONTH_FIRST = re.compile(r"(?P<month>[^\W\d_]{3,12})\.?\s+(?P<day>\d{1,2}),?\s+(?P<year>\d{4})")
_CLOCK = re.compile(
    r",?\s*(?:T|\s)?(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?"
    r"\s*(?P<half>[AaPp][Mm])?\s*(?:(?P<sign>[+-])(?P<oh>\d{2}):?(?P<om>\d{2}))?"
)
_HALF_DAY = re.compile(r"\d\s*[AaPp][Mm]\b")


def parse_loose_date(raw: str) -> datetime | None:
    """A date feedparser cannot read: month names that are not English ("Seg, 24 Set 2018
    19:42:40 -0300"), or a US-style "Dec 16 2023 02:02:33 PM".

    Day, month name, year, a time with an optional AM/PM and a numeric offset are enough;
    a missing offset is taken as UTC. Returns None rather than raising.
    """
    head = raw[:200]
    match = _DAY_FIRST.search(head) or _MONTH_FIRST.search(head)
    if not match:
        return None
    name = match["month"].lower()
    month = _MONTHS.get(name[:4]) or _MONTHS.get(name[:3])
    clock = _CLOCK.match(head, match.end())
    parts = clock.groupdict() if clock else {}
    hour = int(parts.get("hour") or 0)
    if (parts.get("half") or "").lower() == "pm" and hour < 12:
        hour += 12
    elif (parts.get("half") or "").lower() == "am" and hour == 12:
        hour = 0
    try:
        moment = datetime(
            int(match["year"]),
            month or 0,
            int(match["day"]),
            hour,
            int(parts.get("minute") or 0),
            int(parts.get("second") or 0),
            tzinfo=UTC,
        )
    except ValueError:
        return None
    if parts.get("sign"):
        offset = timedelta(hours=int(parts["oh"]), minutes=int(parts["om"]))
        moment -= offset if parts["sign"] == "+" else -offset
    return moment


def _load_json(body: bytes, api: str) -> Any:
    text = body.decode("utf-8", "replace").lstrip("\ufeff").strip()
    try:
        return json.loads(text, strict=False)
    except ValueError as error:
        preview = " ".join(text[:80].split())
        raise SourceError(f"the {api} response is not JSON ({error}): {preview!r}") from None


def _parse_reliefweb(document: Any) -> ParsedFeed:
    """ReliefWeb API reports, v2 (`/v2/reports`) and the older v1 of the same shape."""
    data = document.get("data") if isinstance(document, dict) else None
    if not isinstance(data, list):
        raise SourceError('not a ReliefWeb reports response: there is no "data" list')
    entries = tuple(
        entry for item in data if isinstance(item, dict) and (entry := _reliefweb_entry(item))
    )
    return ParsedFeed(entries=entries, title="ReliefWeb")


# ReliefWeb prefixes every report's body with its country and source tags and, for a PDF
# report, a note about the attachment: the same lines on unrelated reports, which make them
# look alike to near-duplicate detection and fill summaries with nothing. In its RSS they are
# `<div class="tag …">` elements and a paragraph; in API text, lines of their own (a line
# must start with "Country:", "Sources:" and so on, so "Sources said …" stays).
_RELIEFWEB_BOILERPLATE = re.compile(
    r"<div class=\"tag [\w -]*\">[^<]*</div>"
    r"|<p>\s*Please refer to the attached [^<]{0,60}</p>"
    r"|^[ \t]*(?:(?:Countr(?:y|ies)|Sources?)[ \t]*:|Please refer to the attached\b)"
    r"[^\n<]{0,300}(?:\n|$)",
    re.IGNORECASE | re.MULTILINE,
)
_RELIEFWEB_HOSTS = ("reliefweb.int", ".reliefweb.int")


def _is_reliefweb(url: str) -> bool:
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return False
    return host == _RELIEFWEB_HOSTS[0] or host.endswith(_RELIEFWEB_HOSTS[1])


def strip_reliefweb_boilerplate(body: str) -> str:
    """A ReliefWeb report's body without its "Country: …" and "Source(s): …" tags, the
    attachment note ("Please refer to the attached file.") and the PDF preview image."""
    return _RELIEFWEB_BOILERPLATE.sub("", body) if body else body


def _reliefweb_entry(item: Mapping[str, Any]) -> Entry | None:
    fields = item.get("fields")
    if not isinstance(fields, dict):
        return None
    url = _text(fields.get("url_alias")) or _text(fields.get("url"))
    dates = next(iter(_dicts(fields.get("date"))), {})
    published = None
    for key in ("created", "original", "changed"):
        published = published or _iso_time(dates.get(key))
    item_id = _text(item.get("id")) or _text(fields.get("id"))
    languages = [lang.get("code") for lang in _dicts(fields.get("language"))]
    sources = [_text(source.get("name")) for source in _dicts(fields.get("source"))]
    return Entry(
        title=fold_text(_text(fields.get("title"))).replace("\n", " "),
        url=url,
        guid=f"reliefweb:report:{item_id}" if item_id else (url or None),
        content=strip_reliefweb_boilerplate(
            _text(fields.get("body-html")) or _text(fields.get("body"))
        ),
        published=published,
        author=", ".join(name for name in sources if name) or None,
        language=language_code(next((c for c in languages if isinstance(c, str)), None)),
    )


_GDELT_LANGUAGES = {
    "english": "en",
    "ukrainian": "uk",
    "russian": "ru",
    "french": "fr",
    "german": "de",
    "spanish": "es",
    "italian": "it",
    "polish": "pl",
    "portuguese": "pt",
    "arabic": "ar",
    "hebrew": "he",
    "turkish": "tr",
    "chinese": "zh",
    "japanese": "ja",
    "korean": "ko",
    "dutch": "nl",
    "romanian": "ro",
    "czech": "cs",
    "slovak": "sk",
    "hungarian": "hu",
    "bulgarian": "bg",
    "serbian": "sr",
    "croatian": "hr",
    "swedish": "sv",
    "finnish": "fi",
    "norwegian": "no",
    "danish": "da",
    "greek": "el",
    "lithuanian": "lt",
    "latvian": "lv",
    "estonian": "et",
    "georgian": "ka",
    "armenian": "hy",
    "persian": "fa",
    "belarusian": "be",
    "kazakh": "kk",
    "hindi": "hi",
    "urdu": "ur",
    "azerbaijani": "az",
    "slovenian": "sl",
}


def _parse_gdelt(document: Any) -> ParsedFeed:
    """GDELT DOC 2.0 `mode=artlist&format=json`; an empty object means no matches."""
    if not isinstance(document, dict):
        raise SourceError('not a GDELT artlist response: expected an object with "articles"')
    articles = document.get("articles", [] if not document else None)
    if not isinstance(articles, list):
        raise SourceError('not a GDELT artlist response: there is no "articles" list')
    entries = tuple(_gdelt_entry(item) for item in articles if isinstance(item, dict))
    return ParsedFeed(entries=tuple(e for e in entries if e.title or e.url), title="GDELT")


def _gdelt_entry(item: Mapping[str, Any]) -> Entry:
    url = _text(item.get("url")) or _text(item.get("url_mobile"))
    seen = _text(item.get("seendate"))
    try:
        published: datetime | None = datetime.strptime(seen, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        published = _iso_time(seen)
    language = _text(item.get("language")).lower()
    return Entry(
        title=clean_text(_text(item.get("title"))).replace("\n", " "),
        url=url,
        guid=url or None,
        published=published,
        author=_text(item.get("domain")) or None,
        language=_GDELT_LANGUAGES.get(language) or language_code(language),
    )


def _text(value: object) -> str:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return ""


def _dicts(value: object) -> Iterable[Mapping[str, Any]]:
    items = value if isinstance(value, list) else [value]
    return (item for item in items if isinstance(item, dict))


def _iso_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return parse_loose_date(value)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
