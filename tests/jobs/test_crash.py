"""Restarts (issue #6): `python -m bot run` as a real process against the emulator of this
test, stopped in the middle of a burst of alerts, then started again on the same database.

SIGTERM: the sends in flight finish and are recorded, nothing repeats after the restart.
kill -9: after the restart every alert arrives; only those in flight at the kill (claimed,
maybe sent, not yet recorded) may arrive twice, and the test prints how many were in flight.
With PostgreSQL the restarted bot cannot tell a dead instance from a live one at once: the
killed one's claims come back when its heartbeat is 30 s stale (the clean-up job).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.db import DeliveryRow, SourceRow, StoryRow, make_engine, make_sessionmaker
from bot.emulator import Emulator
from bot.feedserver import FeedServer
from bot.store import chats
from bot.store.chats import FollowKind
from tests.conftest import TOKEN
from tests.jobs.conftest import make_item, rss

pytestmark = pytest.mark.slow

FEED = "/feeds/alpha.rss"
SEND_RATE = 25  # the default: a margin under the emulator's 30/s, so jitter never trips it
ROOT = Path(__file__).resolve().parents[2]


class Rig:
    """The emulator, a feed, the test database and the bot process (when one runs)."""

    def __init__(self, emulator: Emulator, feeds: FeedServer, database_url: str, tmp: Path):
        self.emulator, self.feeds, self.database_url, self.tmp = emulator, feeds, database_url, tmp
        self.engine = make_engine(database_url)
        self.sessions = make_sessionmaker(self.engine)
        self.items = [make_item(1, published=self.now() - timedelta(minutes=5))]
        self.process: subprocess.Popen[bytes] | None = None
        self.runs = 0
        feeds.set_feed(FEED, rss("Alpha Post", self.items))
        self.sources = tmp / "sources.toml"
        self.sources.write_text(
            f'[[source]]\nname = "Alpha Post"\nurl = "{feeds.base_url}{FEED}"\n'
            'kind = "feed"\nlanguage = "en"\n'
        )

    @staticmethod
    def now() -> datetime:
        return datetime.now(UTC)

    async def followers(self, count: int) -> list[int]:
        """`count` private chats following everything, known to the emulator and the store."""
        chat_ids = list(range(5001, 5001 + count))
        async with self.sessions() as session, session.begin():
            for chat_id in chat_ids:
                self.emulator.add_chat(chat_id)
                await chats.ensure_chat(session, chat_id, type="private", now=self.now())
                await chats.add_follow(session, chat_id, 0, FollowKind.ALL, "all", self.now())
        return chat_ids

    def start(self) -> None:
        """`python -m bot run`, configured only through its environment."""
        self.runs += 1
        env = {
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": str(ROOT),
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_URL": self.emulator.url,
            "DATABASE_URL": self.database_url,
            "SOURCES_FILE": str(self.sources),
            "FETCH_INTERVAL": "1",
            "SEND_RATE": str(SEND_RATE),
            "LOG_LEVEL": "INFO",
        }
        with (self.tmp / f"bot-{self.runs}.log").open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot", "run"],
                cwd=self.tmp,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    async def stop(self, sig: signal.Signals) -> int:
        """Send `sig` and wait for the process to end; returns its exit code."""
        assert self.process is not None
        self.process.send_signal(sig)
        for _ in range(300):
            code = self.process.poll()
            if code is not None:
                return code
            await asyncio.sleep(0.05)
        self.process.kill()
        raise AssertionError(f"the bot did not stop after {sig.name}: {self.log_tail()}")

    def log_tail(self) -> str:
        return "".join(
            (self.tmp / f"bot-{n}.log").read_text()[-3000:] for n in range(1, self.runs + 1)
        )

    async def count(self, statement: object) -> int:
        async with self.sessions() as session:
            return int(await session.scalar(statement) or 0)  # type: ignore[call-overload]

    async def statuses(self) -> Counter[str]:
        async with self.sessions() as session:
            rows = await session.execute(
                select(DeliveryRow.status, func.count()).group_by(DeliveryRow.status)
            )
            return Counter({status: int(n) for status, n in rows.all()})

    async def wait(self, what: str, condition: object, timeout: float = 60) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not await condition():  # type: ignore[operator]
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"the bot exited while waiting for {what}: {self.log_tail()}")
            if loop.time() > deadline:
                raise AssertionError(f"timed out waiting for {what}: {self.log_tail()}")
            await asyncio.sleep(0.05)

    async def burst(self, stories: int) -> list[str]:
        """Let the bot store its backlog, then publish `stories` new items; their headlines."""
        stored = select(func.count()).select_from(StoryRow)
        await self.wait("the backlog", lambda: self._at_least(stored, 1))
        fresh = [
            make_item(100 + n, published=self.now() - timedelta(minutes=5)) for n in range(stories)
        ]
        self.items += fresh
        self.feeds.set_feed(FEED, rss("Alpha Post", self.items))
        return [item.title for item in fresh]

    async def _at_least(self, statement: object, n: int) -> bool:
        return await self.count(statement) >= n

    def delivered(self, headlines: list[str]) -> Counter[tuple[int, str]]:
        """How often each (chat, story) alert reached the emulator."""
        found: Counter[tuple[int, str]] = Counter()
        for record in self.emulator.sent:
            first_line = (record.text or "").split("\n", 1)[0]
            for title in headlines:
                if title in first_line:
                    found[record.chat_id, title] += 1
        return found


@asynccontextmanager
async def rig(database_url: str, tmp_path: Path) -> AsyncIterator[Rig]:
    async with Emulator(TOKEN) as emulator, FeedServer() as feeds:
        bench = Rig(emulator, feeds, database_url, tmp_path)
        try:
            yield bench
        finally:
            if bench.process is not None and bench.process.poll() is None:
                bench.process.kill()
                bench.process.wait()
            await bench.engine.dispose()


async def test_restarts_mid_burst_lose_nothing_and_repeat_at_most_in_flight(
    database_url: str, tmp_path: Path
) -> None:
    """A burst of 500 alerts to 50 chats, stopped twice. SIGTERM at a third: the bot exits 0
    with nothing left claimed and every alert that reached Telegram recorded. kill -9 at two
    thirds: after the restart every alert has arrived, and no more arrived twice than were in
    flight (claimed, not recorded) at the kill."""
    async with rig(database_url, tmp_path) as bench:
        chat_ids = await bench.followers(50)
        bench.start()
        headlines = await bench.burst(10)
        total = len(chat_ids) * len(headlines)
        await bench.wait("a third of the burst", lambda: _sent_at_least(bench, total // 3))
        assert await bench.stop(signal.SIGTERM) == 0, bench.log_tail()
        at_stop = await bench.statuses()
        delivered = bench.delivered(headlines)
        print(f"\nSIGTERM after {sum(delivered.values())} of {total} alerts; outbox {at_stop}")
        assert at_stop["sending"] == 0
        assert at_stop["sent"] == sum(delivered.values()) < total
        assert max(delivered.values()) == 1

        bench.start()
        await bench.wait("two thirds", lambda: _sent_at_least(bench, 2 * total // 3))
        assert await bench.stop(signal.SIGKILL) == -signal.SIGKILL
        at_kill = await bench.statuses()
        in_flight = at_kill["sending"]

        bench.start()
        await bench.wait("every alert", lambda: _all_sent(bench, total), timeout=90)
        assert await bench.stop(signal.SIGTERM) == 0
        delivered = bench.delivered(headlines)
        repeats = sum(n - 1 for n in delivered.values())
        print(
            f"kill -9 with {at_kill['sent']} of {total} recorded sent and {in_flight} in flight;"
            f" repeated after the restart: {repeats}"
        )
        assert len(delivered) == total, "an alert was lost"
        assert repeats <= in_flight
        assert bench.emulator.violations == 0, bench.emulator.stats()["violation_kinds"]


async def _sent_at_least(bench: Rig, n: int) -> bool:
    return (
        await bench.count(
            select(func.count()).select_from(DeliveryRow).where(DeliveryRow.status == "sent")
        )
        >= n
    )


async def _all_sent(bench: Rig, total: int) -> bool:
    statuses = await bench.statuses()
    return statuses["sent"] == total and sum(statuses.values()) == total


async def test_sigterm_does_not_wait_for_a_hanging_source(
    database_url: str, tmp_path: Path
) -> None:
    """SIGTERM while a fetch pass waits on a source that never answers: the stop waited out
    the source's 15-30 s timeouts, past many supervisors' grace period (ops audit 5). The
    pass is interrupted, the bot exits 0 within seconds, and the source is not left claimed."""
    async with rig(database_url, tmp_path) as bench:
        hang = "/fault/hang"
        bench.feeds.set_fault(hang, "hang")
        bench.sources.write_text(
            bench.sources.read_text()
            + f'\n[[source]]\nname = "Hanging Post"\nurl = "{bench.feeds.base_url}{hang}"\n'
        )
        bench.start()

        async def hanging() -> bool:
            return bench.feeds.hits(hang) > 0

        await bench.wait("the hanging fetch", hanging)
        await asyncio.sleep(0.5)
        started = asyncio.get_running_loop().time()
        assert await bench.stop(signal.SIGTERM) == 0, bench.log_tail()
        took = asyncio.get_running_loop().time() - started
        claimed = (
            select(func.count()).select_from(SourceRow).where(SourceRow.claimed_until.is_not(None))
        )
        assert await bench.count(claimed) == 0
    assert took < 5, bench.log_tail()
