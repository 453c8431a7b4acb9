"""Fault suite (issue #8), sources: one flapping between good and broken, one that floods."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import func, select

from bot.db import ItemRow
from bot.feedserver import Fault
from bot.intake import MAX_ITEMS_PER_SOURCE
from tests.bot.faults_common import DNIPRO, outbox, rss
from tests.helpers import Clock, harness


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
