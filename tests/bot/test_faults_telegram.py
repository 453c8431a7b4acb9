"""Fault suite (issue #8), Telegram: unreachable for minutes, then back."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.delivery import Sender
from tests.bot.faults_common import DNIPRO, outbox, rss, until
from tests.helpers import harness


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
