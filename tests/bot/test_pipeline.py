"""The fetch pass end to end over the loopback feed server (issue #3): faulty sources are
reported without delaying the good ones, health and back-off, the admins' outage notice,
conditional GET, the backlog rule, and topics and clean summaries on sample and real feeds."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from pathlib import Path

import pytest

from bot.context import BotContext
from bot.feedserver import DEMO_SOURCES_FILE, HUGE_BYTES, SAMPLE_FEEDS_DIR, Fault, FeedServer
from bot.models import Story
from bot.pipeline import run_fetch_pass
from bot.store import sources, stories
from bot.store.sources import SourceState
from jobs.fetch import fetch_job
from tests.conftest import ADMIN_ID
from tests.helpers import Clock, Harness, harness

DEMO_NAMES = ("Dnipro Ledger", "Black Sea Wire", "Northern Front Daily", "Kharkiv Courier")
JUNK = re.compile(
    r"continue reading|read more|appeared first on|\bsubscribe\b|leave a reply|recaptcha|"
    r"cookie|share this|читати далі|читать далее",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Item:
    """One RSS item to serve."""

    title: str
    link: str
    guid: str
    text: str
    published: datetime = datetime.now(UTC) - timedelta(hours=1)


def rss(items: Sequence[Item], title: str = "Wire") -> bytes:
    """An RSS 2.0 document of `items`."""
    body = "".join(
        f"<item><title>{escape(i.title)}</title><link>{escape(i.link)}</link>"
        f"<guid isPermaLink='false'>{escape(i.guid)}</guid>"
        f"<description>{escape('<p>' + i.text + '</p>')}</description>"
        f"<pubDate>{format_datetime(i.published)}</pubDate></item>"
        for i in items
    )
    return (
        f"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>{title}"
        f"</title><link>https://wire.example/</link><description>news</description>{body}"
        "</channel></rss>"
    ).encode()


def source_entries(*entries: tuple[str, str], language: str = "en") -> str:
    """[[source]] tables for (name, url) pairs."""
    return "".join(
        f'[[source]]\nname = "{name}"\nurl = "{url}"\nlanguage = "{language}"\n\n'
        for name, url in entries
    )


def demo_and(*entries: Callable[[FeedServer], tuple[str, str]]) -> Callable[[FeedServer], str]:
    """The four sample outlets plus more sources, as a harness `sources` callable."""

    def build(server: FeedServer) -> str:
        demo = DEMO_SOURCES_FILE.read_text().replace("{feeds}", server.base_url)
        return demo + source_entries(*(entry(server) for entry in entries))

    return build


async def state_of(h: Harness, name: str) -> SourceState:
    async with h.deps.sessions() as session:
        states = await sources.list_sources(session)
    return next(state for state in states if state.source.name == name)


async def all_stories(h: Harness) -> list[Story]:
    async with h.deps.sessions() as session:
        return await stories.latest(session, 1000, items=True)


FAULTS = {  # fault: what the source's error says
    Fault.SERVER_ERROR: "HTTP 500",
    Fault.HANG: "timed out",
    Fault.HUGE: "larger than 5 MB",
    Fault.MALFORMED: "malformed",
    Fault.REDIRECT_LOOP: "redirect loop",
    Fault.TRICKLE: "timed out",
    Fault.HTML: "HTML page",
}
FAULTS_NAMES = tuple(f"Fault {kind.value}" for kind in FAULTS)


def fault_source(kind: Fault) -> Callable[[FeedServer], tuple[str, str]]:
    return lambda server: (f"Fault {kind.value}", server.url(f"/fault/{kind.value}"))


GOOD = {
    "Good Wire": [
        Item("Ferry service resumes in Izmail", "https://g.example/1", "g1", "Boats run.")
    ],
    "Other Wire": [Item("Sumy schools reopen", "https://o.example/1", "o1", "Pupils return.")],
}


def good_source(name: str) -> Callable[[FeedServer], tuple[str, str]]:
    def entry(server: FeedServer) -> tuple[str, str]:
        path = f"/feeds/{name.split()[0].lower()}.rss"
        server.set_feed(path, rss(GOOD[name]))
        return (name, server.url(path))

    return entry


async def test_faulty_sources_are_reported_and_never_hold_up_the_good_ones(
    database_url: str, tmp_path: Path
) -> None:
    """In one pass with every fault, the good sources are stored well before the slow
    faults' deadline, each faulty one is reported with its reason and counted on its row,
    and the pass ends at that deadline: no source waits beyond its own timeout. (The margin
    covers the process's first parse, which loads the language model.)"""
    deadline = 5.0

    def with_faults(server: FeedServer) -> str:
        entries = [good_source(name)(server) for name in GOOD]
        return source_entries(*entries, *(fault_source(kind)(server) for kind in FAULTS))

    async with harness(database_url, tmp_path, sources=with_faults) as h:
        h.feeds.trickle_interval = 0.2
        loop = asyncio.get_running_loop()
        started = loop.time()
        running = asyncio.create_task(run_fetch_pass(h.deps, force=True, total_timeout=deadline))
        while not all([(await state_of(h, name)).last_success_at for name in GOOD]):
            assert not running.done(), "the pass ended before the good sources were stored"
            await asyncio.sleep(0.05)
        good_stored_after = loop.time() - started
        report = await running
        elapsed = loop.time() - started
        rows = {name: await state_of(h, name) for name in (*GOOD, *FAULTS_NAMES)}
        huge_bytes = h.feeds.bytes_sent("/fault/huge")
    assert good_stored_after < deadline - 1.5
    assert deadline <= elapsed < deadline + 3.0
    by_name = {source.name: source for source in report.sources}
    for name in GOOD:
        assert by_name[name].status == "ok" and by_name[name].new_items == 1
        assert rows[name].consecutive_failures == 0 and rows[name].first_fetch_done
    for kind, reason in FAULTS.items():
        name = f"Fault {kind.value}"
        assert by_name[name].status == "error", name
        assert reason in (by_name[name].error or ""), (name, by_name[name].error)
        assert rows[name].consecutive_failures == 1 and reason in (rows[name].last_error or "")
        assert not rows[name].first_fetch_done
    assert huge_bytes < HUGE_BYTES // 2, "the 50 MB body was read to the end"


async def test_unchanged_feeds_answer_not_modified_and_store_nothing(
    database_url: str, tmp_path: Path
) -> None:
    """The second pass sends the validators: feeds with ETags answer 304, a server without
    validators sends the same body (seen as unchanged by its hash), and nothing is stored."""
    plain = rss([Item("Ferry service resumes", "https://wire.example/1", "w-1", "Boats run.")])

    def plain_feed(server: FeedServer) -> tuple[str, str]:
        server.set_feed("/feeds/plain.rss", plain, conditional=False)
        return ("Plain Wire", server.url("/feeds/plain.rss"))

    async with harness(database_url, tmp_path, sources=demo_and(plain_feed)) as h:
        first = await h.fetch()
        count = len(await all_stories(h))
        second = await h.fetch()
        headers = h.feeds.last_headers("/feeds/dnipro_ledger.rss")
        assert len(await all_stories(h)) == count
    assert first.count("ok") == 5
    assert second.count("not_modified") == 5 and second.new_items == 0
    assert "if-none-match" in headers and "if-modified-since" in headers


async def test_an_interrupted_pass_gives_its_sources_back(
    database_url: str, tmp_path: Path
) -> None:
    """Ctrl-C during `fetch` left every source claimed for the 5-minute lease, and the next
    fetch silently took none of them (audit-cli 2): an interrupted pass releases what it did
    not finish, and a forced pass counts the sources another pass still holds."""
    async with harness(database_url, tmp_path, sources=demo_and(fault_source(Fault.HANG))) as h:
        first = asyncio.create_task(run_fetch_pass(h.deps, force=True, total_timeout=60))
        for _ in range(100):  # until the sample outlets are done; the hanging one never is
            await asyncio.sleep(0.1)
            states = [await state_of(h, name) for name in DEMO_NAMES]
            if all(state.last_success_at for state in states):
                break
        meanwhile = await run_fetch_pass(h.deps, force=True)
        assert meanwhile.busy == 1 and len(meanwhile.sources) == 4
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        after = await run_fetch_pass(h.deps, force=True, total_timeout=0.5)
    assert after.busy == 0 and len(after.sources) == 5
    assert [r.status for r in after.sources if r.name == "Fault hang"] == ["error"]


async def test_failures_back_off_and_a_good_pass_restores_health(
    database_url: str, tmp_path: Path
) -> None:
    """Each failure doubles the wait before the next attempt; a source still backing off
    is skipped by the scheduled pass; the first good fetch resets failures and the error."""
    clock = Clock()

    def flaky(server: FeedServer) -> str:
        server.set_fault("/feeds/flaky.rss", Fault.SERVER_ERROR)
        return source_entries(("Flaky", server.url("/feeds/flaky.rss")))

    async with harness(database_url, tmp_path, clock=clock, sources=flaky, fetch_interval=60) as h:
        for failures in (1, 2, 3):
            await h.fetch()
            row = await state_of(h, "Flaky")
            assert row.consecutive_failures == failures and row.last_error == "HTTP 500"
            assert row.next_fetch_at == clock.now + timedelta(seconds=60 * 2**failures)
        clock.advance(seconds=479)
        assert (await h.fetch(force=False)).sources == []
        h.feeds.set_fault("/feeds/flaky.rss", None)
        h.feeds.set_feed("/feeds/flaky.rss", rss([Item("Back", "https://f.example/1", "1", "")]))
        clock.advance(seconds=2)
        report = await h.fetch(force=False)
        row = await state_of(h, "Flaky")
    assert [(s.name, s.status) for s in report.sources] == [("Flaky", "ok")]
    assert (row.consecutive_failures, row.last_error, row.last_success_at) == (0, None, clock.now)
    assert row.next_fetch_at == clock.now + timedelta(seconds=60)


async def test_admins_hear_once_about_a_long_outage(database_url: str, tmp_path: Path) -> None:
    """The fifth failure in a row is an outage: the bot's fetch job tells the admins once,
    later failures stay quiet, and a pass that tells nobody (the CLI's) does not use up the
    notice. After a recovery, a new outage may be announced again."""
    clock = Clock()

    def flaky(server: FeedServer) -> str:
        server.set_fault("/feeds/flaky.rss", Fault.SERVER_ERROR)
        return source_entries(("Flaky Outlet", server.url("/feeds/flaky.rss")))

    async with harness(database_url, tmp_path, clock=clock, sources=flaky) as h:
        context = BotContext(h.app)

        async def job_pass() -> None:
            clock.advance(hours=7)  # past the longest back-off
            await fetch_job(context)

        for _ in range(4):
            assert not (await h.fetch()).sources[0].outage
        cli_pass = await run_fetch_pass(h.deps, force=True, notify_outages=False)
        assert cli_pass.sources[0].outage
        assert h.emulator.messages_to(ADMIN_ID) == []
        await job_pass()
        await job_pass()
        told = h.emulator.messages_to(ADMIN_ID)
        h.feeds.set_fault("/feeds/flaky.rss", None)
        h.feeds.set_feed("/feeds/flaky.rss", rss([Item("Back", "https://f.example/1", "1", "")]))
        await job_pass()
        recovered = await state_of(h, "Flaky Outlet")
        h.feeds.set_fault("/feeds/flaky.rss", Fault.SERVER_ERROR)
        outages = [(await h.fetch()).sources[0].outage for _ in range(5)]
    assert len(told) == 1
    assert "Flaky Outlet" in (told[0].text or "") and "HTTP 500" in (told[0].text or "")
    assert (recovered.consecutive_failures, recovered.outage_notified) == (0, False)
    assert outages == [False, False, False, False, True]


async def test_outages_of_one_pass_are_one_notice(database_url: str, tmp_path: Path) -> None:
    """Five sources failing together were five notices at once to each admin, past Telegram's
    1 message/s per chat (ops audit 8): the admins get one notice naming them all."""
    clock = Clock()

    def broken(server: FeedServer) -> str:
        for n in range(5):
            server.set_fault(f"/feeds/broken{n}.rss", Fault.SERVER_ERROR)
        return source_entries(
            *((f"Broken {n}", server.url(f"/feeds/broken{n}.rss")) for n in range(5))
        )

    async with harness(database_url, tmp_path, clock=clock, sources=broken) as h:
        context = BotContext(h.app)
        for _ in range(5):
            clock.advance(hours=7)
            await fetch_job(context)
        told = h.emulator.messages_to(ADMIN_ID)
    assert len(told) == 1
    assert (told[0].text or "").startswith("⚠️ 5 sources keep failing:")
    assert all(f"Broken {n}</b>: HTTP 500" in (told[0].text or "") for n in range(5))


async def test_the_first_pass_is_backlog_and_later_passes_alert(
    database_url: str, tmp_path: Path
) -> None:
    """A new source's first entries alert nobody, even after an empty first answer (an empty
    200 counts as "not modified"); the next pass's new story reaches a chat following all."""
    old = [
        Item("Grain ship leaves Odesa", "https://w.example/1", "g1", "A bulk carrier sailed."),
        Item("Sumy schools reopen", "https://w.example/2", "g2", "Pupils return to classes."),
    ]
    fresh = Item(
        "Kharkiv tram depot hit by glide bomb",
        "https://w.example/depot",
        "g-depot",
        "A glide bomb hit a tram depot in Kharkiv overnight, the mayor said.",
    )

    def wire(server: FeedServer) -> str:
        server.set_fault("/feeds/wire.rss", Fault.EMPTY)
        return source_entries(("Wire", server.url("/feeds/wire.rss")))

    async with harness(database_url, tmp_path, sources=wire) as h:
        chat = h.chat()
        await chat.send("/follow all")
        empty = await h.fetch()
        h.feeds.set_fault("/feeds/wire.rss", None)
        h.feeds.set_feed("/feeds/wire.rss", rss(old))
        backlog = await h.fetch()
        h.feeds.set_feed("/feeds/wire.rss", rss([*old, fresh]))
        since = len(h.emulator.sent)
        later = await h.fetch()
        alerts = await chat.replies(since, settle=0.5)
    assert empty.sources[0].status == "not_modified"
    assert backlog.sources[0].backlog and backlog.new_stories == 2 and backlog.queued == 0
    assert not later.sources[0].backlog and later.new_stories == 1 and later.queued == 1
    assert len(alerts) == 1 and fresh.title in (alerts[0].text or "")


def check_stories(listed: Sequence[Story], h: Harness) -> None:
    """Every story has a clean, short summary and at least the topics its headline names."""
    for story in listed:
        assert story.summary.strip(), story.headline
        assert len(story.summary) <= 650, story.summary
        assert not JUNK.search(story.summary), story.summary
        assert h.deps.topics.match(story.headline) <= story.topics, story.headline


async def test_sample_feeds_get_topics_and_junk_free_summaries(
    database_url: str, tmp_path: Path
) -> None:
    """The bundled feeds carry page junk ("Read more", "LEAVE A REPLY"…) in their items;
    none reaches a summary, and most stories are tagged."""
    raw = b"".join(path.read_bytes() for path in SAMPLE_FEEDS_DIR.iterdir())
    assert JUNK.search(raw.decode("utf-8")), "the sample feeds no longer test junk removal"
    async with harness(database_url, tmp_path) as h:
        await h.fetch()
        listed = await all_stories(h)
        check_stories(listed, h)
    assert len(listed) >= 20
    assert sum(1 for story in listed if story.topics) >= 0.8 * len(listed)


CORPUS_FEEDS = {  # file: (language hint, stories with a topic at least)
    "unian_ua_2020-09-28.rss.xml": ("uk", 10),
    "ukrainska_pravda_rus_2020-09-29_windows-1251.rss.xml": ("ru", 4),
    "liga_net_ru_2020-09-29.rss.xml": ("ru", 4),
    "ukranews_2020-09-28_default-ns_yandex-fulltext.rss.xml": ("ru", 1),
    "reliefweb_updates_ukraine_2020-09-17.rss.xml": ("en", 8),
    "guardian_us_2018-01-31.rss.xml": ("en", 1),
    "reuters_worldnews_2018-01-30_feedburner.rss.xml": ("en", 1),
}


async def test_corpus_feeds_get_topics_and_junk_free_summaries(
    database_url: str, tmp_path: Path, corpus: Path
) -> None:
    """Real feeds (Ukrainian, Russian in windows-1251, Yandex full text, feeds whose items end
    in "Continue reading…") are stored with clean summaries and their topics."""
    feeds_dir = corpus / "feeds" / "news"

    def corpus_sources(server: FeedServer) -> str:
        toml = ""
        for name, (language, _) in CORPUS_FEEDS.items():
            server.set_feed(f"/feeds/{name}", (feeds_dir / name).read_bytes(), "application/xml")
            toml += source_entries((name, server.url(f"/feeds/{name}")), language=language)
        return toml

    async with harness(database_url, tmp_path, sources=corpus_sources) as h:
        report = await h.fetch()
        listed = await all_stories(h)
        check_stories(listed, h)
    assert report.count("ok") == len(CORPUS_FEEDS) and report.new_items >= 150
    for name, (_, tagged) in CORPUS_FEEDS.items():
        mine = [s for s in listed if any(item.source == name for item in s.items)]
        assert sum(1 for story in mine if story.topics) >= tagged, name
