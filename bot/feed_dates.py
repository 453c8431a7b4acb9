"""When a feed entry was published, however the feed wrote it.

Its own module because dates are the part of a feed that goes wrong in the most ways:
feedparser reads English RFC 822 and ISO dates, but not month names in other languages
("Seg, 24 Set 2018"), and it reads "02:02:33 PM" as 02:02. `entry_time` takes feedparser's
value where it can be trusted and our own `parse_loose_date` where it cannot; the JSON APIs
(`bot.feeds_api`) use `parse_loose_date` for their non-ISO dates too.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any


def entry_time(item: Mapping[str, Any]) -> datetime | None:
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
