"""Three `conflictbot run` instances on one PostgreSQL database share the work: every alert
is delivered once, the fleet stays under SEND_RATE, one instance killed with SIGKILL loses
nothing, and the poller role moves to another instance within 30 s (issue #7)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.db import DeliveryRow, SourceRow, make_engine, make_sessionmaker
from bot.emulator import Emulator
from bot.feedserver import FeedServer
from bot.store import chats
from bot.store.chats import FollowKind
from tests.conftest import ROOT, TEST_DATABASE_URL, TOKEN

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]

SOURCES = 20
CHATS = 200
NEW_STORIES = 5
SEND_RATE = 25
FIRST_CHAT = 70_000
WORDS = [
    "convoy",
    "reservoir",
    "bridge",
    "depot",
    "ferry",
    "airfield",
    "substation",
    "refinery",
    "granary",
    "harbour",
    "battalion",
    "brigade",
    "corridor",
    "checkpoint",
    "warehouse",
    "pipeline",
    "railway",
    "tunnel",
    "dam",
    "quarry",
]


def feed(source: int, items: list[tuple[str, str]]) -> bytes:
    """A small RSS feed; every item is its own event (distinct words, numbers and places)."""
    entries = "".join(
        f"<item><title>{title}</title><link>https://outlet{source}.example/{guid}</link>"
        f"<guid>{guid}</guid><description>{title}. Officials gave no further details.</description>"
        f"<pubDate>Tue, 19 May 2026 10:00:00 GMT</pubDate></item>"
        for guid, title in items
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Outlet {source}</title>'
        f"<link>https://outlet{source}.example/</link><description>d</description>{entries}"
        "</channel></rss>"
    ).encode()


PLACES = [
    "Bilohorivka",
    "Tsukuryne",
    "Novohrodivka",
    "Ocheretyne",
    "Vuhledar",
    "Kurakhove",
    "Siversk",
    "Lyman",
    "Kupiansk",
    "Orikhiv",
]
EVENTS = (
    "Drones struck a {w} in {p}, officials said, and {k} people were hurt",
    "Shelling damaged the {w} outside {p}; repairs will take {k} days",
    "Troops repelled an assault near the {w} of {p}, losing {k} vehicles",
    "A missile destroyed the {w} serving {p}, cutting power to {k} homes",
    "Evacuation buses left {p} after the {w} was hit; {k} residents remain",
)


def title(source: int, n: int) -> str:
    """A distinct event per (source, n): different place, object, verb and number."""
    return EVENTS[n % len(EVENTS)].format(
        w=WORDS[(source + 7 * n) % len(WORDS)], p=PLACES[n % len(PLACES)], k=17 * n + source + 3
    )


async def wait_until(predicate, timeout: float, step: float = 0.5) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return True
        await asyncio.sleep(step)
    return False


@pytest.mark.skipif(
    not TEST_DATABASE_URL, reason="needs PostgreSQL (TEST_DATABASE_URL); CI sets it"
)
async def test_three_instances_share_the_work(database_url: str, tmp_path: Path) -> None:
    """Alerts once each, under SEND_RATE with no flood errors, through a SIGKILL and a takeover.

    Per-chat spacing holds across instances through the chats' leases in the database, and
    the global rate through the shared send schedule (`bot/store/pacing.py`)."""
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    procs: list[subprocess.Popen[bytes]] = []
    async with Emulator(TOKEN) as emulator, FeedServer(feeds_dir=None) as feeds:
        backlog = {
            s: [(f"s{s}-old", f"Outlet {s} archive piece about the {WORDS[s]}")]
            for s in range(SOURCES)
        }
        for source, items in backlog.items():
            feeds.set_feed(f"/feeds/{source}.rss", feed(source, items))
        sources_file = tmp_path / "sources.toml"
        sources_file.write_text(
            "".join(
                f'[[source]]\nname = "Outlet {s}"\nurl = "{feeds.url(f"/feeds/{s}.rss")}"\nlanguage = "en"\n'
                for s in range(SOURCES)
            )
        )
        now = datetime.now(UTC)
        async with sessions() as session, session.begin():
            for n in range(CHATS):
                chat_id = FIRST_CHAT + n
                emulator.add_chat(chat_id, "private")
                await chats.ensure_chat(session, chat_id, type="private", now=now)
                await chats.add_follow(session, chat_id, 0, FollowKind.ALL, "all", now)
        emulator.add_chat(1, "private")
        env = {
            **os.environ,
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_URL": emulator.url,
            "DATABASE_URL": database_url,
            "SOURCES_FILE": str(sources_file),
            "FETCH_INTERVAL": "2",
            "SEND_RATE": str(SEND_RATE),
            "LOG_LEVEL": "WARNING",
        }
        for _ in range(3):
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "bot", "run"],
                    cwd=ROOT,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                )
            )
        try:

            async def backlog_done() -> bool:
                async with sessions() as session:
                    done = await session.scalar(
                        select(func.count()).where(SourceRow.first_fetch_done.is_(True))
                    )
                return done == SOURCES

            assert await wait_until(backlog_done, 60), "the first passes did not finish"
            for n in range(NEW_STORIES):
                source = n * 3
                items = [(f"s{source}-new{n}", title(source, n)), *backlog[source]]
                feeds.set_feed(f"/feeds/{source}.rss", feed(source, items))
            expected = CHATS * NEW_STORIES

            async def queued() -> bool:
                async with sessions() as session:
                    total = await session.scalar(select(func.count()).select_from(DeliveryRow))
                return total == expected

            if not await wait_until(queued, 60):
                async with sessions() as session:
                    total = await session.scalar(select(func.count()).select_from(DeliveryRow))
                pytest.fail(f"{total} alerts queued, {expected} expected")
            await asyncio.sleep(8)  # let sending get going, then kill the poller mid-burst
            poller = procs[0]
            poller.send_signal(signal.SIGKILL)
            poller.wait(10)
            killed_at = time.monotonic()
            since = len(emulator.sent)
            emulator.user_says(1, "/latest 1", user_id=1)
            await emulator.wait_for(1, 1, since=since, timeout=40)
            takeover_s = time.monotonic() - killed_at

            async def all_sent() -> bool:
                async with sessions() as session:
                    sent = await session.scalar(
                        select(func.count()).where(DeliveryRow.status == "sent")
                    )
                return sent == expected

            assert await wait_until(all_sent, 150), "not every alert was sent"
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            for index, proc in enumerate(procs):
                try:
                    _, err = proc.communicate(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    _, err = proc.communicate()
                print(f"--- instance {index} stderr (tail) ---\n", err.decode()[-3000:])
            await engine.dispose()
        alerts = [r for r in emulator.sent if r.chat_id >= FIRST_CHAT]
        per_alert = Counter((r.chat_id, (r.text or "").split("\n", 1)[0]) for r in alerts)
        repeats = sum(count - 1 for count in per_alert.values())
        times = sorted(r.time for r in alerts)
        busiest = max(
            (sum(1 for t in times[i:] if t < start + 1.0) for i, start in enumerate(times)),
            default=0,
        )
        print(
            f"alerts={len(per_alert)} repeats={repeats} violations={emulator.violations} "
            f"busiest_second={busiest} takeover_s={takeover_s:.1f} "
            f"getUpdates={emulator.requests_by_method['getUpdates']} "
            f"violation_kinds={dict(emulator.world.flood.refusals)}"
        )
        assert len(per_alert) == expected, "an alert was lost"
        assert repeats <= 10, "more repeats than sends in flight at the kill"
        assert takeover_s < 30
        assert emulator.requests_by_method["getUpdates"] < 200, "a 409 storm between pollers"
        assert emulator.violations == 0, "a flood 429: instances crowded a chat or a second"
        # The fleet's rate over the burst. The busiest one-second window is printed, not
        # asserted: it is counted on arrival in this process, which shares two cores with the
        # three instances, and a stall of a fifth of a second here bunches five arrivals into
        # one window though they left on schedule (Telegram's own count is `violations`).
        assert (len(times) - 1) / (times[-1] - times[0]) <= SEND_RATE
