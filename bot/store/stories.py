"""Items and stories: store an article (exact dedup by unique keys, near dedup by LSH bands),
and read stories back (latest, by topic, search, counts).

Storing costs a fixed handful of statements per article whatever the archive holds: the
exact keys of a whole batch are checked in one query, near-duplicate candidates come from at
most `PER_BAND` recent stories per LSH band, and rows go in with cached, executemany INSERTs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cache
from typing import cast

from sqlalchemy import (
    Select,
    Table,
    bindparam,
    case,
    delete,
    func,
    literal,
    or_,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot import dedup
from bot.db import ItemRow, SourceRow, StoryBandRow, StoryRow, StoryTopicRow, UtcDateTime
from bot.models import Article, Story, StoryItem
from bot.store.dialect import dialect_name, insert_for

GUID_CHARS = 700
URL_CHARS = 2000
PER_BAND = 20
"""Postings read per LSH band, newest first: a band shared by hundreds of stories is noise."""
CANDIDATE_STORIES = 20
"""Stories verified per article: those sharing the most bands with it."""
ITEMS_PER_CANDIDATE = 4
_KEY_BATCH = 400
# Core tables for the write path: no ORM unit of work per article, statements cached.
_ITEM = cast(Table, ItemRow.__table__)
_STORY = cast(Table, StoryRow.__table__)
_BAND = cast(Table, StoryBandRow.__table__)
_TOPIC = cast(Table, StoryTopicRow.__table__)


class Outcome(StrEnum):
    """What storing one article did."""

    DUPLICATE = "duplicate"
    NEW_STORY = "new_story"
    MERGED = "merged"


@dataclass(frozen=True, slots=True)
class Prepared:
    """An article with everything the core computed for it, ready to store."""

    article: Article
    signature: bytes
    bands: tuple[int, ...]
    topics: frozenset[str]
    summary: str


@dataclass(frozen=True, slots=True)
class Stored:
    """The result of `store_article`: the outcome and the story it landed in."""

    outcome: Outcome
    story_id: int | None = None
    outlets: int = 0


@dataclass(frozen=True, slots=True)
class KnownKeys:
    """The exact keys of a batch that the store holds already (see `known_keys`)."""

    urls: frozenset[str] = frozenset()
    guids: frozenset[str] = frozenset()
    hashes: frozenset[str] = frozenset()

    def knows(self, url: str, guid: str, content_hash: str = "") -> bool:
        """True when any key repeats a stored item; an empty key never matches."""
        return (
            (bool(url) and url[:URL_CHARS] in self.urls)
            or (bool(guid) and guid[:GUID_CHARS] in self.guids)
            or (bool(content_hash) and content_hash in self.hashes)
        )


def _topics_text(topics: Iterable[str]) -> str:
    return " ".join(sorted(topics))


def to_story(row: StoryRow, items: Sequence[StoryItem] = ()) -> Story:
    """A story row as the plain value the core formats."""
    return Story(
        id=row.id,
        headline=row.headline,
        summary=row.summary,
        url=row.url,
        source=row.source_name,
        topics=frozenset(row.topics.split()),
        first_seen_at=row.first_seen_at,
        last_seen_at=row.last_seen_at,
        language=row.language,
        outlets=row.outlets,
        items=tuple(items),
        published_at=row.published_at,
    )


async def known_keys(
    session: AsyncSession,
    source_id: int,
    *,
    urls: Iterable[str] = (),
    guids: Iterable[str] = (),
    hashes: Iterable[str] = (),
) -> KnownKeys:
    """Which of these keys stored items hold: URLs and content hashes anywhere, GUIDs within
    the source. One query per few hundred keys, instead of one per article."""
    wanted = [
        sorted({u[:URL_CHARS] for u in urls if u}),
        sorted({g[:GUID_CHARS] for g in guids if g}),
        sorted({h for h in hashes if h}),
    ]
    found: tuple[set[str], set[str], set[str]] = (set(), set(), set())
    for start in range(0, max(map(len, wanted)), _KEY_BATCH):
        chunk = [keys[start : start + _KEY_BATCH] for keys in wanted]
        parts = [
            select(literal(0), ItemRow.url).where(ItemRow.url.in_(chunk[0])),
            select(literal(1), ItemRow.guid).where(
                ItemRow.source_id == source_id, ItemRow.guid.in_(chunk[1])
            ),
            select(literal(2), ItemRow.content_hash).where(ItemRow.content_hash.in_(chunk[2])),
        ]
        for kind, key in (await session.execute(union_all(*parts))).all():
            found[kind].add(key)
    return KnownKeys(*(frozenset(keys) for keys in found))


@cache
def _candidates_query(bands: int) -> Select[int, bytes, str, str, datetime]:
    """Reports of the stories sharing most bands with an article, built once per band count.

    Each band reads at most PER_BAND postings, newest story first (a range scan of the
    (band_key, story_id) key, which covers it), and each story gives its first report and
    its latest few, so the cost grows with neither the archive nor the size of a big story.
    A report of the same event shares several bands with its story, and is recent.

    A story whose first report is older than the window takes no more: otherwise recurring
    reports (a mission's "Daily Report 221", "222"…) chain into one story for ever, and
    nobody hears of the new ones. `dedup.choose_story` applies the window per report too.
    """
    postings = [
        select(StoryBandRow.story_id)
        .where(StoryBandRow.band_key == bindparam(f"b{index}"))
        .order_by(StoryBandRow.story_id.desc())
        .limit(PER_BAND)
        .subquery()
        for index in range(bands)
    ]
    hits = union_all(*(select(p.c.story_id) for p in postings)).subquery()
    ranked = (
        select(hits.c.story_id)
        .join(StoryRow, StoryRow.id == hits.c.story_id)
        .where(StoryRow.published_at >= bindparam("since", type_=UtcDateTime()))
        .group_by(hits.c.story_id)
        .order_by(func.count().desc(), hits.c.story_id.desc())
        .limit(CANDIDATE_STORIES)
    )
    items = (
        select(
            ItemRow.story_id,
            ItemRow.signature,
            SourceRow.name,
            ItemRow.title,
            ItemRow.published_at,
            func.row_number()
            .over(partition_by=ItemRow.story_id, order_by=ItemRow.id.desc())
            .label("newest"),
            func.row_number()
            .over(partition_by=ItemRow.story_id, order_by=ItemRow.id)
            .label("oldest"),
        )
        .join(SourceRow, SourceRow.id == ItemRow.source_id)
        .where(ItemRow.story_id.in_(ranked.scalar_subquery()))
        .subquery()
    )
    return select(
        items.c.story_id, items.c.signature, items.c.name, items.c.title, items.c.published_at
    ).where(or_(items.c.newest <= ITEMS_PER_CANDIDATE, items.c.oldest == 1))


async def _candidates(
    session: AsyncSession, bands: Sequence[int], since: datetime
) -> list[dedup.Candidate]:
    """Stored reports of the stories sharing LSH bands with an article, first seen since `since`."""
    if not bands:
        return []
    params: dict[str, object] = {f"b{index}": key for index, key in enumerate(bands)}
    params["since"] = since
    rows = await session.execute(_candidates_query(len(bands)), params)
    return [
        dedup.Candidate(
            story_id=story_id,
            signature=dedup.Signature.from_bytes(signature),
            source=source,
            title=title,
            published_at=published_at,
        )
        for story_id, signature, source, title, published_at in rows.all()
    ]


async def store_article(
    session: AsyncSession,
    source_id: int,
    source_name: str,
    prepared: Prepared,
    *,
    now: datetime,
    window_hours: float,
    breaking: bool = False,
) -> Stored:
    """Store one article (see `store_articles`)."""
    (stored,) = await store_articles(
        session,
        source_id,
        source_name,
        [prepared],
        now=now,
        window_hours=window_hours,
        breaking=breaking,
    )
    return stored


@dataclass
class _Batch:
    """What a batch stored so far, so that its own articles meet before its bands are written
    (band and topic rows go in once, at the end: two statements per batch, not per article)."""

    stories_by_band: dict[int, set[int]] = field(default_factory=dict)
    reports: dict[int, list[dedup.Candidate]] = field(default_factory=dict)
    bands: dict[tuple[int, int], datetime] = field(default_factory=dict)
    topics: dict[tuple[int, str], datetime] = field(default_factory=dict)

    def candidates(self, bands: Sequence[int]) -> list[dedup.Candidate]:
        near = {story for key in bands for story in self.stories_by_band.get(key, ())}
        return [report for story in sorted(near) for report in self.reports[story]]

    def add(
        self, story_id: int, report: dedup.Candidate, bands: Sequence[int], now: datetime
    ) -> None:
        self.reports.setdefault(story_id, []).append(report)
        for key in bands:
            self.stories_by_band.setdefault(key, set()).add(story_id)
            self.bands[(key, story_id)] = now

    async def flush(self, session: AsyncSession) -> None:
        if self.bands:
            await session.execute(
                insert_for(session, _BAND).on_conflict_do_nothing(),
                [
                    {"band_key": k, "story_id": s, "seen_at": at}
                    for (k, s), at in self.bands.items()
                ],
            )
        if self.topics:
            await session.execute(
                insert_for(session, _TOPIC).on_conflict_do_nothing(),
                [
                    {"story_id": s, "topic": t, "first_seen_at": at}
                    for (s, t), at in self.topics.items()
                ],
            )


async def store_articles(
    session: AsyncSession,
    source_id: int,
    source_name: str,
    prepared: Sequence[Prepared],
    *,
    now: datetime,
    window_hours: float,
    breaking: bool = False,
) -> list[Stored]:
    """Store one source's new articles, in order: a duplicate is dropped, a near-duplicate
    joins its story (a stored one, or one this batch started), anything else starts one.

    The unique keys decide duplicates, also against another source's or another instance's
    insert of the same URL or content: the item INSERT does nothing on conflict (so the
    transaction stays usable on PostgreSQL), and a story created for it is removed again.
    Callers drop known articles first (`known_keys`), so that path is rare.
    """
    window = timedelta(hours=window_hours)
    batch = _Batch()
    results = []
    for item in prepared:
        article = item.article
        signature = dedup.Signature.from_bytes(item.signature)
        candidates = await _candidates(session, item.bands, article.published_at - window)
        candidates += batch.candidates(item.bands)
        story_id = dedup.choose_story(
            article.title,
            article.text,
            signature,
            source_name,
            article.published_at,
            candidates,
            window=window,
        )
        created = story_id is None
        if story_id is None:
            story_id = await _new_story(session, source_name, item, now, breaking)
        if not await _insert_item(session, source_id, story_id, item, now):
            if created:
                await session.execute(delete(_STORY).where(StoryRow.id == story_id))
            results.append(Stored(Outcome.DUPLICATE))
            continue
        report = dedup.Candidate(
            story_id, signature, source_name, article.title, article.published_at
        )
        batch.add(story_id, report, item.bands, now)
        if created:
            batch.topics.update({(story_id, topic): now for topic in item.topics})
            results.append(Stored(Outcome.NEW_STORY, story_id, 1))
        else:
            outlets = await _merge_into(session, story_id, article, item.topics, now, batch)
            results.append(Stored(Outcome.MERGED, story_id, outlets))
    await batch.flush(session)
    return results


async def _insert_item(
    session: AsyncSession, source_id: int, story_id: int, item: Prepared, now: datetime
) -> bool:
    """Insert an article's item row; False when a unique key says it is a repeat."""
    article = item.article
    inserted = await session.scalar(
        insert_for(session, _ITEM)
        .values(
            source_id=source_id,
            story_id=story_id,
            guid=article.guid[:GUID_CHARS],
            url=article.url[:URL_CHARS],
            title=article.title,
            text=article.text,
            language=article.language,
            content_hash=article.content_hash,
            signature=item.signature,
            published_at=article.published_at,
            fetched_at=now,
        )
        .on_conflict_do_nothing()
        .returning(ItemRow.id)
    )
    return inserted is not None


async def _new_story(
    session: AsyncSession, source_name: str, prepared: Prepared, now: datetime, breaking: bool
) -> int:
    """Insert the story an article starts; the article is its representative item."""
    article = prepared.article
    story_id = await session.scalar(
        insert_for(session, _STORY)
        .values(
            headline=article.title,
            summary=prepared.summary,
            url=article.url,
            source_name=source_name,
            language=article.language,
            topics=_topics_text(prepared.topics),
            outlets=1,
            breaking=breaking,
            first_seen_at=now,
            last_seen_at=now,
            published_at=min(article.published_at, now),
        )
        .returning(StoryRow.id)
    )
    assert story_id is not None
    return int(story_id)


async def _merge_into(
    session: AsyncSession,
    story_id: int,
    article: Article,
    topics: frozenset[str],
    now: datetime,
    batch: _Batch,
) -> int:
    """Recount a story's outlets, move its times, add the new item's topics; returns outlets."""
    outlets = (
        select(func.count(func.distinct(ItemRow.source_id)))
        .where(ItemRow.story_id == story_id)
        .scalar_subquery()
    )
    earliest = case(
        (StoryRow.published_at > article.published_at, article.published_at),
        else_=StoryRow.published_at,
    )
    count, current, first_seen = (
        await session.execute(
            update(_STORY)
            .where(StoryRow.id == story_id)
            .values(outlets=outlets, last_seen_at=now, published_at=earliest)
            .returning(StoryRow.outlets, StoryRow.topics, StoryRow.first_seen_at)
        )
    ).one()
    if not topics <= set(current.split()):
        merged = _topics_text(set(current.split()) | topics)
        await session.execute(update(_STORY).where(StoryRow.id == story_id).values(topics=merged))
        batch.topics.update({(story_id, topic): first_seen for topic in topics})
    return int(count)


async def prune_bands(session: AsyncSession, before: datetime) -> int:
    """Drop LSH band rows seen before `before` (older than any dedup window): nothing can
    merge into those stories any more, and the band index stays the size of the window."""
    result = await session.execute(delete(_BAND).where(StoryBandRow.seen_at < before))
    return max(result.rowcount or 0, 0)  # type: ignore[attr-defined]


async def story_items(
    session: AsyncSession, story_ids: Sequence[int]
) -> dict[int, list[StoryItem]]:
    """Every item of the given stories, oldest first, keyed by story id."""
    if not story_ids:
        return {}
    rows = await session.execute(
        select(
            ItemRow.story_id,
            SourceRow.name,
            SourceRow.url,
            ItemRow.url,
            ItemRow.title,
            ItemRow.published_at,
        )
        .join(SourceRow, SourceRow.id == ItemRow.source_id)
        .where(ItemRow.story_id.in_(list(story_ids)))
        .order_by(ItemRow.id)
    )
    items: dict[int, list[StoryItem]] = {}
    for story_id, source, source_url, url, title, published in rows.all():
        items.setdefault(story_id, []).append(
            StoryItem(
                source=source, url=url, title=title, published_at=published, source_url=source_url
            )
        )
    return items


async def _with_items(session: AsyncSession, rows: Sequence[StoryRow], items: bool) -> list[Story]:
    by_story = await story_items(session, [row.id for row in rows]) if items else {}
    return [to_story(row, by_story.get(row.id, ())) for row in rows]


async def latest(
    session: AsyncSession,
    limit: int,
    *,
    languages: frozenset[str] = frozenset(),
    topic: str | None = None,
    since: datetime | None = None,
    items: bool = False,
) -> list[Story]:
    """The newest stories, optionally of one topic, in given languages, since a time."""
    query = select(StoryRow).order_by(StoryRow.published_at.desc(), StoryRow.id.desc()).limit(limit)
    if topic is not None:
        query = query.join(StoryTopicRow, StoryTopicRow.story_id == StoryRow.id).where(
            StoryTopicRow.topic == topic
        )
    if languages:
        query = query.where(StoryRow.language.in_(sorted(languages)))
    if since is not None:
        query = query.where(StoryRow.first_seen_at >= since)
    rows = (await session.scalars(query)).all()
    return await _with_items(session, rows, items)


async def get_story(session: AsyncSession, story_id: int) -> Story | None:
    """One story with its items, or None."""
    row = await session.get(StoryRow, story_id)
    if row is None:
        return None
    return (await _with_items(session, [row], True))[0]


async def get_stories(session: AsyncSession, story_ids: Sequence[int]) -> dict[int, Story]:
    """Several stories by id (items included), for rendering alerts and digests."""
    if not story_ids:
        return {}
    rows = (await session.scalars(select(StoryRow).where(StoryRow.id.in_(list(story_ids))))).all()
    return {story.id: story for story in await _with_items(session, rows, True)}


async def topic_counts(session: AsyncSession, since: datetime) -> dict[str, int]:
    """Stories per topic first seen since `since`."""
    rows = await session.execute(
        select(StoryTopicRow.topic, func.count())
        .where(StoryTopicRow.first_seen_at >= since)
        .group_by(StoryTopicRow.topic)
    )
    return {topic: int(count) for topic, count in rows.all()}


async def daily_counts(
    session: AsyncSession, since: datetime, topic: str | None = None
) -> list[tuple[datetime, str]]:
    """(first_seen_at, topic) pairs since `since` for charts; topic "" for untagged stories."""
    if topic is None:
        rows = await session.execute(
            select(StoryRow.first_seen_at, StoryRow.topics).where(StoryRow.first_seen_at >= since)
        )
        return [(seen, (topics.split() or [""])[0]) for seen, topics in rows.all()]
    rows = await session.execute(
        select(StoryTopicRow.first_seen_at, StoryTopicRow.topic).where(
            StoryTopicRow.first_seen_at >= since, StoryTopicRow.topic == topic
        )
    )
    return [(seen, name) for seen, name in rows.all()]


_WORD = re.compile(r"\w+", re.UNICODE)


async def search(session: AsyncSession, query: str, limit: int) -> list[Story]:
    """Stories matching the words of `query`, most relevant (and recent) first.

    SQLite uses FTS5's bm25 over headline and summary; PostgreSQL a weighted tsvector. The
    query is reduced to plain words and passed as a parameter, so no syntax leaks in.
    """
    words = _WORD.findall(query.casefold())[:12]
    if not words:
        return []
    if dialect_name(session) == "postgresql":
        ts_query = " & ".join(f"{word}:*" for word in words)
        statement = text(
            "SELECT id FROM story WHERE search @@ to_tsquery('simple', :q) "
            "ORDER BY ts_rank(search, to_tsquery('simple', :q)) * "
            "(1.0 / (1 + extract(epoch from (now() at time zone 'utc' - published_at)) "
            "/ 86400.0)) "
            "DESC, id DESC LIMIT :n"
        )
    else:
        ts_query = " ".join('"' + word.replace('"', "") + '"*' for word in words)
        statement = text(
            "SELECT story.id FROM story_fts JOIN story ON story.id = story_fts.rowid "
            "WHERE story_fts MATCH :q "
            "ORDER BY bm25(story_fts, 2.0, 1.0) * "
            "(1.0 / (1 + (julianday('now') - julianday(story.published_at)))) ASC, "
            "story.id DESC LIMIT :n"
        )
    ids = [row[0] for row in (await session.execute(statement, {"q": ts_query, "n": limit})).all()]
    stories = await get_stories(session, ids)
    return [stories[story_id] for story_id in ids if story_id in stories]


async def count_stories(session: AsyncSession, since: datetime | None = None) -> int:
    query = select(func.count()).select_from(StoryRow)
    if since is not None:
        query = query.where(StoryRow.first_seen_at >= since)
    return int(await session.scalar(query) or 0)
