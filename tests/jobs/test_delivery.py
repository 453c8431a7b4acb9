"""Delivery end to end (issue #6): stories from our feeds, the real Application and its jobs,
Telegram played by the emulator. Who gets which alert, what each of Telegram's answers does,
pacing under the flood limits, and edits when a story gains outlets."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.app import ALLOWED_UPDATES
from bot.db import ChatRow, DeliveryRow
from bot.delivery import RETRY_WINDOW
from bot.emulator import SentRecord
from bot.store import chats
from bot.store.chats import FollowKind
from tests.jobs.conftest import Bot, Item, headline_of

Newsroom = Callable[..., AbstractAsyncContextManager[Bot]]


def headlines(records: list[SentRecord]) -> Counter[str]:
    """How often each story's headline was sent, from the alerts' first lines."""
    return Counter((r.text or "").split("\n", 1)[0] for r in records)


def expect(*items: Item) -> Counter[str]:
    return Counter(headline_of(item) for item in items)


async def until(condition: Callable[[], Any], *, timeout: float = 15.0) -> None:
    """Poll `condition` (sync or async) until it is true."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = condition()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return
        if loop.time() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.05)


async def test_each_story_goes_once_to_each_chat_that_follows_it(newsroom: Newsroom) -> None:
    """Topics, `all`, keywords, exclusions, languages and forum threads pick the chats; the
    backlog alerts nobody; a chat that follows later gets only later stories; nobody twice."""
    async with newsroom(backlog=False) as bot:
        h = bot.h
        commands = [
            (601, "/follow all"),
            (602, "/follow kursk"),
            (603, "/follow north-korea"),
            (604, '/follow "sunflower harvest"'),
            (605, "/follow all -Sudzha"),
            (606, "/follow all"),
            (606, "/language uk"),
        ]
        for chat_id, command in commands:
            await h.chat(chat_id).send(command, settle=0.05)
        for thread_id, topic in ((11, "kursk"), (12, "drones")):
            await bot.follower(
                -100607, topic, type="supergroup", thread_id=thread_id, kind=FollowKind.TOPIC
            )
        await bot.backlog()
        assert await bot.deliveries() == []
        mark = len(h.emulator.sent)

        kursk = bot.news.fresh("Kursk", "Sudzha")
        korea = bot.news.fresh("North Korean", "drone")
        uk_kursk = bot.news.fresh("Курськ", language="uk")
        harvest = bot.news.fresh("sunflower harvest")
        bot.news.publish("alpha", kursk, harvest)
        bot.news.publish("beta", korea)
        bot.news.publish("hromada", uk_kursk)
        report = await h.fetch()
        assert report.new_stories == 4
        await bot.h.chat(608).send("/follow all", settle=0.05)
        await bot.settled()
        wanted = {
            601: expect(kursk, korea, uk_kursk, harvest),
            602: expect(kursk, uk_kursk),
            603: expect(korea),
            604: expect(harvest),
            605: expect(korea, uk_kursk, harvest),
            606: expect(uk_kursk),
            608: expect(),
        }
        for chat_id, stories in wanted.items():
            assert headlines(bot.alerts(chat_id, mark)) == stories, chat_id
        in_forum = bot.alerts(-100607, mark)
        assert headlines([r for r in in_forum if r.thread_id == 11]) == expect(kursk, uk_kursk)
        assert headlines([r for r in in_forum if r.thread_id == 12]) == expect(korea)
        assert len(in_forum) == 3

        later = bot.news.fresh("Kursk")
        bot.news.publish("beta", later)
        mark = len(h.emulator.sent)
        await h.fetch()
        await bot.settled()
        for chat_id in (601, 602, 605, 608):
            assert headlines(bot.alerts(chat_id, mark)) == expect(later), chat_id
        for chat_id in (603, 604, 606):
            assert bot.alerts(chat_id, mark) == [], chat_id
        rows = await bot.deliveries()
        assert len(rows) == len({row[:3] for row in rows}) == 20
        assert {row[3] for row in rows} == {"sent"}
        assert h.deps.counters["delivery_sent"] == 20


@pytest.mark.parametrize(
    ("refusals", "requeued"),
    [
        pytest.param(1, 0, id="the rate limiter waits and retries"),
        pytest.param(4, 1, id="beyond the limiter's retries the alert is requeued"),
    ],
)
async def test_429_waits_retry_after_then_sends_once(
    newsroom: Newsroom, refusals: int, requeued: int
) -> None:
    """A 429 is waited out (retry_after, for every chat) and the alert then arrives once,
    whether PTB's limiter retried it or the sender requeued it after the limiter gave up."""
    async with newsroom() as bot:
        h = bot.h
        await bot.follower(601)
        h.emulator.reset_counts()
        h.emulator.fail_next(
            "sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1, count=refusals
        )
        story = bot.news.fresh()
        bot.news.publish("alpha", story)
        started = asyncio.get_running_loop().time()
        await h.fetch()
        if requeued:
            await until(lambda: h.deps.counters["delivery_retry_after"] == 1)
            await asyncio.sleep(1.2)
            assert bot.alerts(601) == [], "requeued for after retry_after on the bot's clock"
            h.clock.advance(seconds=2)
        await h.emulator.wait_for(601, 1, timeout=15)
        assert asyncio.get_running_loop().time() - started >= refusals * 1.0
        await bot.settled()
        assert headlines(bot.alerts(601)) == expect(story)
        assert h.emulator.requests_by_method["sendMessage"] == refusals + 1
        assert h.deps.counters["delivery_retry_after"] == requeued
        assert h.deps.counters["delivery_sent"] == 1


async def test_403_deactivates_the_chat_and_drops_its_queue(newsroom: Newsroom) -> None:
    """A chat that blocked the bot is deactivated and its queue dropped; others still get
    every alert, and later stories are not even queued for it."""
    async with newsroom() as bot:
        h = bot.h
        await bot.follower(601)
        await bot.follower(602)
        h.emulator.block(602)
        first, second = bot.news.fresh(), bot.news.fresh()
        bot.news.publish("alpha", first, second)
        await h.fetch()
        await bot.settled()
        assert headlines(bot.alerts(601)) == expect(first, second)
        assert bot.alerts(602) == []
        rows = [row for row in await bot.deliveries() if row[0] == 602]
        assert [row[3] for row in rows] == ["dropped", "dropped"]
        assert all("blocked" in (row[4] or "") for row in rows)
        async with h.deps.sessions() as session:
            assert (await session.get(ChatRow, 602)).active is False  # type: ignore[union-attr]
        assert h.deps.counters["delivery_blocked"] == 1

        third = bot.news.fresh()
        bot.news.publish("beta", third)
        report = await h.fetch()
        assert report.queued == 1
        await bot.settled()
        assert headlines(bot.alerts(601)) == expect(first, second, third)


async def test_400_migrate_moves_the_chat_and_sends_to_the_new_id(newsroom: Newsroom) -> None:
    """A group that became a supergroup answers 400 with migrate_to_chat_id: the chat moves
    with its follows and the alert arrives at the new id; the service message that arrives
    later changes nothing, and the next story goes straight to the new id."""
    async with newsroom() as bot:
        h = bot.h
        old, new = -7000, -1000007000
        await bot.follower(old, "kursk", type="group", kind=FollowKind.TOPIC)
        updater = h.app.updater
        assert updater is not None
        await updater.stop()
        h.emulator.migrate(old, new)
        story = bot.news.fresh("Kursk")
        bot.news.publish("alpha", story)
        await h.fetch()
        await h.emulator.wait_for(new, 1, timeout=10)
        await bot.settled()
        assert headlines(bot.alerts(new)) == expect(story)
        assert h.deps.counters["delivery_migrated"] == 1
        async with h.deps.sessions() as session:
            assert await chats.get_prefs(session, old) is None
            moved = await chats.follows(session, new)
        assert [(f.kind, f.value) for f in moved] == [(FollowKind.TOPIC, "kursk")]

        await updater.start_polling(poll_interval=0.0, timeout=1, allowed_updates=ALLOWED_UPDATES)
        await until(lambda: not h.emulator.pending_updates)
        later = bot.news.fresh("Kursk")
        bot.news.publish("beta", later)
        await h.fetch()
        await bot.settled()
        assert headlines(bot.alerts(new)) == expect(story, later)
        assert h.deps.counters["delivery_migrated"] == 1
        assert {row[0] for row in await bot.deliveries()} == {new}


async def test_other_400_is_dead_lettered_and_blocks_nothing(newsroom: Newsroom) -> None:
    """A 400 Telegram will never accept is kept with its reason, not retried, and every other
    alert (to the same chat and to others) is still sent."""
    async with newsroom() as bot:
        h = bot.h
        await bot.follower(601)
        await bot.follower(602)
        h.emulator.fail_next("sendMessage", 400, "Bad Request: message thread not found")
        first, second = bot.news.fresh(), bot.news.fresh()
        bot.news.publish("alpha", first, second)
        await h.fetch()
        await bot.settled()
        rows = await bot.deliveries()
        failed = [row for row in rows if row[3] == "failed"]
        assert len(failed) == 1 and "thread not found" in (failed[0][4] or "").lower()
        assert sorted(row[3] for row in rows) == ["failed", "sent", "sent", "sent"]
        assert len(bot.alerts(601)) + len(bot.alerts(602)) == 3
        assert h.deps.counters["delivery_rejected"] == 1
        assert h.deps.counters["delivery_sent"] == 3


async def test_5xx_is_retried_with_back_off_until_telegram_is_back(newsroom: Newsroom) -> None:
    """While Telegram answers 502 an alert is retried after 2 s, then 4 s (on the bot's
    clock), and sent once Telegram is back; one still failing RETRY_WINDOW after it was
    queued is dead-lettered."""
    async with newsroom() as bot:
        h = bot.h
        await bot.follower(601)

        async def attempts() -> tuple[int, str]:
            async with h.deps.sessions() as session:
                row = await session.get(DeliveryRow, delivery_id)
                assert row is not None
                return row.attempts, row.status

        async def reaches(n: int) -> bool:
            return await attempts() == (n, "queued")

        h.emulator.set_unavailable(True)
        story = bot.news.fresh()
        bot.news.publish("alpha", story)
        await h.fetch()
        ((delivery_id, *_),) = await _ids(bot)
        await until(lambda: reaches(1))
        h.clock.advance(seconds=2.1)
        await until(lambda: reaches(2))
        h.clock.advance(seconds=2.1)
        await asyncio.sleep(1.5)
        assert await attempts() == (2, "queued"), "the second back-off is 4 s"
        h.emulator.set_unavailable(False)
        h.clock.advance(seconds=2)
        await h.emulator.wait_for(601, 1, timeout=10)
        await bot.settled()
        assert headlines(bot.alerts(601)) == expect(story)
        assert h.deps.counters["delivery_transient"] == 2

        h.emulator.set_unavailable(True)
        doomed = bot.news.fresh()
        bot.news.publish("beta", doomed)
        await h.fetch()
        delivery_id = (await _ids(bot))[-1][0]
        await until(lambda: reaches(1))
        async with h.deps.sessions() as session, session.begin():
            # As if Telegram had been down since the alert was queued, RETRY_WINDOW ago.
            await session.execute(
                update(DeliveryRow)
                .where(DeliveryRow.id == delivery_id)
                .values(created_at=h.clock.now - RETRY_WINDOW)
            )
        h.clock.advance(minutes=10)
        await until(lambda: _status_is(bot, delivery_id, "failed"))
        h.emulator.set_unavailable(False)
        rows = await bot.deliveries()
        assert rows[-1][3] == "failed" and (rows[-1][4] or "").startswith("gave up")
        h.clock.advance(hours=1)
        await asyncio.sleep(1.2)
        assert headlines(bot.alerts(601)) == expect(story)
        assert h.deps.counters["delivery_transient"] == 4


async def _ids(bot: Bot) -> list[tuple[int, str]]:
    async with bot.h.deps.sessions() as session:
        rows = await session.execute(
            select(DeliveryRow.id, DeliveryRow.status).order_by(DeliveryRow.id)
        )
        return [tuple(row) for row in rows.all()]  # type: ignore[misc]


async def _status_is(bot: Bot, delivery_id: int, status: str) -> bool:
    return any(row == (delivery_id, status) for row in await _ids(bot))


async def test_bursts_stay_under_every_flood_limit(newsroom: Newsroom) -> None:
    """A burst to many chats and several alerts to the same chats (private and groups) all
    arrive, once each, with zero flood violations: 30/s overall, 1/s per chat, 20/min per group.
    SEND_RATE is the default 25: at exactly the emulator's 30/s, arrival jitter trips it."""
    async with newsroom(send_rate=25) as bot:
        h = bot.h
        private = list(range(2001, 2041))
        groups = [-3001, -3002, -3003]
        for chat_id in private:
            await bot.follower(chat_id)
        for chat_id in groups:
            await bot.follower(chat_id, type="group")
        items = [bot.news.fresh() for _ in range(3)]
        bot.news.publish("alpha", *items[:2])
        bot.news.publish("beta", items[2])
        h.emulator.reset_counts()
        await h.fetch()
        await bot.settled(timeout=40)
        assert h.emulator.violations == 0
        for chat_id in private + groups:
            records = bot.alerts(chat_id)
            assert headlines(records) == expect(*items), chat_id
            gaps = [b.time - a.time for a, b in itertools.pairwise(records)]
            assert min(gaps) >= (3.0 if chat_id < 0 else 1.0) - 0.02, (chat_id, gaps)
        times = sorted(r.time for r in h.emulator.sent)
        busiest = max(sum(1 for t in times[i:] if t < start + 1.0) for i, start in enumerate(times))
        assert busiest <= 30


async def test_a_story_that_gains_outlets_is_edited_not_resent(newsroom: Newsroom) -> None:
    """When another outlet reports a sent story within 6 h, the alert is edited to show
    "+1 outlet"; a report joining after 6 h changes nothing, and no alert is sent twice."""
    async with newsroom() as bot:
        h = bot.h
        await bot.follower(601)
        story = bot.news.fresh("Kursk")
        bot.news.publish("alpha", story)
        await h.fetch()
        (alert,) = await h.emulator.wait_for(601, 1, timeout=10)
        await bot.settled()
        h.clock.advance(hours=5)
        same = Item(
            story.title, story.text + " Officials confirmed it.", story.link + "b", story.published
        )
        bot.news.publish("beta", same)
        report = await h.fetch()
        assert report.merged == 1
        await until(lambda: any(e.message_id == alert.message_id for e in h.emulator.edits))
        (edit,) = [e for e in h.emulator.edits if e.message_id == alert.message_id]
        assert edit.chat_id == 601 and "+1 outlet" in (edit.text or "")
        assert headline_of(story) in (edit.text or "")
        await until(lambda: h.deps.counters["delivery_edited"] == 1)

        h.clock.advance(hours=2)
        again = Item(
            story.title, story.text + " More details later.", story.link + "c", story.published
        )
        bot.news.publish("alpha", again)
        report = await h.fetch()
        assert report.merged == 1
        await asyncio.sleep(2)
        assert len(h.emulator.edits) == 1
        assert bot.alerts(601) == [alert]
