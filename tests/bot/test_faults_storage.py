"""Fault suite (issue #8), storage: a database that cannot be used, is locked, or is full."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import shutil
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.pool import Pool

from bot.db import DeliveryRow, ItemRow, SourceRow, StoryRow
from bot.emulator import Emulator
from bot.feedserver import FeedServer
from bot.migrate import upgrade
from tests.bot.faults_common import DNIPRO, outbox, rss, until
from tests.conftest import ROOT, TEST_DATABASE_URL, TOKEN
from tests.helpers import Harness, harness, write_sources


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


@pytest.mark.skipif(
    not TEST_DATABASE_URL, reason="needs PostgreSQL (TEST_DATABASE_URL); CI sets it"
)
async def test_a_missing_postgres_database_stops_start_up_with_a_clear_message(
    tmp_path: Path,
) -> None:
    """A server that answers but has no such database: exit 1, "create it first"."""
    url = make_url(TEST_DATABASE_URL).set(database="cb_no_such_database")
    (tmp_path / "sources.toml").write_text("")
    async with Emulator(TOKEN) as emulator:
        code, out, err = await _run_bot(
            {
                "TELEGRAM_BOT_TOKEN": TOKEN,
                "TELEGRAM_API_URL": emulator.url,
                "SOURCES_FILE": str(tmp_path / "sources.toml"),
                "DATABASE_URL": url.render_as_string(hide_password=False),
            },
            tmp_path,
        )
    assert code == 1, (out[-500:], err[-500:])
    assert err.startswith("conflictbot: the database"), err
    assert '"cb_no_such_database" does not exist' in err and "create it first" in err, err
    assert "Traceback" not in out + err


# A full disk, played for real: SQLite refuses to grow the file past `max_page_count` with the
# very error a full disk gives (SQLITE_FULL, "database or disk is full"). The pragma belongs to
# one connection, so it is set on every connection the bot checks out while the disk is "full".
CAP_PRAGMA = "PRAGMA max_page_count={}"
NO_CAP = 1_073_741_823  # SQLite's default
FULL = 1  # SQLite raises a cap below the file's size to that size: "full" as the file is now


class Disk:
    """While `full`, no SQLite connection of this process may grow its database file."""

    def __init__(self) -> None:
        self.full = False

    def checkout(self, dbapi_connection: Any, record: object, proxy: object) -> None:
        if "sqlite" not in type(dbapi_connection).__module__:
            return
        cursor = dbapi_connection.cursor()
        cursor.execute(CAP_PRAGMA.format(FULL if self.full else NO_CAP))
        cursor.close()


@pytest.fixture
def disk(database_url: str) -> Iterator[Disk]:
    if not database_url.startswith("sqlite"):
        pytest.skip("a full disk is played with SQLite's max_page_count")
    played = Disk()
    event.listen(Pool, "checkout", played.checkout)
    yield played
    event.remove(Pool, "checkout", played.checkout)


def pseudo_words(n: int, count: int = 400) -> str:
    """Words of a report no other report shares (so dedup never merges two of them)."""
    words = []
    for k in range(count):
        digest = hashlib.sha1(f"{n}-{k}".encode()).digest()
        words.append("".join(chr(97 + b % 26) for b in digest[: 4 + digest[5] % 5]))
    return " ".join(words)


def long_rss(numbers: list[int]) -> bytes:
    """`rss` whose every item has a 3 kB text of its own: two of them never fit on one page,
    so storing them needs the file to grow, whatever free room its pages have."""
    parts = rss(numbers).split(b"Officials said more would follow.")
    body = parts[0]
    for n, part in zip(numbers, parts[1:], strict=True):
        body += pseudo_words(n).encode() + part
    return body


async def _stored(h: Harness) -> dict[str, object]:
    """What must not change while the disk is full: every row count, the items themselves,
    and the sources' conditional-GET state."""
    async with h.deps.sessions() as session:
        counts = {
            row.__tablename__: await session.scalar(select(func.count()).select_from(row))
            for row in (ItemRow, StoryRow, DeliveryRow)
        }
        items = (await session.execute(select(ItemRow.url, ItemRow.title))).all()
        state = (
            await session.execute(
                select(SourceRow.name, SourceRow.etag, SourceRow.body_hash).order_by(SourceRow.id)
            )
        ).all()
    return {**counts, "items": sorted(items), "state": state}


async def _all_sent(h: Harness) -> bool:
    return {row[2] for row in await outbox(h)} == {"sent"}


async def _run_command(
    args: list[str], env: dict[str, str], cwd: Path
) -> tuple[int | None, str, str]:
    """`python -m bot <args>` with exactly `env`."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 90)
    return process.returncode, out.decode(), err.decode()


def _integrity(path: str) -> str:
    with sqlite3.connect(path) as db:
        return str(db.execute("PRAGMA integrity_check").fetchone()[0])


async def test_a_full_disk_loses_nothing_and_the_next_pass_stores_it(
    database_url: str, tmp_path: Path, disk: Disk, caplog: pytest.LogCaptureFixture
) -> None:
    """SQLite says "database or disk is full" in the middle of a source's store: that source's
    transaction is rolled back whole (no item of it, no alert, its ETag and body hash as they
    were), the failure is logged with the database's own words, the other sources and the
    commands that only read go on, the file passes `PRAGMA integrity_check`, and once there is
    room again the next pass fetches the same items again and stores and alerts each once."""
    path = database_url.split("///", 1)[1]
    async with harness(database_url, tmp_path) as h:
        await h.fetch()
        reader = h.chat()
        await reader.send("/follow all")
        h.feeds.set_feed(DNIPRO, long_rss([1]))
        h.clock.advance(seconds=1)
        since = len(h.emulator.sent)
        assert (await h.fetch()).queued == 1
        await h.emulator.wait_for(reader.chat_id, 1, since=since, timeout=10)
        await until(lambda: _all_sent(h))
        before = await _stored(h)

        disk.full = True
        h.feeds.set_feed(DNIPRO, long_rss([1, 2, 3, 4]))
        h.clock.advance(seconds=1)
        caplog.clear()
        report = await h.fetch()
        by_name = {s.name: s for s in report.sources}
        assert by_name.pop("Dnipro Ledger").status == "error"
        assert {s.status for s in by_name.values()} == {"not_modified"}
        assert report.new_items == 0 and report.queued == 0
        assert await _stored(h) == before, "a source is stored whole or not at all"
        logged = "\n".join(
            record.getMessage() + (str(record.exc_info[1]) if record.exc_info else "")
            for record in caplog.records
            if record.levelno >= logging.WARNING
        )
        assert "database or disk is full" in logged
        (latest,) = await reader.send("/latest 1")
        assert "Report 1" in (latest.text or "")
        assert await h.chat(777).send("/sources")
        assert await asyncio.to_thread(_integrity, path) == "ok"

        disk.full = False
        h.clock.advance(seconds=1)
        since = len(h.emulator.sent)
        report = await h.fetch()
        assert report.new_items == 3 and report.queued == 3, report.summary_line()
        alerts = await h.emulator.wait_for(reader.chat_id, 3, since=since, timeout=15)
        await asyncio.sleep(1.2)
        assert len(h.emulator.sent) == since + 3, "each alert once, Report 1 not again"
        titles = sorted((alert.text or "").split(":", 1)[0] for alert in alerts)
        assert titles == ["<b>Report 2", "<b>Report 3", "<b>Report 4"]
        assert (await h.fetch()).new_items == 0
    assert await asyncio.to_thread(_integrity, path) == "ok"


async def test_a_full_disk_is_named_in_the_pass_report(
    database_url: str, tmp_path: Path, disk: Disk
) -> None:
    """The source's error in the pass report (the CLI's ✗ line, `/sources`, the admins' outage
    notice) says what the database said, not only an exception's class name."""
    async with harness(database_url, tmp_path, jobs=False) as h:
        await h.fetch()
        disk.full = True
        h.feeds.set_feed(DNIPRO, long_rss([1, 2, 3]))
        report = await h.fetch()
    (dnipro,) = [s for s in report.sources if s.name == "Dnipro Ledger"]
    assert dnipro.status == "error"
    assert "database or disk is full" in (dnipro.error or ""), dnipro.error


SITE_FULL_DISK = f'''
"""Test-only: this process's SQLite connections may not grow their files (a full disk)."""
from sqlalchemy import event
from sqlalchemy.pool import Pool


@event.listens_for(Pool, "checkout")
def _full(dbapi_connection, record, proxy):
    cursor = dbapi_connection.cursor()
    cursor.execute("{CAP_PRAGMA.format(FULL)}")
    cursor.close()
'''


async def test_conflictbot_fetch_on_a_full_disk_fails_and_says_so(
    database_url: str, tmp_path: Path
) -> None:
    """`conflictbot fetch` on a full disk exits 1, shows the database's words and which source
    was not stored, and keeps what was there; the same command with room stores it all."""
    if not database_url.startswith("sqlite"):
        pytest.skip("a full disk is played with SQLite's max_page_count")
    path = database_url.split("///", 1)[1]
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITE_FULL_DISK)
    async with FeedServer() as feeds:
        sources = write_sources(tmp_path / "sources.toml", feeds)
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(tmp_path),
            "DATABASE_URL": database_url,
            "SOURCES_FILE": str(sources),
        }

        async def fetch(*pythonpath: Path) -> tuple[int | None, str, str]:
            return await _run_command(
                ["fetch"], {**env, "PYTHONPATH": os.pathsep.join(map(str, pythonpath))}, tmp_path
            )

        code, _out, err = await fetch(ROOT)
        assert code == 0, err[-800:]
        with sqlite3.connect(path) as db:
            items = db.execute("SELECT count(*) FROM item").fetchone()[0]
        feeds.set_feed(DNIPRO, long_rss([1, 2, 3]))
        code, out, err = await fetch(site, ROOT)
        assert code == 1, (out[-500:], err[-800:])
        assert "database or disk is full" in err
        assert "✗ Dnipro Ledger" in err
        assert err.strip().splitlines()[-1].startswith("conflictbot: 1 source was fetched but")
        with sqlite3.connect(path) as db:
            assert db.execute("SELECT count(*) FROM item").fetchone()[0] == items
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        code, out, err = await fetch(ROOT)
        assert code == 0, err[-800:]
        assert "new_items=3" in out
