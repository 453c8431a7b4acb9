"""Fan-out: queueing one story for 100k chats, sending a burst at SEND_RATE under the flood
limits, and the time from an item appearing in a feed to its first alert.

1. queue: 100,000 chats follow `all`; one `outbox.queue_story` (the production INSERT … SELECT
   with ON CONFLICT DO NOTHING) queues the story for all of them; rows/s and seconds.
2. send: 3,000 alerts (3 stories to 1,000 chats) through the real Application against the Bot
   API emulator with SEND_RATE=30 and the emulator's flood limits (30/s overall, 1/s per chat):
   the achieved rate from the first alert to the last over SEND_RATE, and the violations. The
   emulator runs in a process of its own (`python -m bot.emulator`), as Telegram is remote.
3. latency: the bot runs its own fetch job every FETCH_INTERVAL=5 s; an item is published in
   the feed at a random moment and the time until its alert reaches the emulator is measured
   (worst of several trials). Target: at most FETCH_INTERVAL + 2 s.

Each part gets a fresh database: a temporary SQLite file by default, or with `--database` a
PostgreSQL server URL on which the bench creates (and drops) databases of its own.

Last line: `fanout: rate_ratio=… violations=… queue_100k_s=… first_alert_s=… fetch_interval_s=…`.

Run: `.venv/bin/python bench/fanout.py [--database URL] [--instances N] [--quick]` (about
three minutes; `--quick` queues 20k chats and sends 600 alerts to 200 chats). With
`--instances 3` (PostgreSQL) two `conflictbot run --role worker` processes send alongside the
bench's own instance, sharing the outbox and SEND_RATE through the database.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from pathlib import Path

import httpx
from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# The path above makes the project importable as a script.
from bot.app import BotApplication, build_application, serving  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.db import (  # noqa: E402
    ChatRow,
    FollowRow,
    StoryRow,
    WorkerRow,
    make_engine,
    make_sessionmaker,
)
from bot.feedserver import FeedServer  # noqa: E402
from bot.migrate import upgrade  # noqa: E402
from bot.pipeline import run_fetch_pass  # noqa: E402
from bot.store import outbox  # noqa: E402

TOKEN = "123456789:AAHfakeTokenForBenchOnly_abcdefghijklm"
SEND_RATE = 30
FETCH_INTERVAL = 5
FEED = "/feeds/wire.rss"
CHUNK = 5_000


# -- databases -------------------------------------------------------------------------------


@asynccontextmanager
async def scratch_database(server: str | None, workdir: Path) -> AsyncIterator[str]:
    """A fresh, migrated database: a new SQLite file, or a new database on a PostgreSQL server."""
    if server is None or server.startswith("sqlite"):
        url = f"sqlite+aiosqlite:///{workdir / f'fanout-{uuid.uuid4().hex[:8]}.db'}"
        await asyncio.to_thread(upgrade, url)
        yield url
        return
    name = f"cb_fanout_{uuid.uuid4().hex[:10]}"
    await _admin(server, f'CREATE DATABASE "{name}"')
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    try:
        await asyncio.to_thread(upgrade, url)
        yield url
    finally:
        await _admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _admin(server: str, statement: str) -> None:
    engine = create_async_engine(server, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


async def seed_followers(url: str, chat_ids: Sequence[int], now: datetime) -> None:
    """Chats following `all`, inserted in bulk (the setup, not what is measured)."""
    engine = make_engine(url)
    try:
        async with engine.begin() as connection:
            for start in range(0, len(chat_ids), CHUNK):
                part = chat_ids[start : start + CHUNK]
                await connection.execute(
                    insert(ChatRow),
                    [
                        {
                            "id": chat_id,
                            "type": "private",
                            "timezone": "UTC",
                            "digest": "off",
                            "languages": "",
                            "active": True,
                            "created_at": now,
                        }
                        for chat_id in part
                    ],
                )
                await connection.execute(
                    insert(FollowRow),
                    [
                        {
                            "chat_id": chat_id,
                            "thread_id": 0,
                            "kind": "all",
                            "value": "all",
                            "created_at": now,
                        }
                        for chat_id in part
                    ],
                )
    finally:
        await engine.dispose()


# -- 1. queueing -----------------------------------------------------------------------------


async def measure_queue(server: str | None, workdir: Path, chats: int) -> tuple[float, int]:
    """Seconds to queue one story for `chats` followers, and the rows queued."""
    now = datetime.now(UTC)
    async with scratch_database(server, workdir) as url:
        await seed_followers(url, list(range(10_000_000, 10_000_000 + chats)), now)
        engine = make_engine(url)
        sessions = make_sessionmaker(engine)
        try:
            async with sessions() as session, session.begin():
                story = StoryRow(
                    headline="One story for everyone",
                    summary="",
                    url="https://news.example/one",
                    source_name="Wire",
                    language="en",
                    topics="",
                    outlets=1,
                    first_seen_at=now,
                    last_seen_at=now,
                    published_at=now,
                )
                session.add(story)
            started = time.perf_counter()
            async with sessions() as session, session.begin():
                queued = await outbox.queue_story(
                    session, story.id, topics=frozenset(), language="en", now=now
                )
            return time.perf_counter() - started, queued
        finally:
            await engine.dispose()


# -- the bot against the emulator ------------------------------------------------------------


def rss(items: Sequence[tuple[str, str]], published: datetime) -> bytes:
    entries = "".join(
        f"<item><title>{escape(title)}</title><link>https://news.example/{slug}</link>"
        f"<guid>https://news.example/{slug}</guid><pubDate>{format_datetime(published)}"
        f"</pubDate><description>{escape(title)}. {escape(slug)}.</description></item>"
        for slug, title in items
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Wire'
        f"</title><link>https://news.example/</link><description>bench</description>{entries}"
        "</channel></rss>"
    ).encode()


def headline(n: int) -> tuple[str, str]:
    """A story nothing else resembles (its own numbers), so dedup never merges two."""
    return f"s{n}", f"Bulletin {n} {n * 7 + 1} {n * 13 + 5} harbour {n * 31 + 2} ferry"


class Wire:
    """The one feed the bot polls, and what it carries."""

    def __init__(self, feeds: FeedServer) -> None:
        self.feeds = feeds
        self.items: list[tuple[str, str]] = []

    def publish(self, *numbers: int) -> list[str]:
        fresh = [headline(n) for n in numbers]
        self.items += fresh
        published = datetime.now(UTC) - timedelta(minutes=1)
        self.feeds.set_feed(FEED, rss(self.items, published))
        return [title for _, title in fresh]


class EmulatorProcess:
    """The Bot API emulator in a process of its own, as Telegram is: the bot's event loop and
    the server's never compete, so the arrival times it records are the bot's own pacing.
    Driven through its HTTP control API."""

    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot.emulator", "--port", str(port), "--token", TOKEN],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.client = httpx.AsyncClient(base_url=self.url, timeout=600)

    async def start(self) -> None:
        for _ in range(200):
            try:
                await self.client.get("/control/stats")
                return
            except httpx.TransportError:
                await asyncio.sleep(0.1)
        raise RuntimeError("the emulator did not start")

    async def stop(self) -> None:
        await self.client.aclose()
        self.process.terminate()
        self.process.wait()

    async def control(self, action: str, **body: object) -> object:
        response = await self.client.post(f"/control/{action}", json=body)
        response.raise_for_status()
        return response.json()["result"]

    async def stats(self) -> dict[str, int]:
        return (await self.client.get("/control/stats")).json()["result"]  # type: ignore[no-any-return]

    async def wait(self, count: int, *, since: int, within: float) -> list[dict[str, object]]:
        """The first `count` sends from index `since` on, once they have arrived."""
        params = {"count": count, "since": since, "timeout": within}
        response = await self.client.get("/control/wait", params=params)
        response.raise_for_status()
        return response.json()["result"]  # type: ignore[no-any-return]


@asynccontextmanager
async def running_bot(
    url: str, workdir: Path, chat_ids: Sequence[int], *, fetch_interval: float, auto_fetch: bool
) -> AsyncIterator[tuple[BotApplication, EmulatorProcess, Wire]]:
    """The real Application polling the emulator process, with one loopback feed."""
    emulator = EmulatorProcess()
    try:
        await emulator.start()
        for chat_id in chat_ids:
            await emulator.control("add_chat", chat_id=chat_id)
        async with FeedServer() as feeds:
            wire = Wire(feeds)
            wire.publish(0)
            sources = workdir / f"sources-{uuid.uuid4().hex[:6]}.toml"
            sources.write_text(
                f'[[source]]\nname = "Wire"\nurl = "{feeds.base_url}{FEED}"\n'
                'kind = "feed"\nlanguage = "en"\n'
            )
            settings = Settings(
                _env_file=None,  # type: ignore[call-arg]
                telegram_bot_token=TOKEN,  # type: ignore[arg-type]
                telegram_api_url=emulator.url,
                database_url=url,
                sources_file=sources,
                fetch_interval=fetch_interval,
                send_rate=SEND_RATE,
                log_level="WARNING",
            )
            app = build_application(settings)
            async with serving(app, poll_timeout=1):
                if not auto_fetch and app.job_queue is not None:
                    for job in app.job_queue.get_jobs_by_name("fetch"):
                        job.schedule_removal()
                yield app, emulator, wire
    finally:
        await emulator.stop()


# -- 2. sending ------------------------------------------------------------------------------


def spawn_workers(env: dict[str, str], count: int) -> list[subprocess.Popen[bytes]]:
    command = [sys.executable, "-m", "bot", "run", "--role", "worker"]
    return [subprocess.Popen(command, cwd=ROOT, env=env) for _ in range(count)]


@asynccontextmanager
async def more_instances(app: BotApplication, count: int) -> AsyncIterator[None]:
    """`count` more `conflictbot run --role worker` processes on the bot's database, sharing
    its outbox and SEND_RATE; yields once every instance beats its heartbeat."""
    deps = app.bot_data.deps
    assert deps is not None
    settings = deps.settings
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": settings.telegram_api_url,
        "DATABASE_URL": settings.database_url,
        "SOURCES_FILE": str(settings.sources_file),
        "FETCH_INTERVAL": "3600",
        "SEND_RATE": str(SEND_RATE),
        "LOG_LEVEL": "WARNING",
    }
    procs = spawn_workers(env, count)
    try:
        for _ in range(600):
            async with deps.sessions() as session:
                alive = await session.scalar(select(func.count()).select_from(WorkerRow))
            if (alive or 0) >= count + 1:
                break
            await asyncio.sleep(0.1)
        else:
            raise RuntimeError("the other instances did not start")
        yield
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(30)


async def measure_send(
    server: str | None, workdir: Path, chats: int, stories: int, instances: int = 1
) -> tuple[float, int, float]:
    """(achieved rate / SEND_RATE, emulator flood violations, seconds) for chats × stories,
    sent by `instances` instances together (this process and worker processes)."""
    chat_ids = list(range(20_001, 20_001 + chats))
    async with scratch_database(server, workdir) as url:
        await seed_followers(url, chat_ids, datetime.now(UTC) - timedelta(minutes=1))
        async with running_bot(url, workdir, chat_ids, fetch_interval=3600, auto_fetch=False) as (
            app,
            emulator,
            wire,
        ):
            deps = app.bot_data.deps
            assert deps is not None
            backlog = await run_fetch_pass(deps, force=True)
            assert backlog.new_stories == 1, backlog.summary_line()
            async with more_instances(app, instances - 1):
                titles = wire.publish(*range(1, stories + 1))
                await emulator.control("reset_counts")
                since = (await emulator.stats())["sent"]
                report = await run_fetch_pass(deps, force=True)
                total = chats * stories
                assert report.queued == total, report.summary_line()
                within = total / SEND_RATE * 3 + 30
                alerts = await emulator.wait(total, since=since, within=within)
            times = sorted(float(r["time"]) for r in alerts)  # type: ignore[arg-type]
            seconds = times[-1] - times[0]
            pairs = {
                (r["chat_id"], title) for r in alerts for title in titles if title in str(r["text"])
            }
            assert len(pairs) == total == len(alerts), "an alert was lost or repeated"
            stats = await emulator.stats()
            if stats["violations"]:
                print(f"flood refusals by limit: {stats['violation_kinds']}", flush=True)
            return (len(times) - 1) / seconds / SEND_RATE, stats["violations"], seconds


# -- 3. latency ------------------------------------------------------------------------------


async def measure_first_alert(server: str | None, workdir: Path, trials: int) -> list[float]:
    """Seconds from publishing an item to its alert reaching the emulator, per trial."""
    async with scratch_database(server, workdir) as url:
        await seed_followers(url, [30_001], datetime.now(UTC) - timedelta(minutes=1))
        async with running_bot(
            url, workdir, [30_001], fetch_interval=FETCH_INTERVAL, auto_fetch=True
        ) as (app, emulator, wire):
            deps = app.bot_data.deps
            assert deps is not None
            for _ in range(600):  # the first pass (the backlog) starts a second after start-up
                if deps.counters["fetch_passes"]:
                    break
                await asyncio.sleep(0.05)
            latencies = []
            rng = random.Random(6)
            for trial in range(1, trials + 1):
                await asyncio.sleep(rng.uniform(0, FETCH_INTERVAL))
                since = (await emulator.stats())["sent"]
                wire.publish(1000 + trial)
                published = time.monotonic()
                await emulator.wait(1, since=since, within=FETCH_INTERVAL * 4)
                latencies.append(time.monotonic() - published)
            return latencies


async def main_async(server: str | None, quick: bool, instances: int) -> None:
    queue_chats = 20_000 if quick else 100_000
    send_chats, send_stories = (200, 3) if quick else (1_000, 3)
    trials = 3 if quick else 6
    with tempfile.TemporaryDirectory(prefix="fanout-") as tmp:
        workdir = Path(tmp)
        where = "SQLite (temp file)" if server is None else make_url(server).drivername
        print(f"database: {where}", flush=True)

        seconds, queued = await measure_queue(server, workdir, queue_chats)
        queue_100k = seconds * 100_000 / queue_chats
        print(
            f"queue: one story for {queued:,} chats in {seconds:.2f}s "
            f"({queued / seconds:,.0f} rows/s; {queue_100k:.2f}s per 100k)",
            flush=True,
        )

        ratio, violations, took = await measure_send(
            server, workdir, send_chats, send_stories, instances
        )
        print(
            f"send ({instances} instance{'s' if instances > 1 else ''}): "
            f"{send_chats * send_stories:,} alerts to {send_chats:,} chats in {took:.1f}s: "
            f"{ratio * SEND_RATE:.2f}/s = {ratio:.3f} x SEND_RATE={SEND_RATE}; "
            f"flood violations {violations}",
            flush=True,
        )

        latencies = await measure_first_alert(server, workdir, trials)
        print(
            "first alert after publishing: "
            + ", ".join(f"{s:.2f}s" for s in latencies)
            + f" (FETCH_INTERVAL={FETCH_INTERVAL}s)",
            flush=True,
        )
    print(
        f"fanout: rate_ratio={ratio:.3f} violations={violations} queue_100k_s={queue_100k:.2f} "
        f"first_alert_s={max(latencies):.2f} fetch_interval_s={FETCH_INTERVAL}"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument(
        "--database",
        help="a PostgreSQL server URL (the bench makes its own databases there); "
        "default: temporary SQLite files",
    )
    parser.add_argument("--quick", action="store_true", help="20k chats queued, 600 alerts sent")
    parser.add_argument(
        "--instances",
        type=int,
        default=1,
        help="send with this many instances (PostgreSQL only: the others are worker processes)",
    )
    options = parser.parse_args(argv)
    if options.instances > 1 and not (options.database or "").startswith("postgresql"):
        parser.error("--instances above 1 needs --database postgresql+asyncpg://…")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    asyncio.run(main_async(options.database, options.quick, options.instances))


if __name__ == "__main__":
    main()
