"""Fault suite (issue #8), time: clock jumps around quiet hours, daylight-saving nights."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.models import ChatPrefs, DigestMode
from bot.timing import digest_due, in_quiet_hours
from tests.bot.faults_common import DNIPRO, outbox, rss, until
from tests.helpers import Clock, Harness, harness


async def test_clock_jumps_around_quiet_hours(database_url: str, tmp_path: Path) -> None:
    """Quiet hours hold alerts; a clock that jumps forward past the window (a suspended
    machine) sends one catch-up; one that jumps back into the window (an NTP correction)
    re-sends nothing and holds only what is new."""
    clock = Clock(datetime(2026, 3, 28, 22, 0, tzinfo=UTC))  # 00:00 in Kyiv (UTC+2)
    async with harness(database_url, tmp_path, clock=clock) as h:
        await h.fetch()
        reader = h.chat()
        for command in ("/timezone Europe/Kyiv", "/quiet 23:00-07:00", "/follow all"):
            await reader.send(command)
        assert h.app.job_queue is not None
        # Run the catch-up job by hand, at chosen clock times, and never on its own as well.
        (digests,) = h.app.job_queue.get_jobs_by_name("digests")
        digests.schedule_removal()

        async def publish(numbers: list[int]) -> int:
            h.feeds.set_feed(DNIPRO, rss(numbers, when=clock.now - timedelta(minutes=1)))
            clock.advance(minutes=1)
            return (await h.fetch()).queued

        assert await publish([1, 2]) == 2
        await until(lambda: _statuses_are(h, {"held"}))
        since = len(h.emulator.sent)
        clock.now = datetime(2026, 3, 29, 9, 30, tzinfo=UTC)  # jump: 12:30 Kyiv (DST began)
        await digests.run(h.app)
        (catch_up,) = await h.emulator.wait_for(reader.chat_id, 1, since=since, timeout=10)
        assert "Report 1" in (catch_up.text or "") and "Report 2" in (catch_up.text or "")
        assert await _statuses_are(h, {"sent"})

        clock.now = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # back: 04:30 Kyiv, quiet again
        assert await publish([1, 2, 3]) == 1
        await until(lambda: _statuses_are(h, {"sent", "held"}))
        await digests.run(h.app)
        await asyncio.sleep(1.2)
        assert len(h.emulator.sent) == since + 1, "nothing sent inside quiet hours, nothing twice"
        clock.now = datetime(2026, 3, 29, 4, 1, tzinfo=UTC)  # 07:01 Kyiv (summer time)
        await digests.run(h.app)
        (second,) = await h.emulator.wait_for(reader.chat_id, 1, since=since + 1, timeout=10)
        assert "Report 3" in (second.text or "") and "Report 1" not in (second.text or "")
        assert await _statuses_are(h, {"sent"})


@pytest.mark.parametrize(
    ("now", "start", "end", "quiet"),
    [
        # Kyiv springs forward on 29 March 2026 at 03:00 EET (01:00 UTC): 03:00-03:59 never is.
        (datetime(2026, 3, 29, 0, 45, tzinfo=UTC), time(2, 30), time(3, 30), True),
        (datetime(2026, 3, 29, 1, 0, tzinfo=UTC), time(2, 30), time(3, 30), False),
        (datetime(2026, 3, 29, 0, 59, tzinfo=UTC), time(3, 15), time(3, 45), False),
        # Kyiv falls back on 25 October 2026 at 04:00 EEST (01:00 UTC): 03:00-03:59 is twice.
        (datetime(2026, 10, 25, 0, 30, tzinfo=UTC), time(3), time(4), True),
        (datetime(2026, 10, 25, 1, 30, tzinfo=UTC), time(3), time(4), True),
        (datetime(2026, 10, 25, 2, 0, tzinfo=UTC), time(3), time(4), False),
    ],
)
def test_quiet_hours_on_daylight_saving_nights(
    now: datetime, start: time, end: time, quiet: bool
) -> None:
    """Quiet hours follow the wall clock: a window in the skipped hour is short (or empty),
    one in the repeated hour is quiet both times round."""
    prefs = ChatPrefs(chat_id=1, timezone="Europe/Kyiv", quiet_start=start, quiet_end=end)
    assert in_quiet_hours(now, prefs) is quiet


jump = st.one_of(
    st.just(timedelta(minutes=5)),
    st.integers(min_value=-120, max_value=-1).map(lambda m: timedelta(minutes=m)),
    st.integers(min_value=1, max_value=30 * 60).map(lambda m: timedelta(minutes=m)),
)


@settings(max_examples=60, deadline=None)
@given(
    zone=st.sampled_from(
        ["Europe/Kyiv", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu"]
    ),
    at=st.sampled_from([time(0, 0), time(2, 30), time(3, 30), time(8, 0), time(23, 59)]),
    start=st.sampled_from(
        [
            datetime(2026, 3, 27, 12, tzinfo=UTC),
            datetime(2026, 10, 23, 12, tzinfo=UTC),
            datetime(2026, 4, 3, 12, tzinfo=UTC),
            datetime(2026, 11, 1, 0, tzinfo=UTC),
        ]
    ),
    jumps=st.lists(jump, min_size=20, max_size=200),
)
def test_daily_digest_at_most_once_a_day_whatever_the_clock_does(
    zone: str, at: time, start: datetime, jumps: list[timedelta]
) -> None:
    """A clock stepping, jumping forward (suspend) and back (NTP) across DST changes never
    makes a daily digest due twice on one local day."""
    prefs = ChatPrefs(chat_id=1, timezone=zone, digest=DigestMode.DAILY, digest_at=at)
    now, last, days = start, None, []
    for step in jumps:
        if digest_due(now, prefs, last):
            days.append(now.astimezone(ZoneInfo(zone)).date())
            last = now
        now += step
    assert len(days) == len(set(days)), days


@pytest.mark.parametrize("zone", ["Europe/Kyiv", "America/New_York", "Australia/Lord_Howe"])
@pytest.mark.parametrize("at", [time(2, 30), time(3, 0), time(8, 0)])
def test_daily_digest_comes_every_day_through_dst(zone: str, at: time) -> None:
    """Stepping five minutes at a time through both DST changes of 2026, the daily digest is
    due exactly once on every local day (a time in a skipped hour comes just after it)."""
    prefs = ChatPrefs(chat_id=1, timezone=zone, digest=DigestMode.DAILY, digest_at=at)
    tz = ZoneInfo(zone)
    for first_day in (datetime(2026, 3, 6, tzinfo=tz), datetime(2026, 10, 2, tzinfo=tz)):
        now, last, days = first_day.astimezone(UTC), None, []
        end = (first_day + timedelta(days=40)).astimezone(UTC)
        while now < end:
            if digest_due(now, prefs, last):
                days.append(now.astimezone(tz).date())
                last = now
            now += timedelta(minutes=5)
        assert days == sorted(set(days))
        assert len(days) == 40, f"{len(days)} digests in 40 days"


async def _statuses_are(h: Harness, wanted: set[str]) -> bool:
    return {row[2] for row in await outbox(h)} == wanted
