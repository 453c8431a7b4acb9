"""Quiet hours, digest due times and back-off, across midnight and daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from bot.models import ChatPrefs, DigestMode
from bot.timing import digest_due, in_quiet_hours, next_fetch_at, quiet_ends_at, zone


def prefs(**values: object) -> ChatPrefs:
    return ChatPrefs(chat_id=1, **values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("now", "start", "end", "tz", "quiet"),
    [
        (datetime(2026, 3, 1, 22, 30, tzinfo=UTC), time(23), time(7), "UTC", False),
        (datetime(2026, 3, 1, 23, 30, tzinfo=UTC), time(23), time(7), "UTC", True),
        (datetime(2026, 3, 2, 6, 59, tzinfo=UTC), time(23), time(7), "UTC", True),
        (datetime(2026, 3, 2, 7, 0, tzinfo=UTC), time(23), time(7), "UTC", False),
        (datetime(2026, 3, 2, 12, 0, tzinfo=UTC), time(13), time(15), "UTC", False),
        (datetime(2026, 3, 2, 13, 30, tzinfo=UTC), time(13), time(15), "UTC", True),
        # 21:30 UTC is 23:30 in Kyiv (UTC+2 in winter): quiet there.
        (datetime(2026, 1, 10, 21, 30, tzinfo=UTC), time(23), time(7), "Europe/Kyiv", True),
        # 21:30 UTC in July is 00:30 in Kyiv (UTC+3): quiet.
        (datetime(2026, 7, 10, 21, 30, tzinfo=UTC), time(23), time(7), "Europe/Kyiv", True),
        (datetime(2026, 7, 10, 19, 30, tzinfo=UTC), time(23), time(7), "Europe/Kyiv", False),
        # 17:45 UTC is 23:15 at UTC+05:30 (a fixed offset from /timezone UTC+5:30): quiet.
        (datetime(2026, 7, 10, 17, 45, tzinfo=UTC), time(23), time(7), "UTC+05:30", True),
        (datetime(2026, 7, 10, 17, 15, tzinfo=UTC), time(23), time(7), "UTC+05:30", False),
        (datetime(2026, 7, 10, 22, 30, tzinfo=UTC), time(23), time(7), "CET", True),
    ],
)
def test_quiet_hours_in_the_chats_zone(
    now: datetime, start: time, end: time, tz: str, quiet: bool
) -> None:
    """Quiet windows wrap midnight and follow the chat's zone, DST included."""
    assert in_quiet_hours(now, prefs(quiet_start=start, quiet_end=end, timezone=tz)) is quiet


@pytest.mark.parametrize(
    ("name", "offset"),
    [
        ("UTC+05:30", timedelta(hours=5, minutes=30)),
        ("UTC+05:45", timedelta(hours=5, minutes=45)),
        ("UTC-09:30", -timedelta(hours=9, minutes=30)),
        ("Etc/GMT-3", timedelta(hours=3)),
        ("UTC+99:00", timedelta(0)),
        ("Mars/Olympus", timedelta(0)),
    ],
)
def test_zone_reads_fixed_offsets(name: str, offset: timedelta) -> None:
    """A half-hour offset /timezone stored (no IANA name has it) is that fixed offset; an
    unknown name is UTC (audit 7)."""
    assert zone(name).utcoffset(datetime(2026, 7, 1, tzinfo=UTC)) == offset


def test_quiet_end_across_dst_change() -> None:
    """On the night clocks go forward in Kyiv (29 March 2026), 07:00 local is 04:00 UTC."""
    chat = prefs(quiet_start=time(23), quiet_end=time(7), timezone="Europe/Kyiv")
    night = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
    assert in_quiet_hours(night, chat)
    assert quiet_ends_at(night, chat) == datetime(2026, 3, 29, 4, 0, tzinfo=UTC)


def test_daily_digest_is_due_once_a_day_at_its_local_time() -> None:
    """Due at 08:00 in the chat's zone, once; not before; again the next day."""
    chat = prefs(digest=DigestMode.DAILY, digest_at=time(8), timezone="Europe/Kyiv")
    before = datetime(2026, 1, 10, 5, 59, tzinfo=UTC)
    at = datetime(2026, 1, 10, 6, 0, tzinfo=UTC)
    assert not digest_due(before, chat, None)
    assert digest_due(at, chat, None)
    assert not digest_due(at + timedelta(hours=3), chat, at)
    assert digest_due(at + timedelta(days=1), chat, at)


def test_hourly_digest_once_per_clock_hour() -> None:
    chat = prefs(digest=DigestMode.HOURLY)
    sent = datetime(2026, 1, 10, 10, 5, tzinfo=UTC)
    assert not digest_due(datetime(2026, 1, 10, 10, 55, tzinfo=UTC), chat, sent)
    assert digest_due(datetime(2026, 1, 10, 11, 0, tzinfo=UTC), chat, sent)


def test_backoff_doubles_and_is_capped() -> None:
    """Failures double the wait from the interval, capped at six hours."""
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert next_fetch_at(now, 300, 0) == now + timedelta(seconds=300)
    assert next_fetch_at(now, 300, 1) == now + timedelta(seconds=600)
    assert next_fetch_at(now, 300, 2) == now + timedelta(seconds=1200)
    assert next_fetch_at(now, 300, 30) == now + timedelta(hours=6)
