"""Fault suite (issue #8), the database away mid-run: SQLite locked by another connection for
longer than the busy timeout, PostgreSQL refusing connections with the bot's own cut; then
back. The jobs log it once and go on, commands succeed or say "try again", nothing is lost or
repeated."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

import bot.db
from bot.delivery import Sender, release_stale_claims
from bot.fetch import FetchResult
from bot.pipeline import CLAIM_LEASE, run_fetch_pass
from bot.store import chats
from jobs.cleanup import CLAIM_LEASE as CLEANUP_LEASE
from tests.bot.faults_common import DNIPRO, outbox, rss, until
from tests.conftest import TEST_DATABASE_URL
from tests.helpers import Harness, harness

AWAY_S = 3.0
BUSY_TIMEOUT_S = 1.0  # instead of 15 s, so a lock outlasts it within a short test
TRY_AGAIN = "Please try again in a minute."


@asynccontextmanager
async def database_away(database_url: str) -> AsyncIterator[None]:
    """The database unusable until the block ends.

    SQLite: another connection holds the write lock (`BEGIN EXCLUSIVE`; in WAL mode readers go
    on), so every write waits out the busy timeout and fails with "database is locked".
    PostgreSQL: the database stops accepting connections and the bot's are terminated, as in a
    server restart or a failover.
    """
    if database_url.startswith("sqlite"):
        holder = sqlite3.connect(database_url.split("///", 1)[1], isolation_level=None, timeout=5)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        return
    name = make_url(database_url).database
    admin = create_async_engine(TEST_DATABASE_URL, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
            await connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
        try:
            yield
        finally:
            async with admin.connect() as connection:
                await connection.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
    finally:
        await admin.dispose()


def _line(record: logging.LogRecord) -> tuple[str, int, str, bool]:
    """A log record as (logger, level, message, has a traceback)."""
    return record.name, record.levelno, record.getMessage(), record.exc_info is not None


async def _all_sent(h: Harness) -> bool:
    return {row[2] for row in await outbox(h)} == {"sent"}


def _alerts(h: Harness, chat_id: int, since: int) -> list[str]:
    return [
        (r.text or "").split(":", 1)[0] for r in h.emulator.sent[since:] if r.chat_id == chat_id
    ]


async def test_the_database_away_mid_run_then_back(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """For a few seconds every statement fails (a lock outlasting the busy timeout, or a
    PostgreSQL that refuses connections). Each job logs it in one line, no traceback, once per
    outage and at most once per run (no loop: its next run is the retry); a command succeeds
    or answers "try again"; afterwards the jobs say the database is back, and the item
    published meanwhile is stored and alerted once, the old one not again."""
    monkeypatch.setattr(bot.db, "BUSY_TIMEOUT_S", BUSY_TIMEOUT_S)
    caplog.set_level(logging.INFO, logger="jobs.guard")
    async with harness(database_url, tmp_path, auto_fetch=True) as h:
        assert h.app.job_queue is not None
        (fetch,) = h.app.job_queue.get_jobs_by_name("fetch")

        async def passes(n: int) -> bool:
            return h.deps.counters["fetch_passes"] >= n

        await until(lambda: passes(1))  # the scheduled first pass: the sources' backlog
        reader = h.chat()
        await reader.send("/follow all")
        h.feeds.set_feed(DNIPRO, rss([1]))
        h.clock.advance(hours=1)
        since = len(h.emulator.sent)
        await fetch.run(h.app)
        await h.emulator.wait_for(reader.chat_id, 1, since=since, timeout=10)
        await until(lambda: _all_sent(h))

        loop = asyncio.get_running_loop()
        mark, started = len(caplog.records), loop.time()
        async with database_away(database_url):
            h.feeds.set_feed(DNIPRO, rss([1, 2]))
            h.clock.advance(hours=1)
            await fetch.run(h.app)  # returns: the job logged it
            answers = [
                (await reader.send(command, timeout=20))[0].text or ""
                for command in ("/latest 1", "/follow drones")
            ]
            await asyncio.sleep(max(0.0, AWAY_S - (loop.time() - started)))
        away_s = loop.time() - started
        during = [_line(r) for r in caplog.records[mark:]]

        assert "Report 1" in answers[0] or TRY_AGAIN in answers[0], answers[0]
        assert "Following" in answers[1] or TRY_AGAIN in answers[1], answers[1]
        warned = [m for name, lvl, m, _ in during if name == "jobs.guard" and lvl >= 30]
        assert any(m.startswith("fetch: the database is unavailable") for m in warned)
        assert any(m.startswith("deliver: the database is unavailable") for m in warned)
        jobs = [m.split(":", 1)[0] for m in warned]
        assert len(jobs) == len(set(jobs)), f"one line per job per outage: {warned}"
        tracebacks = [m for name, _, m, exc in during if exc and name != "handlers.errors"]
        assert not tracebacks, tracebacks
        # Failures of the jobs are counted, none went to the error handler (only commands).
        apologies = sum(TRY_AGAIN in answer for answer in answers)
        assert h.deps.counters["handler_errors"] == apologies
        failures = h.deps.counters["database_errors"]
        assert 2 <= failures <= 2 * away_s + 4, f"{failures} failed runs in {away_s:.1f}s"

        h.clock.advance(hours=1)
        since = len(h.emulator.sent)
        await fetch.run(h.app)
        await h.emulator.wait_for(reader.chat_id, 1, since=since, timeout=15)
        await asyncio.sleep(1.5)
        assert _alerts(h, reader.chat_id, since) == ["<b>Report 2"]
        assert await _all_sent(h)
        assert len(await outbox(h)) == 2, "one delivery per story"
        (latest,) = await reader.send("/latest 1")
        assert "Report 2" in (latest.text or "")
        after = [r.getMessage() for r in caplog.records[mark:] if r.name == "jobs.guard"]
        assert "fetch: the database is back" in after
        assert "deliver: the database is back" in after


ONLY_DNIPRO = """
[[source]]
name = "Dnipro Ledger"
url = "{feeds}/feeds/dnipro_ledger.rss"
language = "en"
"""


async def test_a_lock_through_a_whole_pass_is_reported_not_raised(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lock taken just after a source is fetched and held to the end of the pass: the pass
    returns a report with that source failed (it does not raise), and once the claim's lease
    is over the next pass stores what it had."""
    if not database_url.startswith("sqlite"):
        pytest.skip("the lock is SQLite's")
    monkeypatch.setattr(bot.db, "BUSY_TIMEOUT_S", BUSY_TIMEOUT_S)
    path = database_url.split("///", 1)[1]
    async with harness(
        database_url,
        tmp_path,
        jobs=False,
        sources=lambda feeds: ONLY_DNIPRO.replace("{feeds}", feeds.base_url),
    ) as h:
        await h.fetch()
        h.feeds.set_feed(DNIPRO, rss([1]))
        holder = sqlite3.connect(path, isolation_level=None, timeout=5)

        def lock(result: FetchResult) -> None:
            holder.execute("BEGIN EXCLUSIVE")

        raised: BaseException | None = None
        try:
            report = await run_fetch_pass(h.deps, force=True, on_fetched=lock)
        except Exception as exc:
            raised = exc
        finally:
            if holder.in_transaction:
                holder.execute("ROLLBACK")
            holder.close()
        assert raised is None, f"the pass raised {raised!r}"
        assert [s.status for s in report.sources] == ["error"]
        h.clock.advance(seconds=CLAIM_LEASE.total_seconds() + 1)
        again = await h.fetch()
        assert [(s.name, s.new_items) for s in again.sources] == [("Dnipro Ledger", 1)]


async def test_a_lock_between_claim_and_send_loses_no_alert(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lock comes just after the sender claimed an alert for a chat in its quiet hours and
    lasts past the write that holds it: once the database is back (and a claim's lease is
    over) the alert is held for the catch-up, not stuck as being sent."""
    if not database_url.startswith("sqlite"):
        pytest.skip("the lock is SQLite's")
    monkeypatch.setattr(bot.db, "BUSY_TIMEOUT_S", BUSY_TIMEOUT_S)
    path = database_url.split("///", 1)[1]
    async with harness(database_url, tmp_path, jobs=False) as h:
        await h.fetch()
        reader = h.chat()
        now = h.clock.now
        window = f"{now - timedelta(hours=1):%H:%M}-{now + timedelta(hours=2):%H:%M}"
        for command in (f"/quiet {window}", "/follow all"):
            await reader.send(command)
        h.feeds.set_feed(DNIPRO, rss([1]))
        assert (await h.fetch()).queued == 1
        holder = sqlite3.connect(path, isolation_level=None, timeout=5)
        read_prefs = chats.get_prefs_many

        async def lock_after_reading(session: AsyncSession, ids: list[int]) -> object:
            prefs = await read_prefs(session, ids)
            if not holder.in_transaction:
                holder.execute("BEGIN EXCLUSIVE")
            return prefs

        monkeypatch.setattr(chats, "get_prefs_many", lock_after_reading)
        try:
            with suppress(OperationalError):  # the delivery job logs it
                await Sender(h.deps, h.app.bot).run_once(budget_s=3)
        finally:
            monkeypatch.setattr(chats, "get_prefs_many", read_prefs)
            if holder.in_transaction:
                holder.execute("ROLLBACK")
            holder.close()
        h.clock.advance(seconds=CLEANUP_LEASE.total_seconds() + 1)
        await release_stale_claims(h.deps, lease=CLEANUP_LEASE)
        await Sender(h.deps, h.app.bot).run_once(budget_s=2)
        assert [row[2] for row in await outbox(h)] == ["held"]
