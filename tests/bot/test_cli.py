"""The command line as operators and the acceptance runs use it (issue #3): `python -m bot`
in a subprocess, configured by environment variables only, against the loopback feeds."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import sqlite3
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from bot.db import SourceRow, StoryRow, make_engine, make_sessionmaker
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


def message_of(err: str) -> str:
    """The error a command ended with, after any log lines (one-shot commands log to stderr)."""
    assert "Traceback" not in err, err
    start = err.find("conflictbot: ")
    assert start >= 0, err
    return err[start:].strip()


def _one_line_database_error(code: int, err: str, reason: str) -> None:
    """What `db upgrade` prints for an unusable database: a message, a hint, no traceback."""
    message = message_of(err)
    assert code == 1, err
    assert message.startswith("conflictbot: the database"), err
    assert reason in message and "What to do:" in message, err
    assert len(message.splitlines()) == 2, err


async def test_fetch_lines_are_whole_lines_when_captured(cli: Cli, tmp_path: Path) -> None:
    """stderr captured (not a terminal): a failure's line is one line however long (rich
    wrapped it at 80 columns, breaking grep), and progress says "fetched", not "ok", for a
    response that the pass may still fail to read."""
    name = "Broken Outlet Whose Name Is Long Enough To Pass The Eighty Column Mark Alone"
    sources = tmp_path / "long.toml"
    sources.write_text(
        (tmp_path / "sources.toml").read_text().replace('"Broken Outlet"', f'"{name}"')
    )
    code, _out, err = await cli("fetch", SOURCES_FILE=str(sources))
    assert code == 0, err
    (failure,) = [line for line in err.splitlines() if line.startswith("✗")]
    assert failure.startswith(f"✗ {name}: HTTP 500"), err
    assert ": fetched" in err and ": ok" not in err, err


ONE_SHOT = (("fetch",), ("sources", "check"), ("stories", "--json"))
WRITERS = ONE_SHOT[:2]
"""The one-shot commands that write (`stories` only reads)."""


async def test_a_read_only_database_is_one_message_in_every_command(
    cli: Cli, sqlite_template: Path, tmp_path: Path
) -> None:
    """After the migration step, `fetch` and `sources check` write (the sources table is
    brought in line with the file) and ended in a traceback (audit-cli #1); now they say
    what `db upgrade` says. `stories` only reads, so it works on a read-only database."""
    path = tmp_path / "readonly.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite+aiosqlite:///file:{path}?mode=ro&uri=true"
    results = await asyncio.gather(*(cli(*args, DATABASE_URL=url) for args in WRITERS))
    for code, out, err in results:
        _one_line_database_error(code, err, "attempt to write a readonly database")
        assert out == ""
    code, out, err = await cli("stories", "--json", DATABASE_URL=url)
    assert (code, stories_of(out)) == (0, []), err


async def test_a_locked_database_is_one_message_in_every_command(
    cli: Cli, sqlite_template: Path, tmp_path: Path
) -> None:
    """Another connection in a write transaction for longer than the busy timeout (a sqlite3
    shell left open): "database is locked" and the advice, not a traceback (audit-cli #1)."""
    path = tmp_path / "locked.db"
    shutil.copy(sqlite_template, path)
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        holder.execute("UPDATE source SET consecutive_failures = consecutive_failures")
        url = f"sqlite+aiosqlite:///{path}"
        results = await asyncio.gather(*(cli(*args, DATABASE_URL=url) for args in WRITERS))
    finally:
        holder.close()
    for code, _out, err in results:
        _one_line_database_error(code, err, "database is locked")
        assert "another process holds a lock" in err


@pytest.mark.parametrize("url", ["sqlite+aiosqlite:///:memory:", "sqlite://"])
async def test_an_in_memory_database_is_refused(cli: Cli, url: str) -> None:
    """`db upgrade` said "up to date" about a database gone with its connection, then
    `stories` failed on "no such table" (audit-cli #1): refused as a setting, exit 2."""
    for args in (("db", "upgrade"), ("stories",)):
        code, out, err = await cli(*args, DATABASE_URL=url)
        assert code == 2, (out, err)
        message = message_of(err)
        assert message.startswith("conflictbot: DATABASE_URL is invalid") and "in-memory" in err


async def test_sslmode_in_a_postgres_url_is_no_traceback(cli: Cli) -> None:
    """`?sslmode=require` reached asyncpg's connect() as a keyword it refuses: a TypeError
    traceback from every command (audit-cli #2). It is taken as asyncpg's `ssl=`, so here
    the unreachable server is what is reported."""
    url = "postgresql+asyncpg://bot:pw@127.0.0.1:1/bot?sslmode=require"
    code, _out, err = await cli("db", "upgrade", DATABASE_URL=url)
    _one_line_database_error(code, err, "Connect call failed")


async def test_sslmode_disable_connects_to_postgres(cli: Cli, database_url: str) -> None:
    """On PostgreSQL (CI), a URL carrying `sslmode=disable` works like one without it."""
    if not database_url.startswith("postgresql"):
        pytest.skip("needs PostgreSQL (TEST_DATABASE_URL)")
    code, out, err = await cli("db", "upgrade", DATABASE_URL=f"{database_url}?sslmode=disable")
    assert (code, out.strip()) == (0, "database is up to date"), err


async def test_a_long_language_tag_and_name_fit_every_database(
    cli: Cli, tmp_path: Path, database_url: str
) -> None:
    """A valid tag longer than the 10-character column crashed PostgreSQL (audit-cli #3): it is
    stored as its primary subtag; a name over 200 characters is refused up front, exit 2."""
    good = tmp_path / "long-language.toml"
    good.write_text(
        '[[source]]\nname = "Oxford"\nurl = "http://127.0.0.1:9/a.xml"\n'
        'language = "en-GB-oxendict"\n'
    )
    long_name = tmp_path / "long-name.toml"
    long_name.write_text(f'[[source]]\nname = "{"N" * 210}"\nurl = "http://127.0.0.1:9/a.xml"\n')
    code, out, err = await cli("stories", "--json", SOURCES_FILE=str(good))
    assert (code, stories_of(out)) == (0, []), err
    code, out, err = await cli("stories", "--json", SOURCES_FILE=str(long_name))
    assert code == 2 and out == "", err
    assert "source #1: name must be at most 200 characters" in message_of(err)


async def test_a_misspelt_sources_table_changes_nothing(
    cli: Cli, tmp_path: Path, database_url: str
) -> None:
    """`[[sources]]` for `[[source]]` was read as "no sources" and deactivated every source,
    even through `stories` (audit-cli #4): now it is a configuration error and the sources
    table is left as it was."""
    code, _out, err = await cli("fetch")
    assert code in (0, 1), err  # the broken outlet fails; the table holds all five
    typo = tmp_path / "typo.toml"
    typo.write_text('[[sources]]\nname = "A"\nurl = "http://127.0.0.1:9/a.xml"\n')
    for args in ONE_SHOT:
        code, out, err = await cli(*args, SOURCES_FILE=str(typo))
        assert code == 2 and out == "", (args, err)
        message = message_of(err)
        assert message.startswith(f"conflictbot: {typo}: ") and "'sources'" in message, err
    engine = make_engine(database_url)
    async with make_sessionmaker(engine)() as session:
        active = (await session.scalars(select(SourceRow.name).where(SourceRow.active))).all()
    await engine.dispose()
    assert len(active) == 5


async def test_stories_reads_without_changing_the_sources(
    cli: Cli, tmp_path: Path, database_url: str
) -> None:
    """`stories` is a read: run from a shell whose SOURCES_FILE names other sources (or none,
    so the bundled ones), it prints the stories and leaves the operator's sources as they are."""
    code, _out, err = await cli("fetch")
    assert code in (0, 1), err  # the broken outlet fails; the table holds all five
    other = tmp_path / "other.toml"
    other.write_text('[[source]]\nname = "Elsewhere"\nurl = "http://127.0.0.1:9/e.xml"\n')
    code, out, err = await cli("stories", "--json", SOURCES_FILE=str(other))
    assert code == 0 and stories_of(out), err
    engine = make_engine(database_url)
    async with make_sessionmaker(engine)() as session:
        names = (await session.scalars(select(SourceRow.name).where(SourceRow.active))).all()
    await engine.dispose()
    assert len(names) == 5 and "Elsewhere" not in names


@pytest.mark.parametrize("since", ["99999999999d", "800000d", "99999999999999999999w"])
async def test_stories_since_a_huge_duration_means_all_time(cli: Cli, since: str) -> None:
    """`--since 100000d` is how operators say "everything"; huge values overflowed the date
    arithmetic into a traceback (audit-cli #9). Anything past 100 years is all time."""
    code, out, err = await cli("stories", "--json", "--since", since)
    assert (code, stories_of(out)) == (0, []), err


async def test_stories_with_an_unknown_topic_is_an_error(cli: Cli) -> None:
    """A typo in `--topic` printed `[]`, just like "no stories" (audit-cli #10); now it says
    which topics exist, exit 2."""
    code, out, err = await cli("stories", "--json", "--topic", "kurks")
    assert (code, out) == (2, ""), err
    message = message_of(err)
    assert message.startswith("conflictbot: unknown topic 'kurks'; topics are: ")
    assert "kursk" in message and len(message.splitlines()) == 1


async def test_an_empty_sources_file_is_named_in_a_warning(cli: Cli, tmp_path: Path) -> None:
    """An empty SOURCES_FILE is allowed (sources may come from /addsource alone), but a pass
    that fetches nothing because of it must say why instead of looking like a quiet day."""
    empty = tmp_path / "empty.toml"
    empty.write_text("# no sources yet\n")
    code, out, err = await cli("fetch", SOURCES_FILE=str(empty))
    assert code == 0, err
    assert SUMMARY.match(out.strip().splitlines()[-1]), out
    assert f"the sources file {empty} lists no sources" in err


async def test_a_reader_that_goes_away_is_no_database_error(cli: Cli) -> None:
    """`stories | head` closed stdout under us, and the broken pipe was reported as "the
    database … cannot be used" (audit-cli 3): now the command stops quietly, exit 141."""
    code, _out, err = await cli("fetch")
    assert code in (0, 1), err
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first line
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "stories",
            "--since",
            "100000d",
            env=cli.env,
            cwd=cli.cwd,
            stdout=write_end,
            stderr=asyncio.subprocess.PIPE,
        )
    finally:
        os.close(write_end)
    _, err_bytes = await asyncio.wait_for(process.communicate(), timeout=90)
    assert process.returncode == 141, err_bytes
    assert err_bytes.decode().strip() == ""
