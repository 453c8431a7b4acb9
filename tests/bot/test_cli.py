"""The command line as operators and the acceptance runs use it (issue #3): `python -m bot`
in a subprocess, configured by environment variables only, against the loopback feeds."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sqlite3
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from bot.db import StoryRow, make_engine, make_sessionmaker
from bot.feedserver import DEMO_SOURCES_FILE, Fault, FeedServer
from tests.bot.test_pipeline import source_entries

SUMMARY = re.compile(
    r"^fetch pass: sources ok=(\d+) failed=(\d+) not_modified=(\d+) new_items=(\d+) "
    r"new_stories=(\d+) merged=(\d+)"
)


@dataclass
class Cli:
    """Runs `python -m bot …` with a clean environment: no token, no .env, our sources."""

    env: dict[str, str]
    cwd: Path

    async def __call__(self, *args: str, **env: str) -> tuple[int, str, str]:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            *args,
            env={**self.env, **env},
            cwd=self.cwd,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), timeout=90)
        assert process.returncode is not None
        return process.returncode, out.decode(), err.decode()


@pytest.fixture
async def cli(database_url: str, tmp_path: Path) -> AsyncIterator[Cli]:
    """The sample outlets plus one that answers 500, served on loopback while the test runs."""
    async with FeedServer() as server:
        server.set_fault("/feeds/broken.rss", Fault.SERVER_ERROR)
        demo = DEMO_SOURCES_FILE.read_text().replace("{feeds}", server.base_url)
        (tmp_path / "good.toml").write_text(demo)
        broken = source_entries(("Broken Outlet", server.url("/feeds/broken.rss")))
        (tmp_path / "sources.toml").write_text(demo + broken)
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(tmp_path),
            "DATABASE_URL": database_url,
            "SOURCES_FILE": str(tmp_path / "sources.toml"),
        }
        yield Cli(env, tmp_path)


def stories_of(stdout: str) -> list[dict[str, object]]:
    """stdout must be exactly one JSON array, nothing before or after it."""
    parsed = json.loads(stdout)
    assert isinstance(parsed, list)
    return parsed


async def test_db_upgrade_creates_the_schema_in_a_new_database(cli: Cli, tmp_path: Path) -> None:
    """`db upgrade` needs only DATABASE_URL and leaves an empty database with every table."""
    fresh = tmp_path / "fresh.db"
    code, out, err = await cli("db", "upgrade", DATABASE_URL=f"sqlite:///{fresh}")
    assert (code, out.strip().splitlines()[-1]) == (0, "database is up to date"), err
    with sqlite3.connect(fresh) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    assert {"source", "story", "item", "story_band", "chat", "follow", "delivery"} <= tables


async def test_sources_check_reports_each_source_and_fails_when_one_does(
    cli: Cli, tmp_path: Path
) -> None:
    """`sources check` prints a line per source with its state, and exits 1 when one failed."""
    (code, out, err), good = await asyncio.gather(
        cli("sources", "check"), cli("sources", "check", SOURCES_FILE=str(tmp_path / "good.toml"))
    )
    lines = out.strip().splitlines()
    assert code == 1
    assert any(re.match(r"FAIL Broken Outlet\s.*HTTP 500$", line) for line in lines), (out, err)
    for name in ("Black Sea Wire", "Dnipro Ledger", "Kharkiv Courier", "Northern Front Daily"):
        assert any(re.match(rf"ok\s+{name}\s.*\d+ items$", line) for line in lines), name
    assert lines[-1] == "4 ok, 1 failed"
    assert good[0] == 0 and good[1].strip().splitlines()[-1] == "4 ok, 0 failed"


async def test_fetch_then_stories_as_the_acceptance_runs_use_them(
    cli: Cli, database_url: str
) -> None:
    """`fetch` needs no TELEGRAM_BOT_TOKEN: progress and failures go to stderr, each new story
    and then the one-line summary to stdout.
    `stories --json` is one array of objects with exactly the documented keys; `--since` and
    `--topic` (a key or a label) narrow it: a Kharkiv story first seen two hours ago drops
    out of `--since 1h` and stays in the default 24 hours. (A second fetch finding nothing
    new is shown in tests/bot/test_pipeline.py.)"""
    code, out, err = await cli("fetch")
    assert code == 0, err
    everything = stories_of((await cli("stories", "--json"))[1])
    aged = next(s["id"] for s in everything if "kharkiv" in s["topics"])  # type: ignore[operator]
    engine = make_engine(database_url)
    async with make_sessionmaker(engine)() as session, session.begin():
        old = datetime.now(UTC) - timedelta(hours=2)
        await session.execute(update(StoryRow).where(StoryRow.id == aged).values(first_seen_at=old))
    await engine.dispose()
    recent, kharkiv, by_label = await asyncio.gather(
        cli("stories", "--json", "--since", "1h"),
        cli("stories", "--json", "--since", "1h", "--topic", "kharkiv"),
        cli("stories", "--json", "--topic", "Kharkiv"),
    )

    lines = out.strip().splitlines()
    summary = SUMMARY.match(lines[-1])
    assert summary is not None, lines[-1]
    ok, failed, not_modified, items, new, merged = map(int, summary.groups())
    assert (ok, failed, not_modified) == (4, 1, 0) and new == len(everything) > 10
    assert items == new + merged
    assert all(str(story["headline"]) in out for story in everything)
    assert "[5/5]" in err and "✗ Broken Outlet: HTTP 500" in err

    for story in everything:
        assert set(story) == {"id", "headline", "summary", "topics", "first_seen", "items"}
        assert datetime.fromisoformat(str(story["first_seen"])).utcoffset() == timedelta(0)
        assert isinstance(story["items"], list) and story["items"]
        for item in story["items"]:
            assert set(item) == {"source", "url", "title", "published"}
            assert datetime.fromisoformat(item["published"]).utcoffset() == timedelta(0)
    recent_ids = {s["id"] for s in stories_of(recent[1])}
    kharkiv_ids = {s["id"] for s in stories_of(kharkiv[1])}
    label_stories = stories_of(by_label[1])
    assert recent_ids == {s["id"] for s in everything} - {aged}
    assert kharkiv_ids and kharkiv_ids | {aged} == {s["id"] for s in label_stories}
    assert all("kharkiv" in story["topics"] for story in label_stories)  # type: ignore[operator]
