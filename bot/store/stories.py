"""Items and stories: store an article (exact dedup by unique keys, near dedup by LSH bands),
and read stories back (latest, by topic, search, counts)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import delete, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot import dedup
from bot.db import ItemRow, SourceRow, StoryBandRow, StoryRow, StoryTopicRow
from bot.models import Article, Story, StoryItem
from bot.store.dialect import dialect_name, insert_for


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


def _topics_text(topics: frozenset[str] | set[str]) -> str:
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


async def is_known(session: AsyncSession, source_id: int, article: Article) -> bool:
    """True when the article repeats a stored item (URL, GUID in its source, or content)."""
    found = await session.scalar(
        select(ItemRow.id)
        .where(
            or_(
                ItemRow.url == article.url,
                (ItemRow.source_id == source_id) & (ItemRow.guid == article.guid),
                ItemRow.content_hash == article.content_hash,
            )
        )
        .limit(1)
    )
    return found is not None


async def _candidates(
    session: AsyncSession, bands: Sequence[int], since: datetime
) -> list[dedup.Candidate]:
    """Stories sharing a band key with the article, seen since `since`, with their items."""
    if not bands:
        return []
    story_ids = (
        select(StoryBandRow.story_id)
        .where(StoryBandRow.band_key.in_(list(bands)), StoryBandRow.seen_at >= since)
        .distinct()
        .limit(50)
    )
    rows = await session.execute(
        select(
            ItemRow.story_id, ItemRow.signature, SourceRow.name, ItemRow.title, ItemRow.published_at
        )
        .join(SourceRow, SourceRow.id == ItemRow.source_id)
        .where(ItemRow.story_id.in_(story_ids))
    )
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
    """Store one article: a duplicate is dropped, a near-duplicate joins its story.

    The unique keys decide duplicates even when two instances race: the item INSERT does
    nothing on conflict, and a story created for it is removed again.
    """
    article = prepared.article
    if await is_known(session, source_id, article):
        return Stored(Outcome.DUPLICATE)
    since = article.published_at - timedelta(hours=window_hours)
    candidates = await _candidates(session, prepared.bands, since)
    story_id = dedup.choose_story(
        article.title,
        article.text,
        dedup.Signature.from_bytes(prepared.signature),
        source_name,
        article.published_at,
        candidates,
        window=timedelta(hours=window_hours),
    )
    created = story_id is None
    if story_id is None:
        row = StoryRow(
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
        session.add(row)
        await session.flush()
        story_id = row.id
    inserted = await session.scalar(
        insert_for(session, ItemRow)
        .values(
            source_id=source_id,
            story_id=story_id,
            guid=article.guid[:700],
            url=article.url[:2000],
            title=article.title,
            text=article.text,
            language=article.language,
            content_hash=article.content_hash,
            signature=prepared.signature,
            published_at=article.published_at,
            fetched_at=now,
        )
        .on_conflict_do_nothing()
        .returning(ItemRow.id)
    )
    if inserted is None:
        if created:
            await session.execute(delete(StoryRow).where(StoryRow.id == story_id))
        return Stored(Outcome.DUPLICATE)
    if prepared.bands:
        bands = [{"band_key": b, "story_id": story_id, "seen_at": now} for b in prepared.bands]
        await session.execute(
            insert_for(session, StoryBandRow).values(bands).on_conflict_do_nothing()
        )
    outlets = await _refresh_story(session, story_id, prepared.topics, now, created)
    if not created:
        await session.execute(
            update(StoryRow)
            .where(StoryRow.id == story_id, StoryRow.published_at > article.published_at)
            .values(published_at=article.published_at)
        )
    return Stored(Outcome.NEW_STORY if created else Outcome.MERGED, story_id, outlets)


async def _refresh_story(
    session: AsyncSession, story_id: int, topics: frozenset[str], now: datetime, created: bool
) -> int:
    """Recount the story's outlets and add the new item's topics; returns the outlet count."""
    outlets = int(
        await session.scalar(
            select(func.count(func.distinct(ItemRow.source_id))).where(ItemRow.story_id == story_id)
        )
        or 1
    )
    story = await session.get(StoryRow, story_id)
    assert story is not None
    merged = set(story.topics.split()) | set(topics)
    story.outlets, story.topics = outlets, _topics_text(merged)
    if not created:
        story.last_seen_at = now
    if merged:
        await session.execute(
            insert_for(session, StoryTopicRow)
            .values(
                [
                    {"story_id": story_id, "topic": t, "first_seen_at": story.first_seen_at}
                    for t in merged
                ]
            )
            .on_conflict_do_nothing()
        )
    await session.flush()
    return outlets


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


async def set_summary(session: AsyncSession, story_id: int, summary: str) -> None:
    await session.execute(update(StoryRow).where(StoryRow.id == story_id).values(summary=summary))
