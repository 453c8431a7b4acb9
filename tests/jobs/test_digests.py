"""Quiet hours and digests end to end (issue #6): the harness clock is moved across the
chat's boundaries in its own time zone, and the digest job is run at chosen moments."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime

from telegram.ext import Job

from bot.emulator import SentRecord
from bot.formatting import visible_len
from tests.helpers import Clock
from tests.jobs.conftest import Bot, Item, headline_of

Newsroom = Callable[..., AbstractAsyncContextManager[Bot]]
READER = 601


def digest_job(bot: Bot) -> Job[object]:
    """The scheduled digest job, taken off its 20 s timer so that only the test runs it."""
    job_queue = bot.h.app.job_queue
    assert job_queue is not None
    (job,) = job_queue.get_jobs_by_name("digests")
    job.schedule_removal()
    return job  # type: ignore[return-value]


async def run_at(bot: Bot, job: Job[object], moment: datetime) -> list[SentRecord]:
    """Move the clock to `moment`, run the digest job once, return what it sent."""
    bot.h.clock.now = moment
    mark = len(bot.h.emulator.sent)
    await job.run(bot.h.app)  # type: ignore[arg-type]
    return bot.h.emulator.sent[mark:]


async def statuses_become(bot: Bot, status: str, count: int) -> None:
    """Wait until the deliver job has routed `count` rows to `status`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while sum(row[3] == status for row in await bot.deliveries()) < count:
        assert loop.time() < deadline, await bot.deliveries()
        await asyncio.sleep(0.05)


def listed(records: list[SentRecord], items: list[Item]) -> Counter[str]:
    """How often each item's headline appears across these messages."""
    text = "\n".join(r.text or "" for r in records)
    return Counter({item.title: text.count(item.title) for item in items})


async def setup_reader(bot: Bot, *commands: str) -> None:
    chat = bot.h.chat(READER)
    for command in (*commands, "/follow all"):
        await chat.send(command, settle=0.05)


async def test_quiet_hours_hold_alerts_for_one_catch_up_after(newsroom: Newsroom) -> None:
    """Alerts arriving in quiet hours (23:00-07:00 Kyiv) are held, nothing is sent before
    07:00 local, then one catch-up message lists each held story once; later alerts are
    instant again."""
    night = datetime(2026, 3, 10, 21, 30, tzinfo=UTC)  # 23:30 in Kyiv (UTC+2 in March)
    async with newsroom(clock=Clock(night)) as bot:
        job = digest_job(bot)
        await setup_reader(bot, "/timezone Europe/Kyiv", "/quiet 23:00-07:00")
        items = [bot.news.fresh() for _ in range(3)]
        bot.news.publish("alpha", *items)
        await bot.h.fetch()
        await statuses_become(bot, "held", 3)
        assert bot.alerts(READER) == []

        assert await run_at(bot, job, datetime(2026, 3, 11, 4, 59, tzinfo=UTC)) == []
        (catch_up,) = await run_at(bot, job, datetime(2026, 3, 11, 5, 1, tzinfo=UTC))
        assert catch_up.chat_id == READER
        assert "While you were away (since" in (catch_up.text or "") and "23:30)" in (
            catch_up.text or ""
        )
        assert listed([catch_up], items) == Counter({item.title: 1 for item in items})
        assert {row[3] for row in await bot.deliveries()} == {"sent"}
        assert await run_at(bot, job, datetime(2026, 3, 11, 5, 30, tzinfo=UTC)) == []

        morning = bot.news.fresh()
        bot.news.publish("beta", morning)
        await bot.h.fetch()
        (alert,) = await bot.h.emulator.wait_for(
            lambda r: r.chat_id == READER and headline_of(morning) in (r.text or ""), timeout=10
        )
        await bot.settled()
        assert [r.text for r in bot.alerts(READER)] == [alert.text]


async def test_daily_digest_comes_at_the_chats_hour_split_below_the_limit(
    newsroom: Newsroom,
) -> None:
    """A daily digest at 08:00 New York time: nothing at 07:59, at 08:01 every story once
    across messages that each fit Telegram's 4096 characters, nothing more that day, and a
    story arriving later waits for the next day's digest."""
    early = datetime(2026, 3, 10, 11, 0, tzinfo=UTC)  # 07:00 in New York (EDT, UTC-4)
    async with newsroom(clock=Clock(early)) as bot:
        job = digest_job(bot)
        await setup_reader(bot, "/timezone America/New_York", "/digest daily 08:00")
        items = [bot.news.fresh(padding=20) for _ in range(30)]
        bot.news.publish("alpha", *items[:15])
        bot.news.publish("beta", *items[15:])
        report = await bot.h.fetch()
        assert report.new_stories == 30
        await statuses_become(bot, "digest", 30)
        assert bot.alerts(READER) == []

        assert await run_at(bot, job, datetime(2026, 3, 10, 11, 59, tzinfo=UTC)) == []
        parts = await run_at(bot, job, datetime(2026, 3, 10, 12, 1, tzinfo=UTC))
        assert len(parts) >= 2 and {r.chat_id for r in parts} == {READER}
        assert (parts[0].text or "").startswith("<b>Daily digest: 30 stories</b>")
        assert all(visible_len(r.text or "") <= 4096 for r in parts)
        assert listed(parts, items) == Counter({item.title: 1 for item in items})
        assert {row[3] for row in await bot.deliveries()} == {"sent"}
        assert await run_at(bot, job, datetime(2026, 3, 10, 16, 30, tzinfo=UTC)) == []

        late = bot.news.fresh()
        bot.news.publish("beta", late)
        await bot.h.fetch()
        await statuses_become(bot, "digest", 1)
        assert await run_at(bot, job, datetime(2026, 3, 11, 11, 59, tzinfo=UTC)) == []
        (next_day,) = await run_at(bot, job, datetime(2026, 3, 11, 12, 0, 30, tzinfo=UTC))
        assert (next_day.text or "").startswith("<b>Daily digest: 1 story</b>")
        assert listed([next_day], [late, *items]) == Counter(
            {late.title: 1} | {item.title: 0 for item in items}
        )


async def first_hourly_digest(
    bot: Bot, start: datetime
) -> tuple[Job[object], list[Item], SentRecord]:
    """A reader on hourly digests, two stories waiting, and the digest sent at `start`."""
    job = digest_job(bot)
    await setup_reader(bot, "/digest hourly")
    first = [bot.news.fresh(), bot.news.fresh()]
    bot.news.publish("alpha", *first)
    await bot.h.fetch()
    await statuses_become(bot, "digest", 2)
    (digest,) = await run_at(bot, job, start)
    assert (digest.text or "").startswith("<b>Hourly digest: 2 stories</b>")
    return job, first, digest


async def test_hourly_digest_sends_at_most_one_per_clock_hour(newsroom: Newsroom) -> None:
    """An hourly digest goes out for what is waiting, then not again until the next clock
    hour, when it lists only what arrived since."""
    start = datetime(2026, 3, 10, 10, 20, tzinfo=UTC)
    async with newsroom(clock=Clock(start)) as bot:
        job, first, digest = await first_hourly_digest(bot, start)

        second = bot.news.fresh()
        bot.news.publish("beta", second)
        bot.h.clock.now = datetime(2026, 3, 10, 10, 40, tzinfo=UTC)
        await bot.h.fetch()
        await statuses_become(bot, "digest", 1)
        assert await run_at(bot, job, datetime(2026, 3, 10, 10, 59, tzinfo=UTC)) == []
        (hourly,) = await run_at(bot, job, datetime(2026, 3, 10, 11, 0, 30, tzinfo=UTC))
        assert listed([digest, hourly], [*first, second]) == Counter(
            {item.title: 1 for item in [*first, second]}
        )
        assert second.title in (hourly.text or "")


async def test_a_digested_story_that_gains_outlets_leaves_the_digest_alone(
    newsroom: Newsroom,
) -> None:
    """A story that went out in a digest and is then reported by another outlet does not turn
    the digest message into that story's alert: only single alerts are edited."""
    start = datetime(2026, 3, 10, 10, 20, tzinfo=UTC)
    async with newsroom(clock=Clock(start)) as bot:
        _, first, _ = await first_hourly_digest(bot, start)

        story = first[0]
        same = Item(
            story.title, story.text + " Officials confirmed it.", story.link + "b", story.published
        )
        bot.news.publish("beta", same)
        bot.h.clock.now = datetime(2026, 3, 10, 10, 40, tzinfo=UTC)
        assert (await bot.h.fetch()).merged == 1
        await asyncio.sleep(1.5)
        await bot.settled()
        assert bot.h.emulator.edits == []
