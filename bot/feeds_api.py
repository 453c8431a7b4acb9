"""The news APIs a source may be instead of a feed: ReliefWeb reports and GDELT article lists.

Apart from `bot.feeds` because their JSON has nothing in common with RSS/Atom beyond the
Entry it becomes; `bot.feeds.parse_feed` stays the one entry point and calls these by the
source's kind. ReliefWeb's boilerplate stripping lives here too, since its RSS feeds carry the
same tags as its API text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from bot.errors import SourceError
from bot.feed_dates import parse_loose_date
from bot.language import language_code
from bot.models import Entry
from bot.normalise import clean_text, fold_text


def _load_json(body: bytes, api: str) -> Any:
    text = body.decode("utf-8", "replace").lstrip("\ufeff").strip()
    try:
        return json.loads(text, strict=False)
    except ValueError as error:
        preview = " ".join(text[:80].split())
        raise SourceError(f"the {api} response is not JSON ({error}): {preview!r}") from None


def reliefweb_entries(body: bytes) -> tuple[Entry, ...]:
    """ReliefWeb API reports, v2 (`/v2/reports`) and the older v1 of the same shape."""
    document = _load_json(body, "ReliefWeb")
    data = document.get("data") if isinstance(document, dict) else None
    if not isinstance(data, list):
        raise SourceError('not a ReliefWeb reports response: there is no "data" list')
    return tuple(
        entry for item in data if isinstance(item, dict) and (entry := _reliefweb_entry(item))
    )


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


def is_reliefweb(url: str) -> bool:
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


def gdelt_entries(body: bytes) -> tuple[Entry, ...]:
    """GDELT DOC 2.0 `mode=artlist&format=json`; an empty object means no matches."""
    document = _load_json(body, "GDELT")
    if not isinstance(document, dict):
        raise SourceError('not a GDELT artlist response: expected an object with "articles"')
    articles = document.get("articles", [] if not document else None)
    if not isinstance(articles, list):
        raise SourceError('not a GDELT artlist response: there is no "articles" list')
    entries = tuple(_gdelt_entry(item) for item in articles if isinstance(item, dict))
    return tuple(e for e in entries if e.title or e.url)


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
