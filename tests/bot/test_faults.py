"""The fault suite (issue #8): the real bot, the emulator and the feed server, through a
Telegram outage, a flapping source, a feed that floods, clock jumps around quiet hours, and
a database that cannot be used at start."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import sqlite3
import sys
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, time, timedelta
from email.utils import format_datetime
from html import escape
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.db import DeliveryRow, ItemRow
from bot.delivery import Sender
from bot.emulator import Emulator
from bot.feedserver import Fault
from bot.migrate import upgrade
from bot.models import ChatPrefs, DigestMode
from bot.pipeline import MAX_ITEMS_PER_SOURCE
from bot.timing import digest_due, in_quiet_hours
from tests.conftest import ROOT, TOKEN
from tests.helpers import Clock, Harness, harness

DNIPRO = "/feeds/dnipro_ledger.rss"
WORDS = [
    "harbour",
    "orchard",
    "violin",
    "glacier",
    "compass",
    "lantern",
    "meadow",
    "pottery",
    "chapel",
    "tailor",
    "vineyard",
    "ferry",
    "archive",
    "blanket",
    "theatre",
    "novelist",
    "sculptor",
    "weaver",
    "shepherd",
    "beekeeper",
    "jeweller",
    "astronomer",
]


def item_xml(n: int, *, topic: str = "drones over Kursk", when: datetime | None = None) -> str:
    """One RSS item whose words and numbers are its own, so dedup never merges two of them."""
    words = " ".join(f"{WORDS[(n * 7 + i) % len(WORDS)]} {n * 1000 + i}" for i in range(10))
    published = format_datetime(when or datetime.now(UTC) - timedelta(minutes=5))
    return (
        f"<item><title>Report {n}: {escape(topic)} {words[:60]}</title>"
        f"<link>https://dnipro-ledger.example/report/{n}</link><guid>report-{n}</guid>"
        f"<pubDate>{published}</pubDate>"
        f"<description>{escape(topic)}: {words}. Officials said more would follow.</description>"
        "</item>"
    )


def rss(numbers: range | list[int], **options: object) -> bytes:
    items = "".join(item_xml(n, **options) for n in numbers)  # type: ignore[arg-type]
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        "<title>Dnipro Ledger</title><link>https://dnipro-ledger.example</link>"
        f"<description>test</description>{items}</channel></rss>"
    ).encode()


async def until(condition: Callable[[], Awaitable[bool]], timeout: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await condition():
        if loop.time() > deadline:
            raise TimeoutError("the condition never held")
        await asyncio.sleep(0.05)


async def outbox(h: Harness) -> list[tuple[int, int, str, int]]:
    """Every delivery as (chat, story, status, attempts)."""
    async with h.deps.sessions() as session:
        rows = await session.execute(
            select(
                DeliveryRow.chat_id, DeliveryRow.story_id, DeliveryRow.status, DeliveryRow.attempts
            ).order_by(DeliveryRow.id)
        )
        return [tuple(row) for row in rows.all()]  # type: ignore[misc]


class Requests(logging.Handler):
    """Counts the bot's HTTP requests per Bot API method, from httpx's own request log."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())

    def count(self, method: str) -> int:
        return sum(f"/{method} " in line for line in self.lines)


@pytest.fixture
def requests() -> Iterator[Requests]:
    logger = logging.getLogger("httpx")
    handler, level = Requests(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


async def test_telegram_outage_then_back(
    database_url: str, tmp_path: Path, requests: Requests
) -> None:
    """Telegram answers 502 to everything for minutes (of the bot's clock): each alert is tried
    once per back-off step and never in a loop, polling backs off too, and when Telegram is
    back every queued alert arrives exactly once, none lost, and commands work again."""
    async with harness(database_url, tmp_path) as h:
        await h.fetch()
        # Three chats, one new story: three alerts that no per-chat pacing spreads out.
        readers = [h.chat(501), h.chat(502), h.chat(503)]
        for chat in readers:
            await chat.send("/follow all", settle=0.1)
        h.feeds.set_feed(DNIPRO, rss([1]))
        h.emulator.set_unavailable(True)
        loop = asyncio.get_running_loop()
        started, sends_before = loop.time(), requests.count("sendMessage")
        polls_before = requests.count("getUpdates")
        h.clock.advance(seconds=1)
        report = await h.fetch()
        assert report.queued == 3

        async def attempts_are(n: int) -> bool:
            return [row[3] for row in await outbox(h)] == [n] * 3

        await until(lambda: attempts_are(1))
        await asyncio.sleep(1.5)  # more delivery runs: nothing is due on the bot's clock
        assert await attempts_are(1)
        for step in (2, 3):
            h.clock.advance(seconds=60)
            await until(lambda step=step: attempts_are(step))
        outage_s = loop.time() - started
        assert requests.count("sendMessage") - sends_before == 9, "one send per alert per step"
        polls = requests.count("getUpdates") - polls_before
        assert polls <= outage_s + 2, f"{polls} polls in {outage_s:.1f}s is a tight loop"

        h.emulator.set_unavailable(False)
        since = len(h.emulator.sent)
        h.clock.advance(minutes=5)
        for chat in readers:
            (alert,) = await h.emulator.wait_for(chat.chat_id, 1, since=since, timeout=15)
            assert "Report 1" in (alert.text or "")
        await asyncio.sleep(1.2)
        assert len(h.emulator.sent) == since + 3, "each alert exactly once"
        assert {row[2] for row in await outbox(h)} == {"sent"}
        assert await readers[0].send("/latest 1")


async def test_a_fifteen_minute_outage_loses_nothing(database_url: str, tmp_path: Path) -> None:
    """After a 15-minute Telegram outage (far more retries than the first minutes' back-off
    steps) every queued alert is still delivered, once (issue #8)."""
    async with harness(database_url, tmp_path, jobs=False) as h:
        await h.fetch()
        for chat_id in (501, 502):
            await h.chat(chat_id).send("/follow all", settle=0.1)
        h.feeds.set_feed(DNIPRO, rss([1]))
        h.emulator.set_unavailable(True)
        report = await h.fetch()
        assert report.queued == 2
        for _ in range(30):  # the sender looks every 30 s of a 15-minute outage
            once = iter([True])
            await Sender(h.deps, h.app.bot).run_once(keep_going=lambda once=once: next(once, False))
            h.clock.advance(seconds=30)
        h.emulator.set_unavailable(False)
        h.clock.advance(minutes=10)
        await Sender(h.deps, h.app.bot).run_once(budget_s=3)
        assert [row[2] for row in await outbox(h)] == ["sent", "sent"]


async def test_flapping_source(database_url: str, tmp_path: Path) -> None:
    """A source that fails every other pass backs off, never stops the others, and what it
    published while broken arrives once when it is back; the same items never re-alert."""
    clock = Clock()
    async with harness(database_url, tmp_path, clock=clock, fetch_interval=60) as h:
        first = await h.fetch(force=False)
        assert first.count("ok") == 4
        reader = h.chat()
        await reader.send("/follow all")
        since = len(h.emulator.sent)
        plan = [
            (Fault.SERVER_ERROR, None),
            (None, [1]),
            (Fault.SERVER_ERROR, [1, 2]),
            (None, [1, 2]),
            (None, [1, 2, 3]),
        ]
        statuses = []
        for fault, items in plan:
            if items is not None:
                h.feeds.set_feed(DNIPRO, rss(items))
            h.feeds.set_fault(DNIPRO, fault)
            clock.advance(seconds=125)  # past the interval and one failure's back-off
            report = await h.fetch(force=False)
            by_name = {s.name: s for s in report.sources}
            statuses.append(by_name["Dnipro Ledger"].status)
            others = [s for name, s in by_name.items() if name != "Dnipro Ledger"]
            assert len(others) == 3 and all(s.status != "error" for s in others)
            assert not by_name["Dnipro Ledger"].outage, "a flap is not an outage to announce"
        assert statuses == ["error", "ok", "error", "ok", "ok"]
        await h.emulator.wait_for(reader.chat_id, 3, since=since, timeout=15)
        await asyncio.sleep(1.5)
        titles = [(r.text or "").split("\n", 1)[0] for r in h.emulator.sent[since:]]
        reports = sorted(t for t in titles if "Report" in t)
        assert [t.split(":")[0] for t in reports] == ["<b>Report 1", "<b>Report 2", "<b>Report 3"]

        h.feeds.set_fault(DNIPRO, Fault.SERVER_ERROR)
        notices = [(await h.fetch()).sources for _ in range(6)]
        flags = [next(s.outage for s in pass_ if s.name == "Dnipro Ledger") for pass_ in notices]
        assert flags == [False, False, False, False, True, False], "told once per outage"


async def test_a_feed_that_suddenly_publishes_500_items(database_url: str, tmp_path: Path) -> None:
    """500 new items in one pass (more are cut at MAX_ITEMS_PER_SOURCE): every one is stored
    once in that pass, the other sources are fetched as usual, the next pass finds nothing new,
    and the alerts are paced at Telegram's per-chat limits (1/s private, 20/min groups) with
    no flood violation; the rest wait in the queue, none dropped.

    What a reader who follows everything gets is one alert a second until the burst is sent:
    paced, not capped (see the Reliability notes for the cap we recommend)."""
    assert MAX_ITEMS_PER_SOURCE == 500
    async with harness(database_url, tmp_path) as h:
        await h.fetch()
        reader = h.chat()
        await reader.send("/follow all")
        group = h.chat(-5005, type="group", admins=(900,), user_id=900)
        await group.send("/follow all")
        h.feeds.set_feed(DNIPRO, rss(range(1, 601)))
        h.clock.advance(seconds=1)
        since = len(h.emulator.sent)
        loop = asyncio.get_running_loop()
        started = loop.time()
        fetching = asyncio.create_task(h.fetch())
        await asyncio.sleep(0.5)
        # The bot keeps answering while it digests the flood.
        asking = loop.time()
        assert await h.chat(777).send("/sources", settle=0.1)
        answered_in = loop.time() - asking
        assert not fetching.done(), "the pass should still be running (else this shows nothing)"
        report = await fetching
        took = loop.time() - started
        assert answered_in < 3.0, f"/sources took {answered_in:.1f}s during the pass"
        dnipro = next(s for s in report.sources if s.name == "Dnipro Ledger")
        assert dnipro.status == "ok"
        assert dnipro.new_items == 500, "the first 500 entries of the 600 are taken"
        assert report.count("error") == 0 and len(report.sources) == 4
        assert report.queued == 2 * dnipro.new_stories
        async with h.deps.sessions() as session:
            stored = await session.scalar(select(func.count()).select_from(ItemRow))
        await asyncio.sleep(2.0)
        window = loop.time() - started - took
        private = [r for r in h.emulator.sent[since:] if r.chat_id == reader.chat_id]
        grouped = [r for r in h.emulator.sent[since:] if r.chat_id == group.chat_id]
        assert 1 <= len(private) <= window / 1.0 + 1
        assert 1 <= len(grouped) <= window / 3.0 + 1
        assert h.emulator.violations == 0
        rows = await outbox(h)
        assert len(rows) == report.queued
        assert {row[2] for row in rows} <= {"queued", "sending", "sent"}
        again = await h.fetch()
        assert again.new_items == 0 and again.queued == 0
    assert stored is not None and stored >= 500


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


async def _run_bot(env: dict[str, str], cwd: Path) -> tuple[int | None, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        cwd=cwd,
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), 60)
    finally:
        if process.returncode is None:
            process.kill()
    return process.returncode, out.decode(), err.decode()


async def test_an_unusable_database_stops_start_up_with_a_clear_message(tmp_path: Path) -> None:
    """`python -m bot run` on a database it cannot use exits 1 with one message saying what is
    wrong and what to do; no traceback, no token."""
    template = tmp_path / "template.db"
    await asyncio.to_thread(upgrade, f"sqlite+aiosqlite:///{template}")
    (tmp_path / "a-file").write_text("not a directory")
    (tmp_path / "garbage.db").write_bytes(b"this is not an sqlite file " * 200)
    shutil.copy(template, tmp_path / "readonly.db")
    cases = [
        (f"sqlite+aiosqlite:///{tmp_path}/a-file/bot.db", "unable to open database file"),
        (f"sqlite+aiosqlite:///{tmp_path}/garbage.db", "file is not a database"),
        (
            f"sqlite+aiosqlite:///file:{tmp_path}/readonly.db?mode=ro&uri=true",
            "attempt to write a readonly database",
        ),
        ("postgresql+asyncpg://bot:secret-pw@127.0.0.1:1/conflictbot", "Connect call failed"),
    ]
    (tmp_path / "sources.toml").write_text("")
    async with Emulator(TOKEN) as emulator:
        base = {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_URL": emulator.url,
            "SOURCES_FILE": str(tmp_path / "sources.toml"),
        }
        results = await asyncio.gather(
            *(_run_bot({**base, "DATABASE_URL": url}, tmp_path) for url, _ in cases)
        )
    for (url, reason), (code, out, err) in zip(cases, results, strict=True):
        assert code == 1, (url, out[-500:], err[-500:])
        assert err.startswith("conflictbot: the database"), err
        assert reason in err and "What to do:" in err, err
        assert "Traceback" not in out + err
        assert TOKEN not in out + err and "secret-pw" not in out + err


def test_a_locked_database_is_named_as_such(tmp_path: Path) -> None:
    """SQLite's "database is locked" (another process holds the file) gets its own advice."""
    from bot.cli import describe_database_error

    path = tmp_path / "locked.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    other = sqlite3.connect(path, timeout=0)
    try:
        with pytest.raises(sqlite3.OperationalError) as caught:
            other.execute("SELECT * FROM t")
    finally:
        other.close()
        holder.close()
    text = describe_database_error(caught.value, f"sqlite+aiosqlite:///{path}")
    assert "cannot be used: database is locked." in text
    assert "another process holds a lock" in text


async def test_a_briefly_locked_database_is_waited_out(tmp_path: Path) -> None:
    """A lock held for a moment at start-up (a backup finishing) is waited for, not fatal."""
    path = tmp_path / "bot.db"
    await asyncio.to_thread(upgrade, f"sqlite+aiosqlite:///{path}")
    (tmp_path / "sources.toml").write_text("")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    async with Emulator(TOKEN) as emulator:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            cwd=tmp_path,
            env={
                "PATH": os.environ.get("PATH", ""),
                "PYTHONPATH": str(ROOT),
                "TELEGRAM_BOT_TOKEN": TOKEN,
                "TELEGRAM_API_URL": emulator.url,
                "DATABASE_URL": f"sqlite+aiosqlite:///{path}",
                "SOURCES_FILE": str(tmp_path / "sources.toml"),
            },
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            await asyncio.sleep(3.0)
            assert process.returncode is None, "it waits for the lock instead of giving up"
            holder.execute("ROLLBACK")
            holder.execute("PRAGMA locking_mode=NORMAL")
            holder.execute("SELECT 1")
            holder.close()
            emulator.add_chat(501, "private")
            emulator.user_says(501, "/start")
            await emulator.wait_for(501, 1, timeout=20)
        finally:
            if process.returncode is None:
                process.terminate()
            _out, err = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode == 0, err.decode()[-800:]
