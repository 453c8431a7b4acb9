"""When things happen: source back-off, quiet hours, digest due times.

Pure functions of (now, settings); `now` is always an aware UTC datetime passed in, so tests
can move the clock across midnight and daylight-saving changes freely.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.models import ChatPrefs, DigestMode

MAX_BACKOFF = timedelta(hours=6)
OUTAGE_NOTICE_AFTER = 5


_FIXED_OFFSET = re.compile(r"^UTC([+-])(\d{2}):(\d{2})$")


def find_zone(name: str) -> tzinfo | None:
    """The IANA zone, or the fixed offset `UTC+05:30` that /timezone stores for an offset no
    IANA name has (the Etc/GMT names are whole hours); None for anything else."""
    match = _FIXED_OFFSET.match(name)
    if match is not None:
        sign = -1 if match.group(1) == "-" else 1
        offset = timedelta(hours=int(match.group(2)), minutes=int(match.group(3)))
        return timezone(sign * offset, name) if offset <= timedelta(hours=14) else None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def zone(name: str) -> tzinfo:
    """The chat's zone (see `find_zone`), or UTC for a name that does not exist (never raises)."""
    return find_zone(name) or UTC


def next_fetch_at(now: datetime, interval_s: float, failures: int) -> datetime:
    """The next attempt: the interval when healthy, doubling per failure, capped at 6 hours."""
    if failures <= 0:
        return now + timedelta(seconds=interval_s)
    delay = timedelta(seconds=interval_s * 2 ** min(failures, 20))
    return now + min(delay, max(MAX_BACKOFF, timedelta(seconds=interval_s)))


def is_outage(failures: int) -> bool:
    """A source this broken is worth telling the admins about (once)."""
    return failures >= OUTAGE_NOTICE_AFTER


def in_quiet_hours(now: datetime, prefs: ChatPrefs) -> bool:
    """True when `now` falls in the chat's quiet hours, in its own time zone.

    A window may wrap midnight (23:00-07:00); start == end means no quiet hours.
    """
    if prefs.quiet_start is None or prefs.quiet_end is None:
        return False
    start, end = prefs.quiet_start, prefs.quiet_end
    if start == end:
        return False
    local = now.astimezone(zone(prefs.timezone)).time().replace(tzinfo=None)
    if start < end:
        return start <= local < end
    return local >= start or local < end


def quiet_ends_at(now: datetime, prefs: ChatPrefs) -> datetime:
    """The UTC instant the current quiet window ends (now when not quiet)."""
    if not in_quiet_hours(now, prefs) or prefs.quiet_end is None:
        return now
    tz = zone(prefs.timezone)
    local = now.astimezone(tz)
    candidate = _at_local(local.date(), prefs.quiet_end, tz)
    if candidate <= now:
        candidate = _at_local(local.date() + timedelta(days=1), prefs.quiet_end, tz)
    return candidate


def _at_local(day: object, at: time, tz: tzinfo) -> datetime:
    """The UTC instant of a wall-clock time on a local day (fold=0 at DST overlaps)."""
    local = datetime.combine(day, at, tzinfo=tz)  # type: ignore[arg-type]
    return local.astimezone(UTC)


def digest_due(now: datetime, prefs: ChatPrefs, last_digest_at: datetime | None) -> bool:
    """Is a digest due for this chat now?

    Hourly: at most one per clock hour. Daily: once a day, at or after the chat's HH:MM in its
    zone (a gap across a DST change or downtime still gets that day's digest, once).
    """
    if prefs.digest is DigestMode.OFF:
        return False
    if prefs.digest is DigestMode.HOURLY:
        if last_digest_at is None:
            return True
        return now.replace(minute=0, second=0, microsecond=0) > last_digest_at
    tz = zone(prefs.timezone)
    local = now.astimezone(tz)
    at = prefs.digest_at or time(8, 0)
    due_today = _at_local(local.date(), at, tz)
    if now < due_today:
        return False
    return last_digest_at is None or last_digest_at < due_today
