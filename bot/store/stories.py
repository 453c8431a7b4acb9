"""Stories read back: the latest, by topic, by id, by search words, and counts.

Writing them (exact dedup by unique keys, near dedup by LSH bands) is `bot.store.items`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import ItemRow, SourceRow, StoryRow, StoryTopicRow
from bot.models import Story, StoryItem
from bot.store.dialect import dialect_name


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
    """Stories per topic published since `since`.

    Publication, not fetch time, as the lists sort: a new source's backlog of weeks-old
    reports, all fetched in one pass, is not the last day's news.
    """
    rows = await session.execute(
        select(StoryTopicRow.topic, func.count())
        .join(StoryRow, StoryRow.id == StoryTopicRow.story_id)
        .where(StoryRow.published_at >= since)
        .group_by(StoryTopicRow.topic)
    )
    return {topic: int(count) for topic, count in rows.all()}


async def daily_counts(
    session: AsyncSession, since: datetime, topic: str | None = None
) -> list[tuple[datetime, str]]:
    """(published_at, topic) pairs since `since` for charts; topic "" for untagged stories.

    By publication time, for the reason `topic_counts` gives.
    """
    if topic is None:
        rows = await session.execute(
            select(StoryRow.published_at, StoryRow.topics).where(StoryRow.published_at >= since)
        )
        return [(published, (topics.split() or [""])[0]) for published, topics in rows.all()]
    rows = await session.execute(
        select(StoryRow.published_at, StoryTopicRow.topic)
        .join(StoryRow, StoryRow.id == StoryTopicRow.story_id)
        .where(StoryRow.published_at >= since, StoryTopicRow.topic == topic)
    )
    return [(published, name) for published, name in rows.all()]


_WORD = re.compile(r"\w+", re.UNICODE)


async def search(
    session: AsyncSession, query: str, limit: int, *, languages: frozenset[str] = frozenset()
) -> list[Story]:
    """Stories matching the words of `query`, most relevant (and recent) first.

    SQLite uses FTS5's bm25 over headline and summary; PostgreSQL a weighted tsvector. The
    query is reduced to plain words and passed as a parameter, so no syntax leaks in; so are
    the languages, when given (none means every language).
    """
    words = _WORD.findall(query.casefold())[:12]
    if not words:
        return []
    in_languages = "AND story.language IN :languages " if languages else ""
    if dialect_name(session) == "postgresql":
        ts_query = " & ".join(f"{word}:*" for word in words)
        statement = text(
            "SELECT id FROM story WHERE search @@ to_tsquery('simple', :q) "
            f"{in_languages}"
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
            f"{in_languages}"
            "ORDER BY bm25(story_fts, 2.0, 1.0) * "
            "(1.0 / (1 + (julianday('now') - julianday(story.published_at)))) ASC, "
            "story.id DESC LIMIT :n"
        )
    values: dict[str, object] = {"q": ts_query, "n": limit}
    if languages:
        statement = statement.bindparams(bindparam("languages", expanding=True))
        values["languages"] = sorted(languages)
    ids = [row[0] for row in (await session.execute(statement, values)).all()]
    stories = await get_stories(session, ids)
    return [stories[story_id] for story_id in ids if story_id in stories]


async def count_stories(session: AsyncSession, since: datetime | None = None) -> int:
    query = select(func.count()).select_from(StoryRow)
    if since is not None:
        query = query.where(StoryRow.first_seen_at >= since)
    return int(await session.scalar(query) or 0)
