"""Soak: a compressed day of news through the real bot, watching memory, the queue, repeats
and losses.

The real Application (as `conflictbot run` builds it, jobs and all) talks to the Bot API
emulator (Telegram's flood limits on), which runs in a child process so that its record of
every message does not count as the bot's memory, and polls sources on the loopback feed
server. Hundreds of chats follow one topic each (one private chat in twenty follows
everything). The bot's clock runs fast: each fetch pass moves it 24 h / passes on, so the
run covers about a day. Along the way:

* every pass a source may publish a new report, on one topic;
* one source flaps (a 500 every other pass), one answers malformed XML for a while;
* one source republishes its whole feed with new GUIDs (which must alert nobody again);
* Telegram answers 502 to everything for a few seconds, then is back;
* half way the bot is stopped gracefully and a new instance starts on the same database
  (nothing may repeat, nothing may be lost).

At the end publishing stops and the queue drains (bounded by --drain). Then:

* alerts: alert messages the emulator accepted;
* repeats: alerts a chat got more than once for the same story (must be 0);
* losses: outbox rows not sent after the drain (queued, sending, failed) plus rows marked sent
  that the emulator never accepted (must be 0).

Memory is the resident set (VmRSS from /proc/self/status, else the peak from getrusage),
sampled every few seconds with the queue depth. rss_start is taken after the first pass.

Run: `.venv/bin/python bench/soak.py [--seconds 60] [--chats 300]`; the last line is
`soak: rss_start_mb=… rss_end_mb=… alerts=… repeats=… losses=…`. Exit 1 if repeats or
losses are not 0.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import resource
import socket
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from sqlalchemy import func, select

from bot.app import BotApplication, build_application, serving
from bot.config import Settings, load_topics
from bot.db import DeliveryRow, ItemRow, make_engine, make_sessionmaker
from bot.feedserver import Fault, FeedServer
from bot.logs import configure_logging
from bot.migrate import upgrade
from bot.pipeline import run_fetch_pass
from bot.store import chats
from bot.store.chats import FollowKind

TOKEN = "123456789:AASoakTestTokenOnlyForTheEmulator-_12"
SOURCES = 8
CONSONANTS, VOWELS = "bdfgklmnprstvz", "aeiou"


def rss_mb() -> float:
    """Resident memory now (VmRSS); the peak from getrusage where /proc is missing."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class FastClock:
    """The bot's clock: starts now, moved on by the soak (a compressed day)."""

    def __init__(self) -> None:
        self.start = self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


class RemoteEmulator:
    """The emulator in a child process (`python -m bot.emulator`), driven over /control/."""

    def __init__(self) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: asyncio.subprocess.Process | None = None
        self.http = httpx.AsyncClient(base_url=self.url, timeout=30)

    async def __aenter__(self) -> RemoteEmulator:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.emulator", "--port", str(self.port), "--token", TOKEN,
            stdout=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        for _ in range(200):
            try:
                await self.http.get("/control/stats")
                return self
            except httpx.TransportError:
                await asyncio.sleep(0.05)
        raise RuntimeError("the emulator did not start")

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            await self.process.wait()

    async def control(self, action: str, **body: Any) -> Any:
        answer = await self.http.post(f"/control/{action}", json=body)
        answer.raise_for_status()
        return answer.json()["result"]

    async def reading(self, name: str) -> Any:
        answer = await self.http.get(f"/control/{name}")
        answer.raise_for_status()
        return answer.json()["result"]


@dataclass
class Item:
    number: int
    title: str
    text: str
    guid: str
    published: datetime


@dataclass
class Newsroom:
    """What each source publishes; reports share no vocabulary, so dedup never merges two."""

    feeds: FeedServer
    topics: list[str]
    rng: random.Random
    items: dict[int, list[Item]] = field(default_factory=dict)
    published: int = 0

    def word(self) -> str:
        return "".join(self.rng.choice(letters) for letters in (CONSONANTS, VOWELS) * 3)

    def publish(self, source: int, now: datetime) -> None:
        self.published += 1
        n = self.published
        keyword = self.rng.choice(self.topics)
        words = " ".join(self.word() for _ in range(14))
        title = f"{keyword}: report {n} {words[:50]}"
        item = Item(n, title, f"{keyword} {words}.", f"s{source}-{n}", now)
        self.items.setdefault(source, []).append(item)
        self.serve(source)

    def serve(self, source: int, *, guid_prefix: str = "") -> None:
        entries = "".join(
            f"<item><title>{escape(i.title)}</title>"
            f"<link>https://soak.example/{source}/{i.number}</link>"
            f"<guid>{guid_prefix}{i.guid}</guid><pubDate>{format_datetime(i.published)}</pubDate>"
            f"<description>{escape(i.text)}</description></item>"
            for i in self.items.get(source, [])[-30:]
        )
        body = (
            '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
            f"<title>Source {source}</title><link>https://soak.example/{source}</link>"
            f"<description>soak</description>{entries}</channel></rss>"
        )
        self.feeds.set_feed(f"/feeds/s{source}.rss", body.encode())


def chat_ids(count: int) -> list[int]:
    """Private chats, and one group in ten."""
    return [-(200_000 + n) if n % 10 == 9 else 100_000 + n for n in range(count)]


async def add_chats(
    app: BotApplication, ids: list[int], keys: list[str], rng: random.Random
) -> None:
    """Each chat follows one topic; one private chat in twenty follows everything."""
    deps = app.bot_data.deps
    assert deps is not None
    async with deps.sessions() as session, session.begin():
        for n, chat_id in enumerate(ids):
            kind = "group" if chat_id < 0 else "private"
            await chats.ensure_chat(session, chat_id, type=kind, now=deps.clock())
            if chat_id > 0 and n % 20 == 0:
                await chats.add_follow(session, chat_id, 0, FollowKind.ALL, "all", deps.clock())
            else:
                topic = rng.choice(keys)
                await chats.add_follow(session, chat_id, 0, FollowKind.TOPIC, topic, deps.clock())


async def outbox_counts(database_url: str) -> Counter[str]:
    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            rows = await session.execute(
                select(DeliveryRow.status, func.count()).group_by(DeliveryRow.status)
            )
            return Counter({status: int(n) for status, n in rows.all()})
    finally:
        await engine.dispose()


@dataclass
class Run:
    """What the soak needs everywhere, and what it measured."""

    options: argparse.Namespace
    settings: Settings
    emulator: RemoteEmulator
    feeds: FeedServer
    news: Newsroom
    clock: FastClock
    step: timedelta
    started: float = field(default_factory=time.monotonic)
    samples: list[tuple[float, float]] = field(default_factory=list)
    baseline: tracemalloc.Snapshot | None = None
    passes: int = 0
    stories: int = 0
    outage_passes: int = 0

    async def sample(self, note: str = "") -> None:
        elapsed = time.monotonic() - self.started
        depth = await outbox_counts(self.settings.database_url)
        self.samples.append((elapsed, rss_mb()))
        print(
            f"t={elapsed:5.1f}s rss_mb={self.samples[-1][1]:6.1f} passes={self.passes:3d} "
            f"stories={self.stories:4d} queued={depth['queued'] + depth['sending']:5d} "
            f"sent={depth['sent']:5d} failed={depth['failed']}{note}",
            flush=True,
        )


async def soak(options: argparse.Namespace) -> int:
    configure_logging("ERROR", (TOKEN,))
    # PTB logs every failed poll with a traceback; the outage is played on purpose.
    logging.getLogger("telegram.ext.Updater").setLevel(logging.CRITICAL)
    rng = random.Random(options.seed)
    workdir = Path(tempfile.mkdtemp(prefix="soak-"))
    database_url = options.database or f"sqlite+aiosqlite:///{workdir}/soak.db"
    await asyncio.to_thread(upgrade, database_url)
    topics = load_topics()
    ids = chat_ids(options.chats)
    clock = FastClock()
    async with RemoteEmulator() as emulator, FeedServer(None) as feeds:
        for chat_id in ids:
            kind = "group" if chat_id < 0 else "private"
            await emulator.control(
                "add_chat", chat_id=chat_id, type=kind, admins=[1] if chat_id < 0 else []
            )
        news = Newsroom(feeds, [t.keywords[0] for t in topics], rng)
        for source in range(SOURCES):
            news.publish(source, clock.now)
        sources_file = workdir / "sources.toml"
        sources_file.write_text(
            "".join(
                f'[[source]]\nname = "Source {n}"\nurl = "{feeds.base_url}/feeds/s{n}.rss"\n'
                'language = "en"\n\n'
                for n in range(SOURCES)
            )
        )
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            telegram_bot_token=TOKEN,
            telegram_api_url=emulator.url,
            database_url=database_url,
            sources_file=sources_file,
            fetch_interval=3600,
            send_rate=30,
        )
        passes_planned = max(10, int(options.seconds / options.pass_every))
        run = Run(
            options, settings, emulator, feeds, news, clock, timedelta(hours=24) / passes_planned
        )
        print(f"soak: {options.chats} chats, {SOURCES} sources, {options.seconds:.0f}s of news, "
              f"database {database_url.split(':', 1)[0]}", flush=True)  # fmt: skip
        for half, until in enumerate((options.seconds / 2, options.seconds)):
            app = build_application(settings, clock=clock)
            async with serving(app, poll_timeout=1):
                for job in app.job_queue.get_jobs_by_name("fetch") if app.job_queue else []:
                    job.schedule_removal()  # the soak runs the passes itself, on its clock
                if half == 0:
                    await add_chats(app, ids, [t.key for t in topics], rng)
                    assert app.bot_data.deps is not None
                    await run_fetch_pass(app.bot_data.deps, force=True)  # the backlog
                    await run.sample(" (after the backlog)")
                    if options.trace_memory:
                        run.baseline = tracemalloc.take_snapshot()
                await run_day(run, app, until)
                if half == 0:
                    await run.sample(" (graceful restart)")
                else:
                    await drain(run)
        return await report(run)


async def run_day(run: Run, app: BotApplication, until: float) -> None:
    """Publish, fetch and play faults until `until` seconds after the start."""
    deps = app.bot_data.deps
    assert deps is not None
    options, news, feeds = run.options, run.news, run.feeds
    next_sample = time.monotonic() + options.report_every
    while (elapsed := time.monotonic() - run.started) < until:
        begun = time.monotonic()
        if news.rng.random() < options.publish_chance:
            news.publish(news.rng.randrange(2, SOURCES), run.clock.now)
        feeds.set_fault("/feeds/s0.rss", Fault.SERVER_ERROR if run.passes % 2 else None)
        feeds.set_fault("/feeds/s1.rss", Fault.MALFORMED if 10 <= run.passes < 16 else None)
        if run.passes == 20:
            news.serve(2, guid_prefix="moved-")  # every GUID changes at once
        outage = options.seconds * 0.3 <= elapsed < options.seconds * 0.3 + options.outage
        await run.emulator.control("set_unavailable", unavailable=outage)
        run.outage_passes += outage
        run.clock.now += run.step
        report = await run_fetch_pass(deps, force=True)
        run.passes += 1
        run.stories += report.new_stories
        if time.monotonic() >= next_sample:
            await run.sample(" (telegram down)" if outage else "")
            next_sample = time.monotonic() + options.report_every
        await asyncio.sleep(max(0.0, options.pass_every - (time.monotonic() - begun)))
    await run.emulator.control("set_unavailable", unavailable=False)


async def drain(run: Run) -> None:
    """Let the delivery job empty the queue; the bot's clock keeps moving so retries fall due."""
    deadline = time.monotonic() + run.options.drain
    while time.monotonic() < deadline:
        depth = await outbox_counts(run.settings.database_url)
        if depth["queued"] + depth["sending"] == 0:
            break
        run.clock.now += timedelta(minutes=1)
        await asyncio.sleep(0.5)
    await run.sample(" (drained)")


async def report(run: Run) -> int:
    if run.baseline is not None:
        growth = tracemalloc.take_snapshot().compare_to(run.baseline, "lineno")
        for stat in growth[:8]:
            print(f"grew {stat.size_diff / 1024:8.0f} KiB  {stat.traceback}")
    statuses = await outbox_counts(run.settings.database_url)
    engine = make_engine(run.settings.database_url)
    async with make_sessionmaker(engine)() as session:
        items = int(await session.scalar(select(func.count()).select_from(ItemRow)) or 0)
    await engine.dispose()
    sent = await run.emulator.reading("sent")
    stats = await run.emulator.reading("stats")
    alerts = [r for r in sent if (r.get("text") or "").startswith("<b>")]
    seen = Counter((r["chat_id"], r["text"].split("\n", 1)[0]) for r in alerts)
    repeats = sum(n - 1 for n in seen.values() if n > 1)
    losses = statuses["queued"] + statuses["sending"] + statuses["failed"]
    losses += max(0, statuses["sent"] - len(seen))
    hours = (run.clock.now - run.clock.start).total_seconds() / 3600
    memory = [mb for _, mb in run.samples]
    print(
        f"published={run.news.published} items_stored={items} stories={run.stories} "
        f"passes={run.passes} outage_passes={run.outage_passes} restarts=1 "
        f"bot_clock_hours={hours:.1f} outbox={dict(statuses)} "
        f"flood_violations={stats['violations']} rss_min_mb={min(memory):.1f} "
        f"rss_max_mb={max(memory):.1f}"
    )
    print(
        f"soak: rss_start_mb={memory[0]:.1f} rss_end_mb={memory[-1]:.1f} alerts={len(alerts)} "
        f"repeats={repeats} losses={losses}"
    )
    return 0 if repeats == 0 and losses == 0 else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A compressed day through the real bot.")
    parser.add_argument("--seconds", type=float, default=60, help="how long news flows")
    parser.add_argument("--chats", type=int, default=300, help="chats following topics")
    parser.add_argument("--pass-every", type=float, default=0.5, help="seconds between passes")
    parser.add_argument(
        "--publish-chance",
        type=float,
        default=0.3,
        help="chance of a new report per pass (0.3 at 2 passes/s: a story every ~3 s, about as "
        "fast as a chat that follows everything may be written to)",
    )
    parser.add_argument("--outage", type=float, default=3.0, help="seconds Telegram is down")
    parser.add_argument("--drain", type=float, default=120, help="most seconds to empty the queue")
    parser.add_argument("--report-every", type=float, default=5, help="seconds between samples")
    parser.add_argument("--database", help="a SQLAlchemy URL (default: a temporary SQLite file)")
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument(
        "--trace-memory", action="store_true", help="print where memory grew (tracemalloc, slow)"
    )
    options = parser.parse_args(argv)
    if options.trace_memory:
        tracemalloc.start()
    return asyncio.run(soak(options))


if __name__ == "__main__":
    sys.exit(main())
