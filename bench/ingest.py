"""Ingest throughput: feed items per second through the real fetch pass, and how that cost
changes with the number of stories already stored.

For each archive size (1k, 10k and 100k stories by default) a migrated SQLite database is
seeded with realistic rows (story; item with its MinHash signature, from which the bot builds
its in-memory LSH band index; story_topic; FTS rows via the schema's triggers), all inside
the dedup window, which is the hard case: every stored story is a live candidate. After a
warm-up pass (which builds the band index, as a bot's first pass does), one `run_fetch_pass`
(the production code: HTTP from the loopback feed server, parse, normalise, exact dedup,
MinHash/LSH clustering, topics, summary, store, alert queueing for 20 chats) ingests the same
new items at every size, on one core. Items are generated from the vocabulary of the bundled
sample feeds; a third of the events are reported by two or three outlets in other words.

The naive baseline compares each new item with every stored story in the window (Jaccard
over lower-cased title words): only that comparison is timed, so the baseline is flattered.

Last line: `ingest: items_per_s=… flat_ratio=… baseline_ratio=…` where items_per_s is ours at
the largest size, flat_ratio our per-item cost at the largest size over the smallest, and
baseline_ratio the baseline's per-item cost over ours at the largest size.

Run: `.venv/bin/python bench/ingest.py` (about five minutes), or `--quick`.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import random
import re
import shutil
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# The path above makes the project importable when this runs as a script.
from bot import dedup  # noqa: E402
from bot.app import close_deps, open_deps  # noqa: E402
from bot.config import Settings, load_topics  # noqa: E402
from bot.feedserver import SAMPLE_FEEDS_DIR, FeedServer  # noqa: E402
from bot.migrate import upgrade  # noqa: E402
from bot.pipeline import run_fetch_pass  # noqa: E402
from bot.topics import compile_topics  # noqa: E402

SOURCES = 20
CHATS = 20
WINDOW = timedelta(hours=70)
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]+")
_TAG = re.compile(r"<[^>]+>")
_STOP_TEXT = """that this with from have were will would their there about after said says also
than into over more been they them which while where when what other some most"""
_STOP = frozenset(_STOP_TEXT.split())


@dataclass(frozen=True, slots=True)
class Report:
    """One generated outlet report."""

    title: str
    text: str
    published_at: datetime
    event: int = 0


class Writer:
    """Headlines and ledes from the content words of the bundled sample feeds (weighted by
    the square root of their frequency), plus made-up names and numbers: events differ the
    way real ones do, sharing the war's common words but not their facts."""

    def __init__(self, seed: int) -> None:
        counts: Counter[str] = Counter()
        for path in sorted(SAMPLE_FEEDS_DIR.iterdir()):
            plain = _TAG.sub(" ", path.read_text(encoding="utf-8"))
            counts.update(w.lower() for w in _WORD.findall(plain) if w.isascii())
        self.words = [w for w in counts if len(w) > 3 and w not in _STOP]
        self.weights = [counts[w] ** 0.5 for w in self.words]
        self.rng = random.Random(seed)

    def _name(self) -> str:
        syllables = ("ka", "ro", "vi", "len", "dor", "mi", "sha", "tel", "vo", "zan", "ny", "bor")
        return "".join(self.rng.choices(syllables, k=3)).capitalize()

    def event(self) -> list[str]:
        """The facts of one event: a place, a name, a number and a few common news words."""
        common = self.rng.choices(self.words, self.weights, k=self.rng.randint(5, 7))
        return [self._name(), self._name(), str(self.rng.randint(2, 900)), *common]

    def report(
        self, facts: list[str], published_at: datetime, *, reword: bool, event: int = 0
    ) -> Report:
        """One outlet's report of `facts`; a reworded one swaps and replaces a few words."""
        words = list(facts)
        if reword:
            self.rng.shuffle(words)
            words[self.rng.randrange(len(words))] = self.rng.choice(self.words)
        lede = f"{' '.join(words)} {' '.join(self.rng.choices(self.words, k=6))}"
        sentences = [lede.capitalize() + "."]
        for _ in range(self.rng.randint(2, 3)):
            filler = self.rng.choices(self.words, self.weights, k=self.rng.randint(12, 20))
            sentences.append(" ".join(filler).capitalize() + ".")
        return Report(" ".join(words).capitalize(), " ".join(sentences), published_at, event)


@dataclass(frozen=True, slots=True)
class Stored:
    """A seeded story: its rows and its title words (for the baseline)."""

    title: str
    words: frozenset[str]


def _db_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def seed(path: Path, writer: Writer, count: int, now: datetime, first_id: int) -> list[Stored]:
    """Append `count` stories (one item each, real signatures) with bulk inserts."""
    topics = compile_topics(load_topics())
    stored: list[Stored] = []
    stories: list[tuple[object, ...]] = []
    items: list[tuple[object, ...]] = []
    tags: list[tuple[int, str, str]] = []
    for offset in range(count):
        story_id = first_id + offset
        seen = now - WINDOW * writer.rng.random()
        report = writer.report(writer.event(), seen, reword=False)
        sig = dedup.signature(report.title, report.text, "en")
        matched = topics.match(f"{report.title}\n{report.text}")
        url = f"https://archive{story_id % SOURCES}.example/news/{story_id}"
        at = _db_time(seen)
        summary = report.text.split(". ")[0]
        stories.append(
            (
                story_id,
                report.title,
                summary,
                url,
                f"Archive {story_id % SOURCES}",
                "en",
                *(" ".join(sorted(matched)), 1, 0, at, at, at),
            )
        )
        digest = hashlib.sha256(f"{report.title}\n{report.text}".encode()).hexdigest()
        items.append(
            (
                story_id % SOURCES + 1,
                story_id,
                url,
                url,
                report.title,
                report.text,
                "en",
                *(digest, sig.to_bytes(), at, at),
            )
        )
        tags.extend((story_id, topic, at) for topic in matched)
        stored.append(Stored(report.title, frozenset(report.title.lower().split())))
    with sqlite3.connect(path) as db:
        db.executemany(
            "INSERT INTO story (id, headline, summary, url, source_name, language, topics, "
            "outlets, breaking, first_seen_at, last_seen_at, published_at) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            stories,
        )
        db.executemany(
            "INSERT INTO item (source_id, story_id, guid, url, title, text, language, "
            "content_hash, signature, published_at, fetched_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            items,
        )
        db.executemany(
            "INSERT INTO story_topic (story_id, topic, first_seen_at) VALUES (?,?,?)", tags
        )
    return stored


def seed_sources_and_chats(path: Path, base_url: str, now: datetime) -> None:
    """The archive's outlets, the measured outlets (past their backlog), and 20 chats."""
    at = _db_time(now)
    rows = [(f"Archive {i}", f"https://archive{i}.example/rss", 0) for i in range(SOURCES)]
    rows += [(f"Outlet {i}", f"{base_url}/feeds/outlet{i}.rss", 1) for i in range(SOURCES)]
    with sqlite3.connect(path) as db:
        db.executemany(
            "INSERT INTO source (name, url, kind, language, full_text, breaking, origin, active, "
            "consecutive_failures, first_fetch_done, outage_notified, next_fetch_at, created_at) "
            "VALUES (?, ?, 'feed', 'en', 0, 0, 'file', 1, 0, ?, 0, ?, ?)",
            [(name, url, done, at, at) for name, url, done in rows],
        )
        db.executemany(
            "INSERT INTO chat (id, type, timezone, digest, languages, active, created_at) "
            "VALUES (?, 'private', 'UTC', 'off', '', 1, ?)",
            [(1000 + i, at) for i in range(CHATS)],
        )
        db.executemany(
            "INSERT INTO follow (chat_id, thread_id, kind, value, created_at) VALUES (?,0,?,?,?)",
            [
                (1000 + i, "all" if i % 2 else "topic", "all" if i % 2 else "kharkiv", at)
                for i in range(CHATS)
            ],
        )


def feed_bodies(writer: Writer, items: int, now: datetime) -> list[list[Report]]:
    """New reports for each measured outlet; a third of the events have two or three."""
    outlets: list[list[Report]] = [[] for _ in range(SOURCES)]
    made = event = 0
    while made < items:
        facts = writer.event()
        copies = writer.rng.choice((1, 1, 2, 3))
        published = now - timedelta(minutes=writer.rng.randint(1, 180))
        event += 1
        for copy, outlet in enumerate(writer.rng.sample(range(SOURCES), copies)):
            report = writer.report(facts, published, reword=copy > 0, event=event)
            outlets[outlet].append(report)
            made += 1
    return outlets


def rss(reports: Sequence[Report], outlet: int, tag: str) -> bytes:
    """An RSS 2.0 document of the reports, links with tracking parameters as outlets do."""
    items = "".join(
        f"<item><title>{escape(r.title)}</title>"
        f"<link>https://outlet{outlet}.example/{tag}/{n}?utm_source=rss&amp;utm_medium=feed</link>"
        f"<guid isPermaLink='false'>{tag}-{outlet}-{n}</guid>"
        f"<description>{escape('<p>' + r.text + '</p>')}</description>"
        f"<pubDate>{format_datetime(r.published_at)}</pubDate></item>"
        for n, r in enumerate(reports)
    )
    return (
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
        f"<title>Outlet {outlet}</title><link>https://outlet{outlet}.example/</link>"
        f"<description>news</description>{items}</channel></rss>"
    ).encode()


async def ingest(
    path: Path, server: FeedServer, sources_file: Path, warm: list[bytes], feeds: list[bytes]
) -> tuple[float, float, float]:
    """A warm-up pass (which also builds the process's band index from the archive, as a
    running bot does at its first pass), then the measured pass over the outlets' new items,
    in one process; the warm-up's seconds, and wall and CPU seconds per measured item (CPU of
    the whole process, every thread: less disturbed by other work on the machine)."""
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=f"sqlite+aiosqlite:///{path}",
        sources_file=sources_file,
        fetch_interval=300,
    )
    deps = await open_deps(settings)
    try:
        for outlet, body in enumerate(warm):
            server.set_feed(f"/feeds/outlet{outlet}.rss", body)
        started = time.perf_counter()
        await run_fetch_pass(deps, force=True)
        warm_s = time.perf_counter() - started
        for outlet, body in enumerate(feeds):
            server.set_feed(f"/feeds/outlet{outlet}.rss", body)
        started, cpu = time.perf_counter(), time.process_time()
        report = await run_fetch_pass(deps, force=True)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        await close_deps(deps)
    if report.count("ok") != SOURCES:
        raise SystemExit(f"a measured source failed: {report.summary_line()}")
    print(f"    warm-up pass (band index built from the archive) {warm_s:.1f}s", flush=True)
    print(f"    {report.summary_line()}", flush=True)
    return warm_s, seconds / max(1, report.new_items), cpu / max(1, report.new_items)


def merge_quality(path: Path, measured: Sequence[Sequence[Report]]) -> str:
    """Pairwise precision and recall of "same story" over the measured items, and how many
    joined an archive story: whether the bounded candidate lookup still finds the match."""
    events = {
        f"https://outlet{outlet}.example/new/{n}": report.event
        for outlet, reports in enumerate(measured)
        for n, report in enumerate(reports)
    }
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT url, story_id FROM item WHERE url LIKE '%.example/new/%'")
        story: dict[str, int] = dict(rows)
        first_new = db.execute("SELECT min(id) FROM story WHERE source_name LIKE 'Outlet%'")
        (first,) = first_new.fetchone()
    urls = sorted(events)
    tp = fp = fn = 0
    for i, a in enumerate(urls):
        for b in urls[i + 1 :]:
            same_event, same_story = events[a] == events[b], story[a] == story[b]
            tp, fp, fn = (
                tp + (same_event and same_story),
                fp + (same_story and not same_event),
                (fn + (same_event and not same_story)),
            )
    archive = sum(1 for url in urls if story[url] < first)
    precision, recall = tp / ((tp + fp) or 1), tp / ((tp + fn) or 1)
    return f"merges: precision {precision:.3f} recall {recall:.3f}, {archive} joined the archive"


def baseline(stored: Sequence[Stored], titles: Sequence[str]) -> float:
    """Seconds per item of the naive matcher: Jaccard with every story in the window."""
    started = time.perf_counter()
    for title in titles:
        words = frozenset(title.lower().split())
        best = 0.0
        for story in stored:
            union = len(words | story.words)
            best = max(best, len(words & story.words) / union if union else 0.0)
    return (time.perf_counter() - started) / len(titles)


def pin_to_one_core() -> None:
    """Measure on one core, as the target says (where the OS lets us choose)."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


async def main_async(sizes: list[int], items: int, baseline_items: int) -> None:
    now = datetime.now(UTC)
    writer = Writer(seed=20260518)
    workdir = Path(tempfile.mkdtemp(prefix="ingest-"))
    try:
        async with FeedServer(feeds_dir=None) as server:
            sources_file = workdir / "sources.toml"
            sources_file.write_text(
                "".join(
                    f'[[source]]\nname = "Outlet {i}"\n'
                    f'url = "{server.base_url}/feeds/outlet{i}.rss"\nlanguage = "en"\n'
                    for i in range(SOURCES)
                )
            )
            template = workdir / "template.db"
            await asyncio.to_thread(upgrade, f"sqlite+aiosqlite:///{template}")
            seed_sources_and_chats(template, server.base_url, now)
            warm = feed_bodies(writer, 10 * SOURCES, now)
            measured = feed_bodies(writer, items, now)
            measured_feeds = [rss(reports, i, "new") for i, reports in enumerate(measured)]
            titles = [r.title for reports in measured for r in reports][:baseline_items]
            stored: list[Stored] = []
            results = []
            pin_to_one_core()
            for size in sizes:
                started = time.perf_counter()
                stored += await asyncio.to_thread(
                    seed, template, writer, size - len(stored), now, len(stored) + 1
                )
                print(f"{size:>7} stories seeded in {time.perf_counter() - started:.1f}s")
                work = workdir / f"work-{size}.db"
                shutil.copy(template, work)
                warm_feeds = [rss(reports, i, f"warm{size}") for i, reports in enumerate(warm)]
                _, ours, cpu = await ingest(work, server, sources_file, warm_feeds, measured_feeds)
                naive = baseline(stored, titles)
                print(f"    {merge_quality(work, measured)}")
                work.unlink()
                results.append((size, ours, naive))
                print(
                    f"{size:>7} stories: ours {ours * 1e3:.2f} ms/item "
                    f"({1 / ours:.0f} items/s; CPU {cpu * 1e3:.2f} ms/item), "
                    f"naive matching alone {naive * 1e3:.2f} ms/item",
                    flush=True,
                )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    (_, first, _), (_, last, last_naive) = results[0], results[-1]
    print(
        f"ingest: items_per_s={1 / last:.0f} flat_ratio={last / first:.2f} "
        f"baseline_ratio={last_naive / last:.2f}"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1k/3k/10k stories, fewer items")
    options = parser.parse_args(argv)
    if options.quick:
        asyncio.run(main_async([1_000, 3_000, 10_000], items=400, baseline_items=100))
    else:
        asyncio.run(main_async([1_000, 10_000, 100_000], items=2_000, baseline_items=200))


if __name__ == "__main__":
    main()
