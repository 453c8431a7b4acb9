"""Storing articles (issue #3): exact repeats never make a new item, reports of one event
join one story, and the store stays correct under conflicts and look-alike crowds.

The first tests call `bot.store.stories` on a real database; the last ones go end to end
through the fetch pass, the emulator and the feed server."""

from __future__ import annotations

import random
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import dedup, feeds, normalise
from bot.assignment import Prepared
from bot.band_index import BandIndex
from bot.config import load_topics
from bot.db import (
    ItemRow,
    StoryRow,
    StoryTopicRow,
    make_engine,
    make_sessionmaker,
)
from bot.feedserver import SAMPLE_FEEDS_DIR, FeedServer
from bot.intake import prepare
from bot.models import Article, Entry, Source
from bot.store import items as items_module
from bot.store import sources, stories
from bot.store.items import Outcome, Stored
from bot.topics import compile_topics
from tests.bot import reference_store
from tests.bot.test_pipeline import Item, all_stories, rss, source_entries
from tests.bot.test_sample_feeds import SAME_EVENT
from tests.helpers import harness

NOW = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)
TOPICS = compile_topics(load_topics())


@dataclass
class Store:
    """A migrated database with two sources, and a way to store articles in it."""

    sessions: async_sessionmaker[AsyncSession]
    ids: dict[str, int]

    async def put(
        self, session: AsyncSession, article: Article, *, now: datetime = NOW, window: float = 72
    ) -> Stored:
        (item,) = prepare([article], TOPICS)
        return await items_module.store_article(
            session, self.ids[article.source], article.source, item, now=now, window_hours=window
        )

    async def count(self, model: type[StoryRow] | type[ItemRow]) -> int:
        async with self.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    async with sessions() as session, session.begin():
        await sources.sync_sources(
            session,
            [Source("Wire A", "https://a.example/rss"), Source("Wire B", "https://b.example/rss")],
            NOW,
        )
    async with sessions() as session:
        ids = {state.source.name: state.id for state in await sources.list_sources(session)}
    yield Store(sessions, ids)
    await engine.dispose()


def article(
    source: str,
    title: str,
    text: str = "",
    *,
    url: str | None = None,
    guid: str | None = None,
    published: datetime = NOW - timedelta(hours=1),
) -> Article:
    """An article as the pipeline makes it (canonical URL, content hash, language)."""
    link = url or f"https://{source[-1].lower()}.example/{abs(hash(title)) % 10**8}"
    entry = Entry(title=title, url=link, guid=guid, summary=text, published=published)
    made = normalise.normalise_entry(
        entry, Source(source, "https://x.example/", language="en"), now=NOW
    )
    assert made is not None
    return made


async def test_topic_and_daily_counts_go_by_news_time_not_fetch_time(store: Store) -> None:
    """/topic's 24 h counts and /trend's days count a story when it was published, as the
    lists sort it: a weeks-old backlog fetched today is not today's news (audit 6)."""
    fresh = NOW - timedelta(hours=2)
    async with store.sessions() as session, session.begin():
        await store.put(
            session,
            article(
                "Wire A",
                "Shelling near Kursk border villages",
                "Kursk region officials reported shelling near Sudzha overnight.",
                published=fresh,
            ),
        )
        await store.put(
            session,
            article(
                "Wire B",
                "Kursk governor opens a rebuilt library in Rylsk",
                "The Kursk governor opened the library, rebuilt after a fire last winter.",
                published=NOW - timedelta(days=20),
            ),
        )
    async with store.sessions() as session:
        assert len(await stories.latest(session, 10, topic="kursk")) == 2
        assert (await stories.topic_counts(session, NOW - timedelta(hours=24)))["kursk"] == 1
        days = await stories.daily_counts(session, NOW - timedelta(days=14))
        assert [when for when, _ in days] == [fresh]
        assert await stories.daily_counts(session, NOW - timedelta(days=14), "kursk") == [
            (fresh, "kursk")
        ]


async def test_known_keys_are_urls_and_content_anywhere_and_guids_within_a_source(
    store: Store,
) -> None:
    """A URL or a content hash is known whoever stored it; a GUID only within its source."""
    stored = article("Wire A", "Ferry service resumes in Izmail", "Boats run again.", guid="a-1")
    async with store.sessions() as session, session.begin():
        await store.put(session, stored)
    cases = [  # (asking source, url, guid, content hash, known)
        ("Wire B", stored.url, "other", "", True),
        ("Wire B", "https://b.example/new", "a-1", "", False),
        ("Wire A", "https://a.example/new", "a-1", "", True),
        ("Wire B", "https://b.example/new", "b-9", stored.content_hash, True),
        ("Wire A", "", "", "", False),
        ("Wire A", stored.url + "/other", "a-2", "0" * 64, False),
    ]
    async with store.sessions() as session:
        for source, url, guid, content_hash, expected in cases:
            known = await items_module.known_keys(
                session, store.ids[source], urls=[url], guids=[guid], hashes=[content_hash]
            )
            assert known.knows(url, guid, content_hash) is expected, (source, url, guid)


async def test_a_repeat_caught_by_the_unique_keys_keeps_the_transaction_usable(
    store: Store,
) -> None:
    """Another outlet's item with a stored URL or content (as when two instances race) is a
    duplicate; the story made for it is removed, and the same transaction goes on storing
    (on PostgreSQL a failed INSERT would abort it)."""
    first = article("Wire A", "Kharkiv tram depot hit", "A glide bomb hit the depot.")
    same_url = article("Wire B", "Parliament passes budget", "Deputies voted.", url=first.url)
    same_text = replace(
        article("Wire B", "Tram depot in Kharkiv struck", "Depot hit.", url="https://b.example/t"),
        content_hash=first.content_hash,
    )
    later = article("Wire B", "Grain ship leaves Odesa", "A bulk carrier sailed.")
    async with store.sessions() as session, session.begin():
        outcomes = [
            (await store.put(session, a)).outcome for a in (first, same_url, same_text, later)
        ]
    assert outcomes == [Outcome.NEW_STORY, Outcome.DUPLICATE, Outcome.DUPLICATE, Outcome.NEW_STORY]
    assert (await store.count(StoryRow), await store.count(ItemRow)) == (2, 2)


async def test_a_report_of_the_same_event_joins_and_updates_its_story(store: Store) -> None:
    """A reworded report from another outlet joins the story: both items are kept, outlets
    are recounted, the story dates from the earliest report, and topics add up."""
    first = article(
        "Wire A",
        "Glide bomb hits Kharkiv apartment block, 14 injured",
        "A Russian glide bomb hit a five-storey apartment block in Kharkiv, injuring 14.",
    )
    second = article(
        "Wire B",
        "14 hurt as Russian glide bomb strikes Kharkiv residential building",
        "Fourteen people were injured when a guided bomb hit a residential block in Kharkiv "
        "on Sunday evening; emergency crews worked through the night, Zelensky said.",
        published=first.published_at - timedelta(minutes=30),
    )
    later = NOW + timedelta(minutes=5)
    async with store.sessions() as session, session.begin():
        created = await store.put(session, first)
        joined = await store.put(session, second, now=later)
    async with store.sessions() as session:
        story = await stories.get_story(session, created.story_id or 0)
        counts = await stories.topic_counts(session, NOW - timedelta(days=1))
    assert (created.outcome, joined.outcome) == (Outcome.NEW_STORY, Outcome.MERGED)
    assert story is not None and joined.story_id == story.id and joined.outlets == 2
    assert [item.source for item in story.items] == ["Wire A", "Wire B"]
    assert (story.outlets, story.published_at, story.last_seen_at) == (
        2,
        second.published_at,
        later,
    )
    assert {"kharkiv", "missiles"} <= story.topics
    assert all(counts.get(topic) == 1 for topic in story.topics)


def lookalike(rng: random.Random, n: int) -> Article:
    """An unrelated report in the war's everyday words (another village, another count)."""
    village = "".join(rng.choices(["ka", "ro", "vi", "len", "dor", "mi", "sha", "tel"], k=3))
    what = rng.choice(["power line", "school", "grain store", "bridge", "farm", "clinic"])
    return article(
        "Wire B",
        f"Russian drone attack damages {what} in {village.capitalize()}, Kharkiv region",
        f"Russian drones attacked the Kharkiv region overnight, damaging a {what} in "
        f"{village.capitalize()}; {rng.randint(2, 90)} drones were shot down, officials said.",
        url=f"https://b.example/lookalike/{n}",
    )


EVENTS = [  # (first report, a later report of the same event by another outlet)
    (
        (
            "Drone attack on Vovchansk water plant leaves 9,000 without water",
            "A Russian drone attack damaged the water treatment plant in Vovchansk, Kharkiv "
            "region, leaving about 9,000 residents without water, the governor said.",
        ),
        (
            "About 9,000 Vovchansk residents without water after drone hits treatment plant",
            "Russian drones hit the Vovchansk water treatment plant in Kharkiv region "
            "overnight; some 9,000 people are without running water, the governor said.",
        ),
    ),
    (
        (
            "Drone strike on Kupiansk hospital injures five medics, Kharkiv region",
            "A Russian drone struck the central hospital in Kupiansk, Kharkiv region, injuring "
            "five medics and damaging the surgery ward, officials said.",
        ),
        (
            "Five medics hurt as Russian drone hits Kupiansk central hospital",
            "Five medical workers were injured when a Russian drone hit the central hospital "
            "in Kupiansk in Kharkiv region; the surgery ward was damaged, officials said.",
        ),
    ),
]


async def test_a_report_finds_its_story_in_a_crowd_of_lookalikes(store: Store) -> None:
    """Candidates are bounded (a few postings per LSH band, newest first, then the stories
    sharing most bands), yet a report finds its story among 150 stories that share the war's
    common words with it, whether its story is one of the oldest or one of the newest."""
    rng = random.Random(7)
    targets: dict[int, int | None] = {}
    async with store.sessions() as session, session.begin():
        for n in range(150):
            if n in (5, 145):
                (title, text), _ = EVENTS[n > 5]
                targets[n > 5] = (await store.put(session, article("Wire A", title, text))).story_id
            await store.put(session, lookalike(rng, n))
        for index, (_, (title, text)) in enumerate(EVENTS):
            joined = await store.put(session, article("Wire B", title, text))
            assert joined.outcome is Outcome.MERGED and joined.story_id == targets[index], title


Snapshot = tuple[list[object], list[object], list[object]]


async def snapshot(session: AsyncSession, results: list[Stored]) -> Snapshot:
    """What a batch did, free of ids: each article's outcome, outlets and fellow articles;
    each story's row; each story's topic rows."""
    group: dict[int, int] = {}
    for index, stored in enumerate(results):
        if stored.story_id is not None:
            group.setdefault(stored.story_id, index)
    outcomes: list[object] = [
        (r.outcome, r.outlets, group.get(r.story_id or 0, -1)) for r in results
    ]
    rows = await session.execute(
        select(
            StoryRow.id,
            StoryRow.headline,
            StoryRow.outlets,
            StoryRow.topics,
            StoryRow.published_at,
            StoryRow.last_seen_at,
        ).where(StoryRow.id.in_(list(group)))
    )
    stories_seen: list[object] = sorted((group[row[0]], *row[1:]) for row in rows.all())
    tags = await session.execute(
        select(StoryTopicRow.story_id, StoryTopicRow.topic, StoryTopicRow.first_seen_at).where(
            StoryTopicRow.story_id.in_(list(group))
        )
    )
    topic_rows: list[object] = sorted((group[row[0]], *row[1:]) for row in tags.all())
    return outcomes, stories_seen, topic_rows


async def test_a_batch_is_stored_as_the_article_at_a_time_store_did(store: Store) -> None:
    """Issue #3 (ingest throughput): the bulk store decides what the article-at-a-time store
    it replaced decided (tests/bot/reference_store.py): the same repeats, merges and new
    stories, outlet counts, story dates and topics, also when the batch joins stored
    stories, its own new stories, and look-alikes in a crowd."""
    rng = random.Random(11)
    stored = [lookalike(rng, n) for n in range(40)]
    for (title, text), _ in EVENTS:
        stored.append(article("Wire A", title, text))
    batch = [lookalike(rng, n) for n in range(40, 60)]
    for _, (title, text) in EVENTS:
        batch.append(article("Wire B", title, text, url=f"https://b.example/e{len(batch)}"))
        batch.append(
            article("Wire B", title + " (update)", text, url=f"https://b.example/u{len(batch)}")
        )
    batch.append(batch[3])  # a repeat inside the batch
    batch.append(replace(stored[0], source="Wire B"))  # a stored URL
    items = prepare(batch, TOPICS)
    later = NOW + timedelta(minutes=10)
    async with store.sessions() as session, session.begin():
        for a in stored:
            await store.put(session, a)
    expected, got, bulk = await both_stores(store, "Wire B", items, now=later, window_hours=72)
    assert got == expected
    assert sum(r.outcome is Outcome.MERGED for r in bulk) >= 4
    assert [r.outcome for r in bulk[-2:]] == [Outcome.DUPLICATE, Outcome.DUPLICATE]


async def both_stores(
    store: Store, source: str, items: list[Prepared], *, now: datetime, window_hours: float
) -> tuple[Snapshot, Snapshot, list[Stored]]:
    """Store `items` with the article-at-a-time store (then roll it back) and with the bulk
    store: both databases' snapshots, and the bulk store's results."""
    async with store.sessions() as session:
        async with session.begin() as transaction:
            before = await reference_store.store_articles(
                session, store.ids[source], source, items, now=now, window_hours=window_hours
            )
            expected = await snapshot(session, before)
            await transaction.rollback()
        async with session.begin():
            bulk = await items_module.store_articles(
                session, store.ids[source], source, items, now=now, window_hours=window_hours
            )
            got = await snapshot(session, bulk)
    return expected, got, bulk


def vocabulary() -> list[str]:
    """The content words of the sample feeds: reports that share the war's words."""
    text = " ".join(path.read_text(encoding="utf-8") for path in sorted(SAMPLE_FEEDS_DIR.iterdir()))
    words = {w.lower() for w in re.findall(r"[A-Za-z]{5,}", re.sub(r"<[^>]+>", " ", text))}
    return sorted(words)


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_random_batches_are_stored_as_the_article_at_a_time_store_did(
    store: Store, seed: int
) -> None:
    """The same on generated crowds: events reported several times in other words, over
    50 hours with a 36-hour window (stories leave it, and merges bring them back), stored in
    batches of mixed sizes, then a last batch with reports of stored and of its own events."""
    rng = random.Random(seed)
    words = vocabulary()
    events = [
        (rng.sample(words, 6), str(rng.randint(3, 900)), NOW - timedelta(hours=rng.uniform(0, 50)))
        for _ in range(200)
    ]

    def report(n: int, source: str) -> Article:
        facts, number, at = rng.choice(events)
        title = facts[:]
        rng.shuffle(title)
        title[rng.randrange(len(title))] = rng.choice(words)
        text = " ".join([*title, number, *rng.sample(words, 8)])
        published = at + timedelta(minutes=rng.randint(-300, 300))
        url = f"https://{source[-1].lower()}.example/{seed}/{n}"
        return article(source, " ".join(title[:5]).capitalize(), text, url=url, published=published)

    async with store.sessions() as session, session.begin():
        n = 0
        while n < 150:
            size = rng.choice((1, 3, 10, 30))
            batch = [report(n + i, "Wire A") for i in range(size)]
            await reference_store.store_articles(
                session,
                store.ids["Wire A"],
                "Wire A",
                prepare(batch, TOPICS),
                now=NOW,
                window_hours=36,
            )
            n += size
    items = prepare([report(1000 + i, "Wire B") for i in range(80)], TOPICS)
    expected, got, bulk = await both_stores(store, "Wire B", items, now=NOW, window_hours=36)
    assert got == expected
    merged = sum(r.outcome is Outcome.MERGED for r in bulk)
    assert 10 <= merged <= 70, merged


async def test_a_repeat_only_the_insert_catches_leaves_the_rest_of_the_batch_stored(
    store: Store,
) -> None:
    """When the unique keys refuse an item that the key check let through (another
    instance's insert in between; here an empty URL, which the check never matches), the
    batch's rows are undone and it is planned again without that article: no story is left
    without items, and the other articles are stored as they would have been."""
    first = replace(article("Wire A", "Ferry resumes in Izmail", "Boats run."), url="")
    async with store.sessions() as session, session.begin():
        assert (await store.put(session, first)).outcome is Outcome.NEW_STORY
    clash = replace(article("Wire B", "Grain ship leaves Odesa", "A bulk carrier sailed."), url="")
    others = [
        article("Wire B", "Sumy schools reopen", "Pupils return to classes."),
        article("Wire B", "Kharkiv tram depot hit", "A glide bomb hit the depot."),
    ]
    async with store.sessions() as session, session.begin():
        results = await items_module.store_articles(
            session,
            store.ids["Wire B"],
            "Wire B",
            prepare([others[0], clash, others[1]], TOPICS),
            now=NOW,
            window_hours=72,
        )
    assert [r.outcome for r in results] == [
        Outcome.NEW_STORY,
        Outcome.DUPLICATE,
        Outcome.NEW_STORY,
    ]
    assert (await store.count(StoryRow), await store.count(ItemRow)) == (3, 3)


async def test_a_story_older_than_the_window_takes_no_more_reports(store: Store) -> None:
    """Recurring reports 30 hours apart may chain for one step, but a story whose first
    report is older than the window starts over: a daily bulletin is not one story for ever."""
    window = 36.0

    def bulletin(day: int) -> Article:
        return article(
            "Wire A",
            "OSCE monitoring mission reports ceasefire violations in eastern Ukraine",
            "The mission recorded ceasefire violations in Donetsk and Luhansk regions. "
            f"Monitors visited {('Zolote', 'Shchastia', 'Stanytsia')[day]}.",
            url=f"https://a.example/smm/{day}",
            published=NOW - timedelta(hours=60 - 30 * day),
        )

    async with store.sessions() as session, session.begin():
        outcomes = [(await store.put(session, bulletin(day), window=window)) for day in range(3)]
    assert [o.outcome for o in outcomes] == [Outcome.NEW_STORY, Outcome.MERGED, Outcome.NEW_STORY]
    assert outcomes[1].story_id == outcomes[0].story_id != outcomes[2].story_id


async def test_a_kept_band_index_sees_what_other_instances_stored(store: Store) -> None:
    """A process keeps its band index between batches and loads, before each, the items
    stored since by anyone: a report joins a story another instance (another index) started."""
    (first, later), (other_first, other_later) = EVENTS[0], EVENTS[1]
    ours, theirs = items_module.new_index(72), items_module.new_index(72)

    async def put(index: BandIndex, source: str, report: tuple[str, str], url: str) -> Stored:
        (item,) = prepare([article(source, *report, url=url)], TOPICS)
        async with store.sessions() as session, session.begin():
            return await items_module.store_article(
                session, store.ids[source], source, item, now=NOW, window_hours=72, index=index
            )

    started = await put(ours, "Wire A", first, "https://a.example/1")
    elsewhere = await put(theirs, "Wire B", other_first, "https://b.example/1")
    assert (await put(ours, "Wire A", other_later, "https://a.example/2")).story_id == (
        elsewhere.story_id
    )
    assert (await put(theirs, "Wire B", later, "https://b.example/2")).story_id == (
        started.story_id
    )
    # Each has loaded what was stored before its last batch, its own items and the other's;
    # a (key, story) pair is held once, however many of the story's reports have the key.
    assert (ours.high_water, len(ours)) == (2, 2 * dedup.BANDS)
    assert theirs.high_water == 3 and 2 * dedup.BANDS < len(theirs) < 3 * dedup.BANDS


async def test_a_kept_band_index_knows_the_dates_other_instances_moved(store: Store) -> None:
    """The index keeps each story's date for the planner and reads it again with every new
    report: a late report stored elsewhere moves the story's start back, out of the next
    report's window, and that report starts a story of its own, as a fresh read decides."""
    ours, theirs = items_module.new_index(72), items_module.new_index(72)
    title = "Drone strike hits grain terminal in Izmail port on the Danube"
    lede = "A drone struck a grain terminal in Izmail overnight, regional officials said."

    async def put(
        index: BandIndex, source: str, n: int, published: datetime, window: float
    ) -> Stored:
        report = article(
            source, title, f"{lede} Update {n}.", url=f"https://x.example/{n}", published=published
        )
        (item,) = prepare([report], TOPICS)
        async with store.sessions() as session, session.begin():
            return await items_module.store_article(
                session, store.ids[source], source, item, now=NOW, window_hours=window, index=index
            )

    first = await put(ours, "Wire A", 1, NOW - timedelta(hours=1), 72)
    (other,) = prepare([article("Wire A", "Parliament passes the budget", "It passed.")], TOPICS)
    async with store.sessions() as session, session.begin():
        await items_module.store_article(
            session, store.ids["Wire A"], "Wire A", other, now=NOW, window_hours=72, index=ours
        )
    assert ours.dates[first.story_id] == NOW - timedelta(hours=1)
    late = await put(theirs, "Wire B", 2, NOW - timedelta(hours=40), 72)
    assert late.story_id == first.story_id
    third = await put(ours, "Wire A", 3, NOW, 36)
    assert ours.dates[first.story_id] == NOW - timedelta(hours=40)
    assert third.outcome is Outcome.NEW_STORY


async def test_exact_repeats_never_make_a_new_item_or_alert(
    database_url: str, tmp_path: Path
) -> None:
    """Same URL, the URL with tracking parameters, a re-published GUID, the same content
    under a new address, and a feed whose GUIDs all change at once: none is a new item or an
    alert. Only the genuinely new item reaches the chat following everything."""
    a = Item("Kharkiv tram depot hit", "https://wire.example/a", "a", "A glide bomb hit it.")
    b = Item("Sumy schools reopen", "https://wire.example/b", "b", "Pupils return to classes.")
    variants = {
        "same URL, new GUID and title": [Item("Depot fire out", a.link, "a2", "Fire is out.")],
        "URL with tracking parameters": [
            Item("Depot update", a.link + "?utm_source=tg&fbclid=1#top", "a3", "Crews left.")
        ],
        "GUID re-published at a new URL": [
            Item("Schools reopen", "https://wire.example/b-upd", b.guid, "All pupils back.")
        ],
        "same content, new URL and GUID": [Item(a.title, "https://m.wire.example/x", "x", a.text)],
        "every GUID changed at once": [
            Item(i.title, i.link, i.guid + "-v2", i.text, i.published) for i in (a, b)
        ],
    }
    new = Item("Grain ship leaves Odesa", "https://wire.example/c", "c", "A bulk carrier sailed.")

    def wire(server: FeedServer) -> str:
        server.set_feed("/feeds/wire.rss", rss([a, b]))
        return source_entries(("Wire", server.url("/feeds/wire.rss")))

    async with harness(database_url, tmp_path, sources=wire) as h:
        chat = h.chat()
        await chat.send("/follow all")
        assert (await h.fetch()).new_items == 2
        for name, extra in variants.items():
            h.feeds.set_feed("/feeds/wire.rss", rss([a, b, *extra]))
            report = await h.fetch()
            assert (report.new_items, report.queued) == (0, 0), name
        since = len(h.emulator.sent)
        h.feeds.set_feed("/feeds/wire.rss", rss([a, b, new]))
        report = await h.fetch()
        alerts = await chat.replies(since, settle=0.5)
        listed = await all_stories(h)
    assert (report.new_items, report.new_stories, report.queued) == (1, 1, 1)
    assert len(alerts) == 1 and new.title in (alerts[0].text or "")
    assert sorted(len(story.items) for story in listed) == [1, 1, 1]


def sample_urls() -> dict[str, str]:
    """GUID -> canonical URL of every sample entry."""
    urls = {}
    for path in SAMPLE_FEEDS_DIR.iterdir():
        for entry in feeds.parse_feed(path.read_bytes(), base_url="https://x.example/").entries:
            urls[entry.guid or entry.url] = normalise.canonical_url(entry.url)
    return urls


async def test_other_outlets_reports_of_an_event_join_one_story(
    database_url: str, tmp_path: Path
) -> None:
    """Across the sample outlets, each event's English reports form one story with every item
    and outlet kept (the Ukrainian report is its own story); a later update from one of them
    under a new URL joins it without a second alert."""
    urls = sample_urls()
    async with harness(database_url, tmp_path) as h:
        chat = h.chat()
        await chat.send("/follow all")
        await h.fetch()
        story_of = {item.url: story for story in await all_stories(h) for item in story.items}
        for event, (_, guids) in SAME_EVENT.items():
            english = [urls[g] for g in guids if not g.startswith("nfd-")]
            story = story_of[english[0]]
            assert {story_of[url].id for url in english} == {story.id}, event
            assert (story.outlets, len(story.items)) == (len(english), len(english)), event
            assert all(story_of[urls[g]].id != story.id for g in guids if g.startswith("nfd-"))
        nk = story_of[urls["https://dnipro-ledger.example/?p=48213"]]
        assert nk.published_at is not None
        update = Item(
            "About 3,000 more North Korean troops reach Russia's Kursk region, intelligence says",
            "https://dnipro-ledger.example/?p=48399",
            "https://dnipro-ledger.example/?p=48399",
            "Roughly 3,000 additional North Korean soldiers have arrived in Russia's Kursk region "
            "over the past week, Ukraine's military intelligence said, near Glushkovo.",
            nk.published_at + timedelta(hours=3),
        )
        dnipro = (SAMPLE_FEEDS_DIR / "dnipro_ledger.rss").read_bytes()
        new_item = b"<item>" + rss([update]).split(b"<item>", 1)[1].split(b"</channel>")[0]
        h.feeds.set_feed(
            "/feeds/dnipro_ledger.rss", dnipro.replace(b"<item>", new_item + b"<item>", 1)
        )
        report = await h.fetch()
        async with h.deps.sessions() as session:
            grown = await stories.get_story(session, nk.id)
    assert (report.new_items, report.merged, report.new_stories, report.queued) == (1, 1, 0, 0)
    assert grown is not None and len(grown.items) == len(nk.items) + 1
    assert grown.outlets == nk.outlets


async def test_two_outlets_syndicating_one_url_in_one_pass(
    database_url: str, tmp_path: Path
) -> None:
    """Two outlets carrying one article (same link, their own titles and GUIDs) in the same
    pass: the URL is stored once, both sources stay healthy, and their other items are kept."""
    shared = "https://wires.example/story/123"

    def both(server: FeedServer) -> str:
        server.set_feed(
            "/feeds/a.rss",
            rss(
                [
                    Item("Sea drone hits patrol boat", shared, "a-1", "A sea drone hit a boat."),
                    Item("Ferry resumes in Izmail", "https://a.example/2", "a-2", "Boats run."),
                ]
            ),
        )
        server.set_feed(
            "/feeds/b.rss",
            rss(
                [
                    Item(
                        "Navy: patrol boat struck",
                        shared,
                        "b-1",
                        "The navy said a boat was struck.",
                    ),
                    Item("Sumy schools reopen", "https://b.example/2", "b-2", "Pupils return."),
                ]
            ),
        )
        return source_entries(
            ("Wire A", server.url("/feeds/a.rss")), ("Wire B", server.url("/feeds/b.rss"))
        )

    async with harness(database_url, tmp_path, sources=both) as h:
        report = await h.fetch()
        listed = await all_stories(h)
    assert [source.status for source in report.sources] == ["ok", "ok"]
    assert report.new_items == 3, "one outlet's copy of the shared URL is a repeat"
    assert [item.url for story in listed for item in story.items].count(shared) == 1
